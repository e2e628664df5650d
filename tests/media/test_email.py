"""New-voicemail email: sent by the mailbox's settings through a real SMTP server, then the
after-email action; while the server is down the email waits and is retried, and the message
stays in the mailbox."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from mailbox_config import PASSWORDS, doc
from phone import Phone
from smtp_sink import Mailbox, use_mailbox
from test_deposit import leave_message, speech_like
from test_through_kamailio import apply

from klapka.media.service import MediaService
from klapka.notify.email import Mailer
from klapka.services.directory.config import ConfigService
from klapka.services.directory.system import SystemSettings
from klapka.services.pbx import Pbx
from klapka.services.principal import SYSTEM
from klapka.services.telephony import wav
from klapka.services.telephony.voicemail import VoicemailStore
from klapka.services.telephony.voicemail_email import send_due


def mailbox_settings(pbx: Pbx, **voicemail: Any) -> None:
    ConfigService(pbx).apply(
        doc(
            {
                "number": "101",
                "email": "alice@example.com",
                "voicemail": {"pin": "4321", **voicemail},
            }
        )
    )


def stored_message(store: VoicemailStore, seconds: float = 2.0) -> int:
    """A message as a deposit stores it (row, WAV), without the phone call."""
    message_id, path = store.begin("101", "0601555111", "Carol")
    wav.write_pcm(path, speech_like(seconds))
    message = store.finish(message_id, int(seconds * 1000), keep=True)
    assert message is not None
    return message.id


def wait_for(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_new_message_is_emailed_with_its_audio_then_deleted(
    media: MediaService, pbx: Pbx, mailbox: Mailbox
) -> None:
    mailbox_settings(pbx, new_message_email="with_attachment", after_emailing="delete")
    use_mailbox(pbx, mailbox)  # after the config: applying it resets the system settings
    audio = speech_like(2.2)

    async def run() -> None:
        (await leave_message(media, audio, skip_greeting=True)).close()

    asyncio.run(run())
    wait_for(lambda: mailbox.to("alice@example.com"))
    [delivery] = mailbox.to("alice@example.com")
    message = delivery.message
    assert "Bob" in message["Subject"]
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "audio/wav"
    sent = attachment.get_payload(decode=True)
    assert sent[:4] == b"RIFF" and len(sent) == 44 + 2 * int(8000 * 2.2)
    wait_for(lambda: media.store.messages("101") == [])  # deleted: its audio was sent


def test_without_attachment_to_another_address_then_marked_read(
    pbx: Pbx, mailbox: Mailbox, tmp_path: Any
) -> None:
    mailbox_settings(pbx, new_message_email="without_attachment", email_address="desk@example.com",
                     after_emailing="mark_read")  # fmt: skip
    use_mailbox(pbx, mailbox)  # after the config: applying it resets the system settings
    SystemSettings(pbx, SYSTEM).patch({"timezone": "Europe/Prague"})
    store = VoicemailStore(pbx, tmp_path)
    stored_message(store)
    changed: list[str] = []
    assert send_due(store, Mailer(pbx), changed=changed.append) == (1, 0)
    assert changed == ["101"]  # marked read: the phones' lamps are told
    [delivery] = mailbox.to("desk@example.com")
    assert list(delivery.message.iter_attachments()) == []
    text = delivery.message.get_body().get_content()
    assert "0601555111" in text
    # The time in the PBX's time zone, which it names.
    [received] = [line for line in text.splitlines() if line.startswith("Received:")]
    local = store.messages("101")[0].received_at.astimezone(ZoneInfo("Europe/Prague"))
    assert received == f"Received: {local:%Y-%m-%d %H:%M:%S} (Europe/Prague)"
    [message] = store.messages("101")
    assert (message.state, message.email_state) == ("old", "sent")


def test_email_off_sends_nothing(pbx: Pbx, mailbox: Mailbox, tmp_path: Any) -> None:
    mailbox_settings(pbx)
    use_mailbox(pbx, mailbox)  # after the config: applying it resets the system settings
    store = VoicemailStore(pbx, tmp_path)
    stored_message(store)
    changed: list[str] = []
    assert send_due(store, Mailer(pbx), changed=changed.append) == (0, 0)
    assert mailbox.received == [] and changed == []
    assert store.messages("101")[0].state == "new"


def test_while_the_mail_server_is_down_the_email_waits_and_the_message_stays(
    media: MediaService, pbx: Pbx
) -> None:
    down = Mailbox()
    from smtp_sink import free_port

    down.port = free_port()  # nothing listens there yet
    mailbox_settings(pbx, new_message_email="with_attachment", after_emailing="delete")
    use_mailbox(pbx, down)  # after the config: applying it resets the system settings
    message_id = stored_message(media.store)
    media.changed("101")  # as a deposit does: the email queue wakes up
    wait_for(lambda: media.store.message("101", message_id).email_state == "pending"
             and _attempts(pbx, message_id) >= 2)  # fmt: skip
    assert [m.id for m in media.store.messages("101")] == [message_id]
    controller = start_on(down)
    try:
        wait_for(lambda: down.to("alice@example.com"), timeout=15)
        wait_for(lambda: media.store.messages("101") == [])
    finally:
        controller.stop()


def _attempts(pbx: Pbx, message_id: int) -> int:
    from sqlalchemy import select

    from klapka.store import tables as t

    with pbx.tx() as repo:
        c = t.voicemail_messages.c
        return int(
            repo.conn.execute(select(c.email_attempts).where(c.id == message_id)).scalar_one()
        )


def start_on(box: Mailbox) -> Any:
    """Start the SMTP server on the port ``box`` already has."""
    from aiosmtpd.controller import Controller

    controller = Controller(box, hostname=box.host, port=box.port)
    controller.start()
    return controller


@pytest.mark.slow
def test_a_call_the_caller_gave_up_on_sends_the_missed_call_email(
    pbx_with_sip: Any, mailbox: Mailbox
) -> None:
    pbx, core, _media = pbx_with_sip
    config = doc({"number": "101", "email": "alice@example.com",
                  "features": {"notify_missed_call": True}})  # fmt: skip
    apply(pbx_with_sip, config)
    use_mailbox(pbx, mailbox)

    async def run() -> None:
        desk = await Phone("101", PASSWORDS["101"], ("127.0.0.1", core.udp_port), rings=True).open()
        assert (await desk.register()).status == 200
        caller = await Phone("102", PASSWORDS["102"], ("127.0.0.1", core.udp_port)).open()
        assert (await caller.dial("101", until_ringing=True)).status == 180
        await asyncio.sleep(0.5)
        caller.cancel()
        answers = {
            (await caller.final()).first_line for _ in range(2)
        }  # the CANCEL's, the INVITE's
        assert answers == {"SIP/2.0 200 canceling", "SIP/2.0 487 Request Terminated"}
        desk.close()
        caller.close()

    asyncio.run(run())
    wait_for(lambda: mailbox.to("alice@example.com"))
    [delivery] = mailbox.to("alice@example.com")
    assert "Missed call" in delivery.message["Subject"]
    assert "102" in delivery.message.get_body().get_content()


@pytest.mark.slow
def test_a_call_to_an_extension_with_no_phone_registered_sends_the_missed_call_email(
    pbx_with_sip: Any, mailbox: Mailbox
) -> None:
    """No phone of 101 is registered and its rule says hang up (no voicemail): the caller
    hears 603 at once, and 101's user gets the missed-call email, once."""
    pbx, core, _media = pbx_with_sip
    hang_up = {"available": {"internal": {"no_answer": {"hangup": True}}}}
    config = doc({"number": "101", "email": "alice@example.com", "presence_settings": hang_up,
                  "features": {"notify_missed_call": True}})  # fmt: skip
    apply(pbx_with_sip, config)
    use_mailbox(pbx, mailbox)

    async def run() -> None:
        caller = await Phone("102", PASSWORDS["102"], ("127.0.0.1", core.udp_port)).open()
        final = await caller.dial("101")
        assert final.status == 603, final.first_line
        caller.close()

    asyncio.run(run())
    wait_for(lambda: mailbox.to("alice@example.com"))
    time.sleep(1)  # a second email would have come by now
    [delivery] = mailbox.to("alice@example.com")
    assert "Missed call" in delivery.message["Subject"]
