"""The KEMI adapter: Kamailio's routing, in Python, asking the routing engine.

Runs inside Kamailio's embedded interpreter (one per worker process), so it imports only the
standard library and ``klapka.routing``. The directory comes from the snapshot file that
``klapka serve`` rewrites on every change (reloaded here when its mtime moves); registrations
come from usrloc and calls in progress from dialog profiles, both in Kamailio's shared memory.

Every route catches its exceptions and answers 500: an unhandled exception would drop the
request silently.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import time
import traceback
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import KSR  # type: ignore[import-not-found]  # provided by Kamailio's app_python3

from klapka.kemi import anchor, blf, caller_name, control, journal, load
from klapka.kemi import openssl as kemi_openssl
from klapka.kemi import registration_rules as rules
from klapka.kemi import subscriptions as kemi_subscriptions
from klapka.kemi import trunks as kemi_trunks
from klapka.kemi import voicemail as kemi_voicemail
from klapka.kemi.classify import classify
from klapka.kemi.snapshot import Snapshot
from klapka.kemi.subscription_rules import CONTROL_USER
from klapka.routing.decision import Cursor, Decision, Outcome, Ring
from klapka.routing.engine import decide, resume
from klapka.routing.featurecodes import is_feature_code
from klapka.routing.model import Call, Endpoint, Runtime

AOR_DOMAIN = "klapka"  # every extension's address of record is sip:<number>@klapka
REALM = "klapka"
AUTH_FAILURES_BEFORE_BLOCK = 10
# nat_uac_test: private Contact address (1), Via address (2) or port (16) not where the
# request came from, or a WebSocket client (64): the contact is reached where it came from.
NAT_TESTS = 1 | 2 | 16 | 64
# In a reply (or a request within a dialog): its Contact names a private (RFC 1918) address
# (1: a phone behind NAT answering from a public address), it came from a private address
# (32), or on a WebSocket (64).
NAT_REPLY_TESTS = 1 | 32 | 64
MAX_CONTACTS_PER_CLIENT = 5  # registrations of each app or web client, beside the desk phones
WEBSOCKET_TEST = 64  # nat_uac_test: a WebSocket client, reached over its connection only
# A call that rings no phone of the extension it dialled and ends without voicemail, the
# engine's cause: a missed call for that extension (its email), as one ending after ringing
# is. Not: the caller's own call refused (restricted, no route), the extension disabled.
MISSED_AT_ONCE = frozenset({"busy", "no_answer", "unavailable", "rule", "voicemail_disabled"})
CLIENT_NAMES = {"mobile_app": "Mobile client", "desktop_app": "Desktop client", "web": "Web client"}


class Contacts(Mapping[str, tuple[Endpoint, ...]]):
    """Registered endpoints of each extension, fetched from usrloc when first asked."""

    def __init__(self, sip: dict[str, Any]) -> None:
        self.sip = sip
        self.cache: dict[str, tuple[Endpoint, ...]] = {}
        # endpoint id -> (uri, received, the socket it registered on)
        self.addresses: dict[str, tuple[str, str, str]] = {}

    def __getitem__(self, number: str) -> tuple[Endpoint, ...]:
        if number not in self.cache:
            self.cache[number] = self._fetch(number)
        return self.cache[number]

    def __iter__(self) -> Iterator[str]:
        return iter(self.cache)

    def __len__(self) -> int:
        return len(self.cache)

    def _fetch(self, number: str) -> tuple[Endpoint, ...]:
        if KSR.registrar.reg_fetch_contacts("location", f"sip:{number}@{AOR_DOMAIN}", "c") < 0:
            return ()
        get = KSR.pv.get
        count = int(get("$(ulc(c=>count))") or 0)
        found = []
        now = time.time()
        for i in range(count):
            expires_pv, addr_pv, received_pv, agent_pv, socket_pv = _ulc_names(i)
            # usrloc keeps an expired contact (a NATed phone that stopped answering its
            # OPTIONS pings) until its next timer run: it is not rung.
            expires = int(get(expires_pv) or 0)
            if 0 < expires <= now:
                continue
            uri = get(addr_pv) or ""
            received = get(received_pv) or ""
            agent = get(agent_pv) or ""
            socket = get(socket_pv) or ""
            self.addresses[uri] = (uri, received, socket)
            found.append(Endpoint(uri, classify(uri, agent, socket, self.sip)))
        KSR.registrar.reg_free_contacts("c")
        return tuple(found)


def _own_transaction() -> bool:
    """Make the call's transaction before deciding where it goes: a retransmission of the
    INVITE that arrives meanwhile (the caller repeats it after 500 ms without an answer,
    sooner than a loaded machine decides) is absorbed by it, instead of being decided
    a second time and failing to relay (it answered 500). False: nothing more to do."""
    created: int = KSR.tm.t_newtran()
    if created < 0:
        KSR.sl.send_reply(500, "Server Error")
    return created > 0


def _track_call(calling: tuple[str, str] | None = None, nat_off: bool = False) -> None:
    """A new call klapka relays: its requests within the dialog come back through klapka
    (Record-Route), the dialog module follows it (busy, status, in-dialog checks), and both
    parties are asked now and then whether it still goes on (an in-dialog OPTIONS; 481 or
    408 ends it: a call restored after a crash that had in fact ended does not linger).
    ``calling``: the calling extension and its phone's contact (an internal call), in a
    call from now on (the dialog profile ``incall``); ``nat_off``: its NAT setting is off
    (the dialog variable ``kl_nat_off``: its requests within the dialog are not fixed up)."""
    KSR.rr.record_route()
    KSR.dialog.dlg_manage()
    KSR.dialog.dlg_set_property("ka-src")
    KSR.dialog.dlg_set_property("ka-dst")
    KSR.htable.sht_sets("calls", KSR.pv.get("$ci") or "", KSR.pv.get("$ft") or "")
    if calling is not None:
        KSR.dialog.set_dlg_profile("incall", f"{calling[0]}|{calling[1]}")
    if nat_off:
        KSR.pv.sets("$dlg_var(kl_nat_off)", "caller")


def _party_of_a_call() -> bool:
    """A request within a call klapka relayed, that the dialog module no longer (or never)
    matches: the ACK and BYE for a second phone that answered the same call (the dialog
    keeps the first answer only), a NOTIFY about a transfer after the call's BYE. It names
    the call's Call-ID and its caller's tag, which only the parties know; the call is
    remembered (htable ``calls``) for an hour after its last such request."""
    call_id = KSR.pv.get("$ci") or ""
    tag = KSR.htable.sht_get("calls", call_id)
    if not tag or tag not in (KSR.pv.get("$ft"), KSR.pv.get("$tt")):
        return False
    KSR.htable.sht_sets("calls", call_id, tag)  # an hour from now
    return True


def _unregistering(contact: str) -> bool:
    """A REGISTER that only asks (no Contact) or removes (``*``, expires 0)."""
    if not contact or contact == "*":
        return True
    expires = KSR.pv.get("$hdr(Expires)")
    return "expires=0" in (KSR.pv.get("$ct") or "").replace(" ", "").lower() or (
        expires is not None and expires.strip() == "0"
    )


def _path(caller: str, dialled: str, snap: Snapshot) -> str:
    """``transferred`` when another extension transferred the call here: the phone it was
    transferred to calls with a Referred-By naming that extension (RFC 3892, sent on a
    blind transfer by REFER), or a REFER sending this caller to this number passed within
    a dialog in the last minute (phones that do not copy Referred-By); else ``direct``."""
    referrer = _user_of(KSR.pv.get("$hdr(Referred-By)") or "")
    seen = f"{caller}|{dialled}"
    if not referrer:
        referrer = KSR.htable.sht_get("refers", seen) or ""
    if referrer:
        KSR.htable.sht_rm("refers", seen)  # one transfer, one call
    if referrer and referrer != caller and referrer in snap.directory.extensions:
        return "transferred"
    return "direct"


def _user_of(header: str) -> str:
    """The user part of the URI in a From/To/Referred-By/Refer-To value ("" when none)."""
    uri = _uri_only(header) if header else ""
    if ":" not in uri:
        return ""
    return uri.split(":", 1)[1].split("@", 1)[0].split(";", 1)[0]


def _remember_transfer() -> None:
    """A REFER within a dialog: its To is the party being transferred, Refer-To where to,
    Referred-By (else From) who transfers; kept a minute for the call that follows."""
    target = _user_of(KSR.pv.get("$hdr(Refer-To)") or "")
    transferee = KSR.pv.get("$tU") or ""
    referrer = _user_of(KSR.pv.get("$hdr(Referred-By)") or "") or (KSR.pv.get("$fU") or "")
    if target and transferee and referrer:
        KSR.htable.sht_sets("refers", f"{transferee}|{target}", referrer)


@functools.cache
def _ulc_names(i: int) -> tuple[str, str, str, str, str]:
    """The pseudo-variables of contact ``i`` fetched by ``reg_fetch_contacts``."""
    fields = ("expires", "addr", "received", "user_agent", "socket")
    return tuple(f"$(ulc(c=>{f})[{i}])" for f in fields)  # type: ignore[return-value]


def _registered(aor: str, sip: dict[str, Any]) -> list[tuple[str, str, int, str]]:
    """The live contacts of ``aor``: (URI, ruid, when last registered, endpoint class)."""
    if KSR.registrar.reg_fetch_contacts("location", aor, "r") < 0:
        return []
    get = KSR.pv.get
    found = []
    now = time.time()
    for i in range(int(get("$(ulc(r=>count))") or 0)):
        expires = int(get(f"$(ulc(r=>expires)[{i}])") or 0)
        if 0 < expires <= now:
            continue  # expired: the registrar does not count it either
        uri = get(f"$(ulc(r=>addr)[{i}])") or ""
        cls = classify(
            uri, get(f"$(ulc(r=>user_agent)[{i}])") or "", get(f"$(ulc(r=>socket)[{i}])") or "", sip
        )
        ruid = get(f"$(ulc(r=>ruid)[{i}])") or ""
        found.append((uri, ruid, int(get(f"$(ulc(r=>modified)[{i}])") or 0), cls))
    KSR.registrar.reg_free_contacts("r")
    return found


def _transport_refused(account: Mapping[str, Any]) -> str:
    """Why the request's transport is not allowed for the extension ("" when it is)."""
    return rules.transport_refused(account.get("transport"), str(KSR.pv.get("$pr") or "udp"))


