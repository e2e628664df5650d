"""What the SIP core needs from the directory: the routing view, the SIP accounts
(credentials and registration limits), the trunks and the SIP settings.

The SIP core runs in Kamailio's own Python without a database driver; it reads a SQLite
snapshot (``klapka.sip.snapshot``) that ``klapka serve`` refreshes whenever the directory
version changes: only the changed extensions, or everything when anything else changed.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from collections.abc import Collection
from dataclasses import replace
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, func, select

from klapka.domain.directory import Trunk, TrunkType
from klapka.domain.permissions import visibility
from klapka.domain.problems import problems_from_validation
from klapka.routing.snapshot import extension_to_json, to_json
from klapka.services.pbx import Pbx
from klapka.services.permissions import group_members, load_rules, viewer_of
from klapka.store import tables as t
from klapka.store.directory_view import extension_model, load_directory, queue_agents
from klapka.store.repository import join_secrets

log = logging.getLogger(__name__)


def directory_version(pbx: Pbx) -> int:
    with pbx.tx() as repo:
        v = repo.conn.execute(select(t.system.c.directory_version)).scalar()
    return int(v or 0)


def facts_stamp(pbx: Pbx) -> tuple[int, tuple[Any, ...]]:
    """What the SIP core's snapshot must follow: the directory version and the runtime
    facts kept in the database (the queue agents' state). A change of either means a
    refresh (one that reads only what changed)."""
    with pbx.tx() as repo:
        v = repo.conn.execute(select(t.system.c.directory_version)).scalar()
        agents = tuple(sorted(queue_agents(repo.conn).items()))
    return int(v or 0), agents


def extension_stamps(pbx: Pbx) -> tuple[int, dict[str, Any], tuple[Any, ...]]:
    """The directory version, each extension's last change, and a fingerprint of everything
    else the SIP core reads (a change there means a full refresh of the snapshot)."""
    others = (t.ext_groups, t.ring_groups, t.queues, t.trunks, t.inbound_routes, t.outbound_routes,
              t.client_permissions)  # fmt: skip
    with pbx.tx() as repo:
        conn = repo.conn
        version = int(conn.execute(select(t.system.c.directory_version)).scalar() or 0)
        stamps = dict(conn.execute(select(t.extensions.c.number, t.extensions.c.updated_at)).all())
        counts = [
            tuple(conn.execute(select(func.count(), func.max(table.c.updated_at))).one())
            for table in others
        ]
        fingerprint = (*counts, conn.execute(select(t.system.c.updated_at)).scalar())
    return version, stamps, fingerprint


CLIENT_SETTINGS = {  # endpoint class -> the extension's Clients setting that allows it
    "mobile_app": "mobile_client",
    "desktop_app": "desktop_client",
    "web": "web_client",
}


def build_snapshot(pbx: Pbx, numbers: Collection[str] | None = None) -> dict[str, Any]:
    """The snapshot: the routing view (extensions one by one, the rest as one document),
    the SIP accounts, trunks and SIP settings. With ``numbers``: only those extensions and
    their accounts."""
    with pbx.tx() as repo:
        system, _secrets, _hours, version = repo.system()
        directory = load_directory(repo.conn, numbers)
        agents = queue_agents(repo.conn)
        accounts: dict[str, dict[str, Any]] = {}
        broken: set[str] = set()
        query = select(
            t.extensions.c.number,
            t.extensions.c.sip_username,
            t.extensions.c.data,
            t.extensions.c.secrets,
        )
        if numbers is not None:
            query = query.where(t.extensions.c.number.in_(list(numbers)))
        for number, username, data, secrets in repo.conn.execute(query):
            if number not in directory.extensions:
                continue  # unreadable: logged and left out by load_directory
            try:
                accounts[username] = sip_account(number, data, secrets)
            except Exception as e:  # one broken extension must not stop the others
                log.error("extension %s left out of the SIP snapshot: %r", number, e)
                broken.add(number)
        add_visibility(repo.conn, accounts)
        trunks = {}
        for name, trunk, problem in load_trunks_checked(repo.conn):
            try:
                if trunk is None:
                    raise ValueError(problem)
                trunks[name] = trunk_entry(trunk)
            except Exception as e:  # a trunk that cannot be used is left out, never the rest
                log.error("trunk %s left out of the SIP snapshot: %s", name, e)
    sip = system.sip
    rest = to_json(replace(directory, extensions={}))
    return {
        "version": version,
        "extensions": {
            n: extension_to_json(e) for n, e in directory.extensions.items() if n not in broken
        },
        "directory": rest,
        "accounts": accounts,
        "trunks": trunks,
        # Runtime facts (routing.model.Runtime) that live in the database.
        "runtime": {"queue_agents": [[q, e, li, p] for (q, e), (li, p) in agents.items()]},
        "sip": {
            "domain": sip.domain,
            "mobile_app_user_agents": sip.mobile_app_user_agents,
            "desktop_app_user_agents": sip.desktop_app_user_agents,
            "max_call_seconds": system.max_call_seconds,  # 0: no limit
            "media_anchor": system.media.anchor.value,  # auto, always, never
        },
    }


def sip_account(number: str, data: dict[str, Any], secrets: dict[str, Any]) -> dict[str, Any]:
    """One extension's SIP account as the SIP core reads it (from its validated settings:
    every default is the domain's)."""
    ext = extension_model(number, data)
    clients = ext.clients
    # An extension given no name is named by its number (the domain's default): "" then,
    # and its phone's own From display name is left as the phone sent it.
    name = ext.effective_caller_id_name
    return {
        "extension": number,
        # The caller's name on colleagues' phones (From display name, P-Asserted-Identity):
        # the caller ID name, else first and last name; "" leaves the number alone.
        "name": "" if name == number else name,
        # The least secure transport it may register and call over (udp: any).
        "transport": ext.advanced.transport.value,
        "nat": ext.advanced.nat,  # NAT fix-ups of its registrations and calls
        "qualify": ext.advanced.qualify,  # OPTIONS keepalive of its NATed contacts
        # What its phones are offered, in this order (the media relay enforces it).
        "codecs": [c.value for c in ext.advanced.codecs],
        "srtp": ext.advanced.srtp,  # its calls' audio encrypted (SRTP, SDES keys)
        "password": secrets.get("sip_password", ""),
        "enabled": ext.enabled,
        "max_contacts": ext.concurrent_registrations,
        "max_call_seconds": ext.security.max_call_seconds,  # 0: the system's
        "allowed_ips": [str(n) for n in ext.security.allowed_ips],
        "user_agent_prefix": ext.security.user_agent_prefix,
        # The klapka clients turned off for this extension (refused at REGISTER).
        "clients_off": [
            cls for cls, setting in CLIENT_SETTINGS.items() if not getattr(clients, setting)
        ],
    }


def add_visibility(conn: Connection, accounts: dict[str, dict[str, Any]]) -> None:
    """Each account's ``sees``: which extensions its phones may watch (SUBSCRIBE: BLF,
    presence), by the client permission rules as for its user in the portal (a phone acts
    as ``phone_user``, never as an admin): ``[true, [hidden...]]`` (every extension but
    those) or ``[false, [visible...]]`` (only those); its own extension always."""
    rules = load_rules(conn)
    if not rules:
        for account in accounts.values():
            account["sees"] = [True, []]
        return
    members = group_members(conn)
    for account in accounts.values():
        seen = visibility(rules, viewer_of(account["extension"], members), members)
        account["sees"] = [seen.everything, sorted(seen.numbers)]


def load_trunks_checked(
    conn: Connection, name: str | None = None
) -> list[tuple[str, Trunk | None, str]]:
    """The trunks (or the one named) by name, each as (name, trunk, "") or, when its stored
    settings break today's rules (written by an older version, or by hand), as
    (name, None, what is wrong): one such trunk must not stop the others."""
    q = select(t.trunks.c.name, t.trunks.c.data, t.trunks.c.secrets).order_by(t.trunks.c.name)
    if name is not None:
        q = q.where(t.trunks.c.name == name)
    out: list[tuple[str, Trunk | None, str]] = []
    for trunk_name, data, secrets in conn.execute(q):
        try:
            trunk = Trunk.model_validate(join_secrets(dict(data), dict(secrets or {})))
        except ValidationError as e:
            problems = "; ".join(str(p) for p in problems_from_validation(e))
            out.append((trunk_name, None, f"invalid settings: {problems}"))
        except Exception as e:
            out.append((trunk_name, None, f"invalid settings: {e}"))
        else:
            out.append((trunk_name, trunk, ""))
    return out


def trunk_uuid(name: str) -> str:
    """The user part of the Contact a register trunk registers: calls from it come to this."""
    return f"trunk-{name}"


_RESOLVED: dict[str, tuple[float, list[str]]] = {}
RESOLVE_TTL = 600.0


def resolve(host: str) -> list[str]:
    """The addresses of ``host`` (an IP address stays itself; a name is looked up at most
    every 10 minutes, a failed lookup too: a snapshot refresh never waits on DNS twice)."""
    host = host.strip("[]")
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    cached = _RESOLVED.get(host)
    if cached is not None and time.monotonic() - cached[0] < RESOLVE_TTL:
        return cached[1]
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_UDP)
        found = sorted({str(info[4][0]) for info in infos})
    except (OSError, ValueError):  # ValueError: a name IDNA cannot encode ("a..b")
        found = []
    _RESOLVED[host] = (time.monotonic(), found)
    return found


