"""Hot desking: the file a hot-desk phone fetches (HTTP, as a phone does) before a login
(its guest account), after a login (the user's account, keys and phonebook), after the
logout code and after the automatic logout (the guest again); the login's refusals, the
wrong-PIN limit, the audit log and the check-sync after each change."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers import cfg, credentials, ok, xml
from sqlalchemy import Engine

from klapka.domain.directory import System
from klapka.domain.problems import Forbidden
from klapka.routing.featurecodes import is_feature_code
from klapka.services import hot_desk_logins
from klapka.services.hot_desk_logins import Login
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal
from klapka.services.telephony.feature_codes import FeatureCodes
from klapka.services.telephony.hot_desk import HotDesk, HotDeskLogins, WrongPins, next_logout

MAC = "805ec0900001"
OTHER_MAC = "805ec0900002"
URL = f"/provisioning/{MAC}.cfg"


@pytest.fixture
def desks(client: TestClient) -> TestClient:
    """900 and 901: hot desks (guest accounts) with a phone each; 102 and 103 users."""
    ok(client.patch("/api/v1/system", json={"timezone": "Europe/Prague"}))
    for number, mac in (("900", MAC), ("901", OTHER_MAC)):
        ok(client.post("/api/v1/extensions", json={
            "number": number, "first_name": "Desk", "last_name": number,
            "sip_password": f"Guest-Secret-{number}", "features": {"hot_desking": True},
            "phones": [{"vendor": "Yealink", "model": "T54W", "mac": mac}],
        }), 201)  # fmt: skip
    ok(client.post("/api/v1/extensions", json={
        "number": "103", "first_name": "Boris", "voicemail": {"pin": "1234"},
    }), 201)  # fmt: skip
    ok(client.post("/api/v1/extensions", json={
        "number": "102", "first_name": "Anna", "last_name": "Nová",
        "sip_password": "Anna-Secret-102", "voicemail": {"pin": "4711"},
        "function_keys": [{"key": 1, "type": "blf", "extension": "103"},
                          {"key": 2, "type": "speed_dial", "number": "+420601111222"}],
    }), 201)  # fmt: skip
    ok(client.post("/api/v1/extensions", json={
        "number": "104", "enabled": False, "voicemail": {"pin": "5555"},
    }), 201)  # fmt: skip
    return client


class Synced(list[tuple[str, str]]):
    """The check-syncs sent: (the number the phone is registered as, its MAC)."""

    def __call__(self, number: str, mac: str) -> None:
        self.append((number, mac))


@pytest.fixture
def synced() -> Synced:
    return Synced()


@pytest.fixture
def desk(pbx: Pbx, synced: Synced) -> HotDesk:
    return HotDesk(pbx, check_sync=synced, wrong_pins=WrongPins())


def phone_file(anonymous: TestClient, admin: TestClient, mac: str = MAC) -> dict[str, str]:
    creds = credentials(admin, mac, "900" if mac == MAC else "901")
    return cfg(ok(anonymous.get(f"/provisioning/{mac}.cfg",
                                auth=(creds["username"], creds["password"]))).text)  # fmt: skip


def audit(client: TestClient, action: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = ok(
        client.get("/api/v1/audit", params={"action": action, "limit": 500})
    ).json()["items"]
    return items


def test_login_logout_and_automatic_logout_change_the_file(
    desks: TestClient, anonymous: TestClient, desk: HotDesk, synced: Synced
) -> None:
    guest = phone_file(anonymous, desks)
    assert guest["account.1.user_name"] == "900"
    assert guest["account.1.password"] == "Guest-Secret-900"
    assert guest["account.1.display_name"] == "Desk 900"
    assert "linekey.1.type" not in guest

    # Login from the phone (registered as its guest 900), at 10:00 Prague time.
    at = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    answer = desk.login("900", "102", "4711", at=at)
    assert (answer.sip_code, answer.message) == (200, "Logged in as 102 until 00:00")
    assert synced == [("900", MAC)]  # the phone, still registered as the guest
    user = phone_file(anonymous, desks)
    assert user["account.1.user_name"] == "102"
    assert user["account.1.password"] == "Anna-Secret-102"
    assert user["account.1.display_name"] == "Anna Nová"
    assert user["linekey.1.value"] == "103"  # 102's keys
    assert user["linekey.2.value"] == "+420601111222"
    # The phonebook is 102's (their own entry is not in it, the guest's would be).
    creds = credentials(desks, MAC, "900")
    book = ok(anonymous.get(f"/provisioning/phonebook/{MAC}.xml",
                            auth=(creds["username"], creds["password"]))).text  # fmt: skip
    names = [e.findtext("Name") for e in xml(book).iter("DirectoryEntry")]
    assert "Anna Nová" not in names and "Desk 900" in names

    # Logout by code, from the phone now registered as 102: the guest again.
    answer = desk.logout("102")
    assert (answer.sip_code, answer.message) == (200, "Logged out 102")
    assert synced[-1] == ("102", MAC)
    assert phone_file(anonymous, desks)["account.1.user_name"] == "900"
    assert desk.logout("102").sip_code == 404  # nobody to log out

    # Automatic logout: nothing before the time, the guest at it.
    desk.login("900", "102", "4711", at=at)
    assert desk.logout_due(at + timedelta(hours=13, minutes=59)) == []
    assert phone_file(anonymous, desks)["account.1.user_name"] == "102"
    [ended] = desk.logout_due(at + timedelta(hours=14))  # 00:00 in Prague (UTC+1)
    assert (ended.mac, ended.extension) == (MAC, "102")
    assert synced[-1] == ("102", MAC)
    assert phone_file(anonymous, desks)["account.1.user_name"] == "900"

    logins = audit(desks, "hot_desk_login")
    assert [(e["kind"], e["key"]) for e in logins] == [("phone", MAC)] * 2
    assert len(audit(desks, "hot_desk_logout")) == 2


def test_refusals_and_the_wrong_pin_limit(
    desks: TestClient, anonymous: TestClient, desk: HotDesk, synced: Synced
) -> None:
    assert desk.login("102", "103", "1234").message == "Not a hot-desk phone"
    assert desk.login("900", "109", "1234").sip_code == 404
    assert desk.login("900", "104", "5555").message == "104 is disabled"
    assert desk.login("900", "901", "0000").message == "901 is a hot desk"
    assert (desk.login("900", "102", "0000").sip_code, desk.login("900", "102", "1").message) == (
        403,
        "Wrong PIN",
    )
    refused = audit(desks, "hot_desk_login_refused")
    assert len(refused) == 5 and all(e["key"] == MAC for e in refused)
    # The fifth failure of this phone within 5 minutes (the unknown number counted):
    # then refused even with the right PIN; another phone is not affected.
    assert desk.login("900", "102", "0000").message == "Wrong PIN"
    assert desk.login("900", "102", "0000").message == "Wrong PIN"
    assert desk.login("900", "102", "4711").message == "Too many wrong PINs, wait"
    assert desk.login("901", "102", "4711").sip_code == 200
    assert phone_file(anonymous, desks)["account.1.user_name"] == "900"
    assert phone_file(anonymous, desks, OTHER_MAC)["account.1.user_name"] == "102"
    assert synced == [("901", OTHER_MAC)]


def test_one_hot_desk_per_user_and_a_new_user_on_a_busy_desk(
    desks: TestClient, anonymous: TestClient, desk: HotDesk, synced: Synced
) -> None:
    assert desk.login("900", "102", "4711").sip_code == 200
    # 102 logs in at the other desk: the first goes back to its guest.
    assert desk.login("901", "102", "4711").sip_code == 200
    assert phone_file(anonymous, desks)["account.1.user_name"] == "900"
    assert phone_file(anonymous, desks, OTHER_MAC)["account.1.user_name"] == "102"
    assert synced == [("900", MAC), ("102", MAC), ("901", OTHER_MAC)]
    # 103 logs in at the phone where 102 is (dialled from it, registered as 102).
    assert desk.login("102", "103", "1234").sip_code == 200
    assert phone_file(anonymous, desks, OTHER_MAC)["account.1.user_name"] == "103"
    assert synced[-1] == ("102", OTHER_MAC)


def test_the_feature_codes(desks: TestClient, pbx: Pbx, desk: HotDesk) -> None:
    assert is_feature_code("*62102*4711") and is_feature_code("*63")
    assert is_feature_code("*62")  # answered: dial the rest
    codes = FeatureCodes(pbx, desk)
    assert codes.dial("900", "*62102").sip_code == 484
    assert codes.dial("900", "*62102*").sip_code == 484
    login = codes.dial("900", "*62102*4711")
    assert login.sip_code == 200 and login.message.startswith("Logged in as 102")
    assert codes.dial("102", "*63").message == "Logged out 102"


def test_the_automatic_logout_time() -> None:
    prague = System(timezone="Europe/Prague", hot_desking_logout="18:30")
    at = datetime(2027, 3, 1, 17, 0, tzinfo=UTC)  # 18:00 in Prague
    assert next_logout(prague, at) == datetime(2027, 3, 1, 17, 30, tzinfo=UTC)
    assert next_logout(prague, at + timedelta(hours=1)) == datetime(2027, 3, 2, 17, 30, tzinfo=UTC)
    # Summer time: the same wall-clock time, an hour earlier in UTC.
    assert next_logout(prague, datetime(2027, 7, 1, 12, 0, tzinfo=UTC)) == datetime(
        2027, 7, 1, 16, 30, tzinfo=UTC
    )
    assert next_logout(System(hot_desking_logout=""), at) is None
    with pytest.raises(ValueError):
        System(hot_desking_logout="24:00")


# --- an admin: who is logged in where, ending a login ------------------------------------


def test_an_admin_lists_the_logins_and_ends_one(
    desks: TestClient, anonymous: TestClient, desk: HotDesk
) -> None:
    assert ok(desks.get("/api/v1/hot-desk/logins")).json() == []
    at = datetime(2027, 3, 1, 8, 12, tzinfo=UTC)  # 09:12 in Prague
    assert desk.login("900", "102", "4711", at=at).sip_code == 200
    assert desk.login("901", "103", "1234", at=at).sip_code == 200
    first, second = ok(desks.get("/api/v1/hot-desk/logins")).json()
    assert first == {
        "mac": MAC, "guest": "900", "extension": "102", "name": "Anna Nová",
        "since": "2027-03-01T08:12:00Z", "since_local": "2027-03-01T09:12:00+01:00",
        "logout_at": "2027-03-01T23:00:00Z", "logout_at_local": "2027-03-02T00:00:00+01:00",
        "timezone": "Europe/Prague",
    }  # fmt: skip
    assert (second["mac"], second["guest"], second["extension"]) == (OTHER_MAC, "901", "103")

    # Any separators and case; the phone gets its guest's file again.
    gone = ok(desks.delete("/api/v1/hot-desk/logins/80:5E:C0:90:00:01")).json()
    assert gone == {"mac": MAC, "extension": "102"}
    assert phone_file(anonymous, desks)["account.1.user_name"] == "900"
    assert phone_file(anonymous, desks, OTHER_MAC)["account.1.user_name"] == "103"
    assert [e["mac"] for e in ok(desks.get("/api/v1/hot-desk/logins")).json()] == [OTHER_MAC]
    [entry] = audit(desks, "hot_desk_logout")
    assert (entry["key"], entry["actor"]) == (MAC, "token admin")

    assert desks.delete(f"/api/v1/hot-desk/logins/{MAC}").status_code == 404  # nobody there
    assert desks.delete("/api/v1/hot-desk/logins/not-a-mac").status_code == 404


def test_the_admins_logout_sends_check_sync(
    desks: TestClient, pbx: Pbx, desk: HotDesk, synced: Synced
) -> None:
    desk.login("900", "102", "4711")
    admin = Principal(role="admin", name="token admin")
    logins = HotDeskLogins(pbx, admin, check_sync=synced)
    assert [v["extension"] for v in logins.logins(guest="900")] == ["102"]
    assert logins.logins(guest="901") == [] and logins.logins(user="103") == []
    assert logins.logout(MAC) == {"mac": MAC, "extension": "102"}
    assert synced[-1] == ("102", MAC)  # the phone, registered as 102 still
    user = HotDeskLogins(pbx, Principal(role="user", extension="102"), check_sync=synced)
    with pytest.raises(Forbidden):
        user.logins()
    with pytest.raises(Forbidden):
        user.logout(MAC)


@pytest.fixture
def ended() -> Iterator[list[tuple[str, str]]]:
    """The logins a directory change ended, as the hot-desk service is told after the
    commit: (the user, the MAC)."""
    seen: list[tuple[str, str]] = []

    def listener(engine: Engine, logins: list[Login]) -> None:
        seen.extend((login.extension, login.mac) for login in logins)

    hot_desk_logins.when_ended(listener)
    yield seen
    hot_desk_logins.forget(listener)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda c: c.patch("/api/v1/extensions/102", json={"enabled": False}),
            "extension disabled",
        ),
        (lambda c: c.delete("/api/v1/extensions/102"), "extension deleted"),
        (
            lambda c: c.patch("/api/v1/extensions/102", json={"voicemail": {"pin": "8888"}}),
            "PIN changed",
        ),
    ],
    ids=["disabled", "deleted", "pin"],
)
def test_a_user_disabled_deleted_or_with_another_pin_is_logged_out(
    desks: TestClient,
    anonymous: TestClient,
    desk: HotDesk,
    ended: list[tuple[str, str]],
    change: Callable[[TestClient], Any],
    reason: str,
) -> None:
    assert desk.login("900", "102", "4711").sip_code == 200
    assert desk.login("901", "103", "1234").sip_code == 200
    # Another change of the user's extension does not log them out.
    ok(desks.patch("/api/v1/extensions/102", json={"last_name": "Nováková"}))
    ok(desks.patch("/api/v1/extensions/102", json={"voicemail": {"pin": "4711"}}))
    assert phone_file(anonymous, desks)["account.1.user_name"] == "102"
    assert ended == []

    assert change(desks).status_code in (200, 204)
    assert phone_file(anonymous, desks)["account.1.user_name"] == "900"  # the guest again
    assert phone_file(anonymous, desks, OTHER_MAC)["account.1.user_name"] == "103"
    assert ended == [("102", MAC)]  # told after the commit: check-sync
    [entry] = audit(desks, "hot_desk_logout")
    assert (entry["key"], entry["actor"]) == (MAC, "token admin")
    assert reason in str(entry)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda c: c.delete("/api/v1/extensions/900"), "phone removed"),
        (lambda c: c.put("/api/v1/extensions/900/phones", json=[]), "phone removed"),
        (
            lambda c: c.patch("/api/v1/extensions/900", json={"features": {"hot_desking": False}}),
            "hot desking turned off",
        ),
        (
            lambda c: c.put(
                "/api/v1/extensions/900/phones",
                json=[
                    {"vendor": "Yealink", "model": "T54W", "mac": MAC},
                    {"vendor": "Yealink", "model": "T54W", "mac": "805ec0900009"},
                ],
            ),
            "other phones",
        ),
    ],
    ids=["guest-deleted", "phone-removed", "hot-desking-off", "second-phone"],
)
def test_a_phone_that_is_no_longer_a_hot_desk_logs_its_user_out(
    desks: TestClient,
    desk: HotDesk,
    ended: list[tuple[str, str]],
    change: Callable[[TestClient], Any],
    reason: str,
) -> None:
    """The guest extension deleted, its phone removed, hot desking turned off, another
    phone added: the user logged in there is logged out (not left "at" a desk that is none),
    and may log in at another hot desk; the other desk's login stays."""
    assert desk.login("900", "102", "4711").sip_code == 200
    assert desk.login("901", "103", "1234").sip_code == 200
    assert change(desks).status_code in (200, 204)
    assert ended == [("102", MAC)]
    assert [login["extension"] for login in ok(desks.get("/api/v1/hot-desk/logins")).json()] == [
        "103"
    ]
    [entry] = audit(desks, "hot_desk_logout")
    assert reason in str(entry)


