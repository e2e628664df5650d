"""No inert settings: every setting of the configuration document says where it takes effect
(``klapka.domain.effects``), something there reads it, and docs/settings.md agrees."""

from __future__ import annotations

import importlib
import inspect
import re
import typing
from pathlib import Path

from pydantic import BaseModel

from klapka.domain import permissions
from klapka.domain.destinations import Destination
from klapka.domain.document import ConfigDocument
from klapka.domain.effects import SETTINGS, Effect, markdown, not_active, setting_of

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "klapka"

# Where each effect is carried out: the code that has to read a setting for it to work.
# Never the domain models, the API or the editor's forms (they store and show settings).
CONSUMERS: dict[Effect, tuple[str, ...]] = {
    Effect.ROUTING: ("routing", "store/directory_view.py", "kemi"),
    Effect.SIP_CORE: (
        "kemi",
        "sip",
        "cli.py",
        "services/telephony/sip_directory.py",
        "services/telephony/trunk_status.py",
    ),
    Effect.VOICEMAIL: ("media", "kemi/voicemail.py", "services/telephony/voicemail.py"),
    Effect.PROVISIONING: ("services/welcome.py",),
    Effect.PHONES: ("services/provisioning", "services/telephony/hot_desk.py"),
    Effect.EMAIL: (
        "notify",
        "services/telephony/voicemail.py",
        "services/telephony/voicemail_email.py",
        "services/welcome.py",
        "services/accounts/user_passwords.py",
    ),
    Effect.ACCOUNTS: (
        "services/accounts",
        "services/permissions.py",
        "services/principal.py",
        "web/sign_in.py",
    ),
    Effect.PERMISSIONS: ("services/permissions.py",),
    Effect.WEB: ("web/portal.py", "web/call_views.py", "services/url_popup.py"),
    Effect.CONTACTS: ("services/directory/contacts.py", "web/portal.py"),
    Effect.CALL_HISTORY: ("services/call_history.py",),
}
# The rules are evaluated by the domain's own functions (services/permissions.py calls them).
PERMISSION_EVALUATION = "\n".join(
    inspect.getsource(f)
    for f in (
        permissions.effective,
        permissions.visibility,
        permissions.decide_menu,
        permissions.decide_preference,
        permissions.decide_contacts,
        permissions._matching,
        permissions.Targets.includes,
        permissions.Targets.everyone,
        permissions.Targets.numbers,
    )
)
# A setting acted on somewhere else than its effect's usual place.
ALSO_READ_BY = {
    # the queue logins change with the status (read by the routing's queue step)
    "extension.presence_settings.*.agent_auto_switch": (
        "services/directory/objects.py",
        "services/directory/writer.py",
    ),
    # the login's end is set when a user logs in at a hot desk (a feature code)
    "system.hot_desking_logout": ("services/telephony/hot_desk.py",),
}


