"""The web UI in a real browser: an admin configures forwarding and the simulator shows it;
a user switches presence and sees only what the client permissions allow.

Each test runs ``klapka serve`` over its own database and drives Debian's Chromium with
Playwright; screenshots of the pages go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
import wave
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from browsing import DESKTOP, PHONE, choose, eventually, new_context, save_tab, shoot, sign_in
from smtp_sink import PORTAL, Mailbox, texts, use_mailbox

from klapka.domain.references import Kind
from klapka.services.accounts import totp
from klapka.services.accounts.two_factor import TwoFactor
from klapka.services.accounts.user_language import language_of
from klapka.services.accounts.user_language import set_language as set_user_language
from klapka.services.directory.objects import Objects
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal
from klapka.services.telephony.voicemail import VoicemailStore
from klapka.store.repository import now

# The UI calls the same services as the API, whose tests run on both backends: one pass here.
pytestmark = [pytest.mark.slow, pytest.mark.backend_independent]

JANA = Principal(role="user", extension="101", name="extension 101")
ADMIN_PASSWORD = "Adm1n-Heslo-2027"
USER_PASSWORD = "Zelena-Louka-2027"

OFFICE = f"""
extensions:
  - number: "100"
    first_name: Ada
    last_name: Admin
    email: ada@example.com
    role: admin
    user_password: {ADMIN_PASSWORD}
  - number: "101"
    first_name: Jana
    last_name: Novak
    email: jana@example.com
    user_password: {USER_PASSWORD}
  - number: "102"
    first_name: Petr
    last_name: Svoboda
  - number: "103"
    first_name: Eva
    last_name: Boss
groups:
  - name: Management
    members: ["103"]
client_permissions:
  - name: Staff
    target: {{all: true}}
    menus: {{contacts: false}}
    extension_visibility:
      deny: {{groups: [Management]}}
