"""Queues: CRUD, and the agents (members) logging in, out and pausing."""

# No ``from __future__ import annotations``: see crud.py.

from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict

from klapka.api.crud import (
    JsonBody,
    ObjectsDep,
    Resource,
    crud_router,
    parse_body,
    request_body,
    responses,
)
from klapka.domain.directory import Queue
from klapka.domain.references import Kind

RESOURCE = Resource(
    kind=Kind.QUEUE,
    path="/queues",
    model=Queue,
    title="queue",
    plural="queues",
    sort_example="`number` (numeric: 99 before 100), `name`.",
    search_example="number and name.",
)

router = crud_router(RESOURCE)
Number = Annotated[str, Path(description="The queue's number.")]
Member = Annotated[str, Path(description="The member extension's number.")]


class QueueAgent(BaseModel):
    extension: str
    logged_in: bool
    paused: bool


class QueueAgentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    logged_in: bool | None = None
    paused: bool | None = None


@router.get(
    "/queues/{number}/agents",
    summary="List the queue's agents and their state",
    operation_id="list_queue_agents",
    responses=responses(list[QueueAgent]),
)
def list_agents(number: Number, objects: ObjectsDep) -> Any:
    return objects.queue_agents(number)


@router.patch(
    "/queues/{number}/agents/{extension}",
    summary="Log an agent in or out, pause or unpause them",
    operation_id="patch_queue_agent",
    responses=responses(QueueAgent),
    openapi_extra=request_body(QueueAgentPatch, patch=True),
)
def patch_agent(number: Number, extension: Member, objects: ObjectsDep, body: JsonBody) -> Any:
    change = parse_body(QueueAgentPatch, body)
    return objects.set_queue_agent(number, extension, change.logged_in, change.paused)
