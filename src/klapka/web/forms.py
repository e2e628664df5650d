"""Forms of the web UI: fields named by their setting path, errors shown at the field.

A ``Form`` remembers each field under the path the services use for it
(``presence_settings.away.ring_timeout``). Saving hands the values to a service as plain data;
when the service refuses them (``InvalidInput``, from the same Pydantic validators the API
uses), ``show_problems`` puts each problem at the field whose path is the longest prefix of
the problem's path, and the rest in the form's banner. Nothing is validated twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from nicegui import ui

from klapka.domain import effects
from klapka.domain.destinations import DestinationType
from klapka.domain.problems import InvalidInput
from klapka.web.i18n import Translator

OFF = "off"
# Destination types whose value the user types (the others are ``true``: own voicemail...).
_TYPED = {"extension", "external_number", "ring_group", "queue"}
DESTINATION_TYPES = [d.value for d in DestinationType if d not in (DestinationType.ACCEPT,)]


def _number(value: Any) -> Any:
    """A number input gives floats; whole numbers go to the services as ints."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class Field:
    """One input: how to read its value, and where to show its error."""

    def __init__(
        self,
        read: Callable[[], Any],
        show_error: Callable[[str | None], None],
    ) -> None:
        self.read = read
        self.show_error = show_error


class Form:
    def __init__(self, t: Translator, on_change: Callable[[], None] | None = None) -> None:
        self.t = t
        self.fields: dict[str, Field] = {}
        self.on_change = on_change
        # The object the paths are settings of ("extension"): a setting nothing acts on yet
        # (klapka.domain.effects) gets a "not active yet" badge at its field.
        self.root: str | None = None
        self.banner = ui.label("").classes("text-negative").props('role="alert"')
        self.banner.set_visibility(False)

    def _changed(self, *_args: Any) -> None:
        if self.on_change is not None:
            self.on_change()

    def _testid(self, path: str, suffix: str = "") -> str:
        return f'data-testid="field-{path}{suffix}"'

    def _not_active(self, path: str) -> bool:
        return self.root is not None and effects.not_active(f"{self.root}.{path}")

    def _mark(self, path: str, element: ui.element | None = None) -> None:
        """The badge of a setting nothing acts on yet: inside ``element`` (an input or a
        select) or where the field is being drawn."""
        if not self._not_active(path):
            return
        if element is None:
            not_active_badge(self.t, path)
        else:
            with element.add_slot("append"):
                not_active_badge(self.t, path)

    # --- fields ----------------------------------------------------------------------

    def text(
        self,
        path: str,
        label: str,
        value: Any,
        *,
        empty: Any = "",
        password: bool = False,
        hint: str | None = None,
    ) -> ui.input:
        element = ui.input(
            self.t(label),
            value="" if value is None else str(value),
            password=password,
            on_change=self._changed,
        ).props(self._testid(path) + " autocomplete=off")
        if hint:
            element.props(f'hint="{self.t(hint)}"')
        self._mark(path, element)

        def read() -> Any:
            text = (element.value or "").strip() if not password else element.value or ""
            return text if text else empty

        self.fields[path] = Field(read, lambda e: setattr(element, "error", e))
        return element

    def number(
        self, path: str, label: str, value: Any, *, lo: int | None = None, hi: int | None = None
    ) -> ui.number:
        element = ui.number(
            self.t(label), value=value, min=lo, max=hi, precision=0, on_change=self._changed
        ).props(self._testid(path))
        self._mark(path, element)
        self.fields[path] = Field(
            lambda: _number(element.value), lambda e: setattr(element, "error", e)
        )
        return element

    def switch(self, path: str, label: str, value: bool) -> ui.switch:
        with ui.column().classes("gap-0"):
            element = ui.switch(self.t(label), value=bool(value), on_change=self._changed).props(
                self._testid(path)
            )
            self._mark(path)
            error = ui.label("").classes("text-negative text-xs")
        error.set_visibility(False)

        def show(message: str | None) -> None:
            error.text = message or ""
            error.set_visibility(bool(message))

        self.fields[path] = Field(lambda: bool(element.value), show)
        return element

    def select(
        self,
        path: str,
        label: str,
        options: Sequence[str],
        value: Any,
        *,
        multiple: bool = False,
        empty: Any = None,
        labels: dict[str, str] | None = None,
    ) -> ui.select:
        """``labels``: the words shown for some options (translated), else the option."""
        labelled = {o: self.t((labels or {}).get(o, o)) for o in options}
        element = ui.select(
            labelled,
            label=self.t(label),
            value=value,
            multiple=multiple,
            on_change=self._changed,
        ).props(self._testid(path) + (" use-chips" if multiple else ""))
        element.classes("min-w-[14rem]")
        self._mark(path, element)

        def read() -> Any:
            v = element.value
            if multiple:
                return list(v or [])
            return v if v not in (None, "") else empty

        self.fields[path] = Field(read, lambda e: setattr(element, "error", e))
        return element

    def destination(self, path: str, label: str, value: Any) -> None:
        """A forwarding rule: off, or a destination (type + number where one is needed)."""
        kind, target = OFF, ""
        if isinstance(value, dict) and len(value) == 1:
            kind, raw = next(iter(value.items()))
            target = "" if raw is True else str(raw)
        options = {OFF: self.t("Off"), **{d: self.t(d) for d in DESTINATION_TYPES}}
        with ui.row().classes("items-start gap-2 no-wrap"):
            chooser = (
                ui.select(options, label=self.t(label), value=kind, on_change=self._changed)
                .props(self._testid(path, "-type"))
                .classes("min-w-[12rem]")
            )
            number = ui.input(self.t("Value"), value=target, on_change=self._changed).props(
                self._testid(path, "-value")
            )
            number.bind_visibility_from(chooser, "value", backward=lambda k: k in _TYPED)
            self._mark(path)

        def read() -> Any:
            k = chooser.value
            if k in (None, OFF):
                return False
            if k in _TYPED:
                return {k: (number.value or "").strip()}
            if k == "voicemail" and target and kind == "voicemail":
                return {"voicemail": target}  # another mailbox, kept as it was
            return {k: True}

        def show(message: str | None) -> None:
            (number if chooser.value in _TYPED else chooser).error = message
            if message is None:
                chooser.error = None
                number.error = None

        self.fields[path] = Field(read, show)

    # --- values and problems --------------------------------------------------------

    def values(self, under: str = "") -> dict[str, Any]:
        """The fields as nested data; ``under`` strips a common path prefix."""
        data: dict[str, Any] = {}
        prefix = f"{under}." if under else ""
        for path, f in self.fields.items():
            if prefix and not path.startswith(prefix):
                continue
            relative = path[len(prefix) :]
            value = f.read()
            if value is SKIP:
                continue
            container = data
            parts = relative.split(".")
            for part in parts[:-1]:
                container = container.setdefault(part, {})
            container[parts[-1]] = value
        return data

    def clear_problems(self) -> None:
        for f in self.fields.values():
            f.show_error(None)
        self.banner.text = ""
        self.banner.set_visibility(False)

    def show_problems(self, error: InvalidInput) -> None:
        """Each problem at its field (the longest path prefix), the others in the banner."""
        self.clear_problems()
        messages: dict[str, list[str]] = {}
        loose: list[str] = []
        for problem in error.problems:
            target = None
            for path in sorted(self.fields, key=len, reverse=True):
                if problem.path == path or problem.path.startswith((f"{path}.", f"{path}[")):
                    target = path
                    break
            if target is None:
                loose.append(str(problem))
            else:
                messages.setdefault(target, []).append(problem.rule)
        for path, rules in messages.items():
            self.fields[path].show_error("; ".join(rules))
        text = self.t("Fix the marked fields.") if messages else ""
        if loose:
            text = (text + " " if text else "") + "; ".join(loose)
        self.banner.text = text
        self.banner.set_visibility(bool(text))


def not_active_badge(t: Translator, path: str) -> None:
    """A visible "not active yet": the setting is stored, but nothing acts on it yet."""
    ui.badge(t("not active yet"), color="orange-9").props(
        f'outline data-testid="not-active-{path}"'
    ).tooltip(t("Stored, but nothing acts on this setting yet."))


def not_active_note(t: Translator, root: str) -> None:
    """Under a YAML editor or a whole tab: the settings of ``root`` (``trunk``,
    ``extension.phones``) nothing acts on yet, if any."""
    if effects.not_active(root):
        with ui.row().classes("items-center gap-2"):
            not_active_badge(t, root)
            ui.label(t("Stored, but nothing acts on these settings yet.")).classes(
                "text-sm text-grey-8"
            )
        return
    paths = effects.not_active_paths(root)
    if paths:
        with ui.row().classes("items-center gap-2"):
            not_active_badge(t, root)
            ui.label(", ".join(paths)).classes("text-sm text-grey-8 font-mono")


class _Skip:
    """A field value that is left out of the data (an empty password: keep the old one)."""


SKIP: Any = _Skip()