"""


def test_admin_creates_an_extension_forwards_busy_calls_and_the_simulator_shows_it(
    serve: Callable[[str], str], browser: Any, pbx: Pbx, mailbox: Mailbox, tmp_path: Path
) -> None:
    base = serve(OFFICE)
    deposit(pbx, tmp_path / "data", "103", "+420777000999")
    context = new_context(browser, DESKTOP)
    page = context.new_page()
    sign_in(page, base, "ada@example.com", ADMIN_PASSWORD)
    assert page.url.endswith("/ui/extensions")
    table = page.get_by_test_id("extension-table")
    for number in ("100", "101", "102", "103"):
        assert table.get_by_role("link", name=number, exact=True).is_visible()
    page.get_by_test_id("extension-search").fill("svoboda")
    page.get_by_test_id("extension-count").filter(has_text="1–1 of 1").wait_for()
    assert table.get_by_role("link", name="102", exact=True).is_visible()
    assert table.get_by_role("link", name="101", exact=True).count() == 0
    page.get_by_test_id("extension-search").fill("")
    page.get_by_test_id("extension-count").filter(has_text="1–4 of 4").wait_for()
    shoot(page, "admin-extensions-desktop")

    # A new extension: a taken number is refused at the field, then 104 is made.
    page.get_by_test_id("new-extension").click()
    page.get_by_test_id("field-number").fill("102")
    page.get_by_test_id("field-first_name").fill("Karel")
    page.get_by_test_id("create-extension").click()
    page.get_by_text("number 102 is already used by an extension").wait_for()
    page.get_by_test_id("field-number").fill("104")
    page.get_by_test_id("field-email").fill("karel@example.com")
    page.get_by_test_id("create-extension").click()
    page.wait_for_url(f"{base}/ui/extensions/104")
    assert Objects(pbx).get(Kind.EXTENSION, "104")["first_name"] == "Karel"

    # Busy internal calls go to 102; forwarding to itself is refused at the field.
    page.get_by_role("tab", name="Presence").click()
    busy = "field-presence_settings.available.internal.busy"
    choose(page, f"{busy}-type", "Extension")
    page.get_by_test_id(f"{busy}-value").fill("104")
    save_tab(page)
    page.get_by_text("an extension cannot forward to itself").wait_for()
    page.get_by_test_id(f"{busy}-value").fill("102")
    page.get_by_test_id("unsaved").wait_for()  # the editor warns about unsaved changes
    save_tab(page)
    page.get_by_text("Saved", exact=True).first.wait_for()
    page.get_by_test_id("unsaved").wait_for(state="hidden")

    def forwarded() -> None:
        stored = Objects(pbx).get(Kind.EXTENSION, "104")["presence_settings"]["available"]
        assert stored["internal"]["busy"] == {"extension": "102"}

    eventually(forwarded)
    # The "where do calls go" panel follows the saved setting.
    page.get_by_test_id("call-paths").get_by_text("extension 102: 102 desk 30 s").first.wait_for()
    shoot(page, "admin-extension-presence-desktop")

    # Function keys: a BLF key for 102; a second key on the same position is refused.
    page.get_by_role("tab", name="Function keys").click()
    page.get_by_test_id("add-function-key").click()
    page.get_by_test_id("field-function_keys[0].value").fill("102")
    save_tab(page)
    page.get_by_text("Saved", exact=True).first.wait_for()

    def one_key() -> None:
        keys = Objects(pbx).get(Kind.EXTENSION, "104")["function_keys"]
        assert [(k["key"], k["type"], k["extension"]) for k in keys] == [(1, "blf", "102")]

    eventually(one_key)
    page.get_by_test_id("add-function-key").click()
    page.get_by_test_id("field-function_keys[1].key").fill("1")
    page.get_by_test_id("field-function_keys[1].value").fill("103")
    save_tab(page)
    page.get_by_text("the same key position is used twice").wait_for()
    assert len(Objects(pbx).get(Kind.EXTENSION, "104")["function_keys"]) == 1

    # An admin reaches any mailbox: Eva's (103) message, audio included.
    page.goto(f"{base}/ui/extensions/103")
    page.get_by_role("tab", name="Voicemail").click()
    message = page.get_by_test_id("voicemail-message")
    message.get_by_text("+420777000999").wait_for()
    assert " UTC · " in message.inner_text()  # the PBX's time zone, named
    source = message.locator("audio").get_attribute("src")
    assert source == "/api/v1/extensions/103/voicemail/messages/1/audio"
    assert page.request.get(base + source).body()[:4] == b"RIFF"

    # Clients: the admin's own browser is signed in; a login link is made on demand.
    page.goto(f"{base}/ui/extensions/100")
    page.get_by_role("tab", name="Clients").click()
    assert "127.0.0.1" in page.get_by_test_id("session").first.inner_text()
    page.get_by_test_id("show-login-link").click()
    assert "/app-login#token=" in page.get_by_test_id("login-link").inner_text()

    # The simulator: 101 calls 104 while 104 is in a call -> 102 rings.
    page.goto(f"{base}/ui/simulator")
    page.get_by_test_id("field-from").fill("101")
    page.get_by_test_id("field-to").fill("104")
    page.get_by_test_id("field-in_call").fill("104")
    page.get_by_test_id("simulate").click()
    trace = page.get_by_test_id("trace")
    trace.get_by_text("busy: 104's internal busy rule -> extension 102").wait_for()
    steps = page.get_by_test_id("ring-step")
    assert steps.count() == 1
    assert "102 desk" in steps.first.inner_text()
    shoot(page, "admin-simulator-desktop")
    # A bad request is shown at its field.
    page.get_by_test_id("field-to").fill("12ab")
    page.get_by_test_id("simulate").click()
    page.get_by_text("must be a number").first.wait_for()

    # System: SMTP settings saved, and the test email arrives.
    page.goto(f"{base}/ui/system")
    page.get_by_test_id("field-smtp.host").fill(mailbox.host)
    page.get_by_test_id("field-smtp.port").fill(str(mailbox.port))
    choose(page, "field-smtp.security", "none")
    page.get_by_test_id("field-smtp.from_address").fill("pbx@example.com")
    page.get_by_test_id("save").click()
    page.get_by_text("Saved", exact=True).first.wait_for()
    page.get_by_test_id("test-email-to").fill("ops@example.com")
    page.get_by_test_id("test-email").click()
    page.get_by_text("Test email sent").wait_for()
    assert mailbox.to("ops@example.com")[0].message["Subject"] == "klapka: test email"
    shoot(page, "admin-system-desktop")

    for path, name in (
        ("/ui/groups", "admin-groups"),
        ("/ui/audit", "admin-audit"),
    ):
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        shoot(page, f"{name}-desktop")
    assert page.get_by_test_id("audit-table").get_by_text("extension 104").first.is_visible()
    # Client permissions: a rule dragged onto the first one goes first.
    Objects(pbx).create(
        Kind.CLIENT_PERMISSION,
        {"name": "Managers", "target": {"groups": ["Management"]}, "menus": {"contacts": True}},
    )
    page.goto(f"{base}/ui/client-permissions")
    page.get_by_test_id("rule-Managers").drag_to(page.get_by_test_id("rule-Staff"))

    def managers_first() -> None:
        rules = Objects(pbx).list(Kind.CLIENT_PERMISSION, limit=10).items
        assert [r["name"] for r in rules] == ["Managers", "Staff"]

    eventually(managers_first)
    # What Jana (101) sees under the Staff rule.
    page.goto(f"{base}/ui/client-permissions")
    page.get_by_test_id("preview-number").fill("101")
    page.get_by_test_id("preview").click()
    page.get_by_test_id("preview-extensions").filter(has_text="hidden: 103").wait_for()
    shoot(page, "admin-client-permissions-desktop")
    page.goto(f"{base}/ui/business-hours")
    page.get_by_test_id("week").get_by_text("Monday").wait_for()
    shoot(page, "admin-business-hours-desktop")

    # CSV import: a bad row refuses the file, with the row and column; then it goes in.
    page.goto(f"{base}/ui/extensions")
    page.get_by_test_id("import-csv").click()
    bad = "number,first_name,email\n201,Alena,alena@example.com\n202,Bohdan,not-an-email\n"
    page.locator('input[type="file"]').set_input_files(
        files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": bad.encode()}]
    )
    errors = page.get_by_test_id("import-errors")
    errors.get_by_text("email").first.wait_for()
    assert "3" in errors.inner_text()  # the spreadsheet row of Bohdan
    assert Objects(pbx).list(Kind.EXTENSION, q="alena").total == 0
    good = bad.replace("not-an-email", "bohdan@example.com")
    page.locator('input[type="file"]').set_input_files(
        files=[{"name": "people2.csv", "mimeType": "text/csv", "buffer": good.encode()}]
    )
    page.get_by_test_id("import-result").filter(has_text="2 created").wait_for()
    page.keyboard.press("Escape")

    # A selection: add to a group, then delete.
    page.get_by_test_id("extension-search").fill("20")
    page.get_by_test_id("extension-count").filter(has_text="1–2 of 2").wait_for()
    page.get_by_test_id("extension-table").locator("thead .q-checkbox").click()
    page.get_by_text("2 selected").wait_for()
    choose(page, "bulk-group", "Management")
    page.get_by_test_id("bulk-add").click()
    page.get_by_text("Saved", exact=True).first.wait_for()

    def added() -> None:
        assert Objects(pbx).get(Kind.GROUP, "Management")["members"] == ["103", "201", "202"]

    eventually(added)
    page.get_by_test_id("bulk-delete").click()
    page.get_by_test_id("confirm-delete").click()
    page.get_by_test_id("extension-count").filter(has_text="0–0 of 0").wait_for()
    assert Objects(pbx).list(Kind.EXTENSION, q="20").total == 0

    page.set_viewport_size(PHONE)
    page.goto(f"{base}/ui/extensions")
    page.get_by_test_id("extension-count").filter(has_text="of 5").wait_for()
    shoot(page, "admin-extensions-phone")
    page.goto(f"{base}/ui/extensions/104")
    page.get_by_role("tab", name="Presence").wait_for()
    shoot(page, "admin-extension-phone")
    page.goto(f"{base}/ui/simulator?from=101&to=104")
    page.get_by_test_id("outcome").wait_for()
    shoot(page, "admin-simulator-phone")
    context.close()


def deposit(pbx: Pbx, data: Path, mailbox: str, caller: str) -> None:
    """A voicemail message as the media service leaves one: a row and a WAV file."""
    store = VoicemailStore(pbx, data)
    message_id, path = store.begin(mailbox, caller, "Caller")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\x00\x00" * 8000)
    store.finish(message_id, 1000, keep=True)


def test_a_user_switches_presence_and_sees_only_what_the_permissions_allow(
    serve: Callable[[str], str], browser: Any, pbx: Pbx, tmp_path: Path
) -> None:
    base = serve(OFFICE)
    deposit(pbx, tmp_path / "data", "101", "+420601222333")
    context = new_context(browser, DESKTOP)
    page = context.new_page()
    sign_in(page, base, "jana@example.com", USER_PASSWORD)
    assert page.url.endswith("/ui/me")

    page.get_by_test_id("field-presence_note").fill("back at 2 pm")
    page.get_by_test_id("status-lunch_break").click()
    page.get_by_test_id("current-status").filter(has_text="Lunch break").wait_for()
    mine = Objects(pbx).get(Kind.EXTENSION, "101")
    assert (mine["presence"], mine["presence_note"]) == ("lunch_break", "back at 2 pm")
    shoot(page, "portal-status-desktop")

    # Menus: no admin console; contacts hidden by the Staff rule.
    nav = page.get_by_role("navigation")
    assert nav.get_by_text("Colleagues").is_visible()
    assert nav.get_by_text("Contacts").count() == 0
    assert nav.get_by_text("Extensions").count() == 0
    assert nav.get_by_text("Call simulator").count() == 0

    # Colleagues: the Management group is hidden.
    page.goto(f"{base}/ui/me/colleagues")
    table = page.get_by_test_id("colleague-table")
    table.get_by_text("Svoboda").wait_for()
    numbers = set(re.findall(r"\b10\d\b", table.inner_text()))
    assert numbers == {"100", "101", "102"}  # 103 is in Management
    assert "Lunch break" in table.inner_text()
    assert "unknown (SIP core not running)" in table.inner_text()  # served with --no-sip
    shoot(page, "portal-colleagues-desktop")

    # Another user's settings, by URL: refused, and the admin pages too.
    for path in ("/ui/extensions/102", "/ui/extensions/103"):
        page.goto(base + path)
        page.get_by_test_id("refused").wait_for()
        assert "Svoboda" not in page.content() and "Boss" not in page.content()
    for path in ("/ui/extensions", "/ui/simulator", "/ui/audit"):
        page.goto(base + path)
        page.get_by_text("Only an admin may open").wait_for()
        assert page.get_by_test_id("extension-table").count() == 0
    page.goto(f"{base}/ui/me/contacts")
    page.get_by_text("Not available").wait_for()

    # Own forwarding: saved through the same service, checked by it.
    page.goto(f"{base}/ui/me/forwarding")
    choose(page, "presence-status", "Away")
    always = "field-presence_settings.away.external.always"
    choose(page, f"{always}-type", "External number")
    page.get_by_test_id(f"{always}-value").fill("+420601000111")
    page.get_by_test_id("save").click()
    page.get_by_text("Saved", exact=True).first.wait_for()

    def forwarding_saved() -> None:
        stored = Objects(pbx).get(Kind.EXTENSION, "101")["presence_settings"]["away"]
        assert stored["external"]["always"] == {"external_number": "+420601000111"}

    eventually(forwarding_saved)
    shoot(page, "portal-forwarding-desktop")

    # Voicemail: the message is there, its audio plays from the API with this session.
    page.goto(f"{base}/ui/me/voicemail")
    message = page.get_by_test_id("voicemail-message")
    message.get_by_text("+420601222333").wait_for()
    source = message.locator("audio").get_attribute("src")
    assert source is not None
    audio = page.request.get(base + source)
    assert audio.status == 200 and audio.body()[:4] == b"RIFF"
    shoot(page, "portal-voicemail-desktop")
    message.get_by_role("button", name="Mark heard").click()
    message.get_by_role("button", name="Mark new").wait_for()
    assert VoicemailStore(pbx, tmp_path / "data").counts("101") == (0, 1)
    message.get_by_role("button", name="Delete").click()
    page.get_by_text("No messages.").wait_for()

    # URL popup: the model's rule is shown at the field.
    page.goto(f"{base}/ui/me/integrations")
    page.get_by_test_id("field-features.url_popup.url").fill("crm.example.com/?n={{.CallerNumber}}")
    page.get_by_test_id("save").first.click()
    page.get_by_text("must start with http:// or https://").wait_for()
    page.get_by_test_id("field-features.url_popup.url").fill(
        "https://crm.example.com/?n={{.CallerNumber}}"
    )
    page.get_by_test_id("save").first.click()
    page.get_by_text("Saved", exact=True).first.wait_for()

    def popup_saved() -> None:
        popup = Objects(pbx).get(Kind.EXTENSION, "101")["features"]["url_popup"]
        assert popup["url"] == "https://crm.example.com/?n={{.CallerNumber}}"

    eventually(popup_saved)

    page.set_viewport_size(PHONE)
    page.goto(f"{base}/ui/me")
    page.get_by_test_id("current-status").wait_for()
    shoot(page, "portal-status-phone")
    page.get_by_test_id("menu-button").click()
    page.get_by_role("navigation").get_by_text("Colleagues").wait_for()
    shoot(page, "portal-menu-phone")
    page.keyboard.press("Escape")
    page.goto(f"{base}/ui/me/colleagues")
    page.get_by_test_id("colleague-table").get_by_text("Svoboda").wait_for()
    shoot(page, "portal-colleagues-phone")
    # A language the user chose elsewhere follows them into this English browser.
    set_user_language(pbx, JANA, "cs")
    page.goto(f"{base}/ui/me")
    page.get_by_test_id("current-status").wait_for()
    page.get_by_test_id("menu-button").click()
    page.get_by_role("navigation").get_by_text("Můj stav").wait_for()
    context.close()


def test_sign_in_with_a_second_factor_in_czech_then_switch_to_english(
    serve: Callable[[str], str], browser: Any, pbx: Pbx
) -> None:
    base = serve(OFFICE)
    jana = Principal(role="user", extension="101", name="extension 101")
    secret = TwoFactor(pbx, jana, now).start()["secret"]
    TwoFactor(pbx, jana, now).confirm(totp.code_at(secret, now()))

    context = new_context(browser, DESKTOP, locale="cs-CZ")
    page = context.new_page()
    page.goto(f"{base}/")
    page.get_by_role("button", name="Přihlásit se").wait_for()
    shoot(page, "sign-in-desktop")
    page.get_by_label("E-mail").first.fill("jana@example.com")
    page.get_by_label("Heslo", exact=True).fill("Wrong-Password-1")
    page.get_by_test_id("sign-in").click()
    page.get_by_test_id("sign-in-error").filter(
        has_text="the email or password is wrong"
    ).wait_for()
    page.get_by_label("Heslo", exact=True).fill(USER_PASSWORD)
    page.get_by_test_id("sign-in").click()
    code = page.get_by_test_id("code")
    code.fill("000000")
    page.get_by_test_id("confirm-code").click()
    page.get_by_text("the code is wrong").wait_for()
    # The step after the one used to enrol: a code is good once.
    code.fill(totp.code_at(secret, now() + timedelta(seconds=30)))
    page.get_by_test_id("confirm-code").click()
    page.wait_for_url(f"{base}/ui/me")
    nav = page.get_by_role("navigation")
    nav.get_by_text("Můj stav").wait_for()
    assert nav.get_by_text("Kolegové").is_visible()
    page.get_by_test_id("status-away").filter(has_text="pryč").wait_for()
    shoot(page, "portal-status-czech-desktop")

    page.get_by_label("Jazyk").click()
    page.get_by_text("English", exact=True).click()
    page.get_by_role("navigation").get_by_text("My status").wait_for()
    assert page.get_by_test_id("status-away").inner_text().lower() == "away"
    assert language_of(pbx, JANA) == "en"  # remembered for the user, not only this browser

    # Signing out ends the session: the portal sends the browser to the sign-in page.
    page.get_by_test_id("sign-out").click()
    page.wait_for_url(f"{base}/ui/sign-in")
    page.goto(f"{base}/ui/me")
    page.wait_for_url(f"{base}/ui/sign-in")
    context.close()

    phone = new_context(browser, PHONE, locale="cs-CZ")
    page = phone.new_page()
    page.goto(f"{base}/ui/sign-in")
    page.get_by_role("button", name="Přihlásit se").wait_for()
    shoot(page, "sign-in-phone")
    phone.close()


def test_a_forgotten_password_is_reset_through_the_emailed_link(
    serve: Callable[[str], str], browser: Any, pbx: Pbx, mailbox: Mailbox
) -> None:
    use_mailbox(pbx, mailbox)
    base = serve(OFFICE)
    context = new_context(browser, PHONE)
    page = context.new_page()
    page.goto(f"{base}/ui/sign-in")
    page.get_by_test_id("forgot").click()
    page.get_by_test_id("reset-email").fill("jana@example.com")
    page.get_by_test_id("request-reset").click()
    page.get_by_text("a link to reset its password is on its way").wait_for()
    page.get_by_test_id("reset-email").fill("nobody@example.com")
    page.get_by_test_id("request-reset").click()  # the same answer, and no email
    (sent,) = mailbox.to("jana@example.com")
    assert not mailbox.to("nobody@example.com")
    link = re.search(r"https://\S+/reset-password#token=\S+", texts(sent.message)["text/plain"])
    assert link is not None
    page.goto(link.group(0).replace(PORTAL, base))
    page.wait_for_url(re.compile(r".*/ui/reset-password#token=.*"))
    page.get_by_test_id("new-password").fill("short")
    page.get_by_test_id("confirm-reset").click()
    page.get_by_text("10").first.wait_for()  # the policy: 10-63 characters...
    page.get_by_test_id("new-password").fill("Modra-Obloha-2028")
    page.get_by_test_id("confirm-reset").click()
    page.wait_for_url(f"{base}/ui/sign-in")
    shoot(page, "sign-in-after-reset-phone")
    sign_in(page, base, "jana@example.com", "Modra-Obloha-2028")
    page.get_by_test_id("current-status").wait_for()
    context.close()
