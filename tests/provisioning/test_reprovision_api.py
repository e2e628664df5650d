"""Re-provision through the API without a SIP core: a 503 that says so, nothing audited.
(With a real Kamailio: tests/sip/test_reprovision.py.)"""

from __future__ import annotations

from fastapi.testclient import TestClient
from helpers import YEALINK_MAC, company


def test_without_the_sip_core_reprovision_is_a_503(
    client: TestClient, anonymous: TestClient
) -> None:
    company(client)
    url = f"/api/v1/extensions/101/phones/{YEALINK_MAC}/reprovision"
    assert anonymous.post(url).status_code == 401
    response = client.post(url)
    assert response.status_code == 503
    assert response.json()["error"] == "sip_core_unavailable"
    assert client.post("/api/v1/extensions/101/phones/001122334455/reprovision").status_code == 404
    assert (
        client.post(f"/api/v1/extensions/999/phones/{YEALINK_MAC}/reprovision").status_code == 404
    )
    entries = client.get("/api/v1/audit", params={"action": "reprovision"}).json()["items"]
    assert entries == []
