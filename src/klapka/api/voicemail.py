"""Voicemail messages and greetings in the portal and the API.

    /me/voicemail/messages                      my messages (?state=new|old)
    /me/voicemail/messages/{id}                 one message: read, mark (PATCH state), delete
    /me/voicemail/messages/{id}/audio           its WAV
    /me/voicemail/greetings                     my greetings (which slots have one)
    /me/voicemail/greetings/{slot}              WAV to play, PUT a WAV or MP3, DELETE
    /extensions/{number}/voicemail/...          the same for any mailbox (admins; a user
                                                reaches only their own)

A slot is ``default`` or a presence status. A change in the messages updates the phones'
message-waiting lamps (MWI) when the SIP core runs.
"""

# No ``from __future__ import annotations``: FastAPI reads the annotations at runtime.

from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from klapka.api.auth import CurrentPrincipal, current_principal
from klapka.api.crud import JsonBody, request_body
from klapka.api.dependencies import get_pbx
from klapka.api.limits import GREETING_LIMIT, Id, describe
from klapka.domain.problems import InvalidInput, Problem
from klapka.services.principal import Principal
from klapka.services.telephony.mailbox_access import MailboxAccess
from klapka.services.telephony.mwi import notify_mailbox
from klapka.services.telephony.voicemail import NEW, OLD, VoicemailStore
from klapka.store.database import data_dir

router = APIRouter(tags=["voicemail"], dependencies=[Depends(current_principal)])

Number = Annotated[str, Path(description="The extension number (its mailbox).")]
MessageId = Annotated[Id, Path(description="The message id.")]
Slot = Annotated[str, Path(description="`default` or a presence status.")]
AUDIO_TYPES = ("audio/wav", "audio/x-wav", "audio/wave", "audio/mpeg", "audio/mp3")
AUDIO_BODY = {
    "requestBody": {
        "required": True,
        "description": "The greeting as WAV or MP3, at most 20 MiB.",
        "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in AUDIO_TYPES},
    }
}


class VoicemailMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    state: str
    caller_number: str
    caller_name: str
    received_at: str
    duration_seconds: float
    email: str


class MessageChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: str = Field(json_schema_extra={"enum": [NEW, OLD]})


def store_of(request: Request) -> VoicemailStore:
    root = getattr(request.app.state, "data_dir", None)
    return VoicemailStore(get_pbx(request), FilePath(root) if root else data_dir())


def mailbox_of(request: Request, principal: Principal, number: str | None = None) -> MailboxAccess:
    """The mailbox ``number`` (None: the principal's own), as the service lets them reach it."""
    return MailboxAccess(store_of(request), principal, number)


def _changed(box: MailboxAccess) -> None:
    notify_mailbox(box.store.data_dir, box.number, *box.counts())


# --- the operations, shared by /me and /extensions/{number} ---------------------------


def _list(box: MailboxAccess, state: str | None) -> list[dict[str, Any]]:
    return [m.as_json() for m in box.messages(state)]


def _audio(box: MailboxAccess, message_id: int) -> FileResponse:
    return FileResponse(
        box.audio(message_id),
        media_type="audio/wav",
        filename=f"voicemail-{box.number}-{message_id}.wav",
    )


