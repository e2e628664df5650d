"""The database schema. Settings live as validated JSON next to the columns that lists
search and sort by; the ``refs`` table indexes every reference between objects with real
foreign keys, so the database itself refuses a reference to something that is gone."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps are stored and returned in UTC, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _id() -> Column[int]:
    return Column("id", Integer, primary_key=True, autoincrement=True)


extensions = Table(
    "extensions",
    metadata,
    _id(),
    Column("number", String(8), nullable=False, unique=True),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("first_name", String(63), nullable=False, default=""),
    Column("last_name", String(63), nullable=False, default=""),
    Column("email", String(255), nullable=True, unique=True),
    Column("sip_username", String(63), nullable=False, unique=True),
    Column("role", String(16), nullable=False, default="user"),
    Column("presence", String(16), nullable=False, default="available"),
    Column("presence_changed_at", UtcDateTime, nullable=True),
    Column("language", String(8), nullable=True),  # the user's web UI language; None: browser's
    Column("data", JSON, nullable=False),
    Column("secrets", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # Lists at 10,000 extensions: one lower-cased search column, indexed sort keys.
    Column("search", String(600), nullable=False, server_default=""),
    Column("sort_name", String(130), nullable=False, server_default=""),
    Column("number_key", String(8), nullable=False, server_default=""),
    Index("ix_extensions_last_name", "last_name"),
    Index("ix_extensions_first_name", "first_name"),
    Index("ix_extensions_sort_name", "sort_name", "id"),
    Index("ix_extensions_number_key", "number_key"),
)

phones = Table(
    "phones",
    metadata,
    Column("mac", String(12), primary_key=True),
    Column(
        "extension_id",
        Integer,
        ForeignKey("extensions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
)

ext_groups = Table(
    "ext_groups",
    metadata,
    _id(),
    Column("name", String(63), nullable=False, unique=True),
    Column("data", JSON, nullable=False),
    Column("secrets", JSON, nullable=False, default=dict),
    Column("updated_at", UtcDateTime, nullable=False),
)

ring_groups = Table(
    "ring_groups",
    metadata,
    _id(),
    Column("number", String(8), nullable=False, unique=True),
    Column("name", String(63), nullable=False),
    Column("data", JSON, nullable=False),
    Column("secrets", JSON, nullable=False, default=dict),
    Column("updated_at", UtcDateTime, nullable=False),
)

queues = Table(
    "queues",
    metadata,
    _id(),
    Column("number", String(8), nullable=False, unique=True),
    Column("name", String(63), nullable=False),
    Column("data", JSON, nullable=False),
    Column("secrets", JSON, nullable=False, default=dict),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Runtime state of queue members (not configuration): logged in / paused.
queue_agents = Table(
    "queue_agents",
    metadata,
    Column("queue_id", Integer, ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "extension_id",
        Integer,
        ForeignKey("extensions.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
    Column("logged_in", Boolean, nullable=False, default=True),
    Column("paused", Boolean, nullable=False, default=False),
)

trunks = Table(
    "trunks",
    metadata,
    _id(),
    Column("name", String(63), nullable=False, unique=True),
    Column("data", JSON, nullable=False),
    Column("secrets", JSON, nullable=False, default=dict),
    Column("updated_at", UtcDateTime, nullable=False),
)

inbound_routes = Table(
    "inbound_routes",
    metadata,
    _id(),
    Column("name", String(63), nullable=False, unique=True),
    Column("position", Integer, nullable=False),
    Column("data", JSON, nullable=False),
    Column("secrets", JSON, nullable=False, default=dict),
    Column("updated_at", UtcDateTime, nullable=False),
)

outbound_routes = Table(
    "outbound_routes",
    metadata,
    _id(),
    Column("name", String(63), nullable=False, unique=True),
    Column("position", Integer, nullable=False),
    Column("data", JSON, nullable=False),
    Column("secrets", JSON, nullable=False, default=dict),
    Column("updated_at", UtcDateTime, nullable=False),
)

contacts = Table(
    "contacts",
    metadata,
    _id(),
    Column("first_name", String(63), nullable=False, default=""),
    Column("last_name", String(63), nullable=False, default=""),
    Column("company", String(63), nullable=False, default=""),
    Column("email", String(255), nullable=True),
    Column("phonebook", String(63), nullable=False, default="Default", index=True),
    # Lower-cased names, company, email and numbers (also as bare digits), for search.
    Column("search", Text, nullable=False, default=""),
    Column("data", JSON, nullable=False),
    Column("secrets", JSON, nullable=False, default=dict),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Singletons: system settings and business hours, plus a version that every change bumps
# (the SIP core reads it to know that its cached view of the directory is stale).
system = Table(
    "system",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("data", JSON, nullable=False),
    Column("secrets", JSON, nullable=False),
    Column("business_hours", JSON, nullable=False),
    Column("directory_version", Integer, nullable=False, default=0),
    Column("updated_at", UtcDateTime, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    _id(),
    Column("name", String(63), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
)


def _owner(name: str, table: str) -> Column[int]:
    return Column(
        name, Integer, ForeignKey(f"{table}.id", ondelete="CASCADE"), nullable=True, index=True
    )


def _target(name: str, table: str) -> Column[int]:
    return Column(
        name, Integer, ForeignKey(f"{table}.id", ondelete="RESTRICT"), nullable=True, index=True
    )


# One row per reference. Exactly one owner_* and one target_* column is set.
refs = Table(
    "refs",
    metadata,
    _id(),
    Column("path", String(255), nullable=False),
    Column("blocking", Boolean, nullable=False),
    _owner("owner_extension_id", "extensions"),
    _owner("owner_group_id", "ext_groups"),
    _owner("owner_ring_group_id", "ring_groups"),
    _owner("owner_queue_id", "queues"),
    _owner("owner_inbound_route_id", "inbound_routes"),
    _owner("owner_outbound_route_id", "outbound_routes"),
    _owner("owner_contact_id", "contacts"),
    _target("target_extension_id", "extensions"),
    _target("target_group_id", "ext_groups"),
    _target("target_ring_group_id", "ring_groups"),
    _target("target_queue_id", "queues"),
    _target("target_trunk_id", "trunks"),
    _target("target_phonebook_id", "phonebooks"),
)


# --- Contacts, one-time links and the audit log (migration 0003_contacts_audit) ----------

phonebooks = Table(
    "phonebooks",
    metadata,
    _id(),
    Column("name", String(63), nullable=False, unique=True),
    Column("data", JSON, nullable=False),
    Column("secrets", JSON, nullable=False, default=dict),
    Column("updated_at", UtcDateTime, nullable=False),
)

# A user's own contacts: private to the extension, gone with it.
personal_contacts = Table(
    "personal_contacts",
    metadata,
    _id(),
    Column(
        "extension_id",
        Integer,
        ForeignKey("extensions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("first_name", String(63), nullable=False, default=""),
    Column("last_name", String(63), nullable=False, default=""),
    Column("company", String(63), nullable=False, default=""),
    Column("email", String(255), nullable=True),
    Column("search", Text, nullable=False, default=""),
    Column("data", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Links sent by email (app login, password reset): only a SHA-256 digest is stored.
one_time_tokens = Table(
    "one_time_tokens",
    metadata,
    _id(),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("purpose", String(32), nullable=False),
    Column(
        "extension_id",
        Integer,
        ForeignKey("extensions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
    Column("used_at", UtcDateTime, nullable=True),
)

# Who changed what, when, from where: one row per change, secrets masked.
audit_log = Table(
    "audit_log",
    metadata,
    _id(),
    Column("at", UtcDateTime, nullable=False, index=True),
    Column("actor", String(127), nullable=False, index=True),
    Column("actor_extension", String(8), nullable=True),
    Column("source_ip", String(45), nullable=True),
    Column("action", String(32), nullable=False),
    Column("kind", String(32), nullable=False, index=True),
    Column("key", String(255), nullable=False, index=True),
    # [{"path", "before", "after"}]: field-level changes, secrets shown as ********.
    Column("changes", JSON, nullable=False),
)


# --- Accounts: sign-in, sessions, tokens, two-factor, client permissions --------------
# (migration 0002_accounts)

# Client permission rules, in the order they are evaluated (first match wins).
client_permissions = Table(
    "client_permissions",
    metadata,
    _id(),
    Column("name", String(63), nullable=False, unique=True),
    Column("position", Integer, nullable=False),
    Column("data", JSON, nullable=False),
    Column("secrets", JSON, nullable=False, default=dict),
    Column("updated_at", UtcDateTime, nullable=False),
)

# A rule names groups and extensions: the reference index has a column for it as an owner.
refs.append_column(_owner("owner_client_permission_id", "client_permissions"))


def _extension_id(index: bool = True) -> Column[int]:
    return Column(
        "extension_id",
        Integer,
        ForeignKey("extensions.id", ondelete="CASCADE"),
        nullable=False,
        index=index,
    )


# Browser sessions. Only a SHA-256 digest of the session id (the cookie) is stored.
# state: "active", "second_factor" (password checked, waiting for the TOTP code; the id is
# the sign-in challenge, never a cookie) or "enrolment" (may only enrol in two-factor).
sessions = Table(
    "sessions",
    metadata,
    _id(),
    Column("session_hash", String(64), nullable=False, unique=True),
    _extension_id(),
    Column("state", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("source_ip", String(45), nullable=True),
    Column("user_agent", String(255), nullable=True),
)

# A user's own API tokens: scoped ("read write admin"), revocable, optionally expiring.
personal_tokens = Table(
    "personal_tokens",
    metadata,
    _id(),
    _extension_id(),
    Column("name", String(63), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("scopes", String(63), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime, nullable=True),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
)

# Password reset links: expiring, single use; only a SHA-256 digest of the token is stored.
password_resets = Table(
    "password_resets",
    metadata,
    _id(),
    _extension_id(),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime, nullable=True),
    Column("source_ip", String(45), nullable=True),
)

# TOTP (RFC 6238). The shared secret must be readable to check codes; enabled_at is None
# while the user has started but not confirmed enrolment. last_used_step stops a code from
# being used twice.
two_factor = Table(
    "two_factor",
    metadata,
    Column(
        "extension_id",
        Integer,
        ForeignKey("extensions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("secret", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("enabled_at", UtcDateTime, nullable=True),
    Column("last_used_step", Integer, nullable=True),
)

# Single-use recovery codes (SHA-256 digests of 80-bit random codes).
recovery_codes = Table(
    "recovery_codes",
    metadata,
    _id(),
    _extension_id(),
    Column("code_hash", String(64), nullable=False),
    Column("used_at", UtcDateTime, nullable=True),
)

# Failed sign-ins per account ("account:<email>") and per source address ("address:<ip>"),
# whether or not the account exists, so a lockout says nothing about existence.
sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("lockouts", Integer, nullable=False),
    Column("locked_until", UtcDateTime, nullable=True),
    Column("last_failure_at", UtcDateTime, nullable=False),
)


# --- Voicemail (migration 0006_voicemail) ---------------------------------------------

# One row per voicemail message; the audio is a WAV file under the data directory
# (``path`` relative to it). ``state``: recording (the call is still leaving it, or the
# service stopped mid-recording and finalises it on start), new, old. The email columns are
# the new-message email queue: pending until sent, retried with back-off.
voicemail_messages = Table(
    "voicemail_messages",
    metadata,
    _id(),
    Column("mailbox", String(8), nullable=False),
    Column("state", String(16), nullable=False),
    Column("caller_number", String(64), nullable=False, server_default=""),
    Column("caller_name", String(127), nullable=False, server_default=""),
    Column("received_at", UtcDateTime, nullable=False),
    Column("duration_ms", Integer, nullable=False, server_default="0"),
    Column("path", String(255), nullable=False),
    Column("email_state", String(16), nullable=False, server_default="none"),
    Column("email_attempts", Integer, nullable=False, server_default="0"),
    Column("email_next_at", UtcDateTime, nullable=True),
    Column("email_error", String(500), nullable=True),
    Index("ix_voicemail_messages_mailbox", "mailbox", "state"),
    Index("ix_voicemail_messages_email", "email_state", "email_next_at"),
)


# --- Hot desking (migration 0008_hot_desk) ----------------------------------------------

# Who is logged in at a hot-desk phone (runtime state, not configuration): the phone's MAC,
# the extension of the user logged in, since when, and when they are logged out
# automatically (``system.hot_desking_logout``). No row: the phone has its guest account.
hot_desk_logins = Table(
    "hot_desk_logins",
    metadata,
    Column("mac", String(12), primary_key=True),
    Column("extension", String(8), nullable=False, unique=True),
    Column("since", UtcDateTime, nullable=False),
    Column("logout_at", UtcDateTime, nullable=True),
)


# --- Provisioning: the last fetch of each phone (migration 0009_phone_fetches) ----------

# When the provisioning server last served a phone its configuration file, from which
# address and User-Agent (runtime state, not configuration; one row per MAC, overwritten by
# each fetch). Keyed by MAC and not tied to the phones table: a moved phone keeps its row.
phone_fetches = Table(
    "phone_fetches",
    metadata,
    Column("mac", String(12), primary_key=True),
    Column("fetched_at", UtcDateTime, nullable=False),
    Column("source_ip", String(45), nullable=True),
    Column("user_agent", String(255), nullable=False, server_default=""),
    Column("file", String(100), nullable=False, server_default=""),
)


# --- Call history (migration 0010_call_history) -------------------------------------------

# One row per call, written by klapka serve from the SIP core's call journal
# (klapka.services.call_history): open (``outcome`` NULL) from the call's start to its end.
# Times are UTC; ``steps``: each ring step (when, whose rules, who was rung, how it ended);
# ``forwards``: the chain of extensions, groups and queues the call went through;
# ``trunk_attempts``: the trunks tried for a call out, each with its answer.
call_history = Table(
    "call_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", String(255), nullable=False, index=True),
    Column("started_at", UtcDateTime, nullable=False, index=True),
    Column("answered_at", UtcDateTime, nullable=True),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("direction", String(10), nullable=False),
    Column("path", String(16), nullable=False, server_default="direct"),
    Column("caller", String(64), nullable=False, server_default=""),
    Column("caller_name", String(255), nullable=False, server_default=""),
    Column("caller_extension", String(8), nullable=True),
    Column("caller_endpoint", String(16), nullable=True),
    Column("dialled", String(64), nullable=False, server_default=""),
    Column("did", String(64), nullable=True),
    Column("trunk", String(64), nullable=True),
    Column("answered_by", String(8), nullable=True),
    Column("answered_endpoint", String(16), nullable=True),
    Column("answered_number", String(64), nullable=True),
    Column("outcome", String(16), nullable=True),
    Column("sip_code", Integer, nullable=True),
    Column("cause", String(64), nullable=True),
    Column("ended_by", String(8), nullable=True),
    Column("ring_seconds", Integer, nullable=True),
    Column("talk_seconds", Integer, nullable=True),
    Column("steps", JSON, nullable=False),
    Column("forwards", JSON, nullable=False),
    Column("trunk_attempts", JSON, nullable=False),
)

# The extensions each call involved (the caller, those dialled, rung, answering): what the
# history is filtered by ("calls of 102 in March": the index on extension and start).
call_parties = Table(
    "call_parties",
    metadata,
    Column(
        "call",
        Integer,
        ForeignKey("call_history.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("extension", String(8), primary_key=True),
    Column("started_at", UtcDateTime, nullable=False),
    Index("ix_call_parties_extension_started_at", "extension", "started_at"),
)

# How far klapka serve has read a journal of the SIP core (the file's inode and the byte
# offset), written in the transaction that applied what was read: nothing twice, nothing lost.
journal_positions = Table(
    "journal_positions",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("inode", BigInteger, nullable=False),
    Column("position", BigInteger, nullable=False),
)


# --- Webhooks (migration 0011_webhooks) ----------------------------------------------------

# Admin-defined HTTP endpoints that get klapka's events (klapka.services.webhooks): the URL,
# the secret the body is signed with (HMAC-SHA256), which event types (empty: all).
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(63), nullable=False, unique=True),
    Column("url", String(2048), nullable=False),
    Column("secret", String(255), nullable=False),
    Column("events", JSON, nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime, nullable=False),
)

# One event for one webhook (an outbox: written in the transaction that made the event),
# sent by klapka serve with retries; kept as the delivery log.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "webhook",
        Integer,
        ForeignKey("webhooks.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event", String(63), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_at", UtcDateTime, nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column("last_code", Integer, nullable=True),
    Column("last_error", String(255), nullable=True),
    Index("ix_webhook_deliveries_status_next_at", "status", "next_at"),
    Index("ix_webhook_deliveries_webhook_created_at", "webhook", "created_at"),
)


# --- The event stream (migration 0013_events) ----------------------------------------------

# klapka's events, in the order they happened (klapka.services.webhooks.emit: written in the
# transaction that made each one, by any process). The live listeners (the web UI's pages,
# the API's event stream) read them from here (klapka.services.live); kept a day. The
# webhooks' deliveries are queued beside them. (Migration 0013 dropped 0012's url_popups:
# a URL popup is an event of this stream.)
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event", String(63), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_events_created_at", "created_at"),
    # SQLite: ids never used again, also once the table was emptied (a quiet weekend).
    sqlite_autoincrement=True,
)
