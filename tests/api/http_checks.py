"""What the API tests check again and again about a response."""

from __future__ import annotations

from typing import Any


def check(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def problems(response: Any) -> list[str]:
    """The problems of a 422 as ``path: rule`` lines, the way the CLI prints them."""
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid"
    return [f"{p['path']}: {p['rule']}" if p["path"] else p["rule"] for p in body["problems"]]
