"""Service operations the web UI added: the extension list by group, the app login link to
show. Both are admin operations, checked in the service like every other."""

from __future__ import annotations

import pytest

from klapka.domain.problems import Forbidden, InvalidInput, NotFound
from klapka.domain.references import Kind
from klapka.domain.values import PresenceStatus
from klapka.services.directory.objects import Objects
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal
from klapka.services.welcome import LinkNotValid, Welcome, app_login

JANA = Principal(role="user", extension="101", name="extension 101")


@pytest.fixture
def office(pbx: Pbx) -> Objects:
    objects = Objects(pbx)
    for number in ("101", "102", "103", "110"):
        objects.create(Kind.EXTENSION, {"number": number})
    objects.create(Kind.GROUP, {"name": "Sales", "members": ["102", "110"]})
    return objects


def test_the_extension_list_keeps_a_groups_members_and_pages_them(office: Objects) -> None:
    page = office.list(Kind.EXTENSION, group="Sales", limit=1)
    assert (page.total, [e["number"] for e in page.items]) == (2, ["102"])
    assert office.list(Kind.EXTENSION, group="Sales", q="110").total == 1
    assert office.list(Kind.EXTENSION, group="All").total == 4


def test_group_membership_is_for_admins_and_a_missing_group_is_named(
    office: Objects, pbx: Pbx
) -> None:
    with pytest.raises(Forbidden):
        Objects(pbx, JANA).list(Kind.EXTENSION, group="Sales")
    with pytest.raises(NotFound, match="group Nobody"):
        office.list(Kind.EXTENSION, group="Nobody")


def test_a_shown_login_link_works_once_and_replaces_the_older_one(
    office: Objects, pbx: Pbx
) -> None:
    first = Welcome(pbx).login_link("101")
    second = Welcome(pbx).login_link("101")
    assert first["qr_png"].startswith(b"\x89PNG")
    token = second["link"].split("#token=")[1]
    assert app_login(pbx, token)["extension"] == "101"
    with pytest.raises(LinkNotValid):
        app_login(pbx, token)
    with pytest.raises(LinkNotValid):
        app_login(pbx, first["link"].split("#token=")[1])


def test_only_an_admin_may_make_a_login_link(office: Objects, pbx: Pbx) -> None:
    with pytest.raises(Forbidden):
        Welcome(pbx, JANA).login_link("101")
    with pytest.raises(NotFound):
        Welcome(pbx).login_link("999")


def test_the_extension_list_keeps_a_presence_status(office: Objects, pbx: Pbx) -> None:
    office.set_presence("102", PresenceStatus.LUNCH_BREAK)
    page = office.list(Kind.EXTENSION, presence="lunch_break")
    assert [e["number"] for e in page.items] == ["102"]
    assert office.list(Kind.EXTENSION, presence="available", group="Sales").total == 1
    with pytest.raises(InvalidInput, match="presence: must be one of available"):
        office.list(Kind.EXTENSION, presence="sleeping")
