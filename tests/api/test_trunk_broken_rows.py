"""A trunk stored with settings that break today's rules (by hand, or by an older klapka)
can still be read, fixed and deleted through the API."""

from __future__ import annotations

from fastapi.testclient import TestClient
from http_checks import check, problems
from test_trunk_addresses import HOST_RULE, PEER, insert_broken_trunk

from klapka.services.pbx import Pbx


def test_a_broken_trunk_can_be_listed_fixed_and_deleted(client: TestClient, pbx: Pbx) -> None:
    insert_broken_trunk(pbx)
    insert_broken_trunk(pbx, "broken2")
    assert check(client.get("/api/v1/trunks"))["total"] == 2
    assert check(client.get("/api/v1/trunks/broken"))["host"] == "a..b"
    assert problems(client.patch("/api/v1/trunks/broken", json={"port": 5080})) == [
        f"host: {HOST_RULE} (the port goes in its own setting)"
    ]
    check(client.put("/api/v1/trunks/broken", json={**PEER, "name": "broken", "host": "b.net"}))
    assert [s["status"] for s in check(client.get("/api/v1/trunk-status"))] == [
        "not_monitored",
        "error",
    ]
    check(client.delete("/api/v1/trunks/broken2"), 200)
    assert [t["name"] for t in check(client.get("/api/v1/trunks"))["items"]] == ["broken"]