def _models(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found += _models(arg)
    return found


def leaf_settings() -> dict[str, str]:
    """Every setting of the document's objects by path (``extension.voicemail.pin``), with its
    field name. A destination is one setting; lists and mappings of models are walked."""
    found: dict[str, str] = {}

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            path = f"{prefix}.{name}"
            inner = [m for m in _models(field.annotation) if not issubclass(m, Destination)]
            if inner:
                for m in inner:
                    walk(m, path)
            else:
                found[path] = name

    for section, field in ConfigDocument.model_fields.items():
        if section == "version":
            continue  # the format's version, not a setting
        origin = typing.get_origin(field.annotation)
        root = section[:-1] if origin is list else section
        for m in _models(field.annotation):
            walk(m, root)
    return found


def _source(where: str) -> str:
    """The code at ``where`` (a package or a module; "" when it is not there)."""
    path = SRC / where
    files = sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.exists() else []
    return "\n".join(f.read_text() for f in files)


def test_the_consumers_exist() -> None:
    for effect, where in CONSUMERS.items():
        assert any((SRC / w).exists() for w in where), effect


def test_walk_finds_the_settings() -> None:
    leaves = leaf_settings()
    assert "extension.presence_settings.away.ring_timeout" in leaves
    assert "extension.features.boss.secretary" in leaves  # a destination is one setting
    assert "client_permission.extension_visibility.deny.groups" in leaves
    assert "system.sign_in.lockout_seconds" in leaves
    assert len(leaves) > 200


def test_every_setting_is_registered() -> None:
    missing = [p for p in leaf_settings() if setting_of(p) is None]
    assert not missing, (
        "settings without an entry in klapka.domain.effects (say where they take effect, "
        f"or that they are not active yet): {missing}"
    )


def test_every_entry_names_settings() -> None:
    leaves = list(leaf_settings())
    stale = [
        s.path for s in SETTINGS if not any(setting_of(p) is s for p in leaves)
    ]  # setting_of gives the first match: an entry shadowed by another is stale too
    assert not stale, f"entries in klapka.domain.effects matching no setting: {stale}"


def test_active_settings_are_read_where_they_take_effect() -> None:
    sources = {effect: "\n".join(_source(w) for w in where) for effect, where in CONSUMERS.items()}
    sources[Effect.PERMISSIONS] += PERMISSION_EVALUATION
    unread = []
    for path, name in leaf_settings().items():
        setting = setting_of(path)
        assert setting is not None
        extra = ALSO_READ_BY.get(setting.path, ())
        for effect in setting.effects:
            if effect is Effect.NOT_ACTIVE:
                continue
            text = sources[effect] + "".join(_source(w) for w in extra)
            # ``effective_caller_id_name``: the models' property that reads the field
            if not re.search(rf"\b(effective_)?{re.escape(name)}\b", text):
                unread.append(f"{path} ({effect.value})")
    assert not unread, (
        "settings said to take effect where nothing reads them (mark them not active "
        f"yet, or name where they do act): {sorted(set(unread))}"
    )


def test_not_active_is_all_or_nothing() -> None:
    for s in SETTINGS:
        assert s.active or s.effects == (Effect.NOT_ACTIVE,), s.path
        assert s.active or s.note, f"{s.path}: say why it is not active yet"


def test_not_active() -> None:
    assert not_active("extension.advanced.dtmf_mode")
    assert not_active("extension.features.door_phone")  # a whole section
    assert not not_active("extension.phones[1].mac")  # an item of a list: provisioned
    assert not_active("extension.presence_settings.away.push_notifications")
    assert not not_active("extension.presence_settings.away.ring_timeout")
    assert not not_active("extension.advanced")  # transport is active
    assert not not_active("extension.no_such_setting")


def test_settings_md_has_the_table() -> None:
    """docs/settings.md carries the generated table; `scripts/settings-effects.py` writes it."""
    text = (ROOT / "docs" / "settings.md").read_text()
    begin, end = "<!-- effects: begin -->\n", "<!-- effects: end -->"
    assert begin in text and end in text
    table = text.split(begin, 1)[1].split(end, 1)[0]
    assert table.strip() == markdown().strip(), (
        "docs/settings.md is not up to date with klapka.domain.effects: "
        "run .venv/bin/python scripts/settings-effects.py"
    )


def test_module_imports_only_the_domain() -> None:
    module = importlib.import_module("klapka.domain.effects")
    imports = re.findall(r"^(?:from|import) (\S+)", inspect.getsource(module), re.M)
    assert all(not m.startswith("klapka") or m.startswith("klapka.domain") for m in imports)


def test_the_demo_promises_only_what_works() -> None:
    """Each setting of the demo that nothing acts on yet says so at its key (on its line or
    in the comment just above)."""
    lines = (SRC / "demo" / "demo.yaml").read_text().splitlines()
    keys = {
        next(p for p in reversed(s.path.split(".")) if p != "*") for s in SETTINGS if not s.active
    }
    unmarked = []
    for i, line in enumerate(lines):
        for key in keys:
            said = any("not active yet" in x for x in lines[max(0, i - 3) : i + 1])
            if re.match(rf"\s*(- )?{key}:", line) and not said:
                unmarked.append(f"demo.yaml:{i + 1}: {key}")
    assert not unmarked, f"not active yet, but the demo does not say so: {unmarked}"
