"""The engine's output: ring this now (and where to continue), or this is the end."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RingTarget:
    """One branch of a ring step: a registered endpoint, or an outside number."""

    extension: str | None = None
    endpoint: str | None = None  # endpoint id (contact)
    endpoint_class: str | None = None
    number: str | None = None  # as sent to the trunk
    dialled: str | None = None  # the outside number before the route's strip/prepend
    trunks: tuple[str, ...] = ()
    caller_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.extension is not None:
            return {"extension": self.extension, "endpoint": self.endpoint_class}
        return {"number": self.number, "trunk": self.trunks[0] if self.trunks else None}


@dataclass(frozen=True)
class Cursor:
    """Where the engine continues when the SIP core reports how a ring step ended.

    Plain data (JSON-serialisable), so the SIP core can keep it with the transaction.
    """

    frame: str  # extension | ring_group | queue
    owner: str
    kind: str  # internal | external
    path: str
    status: str = ""  # effective presence of an extension frame
    stage: int = 0  # extension: ring stage 1 or 2; ring group: member index
    chain: tuple[str, ...] = ()
    hops: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Cursor:
        data = json.loads(text)
        data["chain"] = tuple(data["chain"])
        return cls(**data)


@dataclass(frozen=True)
class Ring:
    """Ring ``targets`` in parallel for ``timeout`` seconds."""

    targets: tuple[RingTarget, ...]
    timeout: int
    owner: str  # the extension, ring group or queue whose rules made this step
    cursor: Cursor
    all_reject: bool = False  # one decline ends the whole step as busy
    trace: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """The call's end as far as routing goes."""

    result: str  # answered | voicemail | external | greeting | hangup
    cause: str | None = None
    extension: str | None = None
    endpoint: str | None = None
    number: str | None = None
    trunks: tuple[str, ...] = ()
    caller_id: str | None = None
    mailbox: str | None = None
    sip_code: int | None = None
    reason: str = ""
    trace: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"result": self.result}
        if self.result == "answered":
            if self.extension is not None:
                out["extension"] = self.extension
                out["endpoint"] = self.endpoint
            else:
                out["number"] = self.number
        elif self.result == "voicemail":
            out["mailbox"] = self.mailbox
        elif self.result == "external":
            out["number"] = self.number
            out["trunk"] = self.trunks[0] if self.trunks else None
        elif self.result == "hangup":
            out["cause"] = self.cause
        return out


Decision = Ring | Outcome
