"""Which endpoint class a registered contact is (standard library only: Kamailio uses it)."""

from __future__ import annotations

from typing import Any


def classify(uri: str, agent: str, socket: str, sip: dict[str, Any]) -> str:
    """WebSocket = web; a User-Agent matching the app patterns = that app; else desk."""
    if "transport=ws" in uri.lower() or socket.lower().startswith(("ws:", "wss:")):
        return "web"
    for pattern in sip.get("mobile_app_user_agents", ()):
        if pattern.lower() in agent.lower():
            return "mobile_app"
    for pattern in sip.get("desktop_app_user_agents", ()):
        if pattern.lower() in agent.lower():
            return "desktop_app"
    return "desk"
