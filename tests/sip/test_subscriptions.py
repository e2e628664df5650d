"""Subscriptions in the SIP core: BLF (dialog), presence (PIDF) and message waiting."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import pytest
from pbx4sip import Pbx4Sip, running
from sipp import OK_TO_LAST, free_udp_port, scenario
from sqlalchemy import insert
from test_supervision import answering, gone, kill_main, rows, wait_for
from watcher import Watcher

from klapka.domain.values import PresenceStatus
from klapka.services.directory.objects import Objects
from klapka.services.pbx import Pbx
from klapka.services.telephony.mwi import notify_mailbox
from klapka.sip.kamailio_cfg import presence_available
from klapka.sip.supervisor import SipCore
from klapka.store import tables as t

# Skipped on a machine without the package; in CI (which installs it) they must run.
pytestmark = pytest.mark.skipif(
    not presence_available() and not os.environ.get("CI"),
    reason="kamailio-presence-modules is not installed",
)

DI = {"di": "urn:ietf:params:xml:ns:dialog-info"}
PASSWORDS = {n: f"Secret{n}ab" for n in ("101", "102", "103", "104")}


def doc(*extensions: dict[str, object], **extra: object) -> dict[str, object]:
    by_number = {e["number"]: e for e in extensions}
    exts = [
        {"number": n, "sip_password": pw, **by_number.get(n, {})} for n, pw in PASSWORDS.items()
    ]
    return {"version": 1, "extensions": exts, **extra}


def test_blf_follows_a_call(sip: Pbx4Sip) -> None:
    """Both lamps: the callee's (ringing with the caller's number and name, for pickup; in
    the call; idle) and the caller's (in a call as the initiator)."""
    sip.apply(doc({"number": "103", "first_name": "Jana", "last_name": 'Nováková & "Co"'}))
    watcher = Watcher(sip.port, "101", PASSWORDS["101"])
    caller = Watcher(sip.port, "104", PASSWORDS["104"])
    try:
        assert watcher.subscribe("102", "dialog") in (200, 202)
        assert caller.subscribe("103", "dialog") in (200, 202)
        watcher.wait_for(r"dialog-info")
        phone = sip.sipp.phone("102", PASSWORDS["102"], "answer", ring_ms=1000)
        try:
            call = sip.sipp.call("103", PASSWORDS["103"], "102", expect=200, talk_ms=1000)
            assert call.ok, call.output
            assert phone.finish().ok
        finally:
            phone.stop()
        ringing = watcher.wait_for(r"<state>early</state>.*<identity[^>]*>sip:103@")
        remote = ElementTree.fromstring(ringing.body).find(".//di:remote/di:identity", DI)
        assert remote is not None and remote.get("display") == 'Jana Nováková & "Co"'
        watcher.wait_for(r"<state>confirmed</state>")
        watcher.wait_for(r"<state>terminated</state>", since=watcher.notifies.index(ringing))
        caller.wait_for(r'direction="initiator".*<state>confirmed</state>')
        caller.wait_for(r"<state>terminated</state>", since=1)
    finally:
        watcher.close()
        caller.close()


def _states(watcher: Watcher) -> list[str]:
    """The lamp states a watcher was told, in order (idle: no dialog or terminated)."""
    found = []
    for n in watcher.notifies:
        states = re.findall(r"<state>(\w+)</state>", n.body)
        live = [s for s in states if s != "terminated"]
        found.append("confirmed" if "confirmed" in live else live[0] if live else "idle")
    return found


def _lamps(sip: Pbx4Sip, *numbers: str) -> dict[str, Watcher]:
    """A watcher (on 104's phone) of each extension's lamp, idle to begin with."""
    watchers = {}
    for number in numbers:
        watchers[number] = Watcher(sip.port, "104", PASSWORDS["104"])
        assert watchers[number].subscribe(number, "dialog") in (200, 202)
        watchers[number].wait_for(r"dialog-info")
    return watchers


def _call_answered_by_102(sip: Pbx4Sip, dialled: str, *also_rung: str, ring_ms: int = 1000) -> None:
    """101 calls ``dialled``; 102's phone answers after ``ring_ms`` (``also_rung`` phones
    ring meanwhile, cancelled when 102 answers) and the call lasts a second."""
    others = [sip.sipp.phone(n, PASSWORDS[n], "ring") for n in also_rung]
    phone = sip.sipp.phone("102", PASSWORDS["102"], "answer", ring_ms=ring_ms)
    try:
        call = sip.sipp.call("101", PASSWORDS["101"], dialled, expect=200, talk_ms=1500)
        assert call.ok, call.output
        assert phone.finish().ok
        for other in others:
            assert other.finish().ok
    finally:
        phone.stop()
        for other in others:
            other.stop()