def test_config_apply_logs_out_and_a_dry_run_does_not(
    desks: TestClient, anonymous: TestClient, desk: HotDesk, ended: list[tuple[str, str]]
) -> None:
    assert desk.login("900", "102", "4711").sip_code == 200
    doc = ok(desks.get("/api/v1/config")).json()
    for ext in doc["extensions"]:
        if ext["number"] == "102":
            ext["enabled"] = False
    assert ok(desks.put("/api/v1/config", params={"dry_run": "true"}, json=doc))
    assert phone_file(anonymous, desks)["account.1.user_name"] == "102"
    assert ended == []
    ok(desks.put("/api/v1/config", json=doc))
    assert phone_file(anonymous, desks)["account.1.user_name"] == "900"
    assert ended == [("102", MAC)]


def test_the_phone_is_told_only_after_a_commit(pbx: Pbx) -> None:
    """``Repository.after_commit``, how the writer tells the hot-desk service: nothing when
    the transaction rolls back."""
    ran: list[int] = []
    with pbx.tx() as repo:
        repo.after_commit(lambda: ran.append(1))
        assert ran == []
    assert ran == [1]
    with pytest.raises(RuntimeError), pbx.tx() as repo:
        repo.after_commit(lambda: ran.append(2))
        raise RuntimeError("rolled back")
    assert ran == [1]
