"""New-voicemail emails, and missed-call emails (feature ``notify_missed_call``).

New-voicemail emails: the queue in ``voicemail_messages`` sent through the SMTP server,
with or without the audio, then the mailbox's after-email action. A failure (server down,
refused) leaves the email queued for a later attempt, with back-off; the message itself is
never touched by a failure."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from klapka.domain.extension import AfterEmailing, NewMessageEmail
from klapka.notify.email import Mailer, MailFailed, MailNotConfigured
from klapka.services.telephony.voicemail import EMAIL_BACKOFF_SECONDS, Message, VoicemailStore

log = logging.getLogger("klapka.voicemail")


def local(at: datetime, zone: str) -> str:
    """A time as people of the PBX read it: local, and the zone said."""
    return f"{at.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M:%S} ({zone})"


def _text(message: Message, mailbox_name: str, attached: bool, zone: str) -> str:
    caller = message.caller_name or message.caller_number or "an unknown caller"
    if message.caller_name and message.caller_number:
        caller = f"{message.caller_name} <{message.caller_number}>"
    lines = [
        f"A new voicemail message for {mailbox_name} (mailbox {message.mailbox}).",
        "",
        f"From:     {caller}",
        f"Received: {local(message.received_at, zone)}",
        f"Length:   {message.duration_ms / 1000:.1f} s",
        "",
        "The recording is attached." if attached else "Listen to it in the portal or dial *2.",
    ]
    return "\n".join(lines) + "\n"


def send_due(
    store: VoicemailStore,
    mailer: Mailer,
    now: datetime | None = None,
    backoff: float = EMAIL_BACKOFF_SECONDS,
    changed: Callable[[str], None] | None = None,
) -> tuple[int, int]:
    """Send every email that is due; returns (sent, failed). ``changed`` hears of each
    mailbox whose messages the after-email action changed (marked read, deleted)."""
    now = now or datetime.now(UTC)
    sent = failed = 0
    for message in store.due_emails(now):
        box = store.mailbox(message.mailbox)
        settings = box.settings if box is not None else None
        if settings is None or settings.new_message_email is NewMessageEmail.OFF:
            store.email_dropped(message, "new-message email is off")
            continue
        to = settings.email_address or (box.email if box else None)
        if not to:
            store.email_dropped(message, "no email address for the mailbox")
            continue
        attached = settings.new_message_email is NewMessageEmail.WITH_ATTACHMENT
        caller = message.caller_name or message.caller_number or "unknown"
        subject = f"New voicemail from {caller} ({message.duration_ms / 1000:.0f} s)"
        attachments = []
        try:
            if attached:
                audio = store.audio_path(message).read_bytes()
                name = f"voicemail-{message.mailbox}-{message.id}.wav"
                attachments.append((name, audio, "audio/wav"))
            text = _text(message, box.name if box else "", attached,
                         box.timezone if box else "UTC")  # fmt: skip
            mailer.send(to, subject, text, attachments=attachments)
        except (MailFailed, MailNotConfigured, OSError) as e:
            next_at = store.email_failed(message, str(e), now, backoff)
            log.warning("voicemail email for message %d not sent (%s); next try at %s",
                        message.id, e, next_at.isoformat())  # fmt: skip
            failed += 1
            continue
        store.email_sent(message, settings.after_emailing, attached)
        sent += 1
        if changed is not None and settings.after_emailing is not AfterEmailing.NOTHING:
            changed(message.mailbox)
    return sent, failed


def send_missed_call(store: VoicemailStore, mailer: Mailer, event: dict[str, Any]) -> bool:
    """The missed-call email of ``event`` (from the SIP core), if the extension wants one
    and has an email address; one attempt (a notice, not a message to keep)."""
    box = store.mailbox(str(event.get("extension", "")))
    if box is None or not box.notify_missed_call or not box.email:
        return False
    caller = str(event.get("caller") or "an unknown number")
    name = str(event.get("caller_name") or "")
    who = f"{name} <{caller}>" if name else caller
    try:
        at = local(datetime.fromisoformat(str(event.get("at", ""))), box.timezone)
    except ValueError:
        at = str(event.get("at", ""))
    text = f"You missed a call on extension {box.number}.\n\nFrom: {who}\nAt:   {at}\n"
    try:
        mailer.send(box.email, f"Missed call from {name or caller}", text)
    except (MailFailed, MailNotConfigured) as e:
        log.warning("missed-call email to %s not sent: %s", box.number, e)
        return False
    return True