def test_blf_of_ring_group_members_follow_who_answers(sip: Pbx4Sip) -> None:
    """A ring group call blinks both members' lamps with the caller; when 102 answers,
    102's lamp shows the call and 103's goes out at once (its phone rings no more), not
    when the call ends."""
    sip.apply(doc(ring_groups=[{"number": "6300", "members": ["102", "103"]}]))
    lamps = _lamps(sip, "102", "103")
    try:
        _call_answered_by_102(sip, "6300", "103")
        lamps["102"].wait_for(r"<state>early</state>.*<identity[^>]*>sip:101@")
        answered = lamps["102"].wait_for(r"<state>confirmed</state>")
        ended = lamps["102"].wait_for(r"<state>terminated</state>", since=2)
        lamps["103"].wait_for(r"<state>early</state>.*<identity[^>]*>sip:101@")
        out = lamps["103"].wait_for(r"<state>terminated</state>", since=2)
        assert answered.at - 0.2 <= out.at < ended.at - 1.0  # out when 102 answered
        assert _states(lamps["102"]) == ["idle", "early", "confirmed", "idle"]
        assert "confirmed" not in _states(lamps["103"])
    finally:
        for watcher in lamps.values():
            watcher.close()


def test_blf_follows_a_forward_after_no_answer(sip: Pbx4Sip) -> None:
    """101 calls 103, which forwards to 102 after 5 s unanswered: 103's lamp blinks, then
    goes out when the second ring step rings 102, whose lamp blinks, shows the call and
    goes out at its end."""
    forward = {"available": {"ring_timeout": 5, "internal": {"no_answer": {"extension": "102"}}}}
    sip.apply(doc({"number": "103", "presence_settings": forward}))
    lamps = _lamps(sip, "102", "103")
    try:
        _call_answered_by_102(sip, "103", "103", ring_ms=500)
        first = lamps["103"].wait_for(r"<state>early</state>")
        out = lamps["103"].wait_for(r"<state>terminated</state>", since=2)
        second = lamps["102"].wait_for(r"<state>early</state>.*<identity[^>]*>sip:101@")
        lamps["102"].wait_for(r"<state>confirmed</state>")
        lamps["102"].wait_for(r"<state>terminated</state>", since=2)
        assert out.at - first.at > 4.5  # the first step rang its 5 s
        assert abs(second.at - out.at) < 0.5  # one step gives way to the next
        assert _states(lamps["103"]) == ["idle", "early", "idle"]
        assert _states(lamps["102"]) == ["idle", "early", "confirmed", "idle"]
    finally:
        for watcher in lamps.values():
            watcher.close()


def test_blf_of_an_extension_forwarded_always_stays_idle(sip: Pbx4Sip) -> None:
    """101 calls 103, forwarded always to 102: 102's lamp follows the call; 103's phones
    never ring, so its lamp stays idle."""
    always = {"available": {"internal": {"always": {"extension": "102"}}}}
    sip.apply(doc({"number": "103", "presence_settings": always}))
    lamps = _lamps(sip, "102", "103")
    try:
        _call_answered_by_102(sip, "103")
        lamps["102"].wait_for(r"<state>early</state>.*<identity[^>]*>sip:101@")
        lamps["102"].wait_for(r"<state>confirmed</state>")
        lamps["102"].wait_for(r"<state>terminated</state>", since=2)
        assert _states(lamps["103"]) == ["idle"]
    finally:
        for watcher in lamps.values():
            watcher.close()


def test_presence_follows_the_extensions_status_and_note(sip: Pbx4Sip) -> None:
    sip.apply(doc())
    watcher = Watcher(sip.port, "101", PASSWORDS["101"])
    try:
        assert watcher.subscribe("102", "presence") in (200, 202)
        watcher.wait_for(r"<basic>open</basic>.*<note>Available</note>")
        seen = len(watcher.notifies)
        Objects(sip.pbx).set_presence("102", PresenceStatus.LUNCH_BREAK, "Back at 1")
        watcher.wait_for(r"<rpid:meal/>.*<dm:note>Back at 1</dm:note>", since=seen)
        seen = len(watcher.notifies)
        Objects(sip.pbx).set_presence("102", PresenceStatus.OFF_WORK, 'R&D "<lab>"')
        notify = watcher.wait_for(r"<basic>closed</basic>", since=seen)
        assert '<note>R&amp;D "&lt;lab&gt;"</note>' in notify.body, notify.body
        assert "<klapka:status" in notify.body and ">off_work</klapka:status>" in notify.body
    finally:
        watcher.close()


