"""Company contacts: the shared phonebook, keyed by a numeric id."""

from klapka.api.crud import Resource, crud_router
from klapka.domain.directory import Contact
from klapka.domain.references import Kind


class ContactView(Contact):
    """A contact as shown: with the id the PBX gave it."""

    id: int


RESOURCE = Resource(
    kind=Kind.CONTACT,
    path="/contacts",
    model=Contact,
    view=ContactView,
    key_type=int,
    title="contact",
    plural="contacts",
    sort_example="`id`, `name`, `first_name`, `last_name`, `company`, `email`.",
    search_example="name, company and email.",
)

router = crud_router(RESOURCE)