def _nat_tests(account: Mapping[str, Any]) -> int:
    """What makes the extension's request behind NAT: with its NAT setting off, only a
    WebSocket (a browser is reached over its connection, whatever its Contact says)."""
    return NAT_TESTS if account.get("nat", True) else WEBSOCKET_TEST


def _owner(owners: Mapping[str, Any], contact: str) -> tuple[str, str] | None:
    """The (extension, endpoint class) rung at ``contact`` (``$avp(kl_rung)``'s owners),
    by the contact's URI, else by the URI without its parameters."""
    rung = owners.get(contact)
    if rung is None:
        bare = contact.split(";")[0]
        rung = next((o for u, o in owners.items() if u.split(";")[0] == bare), None)
    return None if rung is None else (rung[0], rung[1])


def _answerer(owners: Mapping[str, Any]) -> str | None:
    """The extension of the phone a reply to the call's INVITE comes from: by the branch's
    URI (the contact rung), else by the reply's Contact."""
    owner = _owner(owners, KSR.pv.get("$T_branch(uri)") or "")
    if owner is None:
        owner = _owner(owners, _uri_only(KSR.pv.get("$ct") or ""))
    return None if owner is None else owner[0]


def _nat_within_dialog() -> int:
    """nat_uac_test's tests for a re-INVITE or UPDATE: a party of the call whose NAT setting
    is off (the dialog variable ``kl_nat_off``: ``caller``, ``callee``) is fixed up only on
    a WebSocket; and its reply is not fixed up either (``$avp(kl_nat_off)``). The caller's
    requests carry the dialog's From tag."""
    off = KSR.pv.get("$dlg_var(kl_nat_off)")
    if not off:
        return NAT_REPLY_TESTS
    by_caller = KSR.pv.get("$ft") == KSR.pv.get("$dlg(from_tag)")
    sender, receiver = ("caller", "callee") if by_caller else ("callee", "caller")
    if receiver in off.split(","):
        KSR.pv.seti("$avp(kl_nat_off)", 1)
    return WEBSOCKET_TEST if sender in off.split(",") else NAT_REPLY_TESTS


def _name_the_caller() -> None:
    """In the branch route: a branch of an internal call that rings a phone of an extension
    carries the caller's name as its From display name and in a P-Asserted-Identity (the
    one the calling phone may have sent is removed); a caller without a name keeps its
    From as its phone sent it, and its number alone in the P-Asserted-Identity."""
    caller = KSR.pv.get("$avp(kl_caller)")
    if not caller:
        return  # a call from outside, or none klapka routed
    owners = json.loads(KSR.pv.get("$avp(kl_rung)") or "[{}, {}]")[0]
    if (KSR.pv.get("$ru") or "") not in owners:
        return  # a branch to a trunk (a mobile rung): the trunk's caller ID
    number, name = json.loads(caller)
    if name.strip():
        # The display name only (no URI): nothing for the uac module to restore later.
        KSR.uac.uac_replace_from(caller_name.quoted_display_name(name), "")
    KSR.hdr.remove("P-Asserted-Identity")
    identity = caller_name.asserted_identity(number, name, AOR_DOMAIN)
    KSR.hdr.append(f"P-Asserted-Identity: {identity}\r\n")


