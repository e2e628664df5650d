"""Trunks in the KEMI adapter: recognising a trunk's calls, sending calls out through trunks
(authenticating when the provider challenges, failing over to the next trunk).

Runs inside Kamailio's interpreter: standard library and ``KSR`` only.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

import KSR  # type: ignore[import-not-found]  # provided by Kamailio's app_python3

# A provider's answer that says the trunk, not the callee, failed: try the next trunk.
# Busy, declined, not found and the like are the callee's answer and end the call.
FAILOVER_CODES = frozenset({401, 403, 407, 408, 500, 502, 503, 504})

_REALM = re.compile(r'realm="([^"]*)"')


def trunk_of_request(
    trunks: dict[str, dict[str, Any]], source: str, port: int, ruser: str
) -> str | None:
    """The trunk a request comes from, or None (then it is a phone's request).

    A trunk is recognised by its host's address and port, by any port of an address in its
    allowed IPs, or (a register trunk) by its registration's contact user from its host.
    """
    try:
        address = ipaddress.ip_address(source)
    except ValueError:
        return None
    for name, trunk in trunks.items():
        if not trunk["enabled"]:
            continue
        if source in trunk["addresses"] and (
            port == trunk["port"] or (trunk["uuid"] is not None and ruser == trunk["uuid"])
        ):
            return name
        if any(address in ipaddress.ip_network(n, strict=False) for n in trunk["allowed_ips"]):
            return name
    return None


def dialled_on_trunk(trunks: dict[str, dict[str, Any]], name: str) -> str:
    """The DID a trunk's call is for: the request URI's user, or To's when the request URI
    is the registration's contact."""
    ruser = KSR.pv.get("$rU") or ""
    if ruser == trunks[name]["uuid"] or not ruser:
        return KSR.pv.get("$tU") or ""
    return ruser


def set_destination(trunk: dict[str, Any], number: str) -> None:
    KSR.pv.sets("$ru", f"sip:{number}@{trunk['domain']}")
    KSR.pv.sets("$du", trunk["proxy"])


def start(
    trunks: dict[str, dict[str, Any]],
    order: list[str],
    number: str,
    caller_id: str | None,
    in_failure: bool,
) -> bool:
    """Send the call out through the first usable trunk of ``order``; False if none is."""
    usable = [t for t in order if t in trunks and trunks[t]["enabled"]]
    if not usable:
        return False
    first, rest = usable[0], usable[1:]
    KSR.pv.sets("$avp(kl_trunk)", first)
    KSR.pv.sets("$avp(kl_trunks_left)", json.dumps(rest))
    KSR.pv.sets("$avp(kl_number)", number)
    KSR.pv.sets("$avp(kl_cid)", caller_id or "")
    KSR.pv.seti("$avp(kl_authed)", 0)
    KSR.info(f"klapka: {number} leaves through trunk {first}\n")
    return relay(trunks[first], number)


def relay(trunk: dict[str, Any], number: str) -> bool:
    set_destination(trunk, number)
    KSR.tm.t_on_failure("ksr_failure_route")
    KSR.tm.t_on_branch("ksr_branch_route")
    KSR.tm.t_on_reply("ksr_onreply_route")  # the answer, for the call history
    KSR.tm.t_set_fr(60000, 5000)
    return bool(KSR.tm.t_relay() >= 0)


def branch(trunks: dict[str, dict[str, Any]]) -> None:
    """Per outgoing branch: a branch to a trunk carries the caller ID the trunk wants."""
    du = KSR.pv.get("$du") or ""
    trunk = next((t for t in trunks.values() if t["proxy"] == du), None)
    if trunk is None:
        return
    caller_id = KSR.pv.get("$avp(kl_cid)") or trunk["caller_id"] or ""
    from_user = trunk["from_user"] or caller_id or trunk["username"]
    if from_user:
        KSR.uac.uac_replace_from("", f"sip:{from_user}@{trunk['domain']}")
    if caller_id:
        KSR.hdr.remove("P-Asserted-Identity")
        KSR.hdr.append(f"P-Asserted-Identity: <sip:{caller_id}@{trunk['domain']}>\r\n")


def failure(trunks: dict[str, dict[str, Any]]) -> bool:
    """A trunk attempt failed: authenticate, or try the next trunk. False: no more tries
    (the caller gets the provider's answer)."""
    code = int(KSR.pv.get("$T_reply_code") or 0)
    name = KSR.pv.get("$avp(kl_trunk)") or ""
    number = KSR.pv.get("$avp(kl_number)") or ""
    trunk = trunks.get(name)
    if trunk is None:
        return False
    if code in (401, 407) and trunk["password"] and not KSR.pv.get("$avp(kl_authed)"):
        header = "Proxy-Authenticate" if code == 407 else "WWW-Authenticate"
        challenge = KSR.pv.get(f"$T_rpl($hdr({header}))") or ""
        match = _REALM.search(challenge)
        KSR.pv.sets("$avp(kl_auser)", trunk["auth_name"] or trunk["username"] or "")
        KSR.pv.sets("$avp(kl_apass)", trunk["password"])
        KSR.pv.sets("$avp(kl_arealm)", match.group(1) if match else "")
        KSR.pv.seti("$avp(kl_authed)", 1)
        set_destination(trunk, number)  # the digest covers the request URI sent to the trunk
        if KSR.uac.uac_auth() > 0:
            KSR.info(f"klapka: trunk {name} asked for authentication: answering\n")
            return relay(trunk, number)
    timed_out = KSR.tm.t_any_timeout() > 0
    if timed_out and KSR.tm.t_branch_replied() > 0:
        return False  # it rang and nobody answered: the callee's answer, not the trunk's
    if not timed_out and code not in FAILOVER_CODES:
        return False
    left = json.loads(KSR.pv.get("$avp(kl_trunks_left)") or "[]")
    while left:
        nxt, left = left[0], left[1:]
        if nxt not in trunks or not trunks[nxt]["enabled"]:
            continue
        why = "no answer" if timed_out else str(code)
        KSR.info(f"klapka: trunk {name} failed ({why}): trying trunk {nxt}\n")
        KSR.pv.sets("$avp(kl_trunk)", nxt)
        KSR.pv.sets("$avp(kl_trunks_left)", json.dumps(left))
        KSR.pv.seti("$avp(kl_authed)", 0)
        return relay(trunks[nxt], number)
    return False


def registration_reply() -> None:
    """Remember the last answer to each trunk registration (its status shows it)."""
    code = int(KSR.pv.get("$rs") or 0)
    if code >= 200:
        KSR.htable.sht_seti("trunkreg", f"{KSR.pv.get('$tU')}@{KSR.pv.get('$td')}", code)
