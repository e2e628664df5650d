"""One voicemail mailbox, for the principal asking: how the API and the web UI reach the
messages and greetings.

The mailbox's owner (the extension's user) or an admin: checked once, when it is opened
(``number`` None: the principal's own mailbox). The media service, which answers callers on
the phone for the system, uses ``VoicemailStore`` itself.
"""

from __future__ import annotations

from pathlib import Path

from klapka.domain.problems import Forbidden, InvalidInput, NotFound, Problem
from klapka.services.permissions import NO_EXTENSION
from klapka.services.principal import Principal
from klapka.services.telephony.voicemail import NEW, OLD, Message, VoicemailStore


class MailboxAccess:
    def __init__(self, store: VoicemailStore, principal: Principal, number: str | None = None):
        if number is None or number == principal.extension:
            if principal.extension is None:
                raise Forbidden(NO_EXTENSION)
            number = principal.extension
        else:
            if not principal.is_admin:
                raise Forbidden(f"mailbox {number}: a user reaches only their own mailbox")
            if store.mailbox(number) is None:
                raise NotFound("extension", number)
        self.store = store
        self.principal = principal
        self.number = number

    # --- messages -------------------------------------------------------------------

    def messages(self, state: str | None = None) -> list[Message]:
        if state not in (None, NEW, OLD):
            raise InvalidInput([Problem("state", "new or old")])
        return self.store.messages(self.number, state)

    def message(self, message_id: int) -> Message:
        return self.store.message(self.number, message_id)

    def audio(self, message_id: int) -> Path:
        return self.store.audio_path(self.message(message_id))

    def mark(self, message_id: int, state: str) -> Message:
        return self.store.mark(self.number, message_id, state)

    def delete(self, message_id: int) -> None:
        self.store.delete(self.number, message_id)

    def counts(self) -> tuple[int, int]:
        """New and old messages (what the phones' message light shows)."""
        return self.store.counts(self.number)

    # --- greetings ------------------------------------------------------------------

    def greetings(self) -> list[str]:
        return self.store.greetings(self.principal, self.number)

    def greeting(self, slot: str) -> Path:
        path = self.store.greeting_file(self.number, slot)
        if not path.exists():
            raise NotFound("greeting", f"{self.number}/{slot}")
        return path

    def save_greeting(self, slot: str, audio: bytes) -> None:
        self.store.save_greeting(self.principal, self.number, slot, audio)

    def delete_greeting(self, slot: str) -> None:
        self.store.delete_greeting(self.principal, self.number, slot)