class RecentOutbound(Mapping[str, tuple[datetime, ...]]):
    """Each extension's recent outbound calls (for its frequency limit), in the htable
    ``outbound``: shared by all workers, forgotten after a day."""

    def __getitem__(self, number: str) -> tuple[datetime, ...]:
        text = KSR.htable.sht_get("outbound", number)
        if not text:
            return ()
        return tuple(datetime.fromtimestamp(float(x), UTC) for x in str(text).split(","))

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    @staticmethod
    def record(number: str, at: datetime) -> None:
        try:
            KSR.htable.sht_lock("outbound", number)
            try:
                text = KSR.htable.sht_get("outbound", number)
                stamps = [float(x) for x in str(text).split(",")] if text else []
                now = at.timestamp()
                stamps = [*[x for x in stamps if now - x < 86400][-999:], now]
                KSR.htable.sht_sets("outbound", number, ",".join(f"{x:.3f}" for x in stamps))
            finally:
                KSR.htable.sht_unlock("outbound", number)
        except Exception:  # the call is on its way: never fail it for the bookkeeping
            KSR.err("klapka: outbound call not counted: " + traceback.format_exc() + "\n")


class LiveRuntime(Runtime):
    """Runtime state from Kamailio: usrloc contacts and the dialog profile ``incall``."""

    def is_in_call(self, number: str, endpoint: Endpoint) -> bool:
        if (number, endpoint.id) in self.in_call:
            return True  # the calling phone: its own call's dialog is made after the decision
        if KSR.dialog.get_profile_size("incall", f"{number}|{endpoint.id}", "$var(n)") < 0:
            return False
        return int(KSR.pv.get("$var(n)") or 0) > 0


def _call_json(call: Call) -> str:
    return json.dumps([call.caller, call.dialled, call.at.isoformat(), call.kind, call.path])


def _call_from_json(text: str) -> Call:
    c = json.loads(text)
    return Call(c[0], c[1], datetime.fromisoformat(c[2]), c[3], c[4])


def _uri_only(contact: str) -> str:
    start, end = contact.find("<"), contact.find(">")
    uri = contact[start + 1 : end] if start >= 0 and end > start else contact
    return uri.split(";")[0] if ";" in uri and start < 0 else uri


ANCHORED_BRANCH = 9  # branch flag: this branch's media goes through the relay (6, 7: usrloc's)


