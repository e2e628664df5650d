"""Kamailio's configuration, generated under the data directory (never hand-edited).

The native part only loads modules; every routing decision is made in Python (KEMI),
by ``klapka.kemi.adapter`` asking the routing engine.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import klapka
from klapka.kemi.load import MAXBUFFER
from klapka.services.telephony.sip_paths import SipPaths
from klapka.sip.addresses import reachable, sip_host
from klapka.sip.state_db import WRITE_BACK_SECONDS, db_url

MODULES = (
    "jsonrpcs", "kex", "corex", "tm", "tmx", "sl", "rr", "pv", "maxfwd", "usrloc",
    "registrar", "textops", "siputils", "xlog", "sanity", "auth", "nathelper", "htable",
    "pike", "dialog", "db_sqlite", "uac", "app_python3",
)  # fmt: skip


def render(
    paths: SipPaths,
    addresses: tuple[str, ...],
    udp_port: int,
    tcp_port: int,
    children: int = 4,
    tls_port: int | None = None,
    ws_port: int | None = None,
    wss_port: int | None = None,
    natping_interval: int = 30,
    persist: bool = True,
    public_address: str = "",
    dialog_keepalive: int = 120,
    subscriptions: Path | None = None,
    relay_port: int | None = None,
) -> str:
    """``addresses``: where to listen, one socket each (``addresses.listen_addresses``; never
    a wildcard, which would be written into Via and Record-Route); ``public_address``:
    advertised instead of each address but loopback (NAT); ``persist``: registrations and calls are written back to ``paths.registrations_db``
    and ``paths.calls_db`` (made by ``state_db.prepare``) and loaded at start;
    ``dialog_keepalive``: seconds between the checks that a call still goes on (30 at
    least: Kamailio refuses less);
    ``tls_port``: also listen for SIP over TLS (``paths.tls_cfg`` must exist); ``ws_port``,
    ``wss_port``: SIP over WebSocket for browsers (WSS only with TLS; the upgrade is answered
    by the KEMI adapter's ``ksr_xhttp_event``); ``subscriptions``: the presence modules'
    SQLite file (``state_db.prepare(..., "presence")``), or None: no SUBSCRIBE (501);
    ``relay_port``: the media relay's control port on loopback (``media_relay``), or None:
    calls are never anchored."""
    modules = "\n".join(f'loadmodule "{m}.so"' for m in MODULES)

    public = ipaddress.ip_address(public_address) if public_address else None
    outside = [a for a in addresses if not ipaddress.ip_address(a).is_loopback]

    def listen(proto: str, port: int) -> str:
        lines = []
        for address in addresses:
            ip = ipaddress.ip_address(address)
            if proto == "udp" and len(addresses) > 1:
                # Kamailio starts its workers per UDP socket: the children are shared out
                # (each a Python interpreter); loopback carries only klapka's own parts.
                workers = 2 if ip.is_loopback else max(2, children // max(1, len(outside)))
                lines.append(f"socket_workers={workers}\n")
            line = f"listen={proto}:{sip_host(address)}:{port}"
            if public is not None and not ip.is_loopback and ip.version == public.version:
                line += f" advertise {sip_host(public_address)}:{port}"
            lines.append(line + "\n")
        return "".join(lines)

    sockets = listen("udp", udp_port) + listen("tcp", tcp_port)
    # Several addresses: Kamailio asks the kernel which one reaches each destination.
    sockets += "mhomed=1\n" if len(addresses) > 1 else ""
    sockets += f"enable_tls=yes\n{listen('tls', tls_port)}" if tls_port else ""
    if ws_port:
        sockets += listen("tcp", ws_port)
    if wss_port and tls_port:
        sockets += listen("tls", wss_port)
    websocket = bool(ws_port or (wss_port and tls_port))
    ws_modules = (
        'loadmodule "xhttp.so"\nloadmodule "websocket.so"\n'
        'modparam("xhttp", "event_callback", "ksr_xhttp_event")\n'
        'modparam("websocket", "keepalive_mechanism", 1)  # pings keep browsers\' sockets open\n'
        'modparam("websocket", "keepalive_timeout", 30)  # ...after 30 s without traffic\n'
        if websocket
        else ""
    )
    no_cl = "tcp_accept_no_cl=yes  # HTTP upgrades to WebSocket carry no Content-Length\n"
    sockets += no_cl if websocket else ""
    tls_module = (
        f'loadmodule "tls.so"\nmodparam("tls", "config", "{paths.tls_cfg}")\n' if tls_port else ""
    )
    if persist:
        # Write-back: kept in memory, written every few seconds and when Kamailio stops.
        usrloc_db = (
            f'modparam("usrloc", "db_url", "{db_url(paths.registrations_db)}")\n'
            'modparam("usrloc", "db_mode", 2)\n'
        )
        dialog_db = (
            f'modparam("dialog", "db_url", "{db_url(paths.calls_db)}")\n'
            'modparam("dialog", "db_mode", 2)\n'
            f'modparam("dialog", "db_update_period", {WRITE_BACK_SECONDS})\n'
        )
    else:
        usrloc_db, dialog_db = 'modparam("usrloc", "db_mode", 0)\n', ""
    presence = _presence_modules(subscriptions, addresses, udp_port) if subscriptions else ""
    relay = (
        'loadmodule "rtpengine.so"\n'
        f'modparam("rtpengine", "rtpengine_sock", "udp:127.0.0.1:{relay_port}")\n'
        # A relay that does not answer is left out for 5 s (calls meanwhile unanchored),
        # then asked again: restarted by klapka, it is used again within seconds.
        'modparam("rtpengine", "rtpengine_disable_tout", 5)\n'
        'modparam("rtpengine", "rtpengine_tout_ms", 500)\n'
        'modparam("rtpengine", "rtpengine_retr", 1)\n'
        if relay_port
        else ""
    )
    # The subscriptions' presentities are sip:<number>@klapka: klapka PUBLISHes to them.
    alias = f"alias={AOR_DOMAIN}\n" if subscriptions else ""
    return f"""#!KAMAILIO
# Generated by klapka {klapka.__version__}; do not edit: `klapka serve` rewrites it.
debug=2
log_stderror=yes
log_prefix="{{$mt $hdr(CSeq) $ci}} "
children={children}
tcp_children=2
auto_aliases=no
{alias}server_header="Server: klapka"
user_agent_header="User-Agent: klapka"
{sockets}tcp_connection_lifetime=3605
maxbuffer={MAXBUFFER}  # a larger UDP receive buffer: bursts queue instead of being dropped
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/:/usr/lib/kamailio/modules/"

{modules}
{tls_module}{ws_modules}{presence}{relay}
modparam("jsonrpcs", "transport", 6)  # the Unix datagram socket (4) and the FIFO (2)
modparam("jsonrpcs", "dgram_socket", "{paths.rpc_socket}")
modparam("jsonrpcs", "fifo_name", "{paths.rpc_fifo}")
modparam("jsonrpcs", "fifo_reply_dir", "{paths.root}/")
modparam("tm", "fr_timer", 30000)
modparam("tm", "fr_inv_timer", 30000)
modparam("tm", "auto_inv_100_reason", "Trying")
modparam("rr", "append_fromtag", 1)
modparam("usrloc", "preload", "location")
{usrloc_db}modparam("usrloc", "nat_bflag", 6)
# Expired contacts go, and changed ones are written back, every few seconds (default 60).
modparam("usrloc", "timer_interval", {WRITE_BACK_SECONDS})
modparam("registrar", "xavp_cfg", "reg")
modparam("registrar", "max_expires", 3600)
modparam("registrar", "min_expires", 60)
modparam("registrar", "gruu_enabled", 0)
modparam("registrar", "received_avp", "$avp(RECEIVED)")  # where a NATed phone is reached
modparam("nathelper", "natping_interval", {natping_interval})
modparam("nathelper", "ping_nated_only", 1)
modparam("nathelper", "sipping_bflag", 7)
modparam("nathelper", "sipping_from", "sip:keepalive@klapka")
# Qualify: a NATed contact that answers none of its OPTIONS pings for this long is removed.
modparam("nathelper", "keepalive_timeout", {natping_interval * 4})
modparam("nathelper", "received_avp", "$avp(RECEIVED)")
# Failed authentications per source; a source that keeps failing is blocked for a while.
modparam("htable", "htable", "authfail=>size=8;autoexpire=300;")
modparam("htable", "htable", "blocked=>size=8;autoexpire=600;")
modparam("pike", "sampling_time_unit", 2)
modparam("pike", "reqs_density_per_unit", 64)
modparam("pike", "remove_latency", 4)
modparam("dialog", "enable_stats", 1)
# Each call's end (BYE, failure, timeout) reaches the KEMI adapter: the call journal
# (klapka.kemi.journal) and the lamps (klapka.kemi.blf).
modparam("dialog", "event_callback", "ksr_dialog_event")
# A call's length limit (max_call_seconds), set by the KEMI adapter before the dialog is made.
modparam("dialog", "timeout_avp", "$avp(kl_limit)")
modparam("dialog", "profiles_with_value", "incall")
# Each call's parties are asked every few minutes whether it still goes on (an in-dialog
# OPTIONS); 408 or 481 ends the dialog (klapka.kemi.adapter._track_call).
modparam("dialog", "ka_timer", {min(10, dialog_keepalive)})
modparam("dialog", "ka_interval", {dialog_keepalive})
{dialog_db}# Register trunks: uac registers them from the table klapka writes (reloaded by RPC).
modparam("uac", "reg_db_url", "sqlite://{paths.uacreg}")
# Each register trunk's Contact names the address that reaches its provider (the uacreg
# table's contact_addr); this one is for a trunk without.
modparam("uac", "reg_contact_addr", "{sip_host(public_address or reachable(addresses))}:{udp_port}")
modparam("uac", "reg_timer_interval", 2)
modparam("uac", "reg_retry_interval", 30)
modparam("uac", "reg_keep_callid", 1)
modparam("uac", "auth_username_avp", "$avp(kl_auser)")
modparam("uac", "auth_password_avp", "$avp(kl_apass)")
modparam("uac", "auth_realm_avp", "$avp(kl_arealm)")
modparam("uac", "restore_mode", "auto")
modparam("htable", "htable", "trunkreg=>size=4;")
# Each extension's recent outbound calls (its frequency limit), forgotten after a day.
modparam("htable", "htable", "outbound=>size=8;autoexpire=86400;")
# Blind transfers seen passing (REFER within a dialog): "<transferee>|<target>" -> referrer.
modparam("htable", "htable", "refers=>size=8;autoexpire=60;")
# The calls klapka relayed: Call-ID -> the caller's tag, an hour after their last request
# within the dialog (what the dialog module does not match: a second answer, a late NOTIFY).
modparam("htable", "htable", "calls=>size=12;autoexpire=3600;")
# shed=1 while the SIP core is overloaded: new requests get 503 (klapka.kemi.load).
modparam("htable", "htable", "load=>size=1;")
modparam("app_python3", "load", "{paths.script}")
# Nothing to do for each message sent: not calling into Python for it saves ~6 calls a call.
kemi.onsend_route_callback="none"
cfgengine "python"
"""


AOR_DOMAIN = "klapka"  # as klapka.kemi.adapter: every extension is sip:<number>@klapka
# A subscription lasts at most this long before the phone refreshes it; each refresh is
# checked against the directory (klapka.kemi.subscriptions.within_dialog), so a
# subscription a change no longer allows ends within this time.
SUBSCRIPTION_MAX_SECONDS = 600
PRESENCE_MODULES = (
    "presence", "presence_xml", "presence_dialoginfo", "presence_mwi", "pua", "pua_rpc",
    "json", "pua_json",
)  # fmt: skip


def presence_available() -> bool:
    """Whether Debian's kamailio-presence-modules (and kamailio-json-modules, for pua_json)
    are installed."""
    dirs = ("/usr/lib/x86_64-linux-gnu/kamailio/modules", "/usr/lib/kamailio/modules")
    return any(all(Path(d, f"{m}.so").exists() for m in PRESENCE_MODULES) for d in dirs)


def _presence_modules(db: Path, addresses: tuple[str, ...], udp_port: int) -> str:
    """SUBSCRIBE/NOTIFY (RFC 6665) for BLF (dialog, RFC 4235), presence (PIDF) and message
    waiting (RFC 3842): the presence modules keep the subscriptions (in memory, written back
    to ``db`` every few seconds) and the published states (in memory). States are PUBLISHed
    to klapka itself: presence and mailboxes by ``klapka serve`` through pua_rpc; the states
    of calls are written by the KEMI adapter (pua_json)."""
    loopback = next((a for a in addresses if ipaddress.ip_address(a).is_loopback), addresses[0])
    proxy = f"sip:{sip_host(loopback)}:{udp_port}"
    url = db_url(db)
    loads = "".join(f'loadmodule "{m}.so"\n' for m in PRESENCE_MODULES)
    return f"""{loads}modparam("presence", "db_url", "{url}")
modparam("presence", "subs_db_mode", 2)  # subscriptions in memory, written back
modparam("presence", "db_update_period", {WRITE_BACK_SECONDS})
modparam("presence", "publ_cache", 2)  # published states in memory only
modparam("presence", "max_expires", {SUBSCRIPTION_MAX_SECONDS})
modparam("presence", "min_expires", 60)
modparam("presence", "min_expires_action", 2)
modparam("presence", "clean_period", 10)
modparam("presence", "send_fast_notify", 1)
modparam("presence_xml", "db_url", "{url}")
modparam("presence_xml", "force_active", 1)  # who may watch whom: the KEMI adapter decides
modparam("presence_xml", "disable_winfo", 1)
modparam("presence_xml", "disable_bla", 1)
modparam("presence_dialoginfo", "force_dummy_dialog", 1)  # nothing published: idle
modparam("pua", "db_url", "{url}")
modparam("pua", "db_mode", 0)
modparam("pua", "update_period", 60)
modparam("pua", "outbound_proxy", "{proxy}")
# The lamps of calls (BLF): the KEMI adapter writes each call's states into the presence
# module's table (pua_json, klapka.kemi.blf); the dialog's end switches them off.
"""


def entry_script(
    src_dir: Path,
    snapshot: Path,
    trace: bool = False,
    ws_ports: tuple[int, ...] = (),
    relay: bool = False,
) -> str:
    """The file Kamailio loads: it puts klapka on the path and hands over to the adapter.
    ``trace``: log the engine's reasons for each call too (``klapka serve --sip-trace``);
    ``ws_ports``: the ports where a browser may open SIP over WebSocket; ``relay``: the
    rtpengine module is loaded (calls may be anchored)."""
    return f"""# Generated by klapka; do not edit.
import sys

sys.path.insert(0, {str(src_dir)!r})

from klapka.kemi.adapter import Adapter  # noqa: E402


def mod_init():
    return Adapter({str(snapshot)!r}, trace={trace!r}, ws_ports={tuple(ws_ports)!r},
                   relay={relay!r})
"""
