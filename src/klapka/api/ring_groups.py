"""Ring groups: a number that rings several extensions, all at once or one after another."""

from klapka.api.crud import Resource, crud_router
from klapka.domain.directory import RingGroup
from klapka.domain.references import Kind

RESOURCE = Resource(
    kind=Kind.RING_GROUP,
    path="/ring-groups",
    model=RingGroup,
    title="ring group",
    plural="ring groups",
    sort_example="`number` (numeric: 99 before 100), `name`.",
    search_example="number and name.",
)

router = crud_router(RESOURCE)