class Adapter:
    def __init__(
        self,
        snapshot_path: str,
        trace: bool = False,
        ws_ports: tuple[int, ...] = (),
        relay: bool = False,
    ) -> None:
        self.trace = trace
        self.relay = relay  # the media relay (rtpengine) is configured: calls may be anchored
        self.ws_ports = {
            str(p) for p in ws_ports
        }  # where browsers open SIP over WebSocket  # log the engine's reasons (each step and outcome are logged anyway)
        self.snapshot = Snapshot(snapshot_path)
        journal.open_in(os.path.dirname(snapshot_path))  # the call history's source
        self.media = kemi_voicemail.MediaAddress(snapshot_path)
        # Fields of extensions' SIP accounts read so far, for the snapshot's generation.
        self.field_generation: str | None = None
        self.fields: dict[tuple[str, str], Any] = {}

    def child_init(self, rank: int) -> int:
        try:
            reset = kemi_openssl.own_openssl_state()
            if reset:
                KSR.info(f"klapka: OpenSSL state of this process is its own ({reset} keys reset)\n")
        except Exception:  # never keep the process from starting: TLS may still work
            KSR.err("klapka: OpenSSL state: " + traceback.format_exc().replace("\n", " | ") + "\n")
        # What the worker loaded so far lives as long as it does: out of the collector's
        # sight, so its collections look only at what calls allocate.
        gc.freeze()
        return 0

    # --- entry points called by Kamailio ------------------------------------------------

    def ksr_request_route(self, msg: Any) -> int:
        try:
            self._request()
        except UnicodeDecodeError:
            # A header the adapter reads is not UTF-8 (SIP text is, RFC 3261 25.1): the
            # sender's mistake, not klapka's.
            KSR.info("klapka: a request with a header that is not UTF-8 refused\n")
            KSR.sl.send_reply(400, "Bad Request (not UTF-8)")
        except Exception:
            KSR.err(
                "klapka: request route failed: "
                + traceback.format_exc().replace("\n", " | ")
                + "\n"
            )
            KSR.sl.send_reply(500, "Server Error")  # by the transaction, if there is one
        return 1

    def ksr_reply_route(self, msg: Any) -> int:
        # Every reply is handled by tm (the transaction's own reply route); the answers to
        # trunk registrations are remembered for the trunk status.
        try:
            if KSR.pv.get("$rm") == "REGISTER":
                kemi_trunks.registration_reply()
        except Exception:
            KSR.err(
                "klapka: reply route failed: " + traceback.format_exc().replace("\n", " | ") + "\n"
            )
        return 1

    def ksr_branch_route(self, msg: Any) -> int:
        try:
            kemi_trunks.branch(self.snapshot.trunks)
            _name_the_caller()
            if self.relay:
                self._anchor_branch()
        except Exception:
            KSR.err(
                "klapka: branch route failed: " + traceback.format_exc().replace("\n", " | ") + "\n"
            )
        return 1

    def ksr_onsend_route(self, msg: Any) -> int:
        return 1

    def ksr_xhttp_event(self, msg: Any, evname: str = "") -> int:
        """An HTTP request on a SIP TCP/TLS port: a browser opening SIP over WebSocket
        (RFC 7118, subprotocol ``sip``) is let in; anything else is 404."""
        try:
            upgrade = (KSR.pv.get("$hdr(Upgrade)") or "").lower()
            on_ws_port = str(KSR.pv.get("$Rp")) in self.ws_ports
            if KSR.htable.sht_get("blocked", KSR.pv.get("$si") or "") is not None:
                KSR.xhttp.xhttp_reply(403, "Forbidden", "text/plain", "Blocked\n")
            elif on_ws_port and KSR.pv.get("$rm") == "GET" and "websocket" in upgrade:
                # The module answers: 101 Switching Protocols, or the error (no "sip"
                # subprotocol, a bad key...).
                KSR.websocket.handle_handshake()
            else:
                KSR.xhttp.xhttp_reply(404, "Not Found", "text/plain", "Not a SIP WebSocket\n")
        except Exception:
            KSR.err(
                "klapka: http event failed: " + traceback.format_exc().replace("\n", " | ") + "\n"
            )
            KSR.xhttp.xhttp_reply(500, "Server Error", "text/plain", "")
        return 1

    def ksr_dialog_event(self, msg: Any, evname: str = "") -> int:
        """A call's dialog changed state: when it ended (or failed), its lamps go out."""
        try:
            if evname in ("dialog:end", "dialog:failed"):
                _journal_end(evname)
                if kemi_subscriptions.available():
                    blf.ended()
        except Exception:
            KSR.err(
                "klapka: dialog event failed: " + traceback.format_exc().replace("\n", " | ") + "\n"
            )
        return 1

    def ksr_failure_route(self, msg: Any) -> int:
        try:
            self._failure()
        except Exception:
            KSR.err(
                "klapka: failure route failed: "
                + traceback.format_exc().replace("\n", " | ")
                + "\n"
            )
            KSR.tm.t_reply(500, "Server Error")
        return 1

    def ksr_onreply_route(self, msg: Any) -> int:
        try:
            self._reply()
        except Exception:
            KSR.err(
                "klapka: reply route failed: " + traceback.format_exc().replace("\n", " | ") + "\n"
            )
        return 1

    # --- requests -----------------------------------------------------------------------

    def _request(self) -> None:
        if KSR.maxfwd.process_maxfwd(10) < 0:
            KSR.sl.sl_send_reply(483, "Too Many Hops")
            return
        if KSR.sanity.sanity_check(17895, 7) < 0:
            return  # sanity has answered (or dropped) the malformed request
        source = KSR.pv.get("$si") or ""
        if KSR.htable.sht_get("blocked", source) is not None:
            KSR.sl.sl_send_reply(403, "Blocked after repeated authentication failures")
            return
        if not source.startswith("127.") and source != "::1" and KSR.pike.pike_check_req() < 0:
            return  # a flood from one address (loopback, where klapka's own parts talk, is exempt)
        KSR.force_rport()
        if KSR.siputils.has_totag() > 0:
            if KSR.is_method_in("SP"):  # SUBSCRIBE, PUBLISH: the presence module's dialogs
                kemi_subscriptions.within_dialog(self, source)
                return
            self._within_dialog()
            return
        # A new request decides its own way: a Route it brings (a preloaded route set, RFC
        # 3261 8.1.2) would otherwise steer it past every check, to a trunk or back to us.
        if KSR.hdr.is_present("Route") > 0:
            KSR.hdr.remove("Route")
        method = KSR.pv.get("$rm")
        if method == "CANCEL":
            if KSR.tm.t_check_trans() > 0:
                KSR.tm.t_relay()
            return
        if method == "ACK":
            if KSR.tm.t_check_trans() > 0:
                KSR.tm.t_relay()
            return
        if KSR.tm.t_check_trans() == 0:
            return  # a retransmission, absorbed
        if KSR.htable.sht_get("load", "shed") == 1 and self._sheddable(method):
            KSR.hdr.append_to_reply(f"Retry-After: {load.RETRY_AFTER_SECONDS}\r\n")
            KSR.sl.sl_send_reply(503, "Overloaded")
            return
        if method == "REGISTER":
            self._register(source)
        elif method == "INVITE":
            self._invite(source)
        elif method == "SUBSCRIBE" or method == "PUBLISH":
            kemi_subscriptions.request(self, source, method)
        elif method == "MESSAGE" and KSR.pv.get("$rU") == CONTROL_USER:
            kemi_subscriptions.control()  # klapka serve ends subscriptions
        elif method == "OPTIONS" and not KSR.pv.get("$rU"):
            KSR.sl.sl_send_reply(200, "OK")
        else:
            KSR.sl.sl_send_reply(501, "Not Implemented")

    def _sheddable(self, method: str) -> bool:
        """Overloaded, new work waits (503): not the calls in progress (handled above), not
        a keepalive OPTIONS to klapka (as cheap as the 503), and not a request answering
        our challenge for a known account (the call it began is completed, not wasted)."""
        if method == "OPTIONS" and not KSR.pv.get("$rU"):
            return False
        username = KSR.pv.get("$au")
        return not (username and username in self.snapshot.fresh().accounts)

    def _within_dialog(self) -> None:
        if KSR.rr.loose_route() > 0:
            # Only a dialog klapka set up is followed: a request that merely carries a
            # To-tag and a Route (to a trunk, or back to klapka) names no live dialog's
            # Call-ID and tags, which only its parties know, and is refused here, at its
            # first pass: else anyone could call out through the trunks (toll fraud).
            if KSR.dialog.is_known_dlg() < 0 and not _party_of_a_call():
                if KSR.is_ACK():
                    return  # the late ACK of a dialog already ended: nothing to answer
                if KSR.tm.t_check_trans() == 0:
                    return  # a retransmission of a request already answered
                KSR.info("klapka: a request within no known dialog refused\n")
                KSR.sl.sl_send_reply(481, "Call/Transaction Does Not Exist")
                return
            anchored = self.relay and KSR.pv.get("$dlg_var(kl_rtp)") == "1"
            if KSR.is_BYE():
                KSR.dialog.dlg_manage()
                if anchored:
                    KSR.rtpengine.rtpengine_delete0()  # the call's media leaves the relay
            elif KSR.is_method("REFER"):
                _remember_transfer()
            elif KSR.is_method_in("IU"):  # a re-INVITE or UPDATE (hold, session timer)
                if KSR.nathelper.nat_uac_test(_nat_within_dialog()) > 0:
                    KSR.nathelper.fix_nated_contact()  # a browser's Contact is .invalid
                if anchored and "m=audio" in (KSR.pv.get("$rb") or ""):
                    # Toward the callee (from the caller), or back toward the caller.
                    down = KSR.rr.is_direction("downstream") > 0
                    caller = KSR.pv.get("$dlg_var(kl_rtp_caller)") or anchor.PLAIN
                    callee = KSR.pv.get("$dlg_var(kl_rtp_callee)") or anchor.PLAIN
                    toward, sender = (callee, caller) if down else (caller, callee)
                    KSR.rtpengine.rtpengine_offer(anchor.within_dialog_flags(toward, sender))
                KSR.tm.t_on_reply("ksr_onreply_route")  # ...and so is its answer's
            KSR.tm.t_relay()
            return
        if KSR.is_ACK():
            if KSR.tm.t_check_trans() > 0:
                KSR.tm.t_relay()
            return
        KSR.sl.sl_send_reply(404, "Not Here")

    def _auth_failed(self, source: str) -> None:
        count = (KSR.htable.sht_get("authfail", source) or 0) + 1
        KSR.htable.sht_seti("authfail", source, count)
        if count >= AUTH_FAILURES_BEFORE_BLOCK:
            KSR.htable.sht_seti("blocked", source, 1)
            KSR.warn(f"klapka: blocked {source} after {count} failed authentications\n")

    def _authenticate(self, source: str, snap: Snapshot | None = None) -> dict[str, Any] | None:
        """The account of the request's credentials, or None (a challenge was sent)."""
        snap = snap or self.snapshot.fresh()  # one stat per request: _invite has just looked
        username = KSR.pv.get("$au")
        account = snap.accounts.get(username) if username else None
        # pv_auth_check answers WWW- or Proxy-Authorization by the method (REGISTER or not).
        if account is None or KSR.auth.pv_auth_check(REALM, account["password"], 0, 0) < 0:
            if username:
                self._auth_failed(source)
            KSR.auth.auth_challenge(REALM, 0)
            return None
        KSR.auth.consume_credentials()
        return account

    def _register(self, source: str) -> None:
        snap = self.snapshot.fresh()
        account = self._authenticate(source, snap)
        if account is None:
            return
        if not account["enabled"]:
            KSR.sl.sl_send_reply(403, "Extension disabled")
            return
        if not rules.address_allowed(source, account.get("allowed_ips") or ()):
            KSR.sl.sl_send_reply(403, "Registration not allowed from this address")
            return
        if not rules.agent_allowed(KSR.pv.get("$ua") or "", account.get("user_agent_prefix")):
            KSR.sl.sl_send_reply(403, "User agent not allowed")
            return
        refused = _transport_refused(account)
        if refused:
            KSR.sl.sl_send_reply(403, refused)
            return
        number = account["extension"]
        contact = _uri_only(KSR.pv.get("$ct") or "")
        endpoint_class = classify(
            contact, KSR.pv.get("$ua") or "", f"{KSR.pv.get('$pr') or ''}:", snap.sip
        )
        unregistering = _unregistering(contact)
        if endpoint_class in account.get("clients_off", ()) and not unregistering:
            KSR.sl.sl_send_reply(403, f"{CLIENT_NAMES[endpoint_class]} disabled for this extension")
            return
        if KSR.nathelper.nat_uac_test(_nat_tests(account)) > 0:
            KSR.nathelper.fix_nated_register()
            if account.get("qualify", True):
                KSR.setbflag(6)  # behind NAT: kept open with pings
                KSR.setbflag(7)  # the pings are SIP OPTIONS (qualify), not bare UDP packets
        # Concurrent registrations limit the desk phones; each app or web client registers in
        # addition (up to MAX_CONTACTS_PER_CLIENT of each). The registrar counts every
        # contact of the address of record, so its limit is the other classes' contacts
        # plus this class's own limit.
        aor = f"sip:{number}@{AOR_DOMAIN}"
        registered = _registered(aor, snap.sip)
        others = sum(1 for c in registered if c[3] != endpoint_class)
        limit = (
            int(account["max_contacts"]) if endpoint_class == "desk" else MAX_CONTACTS_PER_CLIENT
        )
        if endpoint_class == "desk" and not unregistering:
            # A desk phone registering at the limit replaces the other one registered (or
            # refreshed) the longest ago: a phone that rebooted onto another address is
            # never locked out, nor one refreshing after the limit was lowered.
            desks = sorted(
                (c for c in registered if c[3] == "desk" and c[0] != contact), key=lambda c: c[2]
            )
            for uri, ruid, _modified, _cls in desks[: max(0, len(desks) + 1 - limit)]:
                if KSR.registrar.unregister_ruid("location", aor, ruid) > 0:
                    KSR.info(f"klapka: {number}: {uri} replaced by a newer desk phone\n")
        KSR.pv.seti("$xavp(reg=>max_contacts)", others + limit)
        if KSR.registrar.save_uri("location", 0, aor) > 0:
            kemi_voicemail.registered(self.media, number)  # the MWI lamp

    def _invite(self, source: str) -> None:
        snap = self.snapshot.fresh()
        dialled = KSR.pv.get("$rU") or ""
        trunk = None
        if snap.trunks and KSR.pv.get("$hdr(Proxy-Authorization)") is None:
            port = int(KSR.pv.get("$sp") or 0)
            trunk = kemi_trunks.trunk_of_request(snap.trunks, source, port, dialled)
        if trunk is not None:
            if not _own_transaction():
                return
            did = kemi_trunks.dialled_on_trunk(snap.trunks, trunk)
            caller = KSR.pv.get("$fU") or ""
            KSR.info(f"klapka: a call from {caller} on trunk {trunk} for DID {did}\n")
            call = Call(caller, did, datetime.now(UTC), "external")
            calling: tuple[str, str] | None = None
            nat_off = False
            party = (caller, (KSR.pv.get("$fn") or "").strip('" '), None)
            came_by = {"trunk": trunk}
        else:
            account = self._authenticate(source, snap)
            if account is None or not _own_transaction():
                return
            refused = _transport_refused(account)
            if refused:
                KSR.sl.send_reply(403, refused)
                return
            offer = KSR.pv.get("$rb") or ""  # an INVITE without one: the answer's, not checked
            if account.get("srtp") and "m=audio" in offer and not anchor.encrypted(offer):
                KSR.sl.send_reply(488, "SRTP required for this extension")
                return
            if KSR.nathelper.nat_uac_test(_nat_tests(account)) > 0:
                KSR.nathelper.fix_nated_contact()
            caller = account["extension"]
            if is_feature_code(dialled):
                self._feature_code(caller, dialled)
                return
            path = _path(caller, dialled, snap)
            call = Call(caller, dialled, datetime.now(UTC), "internal", path)
            # Its phones are rung with the caller's name (the branch route writes it).
            KSR.pv.sets("$avp(kl_caller)", json.dumps([caller, account.get("name") or ""]))
            calling = (caller, _uri_only(KSR.pv.get("$ct") or ""))
            nat_off = not account.get("nat", True)
            party = (caller, account.get("name") or "", caller)
            socket = f"{KSR.pv.get('$pr') or ''}:"  # the transport: ws, wss for a browser
            came_by = {"endpoint": classify(calling[1], KSR.pv.get("$ua") or "", socket, snap.sip)}
        lamps = kemi_subscriptions.available()
        retrieval = call.kind == "internal" and call.dialled.startswith(("*2", "*3"))
        if retrieval:
            _track_call(calling, nat_off)
            _journal_start(call, party, came_by)
            if lamps:
                blf.begin(*party, dialled)
            if kemi_voicemail.access(call, self.media, snap.directory):
                # *2, *3: voicemail retrieval (the call history: a call to voicemail)
                journal.emit("outcome", KSR.pv.get("$ci") or "", result="voicemail",
                             mailbox=call.caller)  # fmt: skip
                return
        contacts = Contacts(snap.sip)
        runtime = LiveRuntime(
            registered=contacts,
            in_call=frozenset((calling,)) if calling else frozenset(),
            queue_agents=snap.queue_agents,
            recent_outbound=RecentOutbound(),
        )
        decision = decide(call, snap.directory, runtime)
        if not retrieval:
            limit = self._length_limit(snap, account if calling else None, call.dialled)
            if limit:
                # The dialog lasts this long from its answer (read when the dialog is made;
                # dlg_set_timeout before the answer upsets the dialog timer, and the callee
                # sometimes got no BYE), and both parties get a BYE then.
                KSR.pv.seti("$avp(kl_limit)", limit)
                KSR.pv.seti("$dlg_ctx(timeout_bye)", 1)
            _track_call(calling, nat_off)
            if limit:
                KSR.pv.sets("$dlg_var(kl_limit)", str(limit))
            _journal_start(call, party, came_by)
            if lamps:
                blf.begin(*party, dialled)
        KSR.pv.sets("$avp(kl_call)", _call_json(call))
        self._execute(decision, contacts, in_failure=False)

    def _feature_code(self, extension: str, dialled: str) -> None:
        """Ask the control plane to apply it; the phone hears the result as the reason
        phrase of the final answer (603 when applied: the call itself goes nowhere)."""
        path = os.path.join(os.path.dirname(self.snapshot.path), "control.sock")
        request = {"op": "feature_code", "extension": extension, "dialled": dialled}
        answer = control.ask(path, request)
        if answer is None:
            KSR.sl.send_reply(503, "Feature codes unavailable")
            return
        code = int(answer["sip_code"])
        KSR.hdr.append_to_reply(f"X-Klapka-Feature: {'applied' if code == 200 else 'refused'}\r\n")
        KSR.sl.send_reply(603 if code == 200 else code, str(answer["message"]))

    # --- executing decisions ----------------------------------------------------------

    def _execute(self, decision: Decision, contacts: Contacts, in_failure: bool) -> None:
        # The engine's reasons (``klapka simulate`` shows the same) only when asked for:
        # the step and the outcome below are always logged.
        if self.trace:
            for line in decision.trace:
                KSR.info(f"klapka: {line}\n")
        if isinstance(decision, Outcome):
            self._finish(decision, in_failure)
            return
        self._ring(decision, contacts, in_failure)

    def _ring(self, ring: Ring, contacts: Contacts, in_failure: bool) -> None:
        branches = []
        # What the 200 OK needs to know: the extension and endpoint class of each contact
        # rung, and the outside number of each branch rung through a trunk (by the branch's
        # URI: branch indexes go on from one ring step to the next).
        owners: dict[str, tuple[str, str]] = {}
        numbers: dict[str, str] = {}
        trunks = self.snapshot.trunks
        for target in ring.targets:
            if target.extension is None:
                trunk = next((trunks[t] for t in target.trunks if t in trunks), None)
                if trunk is None or not target.number:
                    KSR.warn(f"klapka: {target.number} is not rung: no usable trunk\n")
                    continue
                uri = f"sip:{target.number}@{trunk['domain']}"
                branches.append((uri, trunk["proxy"], ""))
                numbers[uri] = target.number
                if target.caller_id:
                    KSR.pv.sets("$avp(kl_cid)", target.caller_id)
                continue
            uri, received, socket = contacts.addresses.get(
                target.endpoint or "", (target.endpoint or "", "", "")
            )
            branches.append((uri, received, socket))
            owners[uri] = (target.extension, target.endpoint_class or "")
        if not branches:
            self._finish(
                Outcome("hangup", cause="unavailable", sip_code=480, reason="Unavailable"),
                in_failure,
            )
            return
        # The other branches are appended; the first stays the request's own, set last.
        for i in [*range(1, len(branches)), 0]:
            uri, received, socket = branches[i]
            KSR.pv.sets("$ru", uri)
            if received:
                KSR.pv.sets("$du", received)
            else:
                KSR.pv.unset("$du")
            # A phone is rung from the address it registered on, the one it reaches (on
            # every transport: Kamailio picks by route for UDP only).
            if socket:
                KSR.pv.sets("$fs", socket)
            else:
                KSR.pv.unset("$fs")
            if i:
                KSR.corex.append_branch()
        # = ring.cursor.to_json() (flat plain data) without dataclasses.asdict's deep copy,
        # about 30 µs of this adapter's Python per call.
        KSR.pv.sets("$avp(kl_cursor)", json.dumps(vars(ring.cursor)))
        KSR.pv.sets("$avp(kl_rung)", json.dumps([owners, numbers]))
        # The step as the simulator shows it (the parity tests compare the two).
        step = {"ring": [t.to_json() for t in ring.targets], "timeout": ring.timeout}
        KSR.info(f"klapka: step {json.dumps({**step, 'for': ring.owner})}\n")
        journal.emit("ring", KSR.pv.get("$ci") or "", owner=ring.owner,
                     rung=sorted({o for o, _ in owners.values()}),
                     numbers=list(numbers.values()), timeout=ring.timeout)  # fmt: skip
        # Who this step rings, for the extension list's status (read with dlg.list).
        rung = {o for o, _ in owners.values()}
        KSR.pv.sets("$dlg_var(kl_ringing)", ",".join(sorted(rung)))
        if kemi_subscriptions.available():
            blf.ringing(rung)  # their lamps blink, those of an earlier step go out
        KSR.pv.seti("$avp(kl_all_reject)", 1 if ring.all_reject else 0)
        KSR.tm.t_set_fr(ring.timeout * 1000, 5000)
        KSR.tm.t_on_failure("ksr_failure_route")
        KSR.tm.t_on_reply("ksr_onreply_route")
        if self.relay or numbers or (owners and KSR.pv.get("$avp(kl_caller)")):
            # A mobile rung through a trunk (its caller ID), a phone of an internal call
            # (the caller's name), each branch's media (anchored or not).
            KSR.tm.t_on_branch("ksr_branch_route")
        if self.trace:
            more = len(branches) - 1
            KSR.info(f"klapka: relaying to {uri} via {received or None} (+{more} branches)\n")
        if KSR.tm.t_relay() < 0:
            KSR.sl.send_reply(500, "Could not relay")

    def _finish(self, outcome: Outcome, in_failure: bool) -> None:
        KSR.info(f"klapka: outcome {json.dumps(outcome.to_json())}\n")
        journal.emit("outcome", KSR.pv.get("$ci") or "", code=outcome.sip_code,
                     **outcome.to_json())  # fmt: skip
        KSR.pv.unset("$fs")  # a phone's socket from an earlier ring step: not for what follows
        if in_failure and self.relay and KSR.pv.get("$avp(kl_rtp)") == 1:
            KSR.rtpengine.rtpengine_delete0()  # no phone answered: the call leaves the relay
            KSR.pv.seti("$avp(kl_rtp)", 0)
        if in_failure and kemi_subscriptions.available():
            blf.ringing(())  # the phones rung so far ring no more
        if outcome.result == "hangup" and (in_failure or outcome.cause in MISSED_AT_ONCE):
            kemi_voicemail.missed(self.media, self.snapshot.directory, outcome.cause or "")
        if outcome.result in ("voicemail", "greeting"):
            call = _call_from_json(KSR.pv.get("$avp(kl_call)") or "")
            directory = self.snapshot.directory
            if kemi_voicemail.relay(outcome, call, directory, self.media, in_failure):
                return  # the media service answers
        if outcome.result == "external" and outcome.number:
            KSR.pv.unset("$avp(kl_cursor)")
            if kemi_trunks.start(
                self.snapshot.trunks,
                list(outcome.trunks),
                outcome.number,
                outcome.caller_id,
                in_failure,
            ):
                call = _call_from_json(KSR.pv.get("$avp(kl_call)") or "")
                if call.kind == "internal":
                    RecentOutbound.record(call.caller, call.at)  # its frequency limit
                return
        code, reason = _final_reply(outcome)
        journal.emit("final", KSR.pv.get("$ci") or "", code=code, reason=reason)
        detail = outcome.mailbox or outcome.number or outcome.cause or ""
        KSR.hdr.append_to_reply(f"X-Klapka-Outcome: {outcome.result};{detail}\r\n")
        if in_failure:
            KSR.tm.t_reply(code, reason)
        else:
            KSR.sl.send_reply(code, reason)  # the call's transaction answers (retransmissions)

    # --- replies and failures -----------------------------------------------------------

    def _reply(self) -> None:
        code = int(KSR.pv.get("$rs") or 0)
        if self.relay and 180 <= code < 300:
            self._anchor_answer(code)
        trunk = KSR.pv.get("$avp(kl_trunk)")
        if trunk is not None:  # a call out through a trunk (kemi_trunks): its answer
            if code == 200 and KSR.is_method("INVITE"):
                journal.emit("answer", KSR.pv.get("$ci") or "", trunk=trunk,
                             number=KSR.pv.get("$avp(kl_number)"))  # fmt: skip
            return
        if code < 300 and KSR.nathelper.nat_uac_test(NAT_REPLY_TESTS) > 0 and self._fix_reply():
            # An answering browser (its Contact names a made-up .invalid host) or a phone
            # whose Contact is a private address: the dialog's requests go where it answered.
            KSR.nathelper.fix_nated_contact()
        if code in (486, 600, 603) and (KSR.pv.get("$avp(kl_all_reject)") or 0) == 1:
            KSR.info("klapka: declined with all reject mode on: every branch stops\n")
            KSR.tm.t_cancel_branches("others")
        if code == 200 and KSR.is_method("INVITE"):
            owners, numbers = json.loads(KSR.pv.get("$avp(kl_rung)") or "[{}, {}]")
            contact = _uri_only(KSR.pv.get("$ct") or "")
            rung = _owner(owners, contact)
            answered: dict[str, str] | None = None
            if rung is not None:
                owner, cls = rung
                KSR.dialog.set_dlg_profile("incall", f"{owner}|{contact}")
                answered = {"result": "answered", "extension": owner, "endpoint": cls}
            elif numbers:
                number = numbers.get(KSR.pv.get("$T_branch(uri)") or "")
                if number:
                    answered = {"result": "answered", "number": number}
            if answered is not None:
                KSR.info(f"klapka: outcome {json.dumps(answered)}\n")
            if owners or numbers:  # the call's INVITE (not a re-INVITE)
                journal.emit("answer", KSR.pv.get("$ci") or "", ext=(answered or {}).get("extension"),
                             endpoint=(answered or {}).get("endpoint"),
                             number=(answered or {}).get("number"))  # fmt: skip
            extension = rung[0] if rung is not None else _answerer(owners) if owners else None
            if (owners or numbers) and kemi_subscriptions.available():  # not a re-INVITE's
                blf.answered(extension if rung is not None or not numbers else None)
            if extension is not None and self._nat_off(extension):
                # Its requests within the dialog get no NAT fix-up (_nat_within_dialog).
                off = KSR.pv.get("$dlg_var(kl_nat_off)") or ""
                if "callee" not in off.split(","):
                    KSR.pv.sets("$dlg_var(kl_nat_off)", f"{off},callee" if off else "callee")

    def _anchor_branch(self) -> None:
        """In the branch route: whether this branch's media goes through the relay
        (``klapka.kemi.anchor``), and if so, the relay's offer to the party rung."""
        body = KSR.pv.get("$rb") or ""
        if "m=audio" not in body:
            return  # no offer (a late offer comes in the answer: left unanchored)
        snap = self.snapshot
        ru, du = KSR.pv.get("$ru") or "", KSR.pv.get("$du") or ""
        owners = json.loads(KSR.pv.get("$avp(kl_rung)") or "[{}, {}]")[0]
        to_browser = False
        if ru in owners:  # a phone of an extension: its codecs and SRTP; reached where it came from
            allowed = self._account_field(owners[ru][0], "codecs", None)
            srtp = bool(self._account_field(owners[ru][0], "srtp", False))
            callee_nat = bool(du)
            to_browser = owners[ru][1] == "web"
        else:  # through a trunk: the trunk's codecs, plain RTP
            trunk = next((t for t in snap.trunks.values() if t["proxy"] == du), None)
            allowed, srtp, callee_nat = (trunk or {}).get("codecs"), False, False
        from_browser = (KSR.pv.get("$pr") or "") in ("ws", "wss")
        offered = anchor.offered_codecs(body)
        caller_nat = anchor.behind_nat(body, KSR.pv.get("$si") or "")
        why = anchor.reason(snap.sip.get("media_anchor", "auto"), offered, allowed, caller_nat,
                            callee_nat, srtp != anchor.encrypted(body) and not to_browser,
                            to_browser != from_browser)  # fmt: skip
        if why is None:
            return
        flags = anchor.offer_flags(offered, allowed, self._relay_interfaces(), srtp,
                                   to_browser, from_browser and not to_browser)  # fmt: skip
        # What the caller speaks, for the call's re-INVITEs (the callee's: when it answers).
        KSR.pv.sets("$avp(kl_rtp_caller)",
                    anchor.side(from_browser, anchor.encrypted(body)))  # fmt: skip
        if KSR.rtpengine.rtpengine_offer(flags) > 0:
            KSR.setbflag(ANCHORED_BRANCH)
            KSR.pv.seti("$avp(kl_rtp)", 1)
            KSR.info(f"klapka: media of {ru} anchored ({why})\n")
        else:
            KSR.warn(f"klapka: the media relay did not answer: {ru} rung unanchored ({why})\n")

    def _relay_interfaces(self) -> tuple[str, str]:
        """The relay's interfaces of a branch: where the caller's request came in, and the
        socket the branch leaves by (the phone's registered one; else the same)."""
        into = (KSR.pv.get("$Ri") or "").strip("[]")
        forced = KSR.pv.get("$fs") or ""
        out = (
            forced.split(":", 1)[1].rsplit(":", 1)[0].strip("[]")
            if forced.count(":") >= 2
            else into
        )
        return anchor.interface_name(into), anchor.interface_name(out or into)

    def _anchor_answer(self, code: int) -> None:
        """A reply with an answer (SDP) to an anchored offer: through the relay too. The
        call's INVITE: its anchored branch (the branch flag, set by the branch route of
        every kind of branch: a phone, a trunk, the media service); a re-INVITE or UPDATE:
        of an anchored call (no branch route: no flag)."""
        if "m=audio" not in (KSR.pv.get("$rb") or ""):
            return
        if KSR.isbflagset(ANCHORED_BRANCH):
            KSR.rtpengine.rtpengine_answer(anchor.answer_flags())
            if code >= 200:
                KSR.pv.sets("$dlg_var(kl_rtp)", "1")
                KSR.pv.sets("$dlg_var(kl_rtp_caller)", KSR.pv.get("$avp(kl_rtp_caller)") or "plain")
                KSR.pv.sets("$dlg_var(kl_rtp_callee)", self._answering_side())
        elif KSR.pv.get("$dlg_var(kl_rtp)") == "1":
            KSR.rtpengine.rtpengine_answer(anchor.answer_flags(branch=False))

    def _answering_side(self) -> str:
        """What the party that answered speaks: a browser, an SRTP extension's phone, else
        plain RTP (a phone, a trunk)."""
        owners = json.loads(KSR.pv.get("$avp(kl_rung)") or "[{}, {}]")[0]
        rung = owners.get(KSR.pv.get("$T_branch(uri)") or "")
        if rung is None:
            return anchor.PLAIN
        srtp = bool(self._account_field(rung[0], "srtp", False))
        return anchor.side(rung[1] == "web", srtp)

    def _fix_reply(self) -> bool:
        """A reply whose Contact looks behind NAT (or on a WebSocket): fixed up unless the
        phone answering belongs to an extension whose NAT setting is off (and it is no
        browser): one of the phones the call rang, or the party a re-INVITE or UPDATE went
        to (``_within_dialog`` noted it)."""
        if KSR.nathelper.nat_uac_test(WEBSOCKET_TEST) > 0:
            return True
        rung = KSR.pv.get("$avp(kl_rung)")
        if rung:  # the call's INVITE
            owner = _answerer(json.loads(rung)[0])
            return owner is None or not self._nat_off(owner)
        return bool(KSR.pv.get("$avp(kl_nat_off)") != 1)

    def _length_limit(self, snap: Snapshot, caller: Mapping[str, Any] | None, dialled: str) -> int:
        """How long the call may last once answered (0: no limit): the shorter of the
        calling extension's and the dialled extension's ``max_call_seconds`` (0:
        ``system.max_call_seconds``; 0 there: no limit)."""
        default = int(snap.sip.get("max_call_seconds") or 0)
        limits = []
        if caller is not None:
            limits.append(int(caller.get("max_call_seconds") or 0) or default)
        if dialled in snap.directory.extensions:
            limits.append(int(self._account_field(dialled, "max_call_seconds", 0)) or default)
        limits = [s for s in limits or [default] if s > 0]
        return min(limits) if limits else 0

    def _account_field(self, extension: str, key: str, default: Any) -> Any:
        """A field of the extension's SIP account (the snapshot's accounts table), kept per
        snapshot generation."""
        snap = self.snapshot.fresh()
        if snap.generation != self.field_generation:
            self.field_generation, self.fields = snap.generation, {}
        if (extension, key) not in self.fields:
            row = None
            if snap.conn is not None:
                row = snap.conn.execute(
                    "SELECT data FROM accounts WHERE extension = ?", (extension,)
                ).fetchone()
            self.fields[(extension, key)] = (
                default if row is None else json.loads(row[0]).get(key, default)
            )
        return self.fields[(extension, key)]

    def _nat_off(self, extension: str) -> bool:
        """Whether the extension's NAT setting (``nat`` of its SIP account) is off: asked
        when its phone answers."""
        return bool(self._account_field(extension, "nat", True) is False)

    def _failure(self) -> None:
        call_id = KSR.pv.get("$ci") or ""
        if KSR.tm.t_is_canceled() > 0:
            if self.relay and KSR.pv.get("$avp(kl_rtp)") == 1:
                KSR.rtpengine.rtpengine_delete0()  # the caller gave up: out of the relay
            journal.emit("cancel", call_id)
            kemi_voicemail.missed(self.media, self.snapshot.fresh().directory, "cancelled")
            return
        code = int(KSR.pv.get("$T_reply_code") or 0)
        trunk = KSR.pv.get("$avp(kl_trunk)")
        if trunk is not None:
            journal.emit("trunk", call_id, trunk=trunk, code=code,
                         timeout=KSR.tm.t_any_timeout() > 0)  # fmt: skip
            kemi_trunks.failure(self.snapshot.fresh().trunks)
            return
        ended = "no_answer" if KSR.tm.t_any_timeout() > 0 or code in (408, 480) else "busy"
        if code not in (408, 480, 486, 600, 603) and KSR.tm.t_any_timeout() <= 0:
            ended = "no_answer"
        KSR.info(f"klapka: ring step ended ({code}): {ended.replace('_', ' ')}\n")
        journal.emit("step_end", call_id, code=code, why=ended)
        snap = self.snapshot.fresh()
        call = _call_from_json(KSR.pv.get("$avp(kl_call)") or "")
        cursor = Cursor.from_json(KSR.pv.get("$avp(kl_cursor)") or "")
        contacts = Contacts(snap.sip)
        decision = resume(
            call,
            cursor,
            ended,
            snap.directory,
            LiveRuntime(
                registered=contacts,
                queue_agents=snap.queue_agents,
                recent_outbound=RecentOutbound(),
            ),
        )
        self._execute(decision, contacts, in_failure=True)


