"""Outbound routes: which dialled numbers leave through which trunks, for whom."""

from klapka.api.crud import Resource, crud_router
from klapka.domain.directory import OutboundRoute
from klapka.domain.references import Kind

RESOURCE = Resource(
    kind=Kind.OUTBOUND_ROUTE,
    path="/outbound-routes",
    model=OutboundRoute,
    title="outbound route",
    plural="outbound routes",
    sort_example="`position` (the order routes are tried in; the default), `name`.",
    search_example="name.",
)

router = crud_router(RESOURCE)
