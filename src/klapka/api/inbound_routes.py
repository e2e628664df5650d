"""Inbound routes: which DID goes where, in open hours and outside them."""

from klapka.api.crud import Resource, crud_router
from klapka.domain.directory import InboundRoute
from klapka.domain.references import Kind

RESOURCE = Resource(
    kind=Kind.INBOUND_ROUTE,
    path="/inbound-routes",
    model=InboundRoute,
    title="inbound route",
    plural="inbound routes",
    sort_example="`position` (the order routes are tried in; the default), `name`.",
    search_example="name.",
)

router = crud_router(RESOURCE)
