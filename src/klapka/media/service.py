"""The media service as ``klapka serve`` runs it: an asyncio loop in a thread of its own,
holding the SIP user agent, the RTP clock, and the voicemail email queue. Messages left
half-recorded by an earlier run are finalised on start."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from klapka.media.prompts import Prompts
from klapka.media.rtp import Clock
from klapka.media.ua import UserAgent
from klapka.media.voicemail import VoicemailApp
from klapka.notify.email import Mailer
from klapka.services.pbx import Pbx
from klapka.services.telephony.mwi import notify_mailbox
from klapka.services.telephony.voicemail import EMAIL_BACKOFF_SECONDS, VoicemailStore
from klapka.services.telephony.voicemail_email import send_due, send_missed_call

log = logging.getLogger("klapka.media")

EMAIL_POLL_SECONDS = 5.0


class MediaService:
    """Start with ``start()`` (returns once the SIP port is bound), stop with ``stop()``."""

    def __init__(
        self,
        pbx: Pbx,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        rtp_host: str | None = None,
        email_backoff: float = EMAIL_BACKOFF_SECONDS,
        email_poll: float = EMAIL_POLL_SECONDS,
        nice: int | None = None,
    ) -> None:
        self.pbx = pbx
        self.data_dir = data_dir
        self.host = host
        self.port = port
        self.rtp_host = rtp_host or host
        self.store = VoicemailStore(pbx, data_dir)
        self.prompts = Prompts(data_dir / "voicemail" / "prompts")
        self.email_backoff = email_backoff
        self.email_poll = email_poll
        self.nice = nice
        self.stop_requested = threading.Event()
        self.restarts = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.clock = Clock()
        self.ua: UserAgent | None = None
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.mail_wake: asyncio.Event | None = None

    def start(self, timeout: float = 10.0) -> None:
        self.store.root.mkdir(parents=True, exist_ok=True)
        kept = self.store.recover()
        for message in kept:
            log.info("message %d of mailbox %s finalised after a restart", message.id,
                     message.mailbox)  # fmt: skip
        self.thread = threading.Thread(target=self._run, name="klapka-media", daemon=True)
        self.thread.start()
        if not self.ready.wait(timeout):
            raise RuntimeError("the media service did not start")
        if self.error is not None:
            raise RuntimeError(f"the media service did not start: {self.error}")

    def _run(self) -> None:
        if self.nice is not None:
            # Media is real time: the thread that paces RTP goes before ordinary work when
            # the machine is busy (Linux: nice per thread). Without the right, it stays.
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
            except (OSError, AttributeError):
                log.info("media thread priority unchanged (nice %d not permitted)", self.nice)
        while True:
            loop = asyncio.new_event_loop()
            self.loop = loop
            try:
                loop.run_until_complete(self._main())
            except BaseException as e:
                if not self.ready.is_set():  # the first start failed: start() reports it
                    self.error = e
                    self.ready.set()
                    return
                log.exception("the media service failed")
            finally:
                # Jobs still in the executor (MWI, email, prompts) finish before it closes.
                loop.run_until_complete(loop.shutdown_default_executor())
                loop.close()
            if self.stop_requested.is_set():
                return
            self.restarts += 1
            log.error("the media service stopped unexpectedly; restarting (restart %d)",
                      self.restarts)  # fmt: skip
            self.stop_requested.wait(min(5.0, 0.5 * self.restarts))
            if self.stop_requested.is_set():
                return

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        self.mail_wake = asyncio.Event()
        app = VoicemailApp(self.store, self.prompts, self._changed)
        transport, ua = await loop.create_datagram_endpoint(
            lambda: UserAgent(self.host, self.rtp_host, app.on_invite, self.clock, self._event),
            local_addr=(self.host, self.port),
        )
        self.ua = ua
        self.port = ua.port
        self.clock.start()
        self._publish_address()
        self.stopping = asyncio.Event()
        if self.stop_requested.is_set():  # stop() came while it was starting again
            self.stopping.set()
        self.ready.set()
        log.info("media service: SIP on %s udp/%d", self.host, self.port)
        prompts = loop.run_in_executor(None, self.prompts.generate)
        mail = loop.create_task(self._email_loop())
        try:
            stopped = asyncio.ensure_future(self.stopping.wait())
            lost = asyncio.ensure_future(ua.lost.wait())  # its socket is gone: start again
            await asyncio.wait({stopped, lost}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            lost.cancel()
        finally:
            mail.cancel()
            for task in list(ua.tasks):
                task.cancel()
            await asyncio.gather(*ua.tasks, mail, return_exceptions=True)
            self.clock.stop()
            transport.close()
            self.address_file.unlink(missing_ok=True)
            with contextlib.suppress(TimeoutError, Exception):
                await asyncio.wait_for(asyncio.shield(prompts), 30)

    def _event(self, event: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        if event.get("event") == "missed_call":
            loop.run_in_executor(None, self._missed_call, event)
        elif event.get("event") == "registered" and str(event.get("extension", "")).isdigit():
            loop.run_in_executor(None, self._notify_phones, str(event["extension"]))

    def _missed_call(self, event: dict[str, Any]) -> None:
        try:
            send_missed_call(self.store, Mailer(self.pbx), event)
        except Exception:
            log.exception("missed-call email")

    @property
    def address_file(self) -> Path:
        """Where the SIP core's adapter finds the service (next to its directory snapshot)."""
        return self.data_dir / "sip" / "media.json"

    def _publish_address(self) -> None:
        self.address_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.address_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"host": self.host, "port": self.port}))
        os.replace(tmp, self.address_file)

    def changed(self, mailbox: str) -> None:
        """``_changed`` from any thread."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._changed, mailbox)

    def _changed(self, mailbox: str) -> None:
        """A mailbox's messages changed: its email may be due, its phones' lamps change."""
        if self.mail_wake is not None:
            self.mail_wake.set()
        asyncio.get_running_loop().run_in_executor(None, self._notify_phones, mailbox)

    def _notify_phones(self, mailbox: str) -> None:
        try:
            notify_mailbox(self.data_dir, mailbox, *self.store.counts(mailbox))
        except Exception:
            log.exception("MWI for mailbox %s", mailbox)

    async def _email_loop(self) -> None:
        assert self.mail_wake is not None
        mailer = Mailer(self.pbx)
        while True:
            try:
                await asyncio.to_thread(
                    send_due, self.store, mailer, None, self.email_backoff, self._notify_phones
                )
            except Exception:
                log.exception("voicemail email queue")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.mail_wake.wait(), self.email_poll)
            self.mail_wake.clear()

    def stop(self) -> None:
        self.stop_requested.set()
        loop = self.loop
        if loop is not None and self.thread is not None and self.thread.is_alive():
            with contextlib.suppress(RuntimeError):  # between two runs its loop is closed
                loop.call_soon_threadsafe(self.stopping.set)
            self.thread.join(15)
