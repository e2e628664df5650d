"""The call journal: what the SIP core sees of each call, one JSON object per line, appended
to ``calls.journal`` beside the snapshot. ``klapka serve`` reads it from where it stopped
(``klapka.sip.call_journal``) and keeps the call history (``klapka.services.call_history``)
and the call events from it; a call made while ``klapka serve`` was down is read when it
starts again. One ``write`` per event (``O_APPEND``: lines of concurrent workers do not
mix), never waited for by anything.

Every event has ``e`` (its kind), ``ci`` (the call's SIP Call-ID) and ``t`` (Unix time):

- ``start``: a new call, decided: ``from``, ``name`` (the caller's number and name),
  ``ext`` (the calling extension, internal calls), ``to`` (the number dialled: for a call
  from a trunk its DID), ``trunk`` (the trunk it came from), ``path``;
- ``ring``: a ring step: ``owner`` (whose step: an extension, a ring group...), ``rung``
  (the extensions whose phones ring), ``numbers`` (numbers outside rung through a trunk);
- ``step_end``: a ring step ended unanswered: ``code`` (the SIP answer), ``why``;
- ``outcome``: what the routing engine decided when no phone is rung (the engine's
  ``Outcome``: ``result``, ``cause``, ``code``, ``mailbox``, ``number``);
- ``trunk``: an attempt through a trunk: ``trunk``, ``number``, ``code`` (when it failed);
- ``answer``: ``ext`` and ``endpoint`` (a phone of an extension), or ``number`` (outside);
- ``final``: klapka answered the caller itself (``code``, ``reason``: no phone rung);
- ``cancel``: the caller hung up before an answer;
- ``end``: the call's dialog ended (``how``: ``bye`` by ``by`` caller or callee, ``failed``:
  never answered, ``timeout``: a party gone or the call's length limit).

Standard library only (runs inside Kamailio).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

NAME = "calls.journal"
REOPEN_CHECK_SECONDS = 1.0  # how often a worker checks that the file was not rotated

_path: str | None = None
_fd = -1
_inode = 0
_checked = 0.0


def open_in(directory: str) -> None:
    """Write the journal in ``directory`` (the snapshot's)."""
    global _path
    _path = os.path.join(directory, NAME)


def _file() -> int:
    """The journal's descriptor, reopened when ``klapka serve`` rotated the file."""
    global _fd, _inode, _checked
    now = time.monotonic()
    if _fd >= 0 and now - _checked < REOPEN_CHECK_SECONDS:
        return _fd
    _checked = now
    assert _path is not None
    try:
        inode = os.stat(_path).st_ino
    except FileNotFoundError:
        inode = -1
    if _fd < 0 or inode != _inode:
        if _fd >= 0:
            os.close(_fd)
        _fd = os.open(_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        _inode = os.fstat(_fd).st_ino
    return _fd


def emit(kind: str, call_id: str, /, **fields: Any) -> None:
    """Append one event of the call ``call_id``."""
    if _path is None or not call_id:
        return
    event = {"e": kind, "ci": call_id, "t": round(time.time(), 3), **fields}
    try:
        os.write(_file(), (json.dumps(event, separators=(",", ":")) + "\n").encode())
    except OSError as e:  # a full disk must not stop calls: the history misses the event
        # Imported here: klapka serve imports this module too (the journal's name).
        import KSR  # type: ignore[import-not-found]  # provided by Kamailio's app_python3

        KSR.err(f"klapka: call journal not written: {e}\n")
