"""Fixtures: a PBX on a fresh database (SQLite or PostgreSQL, see tests/conftest.py), API
clients, and a real SMTP server."""

from api_clients import admin_token, anonymous, client, pbx
from smtp_sink import mailbox

__all__ = ["admin_token", "anonymous", "client", "mailbox", "pbx"]