HIDDEN = {
    "client_permissions": [
        {"name": "no-boss", "target": {"extensions": ["101"]},
         "extension_visibility": {"deny": {"extensions": ["104"]}}},
    ]
}  # fmt: skip


def test_only_visible_extensions_may_be_watched(sip: Pbx4Sip) -> None:
    """A hidden extension does not exist for the watcher (404), as in the portal; another
    extension's mailbox is refused; a wrong password is challenged again."""
    sip.apply(doc(**HIDDEN))
    watcher = Watcher(sip.port, "101", PASSWORDS["101"])
    other = Watcher(sip.port, "103", PASSWORDS["103"])
    intruder = Watcher(sip.port, "102", "WrongPassword1")
    try:
        assert watcher.subscribe("104", "dialog") == 404
        assert watcher.subscribe("104", "presence") == 404
        assert watcher.subscribe("999", "dialog") == 404
        assert watcher.subscribe("102", "message-summary") == 403
        assert watcher.subscribe("102", "conference") == 489
        assert other.subscribe("104", "dialog") in (200, 202)  # not hidden from 103
        assert intruder.subscribe("101", "dialog") == 407
    finally:
        for w in (watcher, other, intruder):
            w.close()


def _subscribe_anew(sip: Pbx4Sip, user: str, password: str, target: str, event: str) -> int:
    """A new subscription from another phone of ``user``: the final answer's code."""
    phone = Watcher(sip.port, user, password)
    try:
        return phone.subscribe(target, event)
    finally:
        phone.close()


def test_a_change_ends_the_subscriptions_it_no_longer_allows_at_once(sip: Pbx4Sip) -> None:
    """104 hidden from 101 by a client permission rule, 103 disabled (its own mailbox too),
    102's password changed: their phones get a NOTIFY "terminated" within the
    subscription (rejected: do not subscribe again; deactivated for the new password:
    subscribe again, with it), within the presence module's write-back (5 s) and the check
    after it; a subscription the change leaves allowed goes on."""
    sip.apply(doc())
    hidden = Watcher(sip.port, "101", PASSWORDS["101"])
    kept = Watcher(sip.port, "101", PASSWORDS["101"])
    rekeyed = Watcher(sip.port, "102", PASSWORDS["102"])
    disabled = Watcher(sip.port, "103", PASSWORDS["103"])
    watchers = (hidden, kept, rekeyed, disabled)
    try:
        assert hidden.subscribe("104", "dialog") in (200, 202)
        assert kept.subscribe("102", "presence") in (200, 202)
        assert rekeyed.subscribe("101", "dialog") in (200, 202)
        assert disabled.subscribe("103", "message-summary") in (200, 202)
        for w in watchers:
            w.wait_for(r"")
        password = {"number": "102", "sip_password": "Changed102xy"}
        sip.apply(doc(password, {"number": "103", "enabled": False}, **HIDDEN))
        for w, reason in ((hidden, "rejected"), (disabled, "rejected"), (rekeyed, "deactivated")):
            deadline = time.monotonic() + 15
            while not any(n.state.startswith("terminated") for n in w.notifies):
                assert time.monotonic() < deadline, [n.state for n in w.notifies]
                time.sleep(0.1)
            ended = next(n for n in w.notifies if n.state.startswith("terminated"))
            assert ended.state == f"terminated;reason={reason}"
            assert ended.headers["call-id"] == w.call_id
            assert ended.headers["to"].endswith(f"tag={w.tag}")
            assert ended.headers["from"].count("tag=") == 1  # the subscription's own dialog
        assert not any(n.state.startswith("terminated") for n in kept.notifies)
        assert kept.subscribe("102", "presence") in (200, 202)  # its refresh is taken
    finally:
        for w in watchers:
            w.close()