def _patch(box: MailboxAccess, message_id: int, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or set(body) != {"state"}:
        raise InvalidInput([Problem("state", 'the body is {"state": "new" | "old"}')])
    message = box.mark(message_id, str(body["state"]))
    _changed(box)
    return message.as_json()


def _delete(box: MailboxAccess, message_id: int) -> Response:
    box.delete(message_id)
    _changed(box)
    return Response(status_code=204)


async def _upload(request: Request, box: MailboxAccess, slot: str) -> Response:
    kind = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if kind not in AUDIO_TYPES:
        raise InvalidInput([Problem("greeting", f"send audio ({', '.join(AUDIO_TYPES)})")])
    audio = await request.body()  # at most GREETING_LIMIT: counted as it streams (limits.py)
    if not audio:
        raise InvalidInput([Problem("greeting", f"audio of 1 byte to {describe(GREETING_LIMIT)}")])
    from starlette.concurrency import run_in_threadpool

    await run_in_threadpool(box.save_greeting, slot, audio)
    return Response(status_code=204)


def _greeting(box: MailboxAccess, slot: str) -> FileResponse:
    path = box.greeting(slot)
    return FileResponse(path, media_type="audio/wav", filename=f"greeting-{box.number}-{slot}.wav")


# --- /me ---------------------------------------------------------------------------------

StateQuery = Annotated[
    str | None,
    Query(description="`new` or `old`; both when omitted.", json_schema_extra={"enum": [NEW, OLD]}),
]


@router.get("/me/voicemail/messages", summary="My voicemail messages",
            operation_id="list_my_voicemail_messages", response_model=list[VoicemailMessage])  # fmt: skip
def list_mine(
    request: Request, principal: CurrentPrincipal, state: StateQuery = None
) -> list[dict[str, Any]]:
    return _list(mailbox_of(request, principal), state)


@router.get("/me/voicemail/messages/{message_id}", summary="One of my messages",
            operation_id="get_my_voicemail_message", response_model=VoicemailMessage)  # fmt: skip
def get_mine(request: Request, principal: CurrentPrincipal, message_id: MessageId) -> Any:
    return mailbox_of(request, principal).message(message_id).as_json()


@router.get("/me/voicemail/messages/{message_id}/audio", summary="My message's audio (WAV)",
            operation_id="get_my_voicemail_message_audio", response_class=FileResponse)  # fmt: skip
def audio_mine(request: Request, principal: CurrentPrincipal, message_id: MessageId) -> Any:
    return _audio(mailbox_of(request, principal), message_id)


@router.patch("/me/voicemail/messages/{message_id}", summary="Mark my message new or old",
              operation_id="patch_my_voicemail_message", response_model=VoicemailMessage,
              openapi_extra=request_body(MessageChange))  # fmt: skip
def patch_mine(request: Request, principal: CurrentPrincipal, message_id: MessageId,
               body: JsonBody) -> Any:  # fmt: skip
    return _patch(mailbox_of(request, principal), message_id, body)


@router.delete("/me/voicemail/messages/{message_id}", summary="Delete my message",
               operation_id="delete_my_voicemail_message", status_code=204, response_class=Response)  # fmt: skip
def delete_mine(request: Request, principal: CurrentPrincipal, message_id: MessageId) -> Response:
    return _delete(mailbox_of(request, principal), message_id)


@router.get("/me/voicemail/greetings", summary="My greetings (slots that have one)",
            operation_id="list_my_voicemail_greetings", response_model=list[str])  # fmt: skip
def greetings_mine(request: Request, principal: CurrentPrincipal) -> Any:
    return mailbox_of(request, principal).greetings()


@router.get("/me/voicemail/greetings/{slot}", summary="My greeting (WAV)",
            operation_id="get_my_voicemail_greeting", response_class=FileResponse)  # fmt: skip
def greeting_mine(request: Request, principal: CurrentPrincipal, slot: Slot) -> Any:
    return _greeting(mailbox_of(request, principal), slot)


@router.put("/me/voicemail/greetings/{slot}", summary="Upload my greeting (WAV or MP3)",
            operation_id="put_my_voicemail_greeting", status_code=204, response_class=Response,
            openapi_extra=AUDIO_BODY)  # fmt: skip
async def upload_mine(request: Request, principal: CurrentPrincipal, slot: Slot) -> Response:
    return await _upload(request, mailbox_of(request, principal), slot)


@router.delete("/me/voicemail/greetings/{slot}", summary="Remove my greeting",
               operation_id="delete_my_voicemail_greeting", status_code=204, response_class=Response)  # fmt: skip
def delete_greeting_mine(request: Request, principal: CurrentPrincipal, slot: Slot) -> Response:
    mailbox_of(request, principal).delete_greeting(slot)
    return Response(status_code=204)


# --- /extensions/{number} ----------------------------------------------------------------


@router.get("/extensions/{number}/voicemail/messages", summary="A mailbox's messages",
            operation_id="list_voicemail_messages", response_model=list[VoicemailMessage])  # fmt: skip
def list_any(request: Request, principal: CurrentPrincipal, number: Number,
             state: StateQuery = None) -> list[dict[str, Any]]:  # fmt: skip
    return _list(mailbox_of(request, principal, number), state)


@router.get("/extensions/{number}/voicemail/messages/{message_id}", summary="One message",
            operation_id="get_voicemail_message", response_model=VoicemailMessage)  # fmt: skip
def get_any(request: Request, principal: CurrentPrincipal, number: Number,
            message_id: MessageId) -> Any:  # fmt: skip
    return mailbox_of(request, principal, number).message(message_id).as_json()


@router.get("/extensions/{number}/voicemail/messages/{message_id}/audio",
            summary="A message's audio (WAV)", operation_id="get_voicemail_message_audio",
            response_class=FileResponse)  # fmt: skip
def audio_any(request: Request, principal: CurrentPrincipal, number: Number,
              message_id: MessageId) -> Any:  # fmt: skip
    return _audio(mailbox_of(request, principal, number), message_id)


@router.patch("/extensions/{number}/voicemail/messages/{message_id}",
              summary="Mark a message new or old", operation_id="patch_voicemail_message",
              response_model=VoicemailMessage, openapi_extra=request_body(MessageChange))  # fmt: skip
def patch_any(request: Request, principal: CurrentPrincipal, number: Number,
              message_id: MessageId, body: JsonBody) -> Any:  # fmt: skip
    return _patch(mailbox_of(request, principal, number), message_id, body)


@router.delete("/extensions/{number}/voicemail/messages/{message_id}",
               summary="Delete a message", operation_id="delete_voicemail_message", status_code=204, response_class=Response)  # fmt: skip
def delete_any(request: Request, principal: CurrentPrincipal, number: Number,
               message_id: MessageId) -> Response:  # fmt: skip
    return _delete(mailbox_of(request, principal, number), message_id)


@router.get("/extensions/{number}/voicemail/greetings", summary="A mailbox's greetings",
            operation_id="list_voicemail_greetings", response_model=list[str])  # fmt: skip
def greetings_any(request: Request, principal: CurrentPrincipal, number: Number) -> Any:
    return mailbox_of(request, principal, number).greetings()


@router.get("/extensions/{number}/voicemail/greetings/{slot}", summary="A greeting (WAV)",
            operation_id="get_voicemail_greeting", response_class=FileResponse)  # fmt: skip
def greeting_any(request: Request, principal: CurrentPrincipal, number: Number,
                 slot: Slot) -> Any:  # fmt: skip
    return _greeting(mailbox_of(request, principal, number), slot)


@router.put("/extensions/{number}/voicemail/greetings/{slot}",
            summary="Upload a greeting (WAV or MP3)", operation_id="put_voicemail_greeting",
            status_code=204, response_class=Response, openapi_extra=AUDIO_BODY)  # fmt: skip
async def upload_any(request: Request, principal: CurrentPrincipal, number: Number,
                     slot: Slot) -> Response:  # fmt: skip
    return await _upload(request, mailbox_of(request, principal, number), slot)


@router.delete("/extensions/{number}/voicemail/greetings/{slot}", summary="Remove a greeting",
               operation_id="delete_voicemail_greeting", status_code=204, response_class=Response)  # fmt: skip
def delete_greeting_any(request: Request, principal: CurrentPrincipal, number: Number,
                        slot: Slot) -> Response:  # fmt: skip
    mailbox_of(request, principal, number).delete_greeting(slot)
    return Response(status_code=204)
