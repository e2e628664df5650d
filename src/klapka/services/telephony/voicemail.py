"""Voicemail mailboxes: messages (rows in ``voicemail_messages``, audio under
``<data dir>/voicemail/<mailbox>/``), greetings per presence status, and the new-message
email queue (retried with back-off, so a message is never lost when SMTP is down).

Used by the media service (deposit, retrieval by phone) and by the REST API (portal). A user
reaches only their own mailbox; an admin reaches every mailbox.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update

from klapka.domain.extension import AfterEmailing, Extension, NewMessageEmail, Voicemail
from klapka.domain.problems import Forbidden, InvalidInput, NotFound, Problem
from klapka.domain.references import Kind
from klapka.domain.values import PresenceStatus
from klapka.services import webhooks
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal
from klapka.services.telephony import wav
from klapka.store import tables as t

log = logging.getLogger("klapka.voicemail")

NEW, OLD, RECORDING = "new", "old", "recording"
GREETING_SLOTS = ("default", *(s.value for s in PresenceStatus))
EMAIL_BACKOFF_SECONDS = 30.0
EMAIL_BACKOFF_CAP_SECONDS = 3600.0


@dataclass(frozen=True)
class Mailbox:
    number: str
    name: str
    email: str | None
    presence: str
    settings: Voicemail
    status_greetings: dict[str, str | None]  # presence status -> greeting name set there
    notify_missed_call: bool = False
    timezone: str = "UTC"  # the PBX's (system.timezone): the times people hear and read
    language: str = "en"  # its prompts' (voicemail.language, else system.language)


@dataclass(frozen=True)
class Message:
    id: int
    mailbox: str
    state: str
    caller_number: str
    caller_name: str
    received_at: datetime
    duration_ms: int
    path: str
    email_state: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "caller_number": self.caller_number,
            "caller_name": self.caller_name,
            "received_at": self.received_at.isoformat(),
            "duration_seconds": round(self.duration_ms / 1000, 1),
            "email": self.email_state,
        }


def _message(row: Any) -> Message:
    return Message(
        row.id, row.mailbox, row.state, row.caller_number, row.caller_name, row.received_at,
        row.duration_ms, row.path, row.email_state,
    )  # fmt: skip


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".") or "greeting"


class VoicemailStore:
    def __init__(self, pbx: Pbx, data_dir: Path) -> None:
        self.pbx = pbx
        self.data_dir = data_dir
        self.root = data_dir / "voicemail"

    # --- mailboxes and greetings ----------------------------------------------------

    def mailbox(self, number: str) -> Mailbox | None:
        with self.pbx.tx() as repo:
            row = repo.row(Kind.EXTENSION, number)
            if row is None:
                return None
            ext = Extension.model_validate(repo.data_of(row, True))
            system = repo.system()[0]
        name = " ".join(p for p in (ext.first_name, ext.last_name) if p) or number
        statuses: dict[str, str | None] = {}
        for status in PresenceStatus:
            policy = getattr(ext.presence_settings, status.value, None)
            statuses[status.value] = getattr(policy, "greeting", None)
        return Mailbox(
            number, name, ext.email, ext.presence.value, ext.voicemail, statuses,
            ext.features.notify_missed_call, system.timezone,
            (ext.voicemail.language or system.language).value,
        )  # fmt: skip

    def language(self) -> str:
        """The PBX's prompt language (system.language): before a mailbox is known."""
        with self.pbx.tx() as repo:
            return repo.system()[0].language.value

    def folder(self, number: str) -> Path:
        return self.root / number

    def greeting_file(self, number: str, slot: str) -> Path:
        return self.folder(number) / "greetings" / f"{_safe_name(slot)}.wav"

    def greeting_for(self, box: Mailbox, status: str | None) -> Path | None:
        """The greeting for ``status``: the one named in the status's settings, the one
        uploaded for the status, the one named in the voicemail settings, the default."""
        status = status if status in box.status_greetings else box.presence
        candidates = [box.status_greetings.get(status), status, box.settings.greeting, "default"]
        for name in candidates:
            if name:
                path = self.greeting_file(box.number, name)
                if path.exists():
                    return path
        return None

    def save_greeting(self, principal: Principal, number: str, slot: str, audio: bytes) -> None:
        """Store an uploaded greeting (WAV or MP3; converted to 8 kHz mono by sox)."""
        self.allowed(principal, number)
        if slot not in GREETING_SLOTS:
            raise InvalidInput(
                [
                    Problem(
                        "greeting", f"unknown status {slot!r}: one of {', '.join(GREETING_SLOTS)}"
                    )
                ]
            )
        target = self.greeting_file(number, slot)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(convert_audio(audio))

    def record_greeting(self, number: str, slot: str, pcm: bytes) -> None:
        wav.write_pcm(self.greeting_file(number, slot), pcm)

    def delete_greeting(self, principal: Principal, number: str, slot: str) -> None:
        self.allowed(principal, number)
        path = self.greeting_file(number, slot)
        if not path.exists():
            raise NotFound("greeting", f"{number}/{slot}")
        path.unlink()

    def greetings(self, principal: Principal, number: str) -> list[str]:
        self.allowed(principal, number)
        folder = self.folder(number) / "greetings"
        return sorted(p.stem for p in folder.glob("*.wav")) if folder.exists() else []

    # --- deposit --------------------------------------------------------------------

    def begin(self, number: str, caller_number: str, caller_name: str) -> tuple[int, Path]:
        """A message being recorded: its row (state ``recording``) and its file."""
        at = datetime.now(UTC)
        relative = f"voicemail/{number}/{at:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}.wav"
        with self.pbx.tx() as repo:
            new_id = repo.conn.execute(
                insert(t.voicemail_messages).values(
                    mailbox=number,
                    state=RECORDING,
                    caller_number=caller_number[:64],
                    caller_name=caller_name[:127],
                    received_at=at,
                    duration_ms=0,
                    path=relative,
                )
            ).inserted_primary_key
            assert new_id is not None
        return int(new_id[0]), self.data_dir / relative

    def finish(self, message_id: int, duration_ms: int, keep: bool) -> Message | None:
        """The recording is over: keep it as a new message (queueing its email by the
        mailbox's settings), or discard it."""
        with self.pbx.tx() as repo:
            row = repo.conn.execute(
                select(t.voicemail_messages).where(t.voicemail_messages.c.id == message_id)
            ).first()
        if row is None:
            return None
        box = self.mailbox(row.mailbox) if keep else None
        with self.pbx.tx() as repo:
            if not keep:
                repo.conn.execute(
                    delete(t.voicemail_messages).where(t.voicemail_messages.c.id == message_id)
                )
                (self.data_dir / row.path).unlink(missing_ok=True)
                return None
            wants_email = (
                box is not None and box.settings.new_message_email is not NewMessageEmail.OFF
            )
            repo.conn.execute(
                update(t.voicemail_messages)
                .where(t.voicemail_messages.c.id == message_id)
                .values(
                    state=NEW,
                    duration_ms=duration_ms,
                    email_state="pending" if wants_email else "none",
                    email_next_at=datetime.now(UTC) if wants_email else None,
                )
            )
            row = repo.conn.execute(
                select(t.voicemail_messages).where(t.voicemail_messages.c.id == message_id)
            ).one()
            webhooks.emit(repo.conn, "voicemail.left", {
                "mailbox": row.mailbox, "message": row.id, "caller": row.caller_number,
                "caller_name": row.caller_name, "received_at": row.received_at.isoformat(),
                "seconds": round(duration_ms / 1000),
            })  # fmt: skip
        return _message(row)

    def recover(self, min_seconds: float = 0.5) -> list[Message]:
        """Finalise messages left ``recording`` by a service that stopped mid-call: what
        was written is kept (the WAV's header repaired)."""
        with self.pbx.tx() as repo:
            rows = repo.conn.execute(
                select(t.voicemail_messages).where(t.voicemail_messages.c.state == RECORDING)
            ).all()
        kept = []
        for row in rows:
            path = self.data_dir / row.path
            seconds = wav.repair(path) if path.exists() else 0.0
            message = self.finish(row.id, int(seconds * 1000), keep=seconds >= min_seconds)
            if message is not None:
                log.info(
                    "kept %.1f s recorded for mailbox %s before a restart", seconds, row.mailbox
                )
                kept.append(message)
        return kept

    # --- reading and changing messages ----------------------------------------------

    def allowed(self, principal: Principal, number: str) -> None:
        if principal.is_admin:
            return
        if principal.extension != number:
            raise Forbidden(f"mailbox {number}: a user reaches only their own mailbox")

    def messages(self, number: str, state: str | None = None) -> list[Message]:
        c = t.voicemail_messages.c
        query = select(t.voicemail_messages).where(c.mailbox == number, c.state != RECORDING)
        if state is not None:
            query = query.where(c.state == state)
        with self.pbx.tx() as repo:
            rows = repo.conn.execute(query.order_by(c.received_at, c.id)).all()
        return [_message(r) for r in rows]

    def message(self, number: str, message_id: int) -> Message:
        c = t.voicemail_messages.c
        with self.pbx.tx() as repo:
            row = repo.conn.execute(
                select(t.voicemail_messages).where(
                    c.id == message_id, c.mailbox == number, c.state != RECORDING
                )
            ).first()
        if row is None:
            raise NotFound("voicemail message", f"{number}/{message_id}")
        return _message(row)

    def audio_path(self, message: Message) -> Path:
        return self.data_dir / message.path

    def counts(self, number: str) -> tuple[int, int]:
        c = t.voicemail_messages.c
        with self.pbx.tx() as repo:
            rows = repo.conn.execute(
                select(c.state, func.count()).where(c.mailbox == number).group_by(c.state)
            ).all()
        by_state: dict[str, int] = {state: count for state, count in rows}
        return int(by_state.get(NEW, 0)), int(by_state.get(OLD, 0))

    def mark(self, number: str, message_id: int, state: str) -> Message:
        if state not in (NEW, OLD):
            raise InvalidInput([Problem("state", "new or old")])
        self.message(number, message_id)
        c = t.voicemail_messages.c
        with self.pbx.tx() as repo:
            repo.conn.execute(
                update(t.voicemail_messages).where(c.id == message_id).values(state=state)
            )
        return self.message(number, message_id)

    def delete(self, number: str, message_id: int) -> None:
        message = self.message(number, message_id)
        c = t.voicemail_messages.c
        with self.pbx.tx() as repo:
            repo.conn.execute(delete(t.voicemail_messages).where(c.id == message_id))
        self.audio_path(message).unlink(missing_ok=True)

    # --- the new-message email queue ------------------------------------------------

    def due_emails(self, now: datetime) -> list[Message]:
        c = t.voicemail_messages.c
        with self.pbx.tx() as repo:
            rows = repo.conn.execute(
                select(t.voicemail_messages)
                .where(
                    c.email_state == "pending",
                    or_(c.email_next_at.is_(None), c.email_next_at <= now),
                )
                .order_by(c.id)
                .limit(50)
            ).all()
        return [_message(r) for r in rows]

    def email_sent(self, message: Message, after: AfterEmailing, attached: bool) -> None:
        c = t.voicemail_messages.c
        with self.pbx.tx() as repo:
            repo.conn.execute(
                update(t.voicemail_messages)
                .where(c.id == message.id)
                .values(email_state="sent", email_next_at=None, email_error=None)
            )
        if after is AfterEmailing.MARK_READ:
            with self.pbx.tx() as repo:
                repo.conn.execute(
                    update(t.voicemail_messages)
                    .where(and_(c.id == message.id, c.state == NEW))
                    .values(state=OLD)
                )
        elif after is AfterEmailing.DELETE and attached:
            self.delete(message.mailbox, message.id)

    def email_failed(self, message: Message, error: str, now: datetime, base: float) -> datetime:
        c = t.voicemail_messages.c
        with self.pbx.tx() as repo:
            attempts = (
                repo.conn.execute(select(c.email_attempts).where(c.id == message.id)).scalar_one()
                + 1
            )
            delay = min(base * 2 ** (attempts - 1), EMAIL_BACKOFF_CAP_SECONDS)
            next_at = now + timedelta(seconds=delay)
            repo.conn.execute(
                update(t.voicemail_messages)
                .where(c.id == message.id)
                .values(email_attempts=attempts, email_next_at=next_at, email_error=error[:500])
            )
        return next_at

    def email_dropped(self, message: Message, reason: str) -> None:
        """Nothing to send any more (email turned off, no address): the message stays."""
        c = t.voicemail_messages.c
        with self.pbx.tx() as repo:
            repo.conn.execute(
                update(t.voicemail_messages)
                .where(c.id == message.id)
                .values(email_state="none", email_next_at=None, email_error=reason[:500])
            )


def convert_audio(audio: bytes) -> bytes:
    """Uploaded audio (WAV, or MP3 when sox can read it) as 8 kHz mono 16-bit WAV."""
    sox = shutil.which("sox")
    if sox is None:
        raise InvalidInput([Problem("greeting", "sox is not installed: cannot convert audio")])
    kind = (
        "mp3"
        if audio[:3] == b"ID3" or audio[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")
        else "wav"
    )
    with tempfile.TemporaryDirectory(prefix="klapka-greeting-") as tmp:
        source = Path(tmp) / f"upload.{kind}"
        target = Path(tmp) / "greeting.wav"
        source.write_bytes(audio)
        done = subprocess.run(
            [sox, str(source), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
             str(target)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if done.returncode != 0 or not target.exists():
            reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "unknown"
            raise InvalidInput([Problem("greeting", f"not audio sox can read ({kind}): {reason}")])
        return target.read_bytes()
