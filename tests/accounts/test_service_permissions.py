"""Permissions are checked in the services, for every caller: the web UI, the CLI and the
control socket call them without the API's admin gate. Each entry point that was checked
only by its callers before is called here directly, as a user (refused), as an admin and as
the system (the CLI, internal jobs) (let through).

The people: 100 (Alena) is an admin, 101 (Jana) and 102 (Petr) users."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from accounts_world import Clock

from klapka.domain.problems import Forbidden, NotFound
from klapka.notify.email import MailNotConfigured
from klapka.services.accounts.sessions import Sessions
from klapka.services.accounts.tokens import Tokens
from klapka.services.accounts.user_language import language_of, set_language
from klapka.services.audit_log import AuditLog
from klapka.services.directory.config import ConfigService
from klapka.services.directory.extension_csv import ExtensionCsv
from klapka.services.directory.system import SystemSettings
from klapka.services.pbx import Pbx
from klapka.services.permissions import menu_for, opens_editor
from klapka.services.principal import SYSTEM, Principal, phone_user
from klapka.services.telephony.feature_codes import FeatureCodes
from klapka.services.telephony.mailbox_access import MailboxAccess
from klapka.services.telephony.registrations import Registrations
from klapka.services.telephony.simulator import Simulator
from klapka.services.telephony.trunk_status import TrunkStatus
from klapka.services.telephony.voicemail import VoicemailStore
from klapka.services.welcome import Welcome

JANA = Principal(role="user", extension="101", name="extension 101")
ALENA = Principal(role="admin", extension="100", name="extension 100")
ADMIN_TOKEN = Principal(role="admin", name="token admin")  # an admin, of no extension


def _welcome(pbx: Pbx, p: Principal) -> Any:
    try:
        return Welcome(pbx, p).send_many(["101"])
    except MailNotConfigured:  # past the check: the office has no mail server
        return None


# Each entry point, called for a principal. Admin-only: a user is refused before anything is
# read (the trunk status and registrations would ask the SIP core, which is not running).
ADMIN_ONLY: dict[str, Callable[[Pbx, Principal], Any]] = {
    "simulate a call": lambda pbx, p: Simulator(pbx, p).simulate({"from": "101", "to": "102"}),
    "call paths": lambda pbx, p: Simulator(pbx, p).call_paths("101"),
    "export the extensions CSV": lambda pbx, p: ExtensionCsv(pbx, p).export_csv(),
    "import an extensions CSV": lambda pbx, p: ExtensionCsv(pbx, p).import_csv(
        "number,first_name\n102,Petr\n", dry_run=True
    ),
    "export the configuration": lambda pbx, p: ConfigService(pbx, p).export(),
    "read the system settings": lambda pbx, p: SystemSettings(pbx, p).get(),
    "read the business hours": lambda pbx, p: SystemSettings(pbx, p).get_business_hours(),
    "read the audit log": lambda pbx, p: AuditLog(pbx, p).list(),
    "create an admin API token": lambda pbx, p: Tokens(pbx, p).create(name="x"),
    "welcome emails": lambda pbx, p: _welcome(pbx, p),
    "another user's browsers": lambda pbx, p: Sessions(pbx, Clock()).list(p, "102"),
}
NEEDS_THE_SIP_CORE: dict[str, Callable[[Pbx, Principal], Any]] = {
    "trunk status": lambda pbx, p: TrunkStatus(pbx, principal=p).all(),
    "registrations": lambda pbx, p: Registrations(pbx, principal=p).of("101"),
}


@pytest.fixture
def pbx_with_people(pbx: Pbx, people: None) -> Pbx:
    return pbx


@pytest.mark.parametrize("name", [*ADMIN_ONLY, *NEEDS_THE_SIP_CORE])
def test_a_user_is_refused(pbx_with_people: Pbx, name: str) -> None:
    call = ADMIN_ONLY.get(name) or NEEDS_THE_SIP_CORE[name]
    with pytest.raises(Forbidden):
        call(pbx_with_people, JANA)


@pytest.mark.parametrize("name", list(ADMIN_ONLY))
@pytest.mark.parametrize("who", [ALENA, SYSTEM], ids=["admin", "system"])
def test_an_admin_and_the_system_are_let_through(
    pbx_with_people: Pbx, name: str, who: Principal
) -> None:
    ADMIN_ONLY[name](pbx_with_people, who)


def test_own_browsers_only_for_a_user_and_none_for_a_token_of_no_extension(
    pbx_with_people: Pbx,
) -> None:
    sessions = Sessions(pbx_with_people, Clock())
    assert sessions.list(JANA) == []  # her own (signed in nowhere)
    assert sessions.list(ALENA, "101") == []
    assert sessions.revoke(JANA, 999999) is False
    with pytest.raises(Forbidden):
        sessions.revoke(JANA, 999999, "102")
    with pytest.raises(Forbidden):
        sessions.list(ADMIN_TOKEN)
    with pytest.raises(NotFound):
        sessions.list(ALENA, "999")


def test_a_mailbox_is_its_owners_and_the_admins(pbx_with_people: Pbx, tmp_path: Path) -> None:
    store = VoicemailStore(pbx_with_people, tmp_path)
    assert MailboxAccess(store, JANA).number == "101"
    assert MailboxAccess(store, JANA, "101").messages() == []
    assert MailboxAccess(store, ALENA, "102").messages() == []
    with pytest.raises(Forbidden):
        MailboxAccess(store, JANA, "102")
    with pytest.raises(Forbidden):
        MailboxAccess(store, ADMIN_TOKEN)  # no mailbox of its own
    with pytest.raises(NotFound):
        MailboxAccess(store, ALENA, "999")


def test_the_language_is_the_principals_own(pbx_with_people: Pbx) -> None:
    set_language(pbx_with_people, JANA, "cs")
    assert language_of(pbx_with_people, JANA) == "cs"
    assert language_of(pbx_with_people, ALENA) is None
    assert language_of(pbx_with_people, ADMIN_TOKEN) is None
    with pytest.raises(Forbidden):
        set_language(pbx_with_people, ADMIN_TOKEN, "cs")


def test_what_the_web_frame_shows_comes_from_the_service(
    pbx_with_people: Pbx, given: Callable[[str], None]
) -> None:
    given("client_permissions: [{name: no-logs, target: {all: true}, menus: {call_logs: false}}]")
    jana = menu_for(pbx_with_people, JANA)
    assert jana["admin"] is False
    assert jana["menus"]["call_logs"] is False and jana["menus"]["voicemail"] is True
    for admin in (ALENA, ADMIN_TOKEN):
        shown = menu_for(pbx_with_people, admin)
        assert shown["admin"] is True
        assert all(shown["menus"].values()) and shown["contacts"] == "manage"
    assert opens_editor(pbx_with_people, ALENA, "101") is True
    assert opens_editor(pbx_with_people, JANA, "101") is False  # her own: the portal
    with pytest.raises(Forbidden):
        opens_editor(pbx_with_people, JANA, "102")


def test_a_feature_code_acts_for_the_phones_user(pbx_with_people: Pbx) -> None:
    """The control socket passes the phone's user; the service checks them like any caller:
    Jana may change her own forwarding, and nobody else's."""
    codes = FeatureCodes(pbx_with_people)
    assert codes.dial("101", "*78", phone_user("101")).sip_code == 200
    assert codes.dial("102", "*78", phone_user("101")).sip_code == 403
