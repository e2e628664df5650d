"""Reading the SIP core's call journal (``klapka.kemi.journal``) into the call history.

A thread of ``klapka serve``: every ``POLL_SECONDS`` it reads the complete lines added to
``calls.journal`` since the position stored with the call history, and applies them
(``klapka.services.call_history.CallRecorder``) together with the new position. Once
everything is read and the file is larger than ``ROTATE_BYTES``, it is renamed to
``calls.journal.old`` and read on for ``DRAIN_SECONDS`` (the workers of Kamailio reopen the
journal within ``REOPEN_CHECK_SECONDS``), then removed. After each start of Kamailio, once
the journal is read, the calls still open whose SIP dialog is gone are closed as
``interrupted``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from threading import Event
from typing import Any

from klapka.kemi.journal import NAME, REOPEN_CHECK_SECONDS
from klapka.services.call_history import CallRecorder
from klapka.services.telephony.sip_rpc import KamailioFifoRpc, RpcError

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05
PURGE_SECONDS = 3600  # how often calls past system.call_history_days are deleted
# How often open calls are checked against the SIP core's dialogs: one whose dialog is gone
# without an end in the journal (see CallRecorder.close_gone) is ended.
RECONCILE_SECONDS = 10
ROTATE_BYTES = 16 << 20
DRAIN_SECONDS = 3 * REOPEN_CHECK_SECONDS
MAX_BATCH_BYTES = 1 << 20


class JournalReader:
    def __init__(self, recorder: CallRecorder, directory: Path) -> None:
        self.recorder = recorder
        self.path = directory / NAME
        self.old = directory / f"{NAME}.old"
        self.drain_until = 0.0

    def _inode(self, path: Path) -> int | None:
        try:
            return path.stat().st_ino
        except FileNotFoundError:
            return None

    def step(self) -> int:
        """Read and apply what is new; the number of events applied (0: nothing more to
        read now)."""
        stored = self.recorder.position()
        current = self._inode(self.path)
        old = self._inode(self.old)
        if stored is not None and old is not None and stored[0] == old:
            # Draining the rotated file: read it to its end, then remove it once every
            # worker writes to the new one.
            applied = self._read(self.old, old, stored[1])
            if applied == 0 and time.monotonic() >= self.drain_until:
                self.old.unlink(missing_ok=True)
                # On to the new file from its start (inode 0: none yet; the file made later
                # may even get the old one's inode number back).
                self.recorder.apply([], (current if current is not None else 0, 0))
                return 1
            return applied
        if current is None:
            return 0
        offset = stored[1] if stored is not None and stored[0] == current else 0
        applied = self._read(self.path, current, offset)
        if applied == 0 and old is None:
            size = self.path.stat().st_size
            if size >= ROTATE_BYTES and size == offset:
                os.rename(self.path, self.old)
                self.drain_until = time.monotonic() + DRAIN_SECONDS
        return applied

    def _read(self, path: Path, inode: int, offset: int) -> int:
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read(MAX_BATCH_BYTES)
        except FileNotFoundError:
            return 0
        end = data.rfind(b"\n")
        if end < 0:
            return 0  # nothing new, or a line being written
        events: list[dict[str, Any]] = []
        for line in data[: end + 1].splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                log.warning("call journal: an unreadable line skipped: %r", line[:200])
        self.recorder.apply(events, (inode, offset + end + 1))
        return len(events)

    def catch_up(self) -> None:
        """Read everything there is now."""
        while self.step():
            pass


def live_call_ids(rpc: KamailioFifoRpc) -> set[str] | None:
    """The Call-IDs of the dialogs Kamailio has (None: it did not answer)."""
    try:
        dialogs = rpc.call("dlg.list")
    except (OSError, RpcError, ValueError):
        return None
    return {str(d.get("call-id", "")) for d in dialogs or []}


def run(
    reader: JournalReader, rpc: KamailioFifoRpc, stopping: Event, life: Callable[[], int]
) -> None:
    """Until ``stopping``: apply the journal; after each new ``life`` of Kamailio (its
    process id), close the calls it no longer has; every ``PURGE_SECONDS`` delete the calls
    past the retention."""
    checked_life, purge_at = -1, 0.0
    reconcile_at = time.monotonic() + RECONCILE_SECONDS
    while not stopping.wait(POLL_SECONDS):
        try:
            if time.monotonic() >= reconcile_at and checked_life == life():
                reconcile_at = time.monotonic() + RECONCILE_SECONDS
                candidates = reader.recorder.open_calls(older_than=RECONCILE_SECONDS / 2)
                live = live_call_ids(rpc) if candidates else None
                if live is not None:
                    reader.catch_up()  # an end journalled meanwhile is the real one
                    ended = reader.recorder.close_gone(live, candidates)
                    if ended:
                        log.info("%d call(s) without an end in the journal ended", ended)
            if time.monotonic() >= purge_at:
                purge_at = time.monotonic() + PURGE_SECONDS
                purged = reader.recorder.purge()
                if purged:
                    log.info("%d call(s) older than the retention left the call history", purged)
            reader.catch_up()
            current = life()
            if current != checked_life and current > 0:
                # Only calls open before the dialogs are listed: one starting meanwhile is
                # not in the list yet, and is no interrupted call.
                candidates = reader.recorder.open_calls()
                live = live_call_ids(rpc)
                if live is not None:
                    reader.catch_up()  # what ended meanwhile is an end, not an interruption
                    closed = reader.recorder.close_interrupted(live, candidates)
                    if closed:
                        log.info("%d call(s) in progress when the SIP core stopped: "
                                 "closed as interrupted", closed)  # fmt: skip
                    checked_life = current
        except Exception:
            log.exception("could not read the call journal")
            stopping.wait(1)
