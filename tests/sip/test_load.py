"""The overload decision: on after two high readings in a row, off once the queue is short
again (and not before it has been on for a second); the queue read from /proc/net/udp."""

from __future__ import annotations

import socket
from pathlib import Path

from klapka.kemi.load import MIN_SECONDS, RESUME_BELOW, SHED_ABOVE, Shedding, udp_backlog

BUFFER = 1_000_000
HIGH, LOW, MIDDLE = int(BUFFER * SHED_ABOVE) + 1, int(BUFFER * RESUME_BELOW) - 1, BUFFER // 8


def test_a_burst_is_not_overload_but_a_queue_that_stays_is() -> None:
    shedding = Shedding(BUFFER)
    assert not shedding.update(HIGH, now=0.0)  # one high reading: a burst
    assert not shedding.update(LOW, now=0.1)
    assert not shedding.update(HIGH, now=0.2)
    assert shedding.update(HIGH, now=0.3) and shedding.on


def test_shedding_stops_when_the_queue_is_short_again_not_before_a_second() -> None:
    shedding = Shedding(BUFFER)
    shedding.update(HIGH, now=0.0)
    shedding.update(HIGH, now=0.1)
    assert not shedding.update(LOW, now=0.5)  # drained at once: still on, no flapping
    assert not shedding.update(MIDDLE, now=0.1 + MIN_SECONDS)  # not short enough
    assert shedding.update(LOW, now=0.2 + MIN_SECONDS) and not shedding.on


def test_the_backlog_is_what_waits_on_the_port_in_both_tables(tmp_path: Path) -> None:
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when ...\n"
    v4 = tmp_path / "udp"
    v4.write_text(
        header
        + "  1: 0100007F:13C4 00000000:0000 07 00000000:00000A00 00:00000000 00000000 0\n"
        + "  2: 0100007F:13C5 00000000:0000 07 00000000:0000FFFF 00:00000000 00000000 0\n"
    )
    v6 = tmp_path / "udp6"
    v6.write_text(
        header + "  3: 00000000000000000000000001000000:13C4 "
        "00000000000000000000000000000000:0000 07 00000000:00000100 00:00000000 0\n"
    )
    assert udp_backlog(5060, (str(v4), str(v6))) == 0xA00 + 0x100
    assert udp_backlog(5062, (str(v4), str(v6))) == 0


def test_the_backlog_of_a_real_socket() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            for _ in range(10):
                client.sendto(b"x" * 500, ("127.0.0.1", port))
        assert udp_backlog(port) >= 10 * 500


def test_shared_memory_running_out_is_overload_too() -> None:
    shedding = Shedding(BUFFER)
    shedding.update(0, memory=0.9, now=0.0)
    assert shedding.update(0, memory=0.9, now=0.1) and shedding.on
    assert not shedding.update(0, memory=0.7, now=2.0)  # freed, not yet enough
    assert shedding.update(0, memory=0.5, now=2.1) and not shedding.on
