"""Trunks: the SIP providers and peers calls leave and arrive through."""

from klapka.api.crud import Resource, crud_router
from klapka.domain.directory import Trunk
from klapka.domain.references import Kind

RESOURCE = Resource(
    kind=Kind.TRUNK,
    path="/trunks",
    model=Trunk,
    title="trunk",
    plural="trunks",
    sort_example="`name`.",
    search_example="name.",
)

router = crud_router(RESOURCE)