def test_subscriptions_end_when_the_directory_no_longer_allows_them(sip: Pbx4Sip) -> None:
    """Subscriptions made before a change end at their phone's next refresh (at most
    SUBSCRIPTION_MAX_SECONDS away) when the change takes them away: 104 hidden from 101 by
    a client permission rule, 103 disabled (its own mailbox too), 102's password changed
    (its phone still has the old one). Each refresh is answered 481 (the subscription is
    over) or challenged in vain; subscribing anew is refused; a subscription the change
    leaves allowed is refreshed."""
    sip.apply(doc())
    hidden = Watcher(sip.port, "101", PASSWORDS["101"])
    kept = Watcher(sip.port, "101", PASSWORDS["101"])
    rekeyed = Watcher(sip.port, "102", PASSWORDS["102"])
    disabled = Watcher(sip.port, "103", PASSWORDS["103"])
    watchers = (hidden, kept, rekeyed, disabled)
    try:
        assert hidden.subscribe("104", "dialog") in (200, 202)
        assert kept.subscribe("102", "presence") in (200, 202)
        assert rekeyed.subscribe("101", "dialog") in (200, 202)
        assert disabled.subscribe("103", "message-summary") in (200, 202)
        password = {"number": "102", "sip_password": "Changed102xy"}
        sip.apply(doc(password, {"number": "103", "enabled": False}, **HIDDEN))
        assert hidden.subscribe("104", "dialog") == 481  # refreshes
        assert disabled.subscribe("103", "message-summary") == 481
        assert rekeyed.subscribe("101", "dialog") == 407
        assert kept.subscribe("102", "presence") in (200, 202)
        assert _subscribe_anew(sip, "101", PASSWORDS["101"], "104", "dialog") == 404
        assert _subscribe_anew(sip, "102", "Changed102xy", "101", "dialog") in (200, 202)
    finally:
        for w in watchers:
            w.close()


def test_message_summary_follows_the_mailbox(sip: Pbx4Sip) -> None:
    sip.apply(doc())
    watcher = Watcher(sip.port, "102", PASSWORDS["102"])
    try:
        assert watcher.subscribe("102", "message-summary") in (200, 202)
        by_code = Watcher(sip.port, "102", PASSWORDS["102"])  # a phone naming its voicemail code
        assert by_code.subscribe("*97", "message-summary") in (200, 202)
        seen = len(watcher.notifies)
        notify_mailbox(sip.core.paths.root.parent, "102", 2, 1)
        notify = watcher.wait_for(r"Messages-Waiting: yes.*Voice-Message: 2/1", since=seen)
        assert "active" in notify.state
        by_code.wait_for(r"Messages-Waiting: yes.*Voice-Message: 2/1")
        by_code.close()
        seen = len(watcher.notifies)
        notify_mailbox(sip.core.paths.root.parent, "102", 0, 3)
        watcher.wait_for(r"Messages-Waiting: no.*Voice-Message: 0/3", since=seen)
    finally:
        watcher.close()


def _free_pair() -> int:
    """A port free for UDP and TCP whose next port is free for TCP too (baresip's TLS)."""
    for _ in range(50):
        port = free_udp_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two ports free")


@pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip-core is not installed")
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_baresips_mwi_and_presence_modules_subscribe(
    sip: Pbx4Sip, tmp_path: Path, transport: str
) -> None:
    """Debian's baresip with its mwi module (its own mailbox) and presence module (a
    contact's presence): both subscriptions are accepted and notified, over UDP and over
    TCP (the NOTIFYs on the phone's connection)."""
    sip.apply(doc())
    Objects(sip.pbx).set_presence("102", PresenceStatus.DO_NOT_DISTURB, "In a meeting")
    workdir = tmp_path / "baresip"
    workdir.mkdir()
    port = _free_pair()
    (workdir / "config").write_text(
        f"sip_listen 127.0.0.1:{port}\nmodule_path /usr/lib/baresip/modules\n"
        "module g711.so\nmodule_app account.so\nmodule_app contact.so\nmodule_app menu.so\n"
        "module_app mwi.so\nmodule_app presence.so\n"
    )
    (workdir / "accounts").write_text(
        f"<sip:101@127.0.0.1:{sip.port};transport={transport}>;auth_pass={PASSWORDS['101']};"
        "regint=300\n"
    )
    (workdir / "contacts").write_text(
        f'"Jana" <sip:102@127.0.0.1:{sip.port};transport={transport}>;presence=p2p\n'
    )
    with (workdir / "log").open("wb") as log:
        phone = subprocess.Popen(["baresip", "-f", str(workdir), "-s", "-t", "6"],
                                 stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            phone.wait(30)
        finally:
            if phone.poll() is None:
                phone.kill()
    text = (workdir / "log").read_text(errors="replace")
    notifies = [m for m in _traced(text) if m.startswith("NOTIFY ")]
    mwi = [m for m in notifies if "Event: message-summary" in m]
    presence = [m for m in notifies if "Event: presence" in m]
    assert mwi and "Subscription-State: active" in mwi[0], text
    assert presence and "Subscription-State: active" in presence[0], text
    assert "<rpid:busy/>" in presence[0] and "In a meeting" in presence[0], presence[0]
    assert "501 Not Implemented" not in text
    assert "mwi: subscribing to messages" in text


def _traced(log: str) -> list[str]:
    """The SIP messages in baresip's trace (``-s``): each after a line naming its path."""
    found = []
    for part in re.split(r"\n(?:UDP|TCP) [\d.:]+ -> [\d.:]+\n", log)[1:]:
        found.append(part.split("\x1b[", 1)[0].strip())
    return found


# A sipp watcher: SUBSCRIBE (answering the challenge), one NOTIFY per expected body (each
# must match its pattern, in that order), then SUBSCRIBE Expires: 0 and the final NOTIFY.
_WATCH = (
    """
  <send retrans="500"><![CDATA[
      SUBSCRIBE sip:{target}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]>;tag=[call_number]
      To: <sip:{target}@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 SUBSCRIBE
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Event: {event}
      Accept: {accept}
      Expires: 600
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="407" auth="true"/>
  <send retrans="500"><![CDATA[
      SUBSCRIBE sip:{target}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]>;tag=[call_number]
      To: <sip:{target}@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 2 SUBSCRIBE
      Contact: <sip:{user}@[local_ip]:[local_port]>
      [authentication]
      Event: {event}
      Accept: {accept}
      Expires: 600
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200" rrs="true"/>
{notifies}
  <send retrans="500"><![CDATA[
      SUBSCRIBE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:{user}@[remote_ip]>;tag=[call_number]
      To: <sip:{target}@[remote_ip]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 3 SUBSCRIBE
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Event: {event}
      Accept: {accept}
      Expires: 0
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200"/>
  <recv request="NOTIFY"><action>
    <ereg regexp="terminated" search_in="hdr" header="Subscription-State:" check_it="true"
          assign_to="x"/>
  </action></recv>
"""
    + OK_TO_LAST
)

_NOTIFIED = (
    """
  <recv request="NOTIFY" timeout="{timeout_ms}"><action>
    <ereg regexp="{pattern}" search_in="body" check_it="true" assign_to="b{i}"/>
  </action></recv>
"""
    + OK_TO_LAST
)


class SippWatcher:
    """sipp subscribed in the background; ``ready`` waits for its first NOTIFY."""

    def __init__(self, sip: Pbx4Sip, user: str, target: str, event: str, accept: str,
                 bodies: tuple[str, ...]) -> None:  # fmt: skip
        notifies = "".join(
            _NOTIFIED.format(pattern=escape(p, {'"': "&quot;"}), i=i, timeout_ms=15000)
            for i, p in enumerate(bodies)
        )
        names = ",".join(["x", *(f"b{i}" for i in range(len(bodies)))])
        xml = scenario(_WATCH.format(user=user, target=target, event=event, accept=accept,
                                     notifies=notifies), f'<Reference variables="{names}"/>')  # fmt: skip
        self.trace = sip.sipp.workdir / f"watch-{user}-{event}.log"
        command = sip.sipp._command(xml, user, PASSWORDS[user], free_udp_port(), 40)
        command += ["-trace_msg", "-message_file", str(self.trace)]
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            cwd=sip.sipp.workdir,
        )  # fmt: skip

    def ready(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.trace.exists() and "NOTIFY sip:" in self.trace.read_text(errors="replace"):
                return
            time.sleep(0.05)
        raise AssertionError("sipp got no NOTIFY")

    def finish(self, timeout: float = 45) -> str:
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        trace = self.trace.read_text(errors="replace") if self.trace.exists() else ""
        assert self.proc.returncode == 0, (out or "")[-3000:] + trace[-6000:]
        return trace


def test_sipp_watches_a_call_ring_be_answered_and_end(sip: Pbx4Sip) -> None:
    """BLF (RFC 4235) with sipp as the watcher: idle, ringing with the caller (for pickup),
    in the call, idle again; then the subscription ends."""
    sip.apply(doc())
    watch = SippWatcher(sip, "101", "102", "dialog", "application/dialog-info+xml", (
        "dialog-info",  # idle: no dialog
        "<state>early</state>.*<identity[^>]*>sip:103@",
        "<state>confirmed</state>",
        "<state>terminated</state>",
    ))  # fmt: skip
    watch.ready()
    phone = sip.sipp.phone("102", PASSWORDS["102"], "answer", ring_ms=500)
    try:
        call = sip.sipp.call("103", PASSWORDS["103"], "102", expect=200, talk_ms=500)
        assert call.ok, call.output
        assert phone.finish().ok
    finally:
        phone.stop()
    watch.finish()


def test_sipp_watches_presence_change(sip: Pbx4Sip) -> None:
    sip.apply(doc())
    watch = SippWatcher(sip, "103", "104", "presence", "application/pidf+xml", (
        "<basic>open</basic>.*<note>Available</note>",
        "<rpid:away/>.*<dm:note>Out for a while</dm:note>",
        "<basic>closed</basic>.*Off work",
    ))  # fmt: skip
    watch.ready()
    Objects(sip.pbx).set_presence("104", PresenceStatus.AWAY, "Out for a while")
    time.sleep(0.3)
    Objects(sip.pbx).set_presence("104", PresenceStatus.OFF_WORK, "")
    watch.finish()


def test_subscriptions_outlive_a_restart_of_kamailio(sip: Pbx4Sip) -> None:
    """Written back to presence.sqlite, a subscription is loaded again after kill -9 of
    Kamailio, and everything is published again: the watcher is notified within its
    subscription as before."""
    sip.apply(doc())
    watcher = Watcher(sip.port, "101", PASSWORDS["101"])
    try:
        assert watcher.subscribe("102", "presence") in (200, 202)
        watcher.wait_for(r"<note>Available</note>")
        db = sip.core.paths.root / "presence.sqlite"
        wait_for("the subscription written", lambda: rows(db, "active_watchers"))
        workers = kill_main(sip)
        wait_for("SIP answering again", lambda: gone(workers) and answering(sip))
        seen = len(watcher.notifies)
        Objects(sip.pbx).set_presence("102", PresenceStatus.AWAY, "After the restart")
        notify = watcher.wait_for(r"<dm:note>After the restart</dm:note>", timeout=10, since=seen)
        assert notify.headers["call-id"] == watcher.call_id
    finally:
        watcher.close()


def test_after_klapka_restarts_its_watchers_get_the_current_state(
    database_url: str, tmp_path: Path
) -> None:
    """klapka stopped (Kamailio writes the subscriptions back) and started again: every
    extension's presence is published anew and the restored subscription is notified."""
    port, data = free_udp_port(), tmp_path / "data"
    first = SipCore(Pbx.from_url(database_url), data, "127.0.0.1", port, port)
    watcher = Watcher(port, "101", PASSWORDS["101"])
    try:
        with running(first.pbx, first, tmp_path / "sipp") as sip:
            sip.apply(doc())
            Objects(sip.pbx).set_presence("102", PresenceStatus.LUNCH_BREAK, "Back at 1")
            assert watcher.subscribe("102", "presence") in (200, 202)
            watcher.wait_for(r"<dm:note>Back at 1</dm:note>")
        seen = len(watcher.notifies)
        second = SipCore(Pbx.from_url(database_url), data, "127.0.0.1", port, port)
        with running(second.pbx, second, tmp_path / "sipp-again"):
            notify = watcher.wait_for(r"<dm:note>Back at 1</dm:note>", timeout=10, since=seen)
            assert notify.headers["call-id"] == watcher.call_id
    finally:
        watcher.close()


def test_a_mailbox_with_messages_is_published_when_kamailio_starts(sip: Pbx4Sip) -> None:
    """Messages left before this life of Kamailio (nothing changed or registered since):
    a phone that subscribes to its mailbox sees the lamp on at once."""
    sip.apply(doc())
    with sip.pbx.tx() as repo:
        for state in ("new", "new", "old"):
            repo.conn.execute(
                insert(t.voicemail_messages).values(
                    mailbox="103", state=state, received_at=datetime.now(UTC), path="x.wav"
                )
            )
    workers = kill_main(sip)
    wait_for("SIP answering again", lambda: gone(workers) and answering(sip))
    watcher = Watcher(sip.port, "103", PASSWORDS["103"])
    try:
        assert watcher.subscribe("103", "message-summary") in (200, 202)
        watcher.wait_for(r"Messages-Waiting: yes.*Voice-Message: 2/1", timeout=10)
    finally:
        watcher.close()