def trunk_entry(trunk: Trunk) -> dict[str, Any]:
    """What the SIP core needs of a trunk: where to send calls, how to recognise its calls."""
    domain = trunk.domain or trunk.host
    proxy = trunk.outbound_proxy or f"{trunk.host}:{trunk.port}"
    if not proxy.startswith("sip:"):
        proxy = f"sip:{proxy}"
    transport = trunk.transport.value.lower()
    if transport != "udp" and ";transport=" not in proxy:
        proxy += f";transport={transport}"
    return {
        "type": trunk.type.value,
        "enabled": trunk.enabled,
        "domain": domain,
        "proxy": proxy,
        "addresses": resolve(trunk.host) if trunk.enabled else [],
        "port": trunk.port,
        "allowed_ips": [str(n) for n in trunk.allowed_ips],
        "username": trunk.username,
        "auth_name": trunk.auth_name or trunk.username,
        "password": trunk.password,
        "from_user": trunk.from_user,
        "caller_id": trunk.caller_id,
        "uuid": trunk_uuid(trunk.name) if trunk.type is TrunkType.REGISTER else None,
        "expiry": trunk.registration_expiry,
        "qualify": trunk.qualify,
        "codecs": [c.value for c in trunk.codecs],  # what the provider is offered, in order
    }
