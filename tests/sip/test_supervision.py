"""The SIP core survives its own death: Kamailio's main process killed (kill -9) leaves its
workers holding the ports, and the supervisor clears them and starts a new Kamailio that
answers within seconds; registrations and calls in progress outlive the restart, also when
klapka itself died with Kamailio and is started again."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from pbx4sip import Pbx4Sip, running
from sipp import free_udp_port
from test_calls import PASSWORDS
from test_malformed import alive
from test_transfer import Message, RawPhone, answered, reply

from klapka.services.pbx import Pbx
from klapka.sip.supervisor import SipCore, is_running, kamailio_processes

DOC = {
    "version": 1,
    "extensions": [{"number": n, "sip_password": PASSWORDS[n]} for n in ("101", "102")],
}


def rows(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def confirmed(db: Path) -> bool:
    """A call in the file, answered and acknowledged (dialog state 4)."""
    with sqlite3.connect(db) as conn:
        return bool(conn.execute("SELECT count(*) FROM dialog WHERE state = 4").fetchone()[0])


def wait_for(what: str, check: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout} s")


def kill_main(sip: Pbx4Sip) -> set[int]:
    """kill -9 of Kamailio's main process; returns the workers it leaves behind."""
    assert sip.core.process is not None
    main = sip.core.process.pid
    workers = kamailio_processes(sip.core.paths.cfg) - {main}
    assert workers, "Kamailio runs with worker processes"
    os.kill(main, signal.SIGKILL)
    return workers


def answering(sip: Pbx4Sip) -> bool:
    return alive(sip, "udp") is None


def gone(pids: set[int]) -> bool:
    """None of them runs (a zombie holds no port: whoever adopted it reaps it)."""
    return not any(is_running(p) for p in pids)


@pytest.fixture
def registered(sip: Pbx4Sip) -> Pbx4Sip:
    sip.apply(DOC)
    assert sip.sipp.register("101", PASSWORDS["101"]).ok
    # Written back to the file within a few seconds of the REGISTER.
    wait_for("the registration written", lambda: rows(sip.core.paths.registrations_db, "location"))
    return sip


def test_kamailio_killed_comes_back_with_its_registrations(registered: Pbx4Sip) -> None:
    sip = registered
    before = sip.contacts("101")
    workers = kill_main(sip)
    wait_for("the orphaned workers stopped", lambda: gone(workers))
    wait_for("SIP answering again", lambda: sip.core.restarts == 1 and answering(sip))
    assert [c["Address"] for c in sip.contacts("101")] == [c["Address"] for c in before]
    assert "Address already in use" not in sip.core.paths.log.read_text(errors="replace")


def test_a_call_in_progress_can_still_be_hung_up_after_a_restart(sip: Pbx4Sip) -> None:
    """The call's dialog is loaded again, so its BYE is not refused as unknown (481)."""
    sip.apply(DOC)
    caller, callee = RawPhone(sip.port, "101"), RawPhone(sip.port, "102")
    invite, ok = answered(caller, callee, "across-a-restart")
    wait_for("the call written", lambda: rows(sip.core.paths.calls_db, "dialog"))
    workers = kill_main(sip)
    wait_for("SIP answering again", lambda: gone(workers) and answering(sip))
    caller.within("BYE", ok, invite, 3)
    bye = callee.wait("BYE")
    callee.send(reply(bye.raw, "200 OK", callee.contact))
    assert caller.wait("SIP/2.0 200").code == 200


def test_klapka_started_again_after_both_died_clears_the_leftovers_and_keeps_registrations(
    database_url: str, tmp_path: Path
) -> None:
    data, port = tmp_path / "data", free_udp_port()
    first = SipCore(Pbx.from_url(database_url), data, "127.0.0.1", port, port)
    with running(first.pbx, first, tmp_path / "sipp") as sip:
        sip.apply(DOC)
        assert sip.sipp.register("101", PASSWORDS["101"]).ok
        wait_for("the registration written", lambda: rows(data / "sip/location.sqlite", "location"))
        # klapka dies (its threads stop, nothing is cleaned up) and so does Kamailio's main
        # process: the workers live on, holding the port.
        first.stopping.set()
        for thread in first.threads:
            thread.join(5)
        workers = kill_main(sip)
        first.process = None  # what a dead klapka knows of it
        assert not gone(workers)
        again = SipCore(Pbx.from_url(database_url), data, "127.0.0.1", port, port)
        with running(again.pbx, again, tmp_path / "sipp") as revived:
            assert gone(workers)
            assert answering(revived)
            assert len(revived.contacts("101")) == 1