def _journal_start(call: Call, party: tuple[str, str, str | None], came_by: dict[str, Any]) -> None:
    """The call's first event in the journal (klapka.kemi.journal)."""
    caller, name, extension = party
    journal.emit("start", KSR.pv.get("$ci") or "", kind=call.kind, path=call.path,
                 to=call.dialled, **{"from": caller}, name=name, ext=extension,
                 **came_by)  # fmt: skip


def _journal_end(evname: str) -> None:
    """The call's last event: its dialog ended (a BYE, by whom), failed (never answered),
    or timed out (a party gone, the length limit)."""
    call_id = KSR.pv.get("$dlg(callid)") or ""
    if evname == "dialog:failed":
        journal.emit("end", call_id, how="failed")
    elif KSR.pv.get("$rm") == "BYE":
        by = "caller" if KSR.pv.get("$ft") == KSR.pv.get("$dlg(from_tag)") else "callee"
        journal.emit("end", call_id, how="bye", by=by)
    else:
        limit = KSR.pv.get("$dlg_var(kl_limit)")
        journal.emit("end", call_id, how="timeout", limit=int(limit) if limit else None)


def _final_reply(outcome: Outcome) -> tuple[int, str]:
    """The SIP answer to the caller for an outcome that rings nobody."""
    if outcome.result == "hangup":
        reason = {
            "busy": "Busy Here",
            "no_answer": "No Answer",
            "unavailable": "Temporarily Unavailable",
            "not_found": "Not Found",
            "disabled": "Extension disabled",
            "restricted": outcome.reason or "Call restricted",
            "no_route": "No route",
            "forward_loop": "Forward loop",
            "voicemail_disabled": "Voicemail disabled",
            "rule": "Declined",
        }.get(outcome.cause or "", "Declined")
        return outcome.sip_code or 603, reason
    if outcome.result == "voicemail":
        return 480, f"Voicemail {outcome.mailbox} (media service not running)"
    if outcome.result == "greeting":
        return 480, "Greeting (media service not running)"
    if outcome.result == "external":
        return 503, "No trunk available"
    return 500, "Server Error"
