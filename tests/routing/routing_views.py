"""Routing views for tests that build the engine's input by hand: each is the projection of
the domain model's defaults (``klapka.store.directory_view``), with the given fields changed.
So a test states only what it changes, and the defaults are those of ``klapka.domain``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from klapka.domain.directory import OutboundRoute, Queue, RingGroup, System, Trunk
from klapka.domain.extension import DndSettings, Extension, StatusSettings
from klapka.routing.model import (
    DND,
    STATUSES,
    ExtensionView,
    OutboundRouteView,
    QueueView,
    RingGroupView,
    Rules,
    StatusPolicy,
    SystemView,
    TrunkView,
)
from klapka.store.directory_view import (
    project_extension,
    project_outbound_route,
    project_queue,
    project_ring_group,
    project_status,
    project_system,
    project_trunk,
)


def policy(**fields: Any) -> StatusPolicy:
    """A status's policy (not do not disturb): the defaults with ``fields`` changed."""
    return replace(project_status(StatusSettings()), **fields)


def dnd_policy(**fields: Any) -> StatusPolicy:
    return replace(project_status(DndSettings()), **fields)


def rules(**fields: Any) -> Rules:
    """Forwarding rules of a status (not do not disturb): the defaults, ``fields`` changed."""
    return replace(policy().internal, **fields)


def statuses(**changed: StatusPolicy) -> dict[str, StatusPolicy]:
    """A policy for every status: the defaults, with the ``changed`` ones."""
    table = {s: dnd_policy() if s == DND else policy() for s in STATUSES}
    return {**table, **changed}


def extension(number: str, **fields: Any) -> ExtensionView:
    return replace(project_extension(Extension(number=number)), **fields)


def ring_group(number: str, **fields: Any) -> RingGroupView:
    return replace(project_ring_group(RingGroup(number=number)), **fields)


def queue(number: str, **fields: Any) -> QueueView:
    return replace(project_queue(Queue(number=number)), **fields)


def trunk(name: str, **fields: Any) -> TrunkView:
    return replace(project_trunk(Trunk(name=name, type="peer", host="sip.example.net")), **fields)


def outbound_route(
    name: str, patterns: tuple[str, ...], trunks: tuple[str, ...], **fields: Any
) -> OutboundRouteView:
    route = OutboundRoute(name=name, patterns=["X."], trunks=["t"])
    return replace(project_outbound_route(route), patterns=patterns, trunks=trunks, **fields)


def system(**fields: Any) -> SystemView:
    return replace(project_system(System()), **fields)