def test_a_call_that_ended_just_before_a_crash_does_not_linger_after_the_restart(
    database_url: str, tmp_path: Path
) -> None:
    """Restored from the file as if it went on, the ended call is checked with its parties
    (an in-dialog OPTIONS), who no longer know it (481): it is dropped, and the callee is
    rung again instead of looking busy."""
    port = free_udp_port()
    core = SipCore(Pbx.from_url(database_url), tmp_path / "data", "127.0.0.1", port, port,
                   dialog_keepalive=30)  # fmt: skip
    with running(core.pbx, core, tmp_path / "sipp") as sip:
        sip.apply(DOC)
        caller, callee = RawPhone(sip.port, "101"), RawPhone(sip.port, "102")
        invite, ok = answered(caller, callee, "ended-before-the-crash")
        caller.within("ACK", ok, invite, 2)
        callee.wait("ACK")
        wait_for("the call written", lambda: confirmed(sip.core.paths.calls_db))
        caller.within("BYE", ok, invite, 3)
        bye = callee.wait("BYE")
        callee.send(reply(bye.raw, "200 OK", callee.contact))
        caller.wait("SIP/2.0 200")
        workers = kill_main(sip)  # before the ended call is written back
        wait_for("SIP answering again", lambda: gone(workers) and answering(sip))
        # Whether or not the call came back, no dialog is left within a few keepalives:
        # each party answers the in-dialog OPTIONS for a call it no longer has with 481.
        deadline = time.monotonic() + 60  # the shortest keepalive Kamailio allows is 30 s
        while sip.rpc.call("dlg.list") and time.monotonic() < deadline:
            for phone in (caller, callee):
                phone.sock.settimeout(0.5)
                try:
                    message = Message(phone.sock.recv(65535))
                except TimeoutError:
                    continue
                if message.first.startswith("OPTIONS"):
                    phone.send(reply(message.raw, "481 Call/Transaction Does Not Exist",
                                     phone.contact))  # fmt: skip
        assert not sip.rpc.call("dlg.list")
        callee.sock.settimeout(5)
        caller.call("102", "after-the-crash")
        assert callee.wait("INVITE").get("call-id") == "after-the-crash"


def test_a_call_in_progress_when_klapka_and_kamailio_died_is_closed_as_interrupted(
    database_url: str, tmp_path: Path
) -> None:
    """101 calls 102, which rings; klapka and Kamailio die (kill -9 of Kamailio's main
    process, klapka's threads stopped). At the next start the call is gone from the SIP
    core, and its record is closed as interrupted, not left open."""
    from klapka.services.call_history import CallFilter, CallHistory

    data, port = tmp_path / "data", free_udp_port()
    first = SipCore(Pbx.from_url(database_url), data, "127.0.0.1", port, port)

    def calls(pbx: Pbx) -> list[dict[str, object]]:
        return CallHistory(pbx).search(CallFilter(), limit=5).items

    with running(first.pbx, first, tmp_path / "sipp") as sip:
        sip.apply(DOC)
        caller, callee = RawPhone(sip.port, "101"), RawPhone(sip.port, "102")
        callee.register()
        caller.call("102", "cut-by-the-crash")
        callee.wait("INVITE")
        wait_for("the call recorded", lambda: [c["in_progress"] for c in calls(sip.pbx)] == [True])
        first.stopping.set()
        for thread in first.threads:
            thread.join(5)
        workers = kill_main(sip)
        first.process = None  # what a dead klapka knows of it
        again = SipCore(Pbx.from_url(database_url), data, "127.0.0.1", port, port)
        with running(again.pbx, again, tmp_path / "sipp") as revived:
            assert gone(workers)  # the new start stopped what was left
            wait_for("the call closed", lambda: not calls(revived.pbx)[0]["in_progress"])
            [record] = calls(revived.pbx)
            assert (record["call_id"], record["outcome"]) == ("cut-by-the-crash", "interrupted")
            assert record["ended_at"] is not None and record["steps"][0]["rung"] == ["102"]
