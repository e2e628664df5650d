"""Every string the web UI shows has a Czech translation, and the language is the user's.

The strings are found in the UI's source: what it passes to the translator (``t("...")``),
the labels and hints of form fields, page titles, the menus and tabs, and the values of the
closed sets shown in words (presence statuses, destinations, ring targets...).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from klapka.domain.destinations import DestinationType
from klapka.domain.extension import AfterEmailing, AgentAutoSwitch, NewMessageEmail, Role
from klapka.domain.values import EndpointClass, PresenceStatus
from klapka.web.i18n import CZECH, ENGLISH, Translator, pick_language

WEB = Path(__file__).resolve().parents[2] / "src" / "klapka" / "web"
FORM_FIELDS = {"text", "number", "switch", "select", "destination"}
TITLED = {"open_page", "portal_page", "admin_page"}
SHOWN_ENUMS = (
    PresenceStatus,
    DestinationType,
    EndpointClass,
    AgentAutoSwitch,
    NewMessageEmail,
    AfterEmailing,
    Role,
)


def _text(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _callee(call: ast.Call) -> tuple[str | None, str]:
    """(receiver name or None, function name) of a call."""
    f = call.func
    if isinstance(f, ast.Name):
        return None, f.id
    if isinstance(f, ast.Attribute):
        receiver = f.value.id if isinstance(f.value, ast.Name) else None
        if isinstance(f.value, ast.Attribute):
            receiver = f.value.attr
        return receiver, f.attr
    return None, ""


def ui_strings() -> dict[str, str]:
    """Every string the UI translates, with where it is."""
    found: dict[str, str] = {}
    for path in sorted(WEB.glob("*.py")):
        if path.name == "i18n.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            where = f"{path.name}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call):
                receiver, name = _callee(node)
                texts: list[str | None] = []
                if name == "t" and node.args:
                    texts.append(_text(node.args[0]))
                elif name in FORM_FIELDS and receiver == "form" and len(node.args) > 1:
                    texts.append(_text(node.args[1]))
                    texts += [_text(k.value) for k in node.keywords if k.arg == "hint"]
                elif name in TITLED and len(node.args) > 1:
                    texts.append(_text(node.args[1]))
                for text in texts:
                    if text:
                        found.setdefault(text, where)
            elif isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name)
                and (target.id.endswith("_PAGES") or target.id in ("tabs_spec", "names"))
                for target in node.targets
            ):
                # Menus and tabs: (path, label, ...) tuples; rule names: {key: label}.
                for element in ast.walk(node.value):
                    if isinstance(element, ast.Tuple) and len(element.elts) > 1:
                        text = _text(element.elts[1])
                        if text:
                            found.setdefault(text, where)
                    if isinstance(element, ast.Dict):
                        for value in element.values:
                            text = _text(value)
                            if text:
                                found.setdefault(text, where)
    return found


def test_the_scan_finds_the_ui_strings() -> None:
    found = ui_strings()
    # A few from each way of showing a string, so the scan itself cannot go blind.
    for text in ("Sign in", "Ring timeout (seconds)", "Call simulator", "Presence", "No answer"):
        assert text in found, text
    assert len(found) > 150


def test_every_ui_string_has_a_czech_translation() -> None:
    missing = {text: where for text, where in ui_strings().items() if text not in CZECH}
    assert not missing, f"strings without a Czech translation: {missing}"


@pytest.mark.parametrize("enum", SHOWN_ENUMS, ids=lambda e: e.__name__)
def test_values_shown_in_words_have_both_languages(enum: type) -> None:
    values = {member.value for member in enum} - {"accept"}  # type: ignore[attr-defined]
    assert values <= set(CZECH), values - set(CZECH)
    assert values - {"admin", "user"} <= set(ENGLISH), values - set(ENGLISH)


def test_placeholders_survive_translation() -> None:
    cs = Translator("cs")
    assert cs("{first}–{last} of {total}", first=1, last=50, total=10000) == "1–50 z 10000"
    assert Translator("en")("Extension {number}", number="101") == "Extension 101"
    assert Translator("cs")("not in any catalog") == "not in any catalog"


def test_the_language_is_the_users_choice_then_the_browsers() -> None:
    assert pick_language("cs", "en-US,en;q=0.9") == "cs"
    assert pick_language("en", "cs-CZ,cs;q=0.9") == "en"
    assert pick_language(None, "cs-CZ,cs;q=0.9,en;q=0.8") == "cs"
    assert pick_language("xx", "de-DE,de;q=0.9") == "en"
    assert pick_language(None, None) == "en"
