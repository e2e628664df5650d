"""Overload protection: when SIP requests arrive faster than Kamailio's workers handle them,
they queue in the kernel's receive buffer of its UDP sockets, every request waits longer, and
past a point calls fail at random (timers expire, answers arrive too late). Before that point
klapka sheds new work: new requests (INVITE, REGISTER...) are answered ``503 Service
Unavailable`` with ``Retry-After`` until the queue has drained, while requests within calls
(ACK, BYE, re-INVITE), CANCEL and requests answering klapka's challenge (with credentials)
still pass, so the calls in progress end properly and the calls begun are completed.

The other sign is Kamailio's shared memory: every transaction in progress (and each waits
a few seconds after its end for stray retransmissions) holds its messages there, and when it
runs out new calls fail with 500. Past ``MEMORY_ABOVE`` of it in use, new work is shed too.

The supervisor watches both (``/proc/net/udp`` and the RPC ``core.shmmem``, ten times a
second) and sets the flag the KEMI adapter reads (htable ``load``, key ``shed``) over the RPC.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

MAXBUFFER = 4 * 1024 * 1024  # Kamailio's maxbuffer: the receive buffer it asks for
RETRY_AFTER_SECONDS = 5  # what a shed request is told (RFC 3261 21.5.4)
POLL_SECONDS = 0.1
# Shedding starts when the queue stays above this share of the receive buffer for two polls
# in a row (a burst drains within milliseconds), and stops below the second share.
SHED_ABOVE, RESUME_BELOW = 1 / 4, 1 / 16
# ...and when this share of Kamailio's shared memory is in use, until it is below the second.
MEMORY_ABOVE, MEMORY_BELOW = 0.75, 0.6
MIN_SECONDS = 1.0
SHARED_MEMORY_MB = 512  # Kamailio's -m: about 1,700 calls/s with their transactions' wait


def receive_buffer(rmem_max: Path = Path("/proc/sys/net/core/rmem_max")) -> int:
    """The receive buffer of Kamailio's UDP sockets, as the kernel accounts it: what it asked
    for (capped by ``net.core.rmem_max``), doubled for the kernel's bookkeeping."""
    try:
        cap = int(rmem_max.read_text())
    except (OSError, ValueError):
        cap = 212992  # Linux's default
    return 2 * min(MAXBUFFER, cap)


def udp_backlog(port: int, tables: tuple[str, ...] = ("/proc/net/udp", "/proc/net/udp6")) -> int:
    """Bytes waiting in the receive queues of the UDP sockets bound to ``port``."""
    waiting = 0
    suffix = f":{port:04X}"
    for table in tables:
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 4 and fields[1].endswith(suffix):
                waiting += int(fields[4].split(":")[1], 16)  # tx_queue:rx_queue
    return waiting


@dataclass
class Shedding:
    """Whether to shed, from successive readings of the queue: on after two high readings
    in a row, off after a low one, and on for at least ``MIN_SECONDS`` (no flapping)."""

    buffer: int
    on: bool = False
    high_readings: int = 0
    since: float = 0.0

    def update(self, backlog: int, memory: float = 0.0, now: float | None = None) -> bool:
        """Take a reading of the queue (bytes) and of the shared memory in use (a share);
        True when the decision changed."""
        now = time.monotonic() if now is None else now
        if not self.on:
            high = backlog > self.buffer * SHED_ABOVE or memory > MEMORY_ABOVE
            self.high_readings = self.high_readings + 1 if high else 0
            if self.high_readings >= 2:
                self.on, self.high_readings, self.since = True, 0, now
                return True
            return False
        low = backlog < self.buffer * RESUME_BELOW and memory < MEMORY_BELOW
        if low and now - self.since >= MIN_SECONDS:
            self.on = False
            return True
        return False
