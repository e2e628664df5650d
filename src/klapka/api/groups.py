"""Extension groups: named sets of extensions, used by routes and permissions."""

from klapka.api.crud import Resource, crud_router
from klapka.domain.directory import Group
from klapka.domain.references import Kind

RESOURCE = Resource(
    kind=Kind.GROUP,
    path="/groups",
    model=Group,
    title="extension group",
    plural="groups",
    sort_example="`name`.",
    search_example="name.",
)

router = crud_router(RESOURCE)
