"""One projection (issue 13): the routing view is the validated domain model, projected.

For random valid settings of extensions, groups, ring groups, queues, trunks, routes,
business hours and system settings:

(a) storing them the way the store writes them (``values_of``: the stored form, defaults
    and secrets left out) and reading the view back with ``load_directory`` gives exactly
    the projection of the models themselves (``project_directory``): no default is stated
    anywhere but in the domain model;
(b) the snapshot's codec gives every view back: ``from_json(to_json(d)) == d`` through JSON
    text, extension by extension too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from sqlalchemy import delete, insert

from klapka.domain.directory import (
    BusinessHours,
    Group,
    InboundRoute,
    OutboundRoute,
    Queue,
    RingGroup,
    System,
    Trunk,
)
from klapka.domain.extension import SECRET_FIELDS, Extension
from klapka.domain.references import Kind
from klapka.routing.model import STATUSES, Directory
from klapka.routing.snapshot import (
    extension_from_json,
    extension_to_json,
    from_json,
    to_json,
)
from klapka.services.pbx import Pbx
from klapka.store.directory_view import load_directory, project_directory
from klapka.store.repository import SPECS, Repository, values_of

EXTENSIONS = ("101", "102", "103", "104")
CLASSES = ("desk", "mobile_app", "desktop_app", "web")
OTHER_STATUSES = tuple(s for s in STATUSES if s != "do_not_disturb")

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# --- strategies: settings as an admin writes them ---------------------------------------------

DESTINATIONS = (
    {"voicemail": True},
    {"hangup": True},
    {"play_greeting_then_hangup": True},
    {"mobile_number": True},
    {"external_number": "+420777000111"},
    {"ring_group": "600"},
    {"queue": "700"},
    *({"extension": n} for n in EXTENSIONS),
    *({"voicemail": n} for n in EXTENSIONS),
)
# A group's failover or a route's destination: no own mailbox or mobile.
GROUP_DESTINATIONS = tuple(
    d for d in DESTINATIONS if d.get("voicemail") is not True and "mobile_number" not in d
)


def optional(keys: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A mapping with any subset of ``keys`` (a setting not given keeps its default)."""
    return st.fixed_dictionaries({}, optional=keys)


forwards = st.sampled_from((False, *DESTINATIONS))
forward_rules = optional({"always": forwards, "no_answer": forwards, "busy": forwards})


@st.composite
def status_settings(draw: st.DrawFn) -> dict[str, Any]:
    first = draw(st.lists(st.sampled_from(CLASSES), unique=True))
    rest = [c for c in CLASSES if c not in first]
    second = draw(st.lists(st.sampled_from(rest), unique=True)) if rest else []
    data = draw(
        optional(
            {
                "internal": forward_rules,
                "external": forward_rules,
                "ring_timeout": st.sampled_from([5, 20, 60]),
                "ring_mobile": optional(
                    {"enabled": st.booleans(), "prefix": st.sampled_from(["", "0"])}
                ),
                "push_notifications": st.booleans(),
                "agent_auto_switch": st.sampled_from(["no_action", "login", "logout", "pause"]),
            }
        )
    )
    if draw(st.booleans()):
        data["ring_first"] = first
    if draw(st.booleans()):
        data["ring_second"] = second
    return data


dnd_settings = optional(
    {
        "internal": optional({"always": forwards}),
        "external": optional({"always": forwards}),
        "agent_auto_switch": st.sampled_from(["no_action", "logout", "pause"]),
    }
)
presence_settings = optional(
    {**{s: status_settings() for s in OTHER_STATUSES}, "do_not_disturb": dnd_settings}
)
statuses = st.sampled_from(STATUSES)
features = optional(
    {
        "all_busy": st.booleans(),
        "all_reject": st.booleans(),
        "presence_schedule": st.none()
        | optional(
            {
                "business_hours": statuses,
                "break_hours": statuses,
                "holidays": statuses,
                "outside_business_hours": statuses,
                "timezone": st.sampled_from([None, "Europe/Prague"]),
            }
        ),
        "boss": st.none()
        | st.fixed_dictionaries(
            {"secretary": st.sampled_from([{"extension": "101"}, {"ring_group": "600"}])},
            optional={"call_type": st.sampled_from(["internal", "external", "all"])},
        ),
        "caller_rules": st.lists(
            st.fixed_dictionaries(
                {
                    "pattern": st.sampled_from(["0090.", "601111222", "X."]),
                    "action": st.sampled_from([{"accept": True}, *DESTINATIONS]),
                }
            ),
            max_size=2,
        ),
    }
)
security = optional(
    {
        "outbound_calls": st.booleans(),
        "outbound_outside_business_hours": st.booleans(),
        "international_calls": st.booleans(),
        "frequency_limit": optional(
            {
                "enabled": st.booleans(),
                "calls": st.sampled_from([1, 5, 100]),
                "period_seconds": st.sampled_from([1, 60]),
            }
        ),
    }
)


@st.composite
def extension_settings(draw: st.DrawFn, number: str) -> dict[str, Any]:
    data = draw(
        optional(
            {
                "enabled": st.booleans(),
                "first_name": st.sampled_from(["", "Ann"]),
                "last_name": st.sampled_from(["", "Novak"]),
                "mobile": st.sampled_from(["", "+420 777 111 222"]),
                "caller_id_number": st.sampled_from([None, "+420222333444"]),
                "presence": statuses,
                "trunk_caller_ids": st.sampled_from([{}, {"t1": "+420222333555"}]),
                "sip_password": st.just("Secret12345678"),  # a secret: stored apart
                "presence_settings": presence_settings,
                "voicemail": optional({"enabled": st.booleans(), "pin": st.just("4321")}),
                "features": features,
                "security": security,
            }
        )
    )
    return {"number": number, **data}


def valid(model: type[BaseModel], data: dict[str, Any]) -> Any:
    """``data`` as a ``model``; settings the model refuses are not a case (assume)."""
    try:
        return model.model_validate(data)
    except ValidationError:
        assume(False)


members = st.lists(st.sampled_from(EXTENSIONS), unique=True, max_size=3)
group_destinations = st.sampled_from(GROUP_DESTINATIONS)


@st.composite
def directories(draw: st.DrawFn) -> dict[str, Any]:
    """Validated domain objects of a whole directory, and each extension's presence time."""
    numbers = draw(st.lists(st.sampled_from(EXTENSIONS), unique=True, min_size=1))
    extensions = [valid(Extension, draw(extension_settings(n))) for n in numbers]
    when = st.none() | st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)
    )
    changed = {n: draw(when) for n in numbers}
    groups = [
        valid(Group, {"name": name, "members": draw(members)})
        for name in draw(st.lists(st.sampled_from(["sales", "support"]), unique=True))
    ]
    ring_groups = [
        valid(
            RingGroup,
            {
                "number": "600",
                "members": draw(members),
                **draw(
                    optional(
                        {
                            "name": st.sampled_from(["", "Front desk"]),
                            "strategy": st.sampled_from(["ring_all", "sequential"]),
                            "ring_timeout": st.sampled_from([10, 30]),
                            "failover": group_destinations,
                        }
                    )
                ),
            },
        )
        for _ in range(draw(st.integers(0, 1)))
    ]
    queues = [
        valid(
            Queue,
            {
                "number": "700",
                "members": draw(members),
                **draw(
                    optional(
                        {
                            "name": st.sampled_from(["", "Support"]),
                            "timeout": st.sampled_from([5, 60, 3600]),
                            "failover": group_destinations,
                        }
                    )
                ),
            },
        )
        for _ in range(draw(st.integers(0, 1)))
    ]
    trunks = [
        valid(
            Trunk,
            {
                "name": name,
                "type": "register",
                "host": "sip.example.net",
                "username": "user",
                "password": "secret",  # a secret: stored apart
                **draw(
                    optional(
                        {"enabled": st.booleans(), "caller_id": st.sampled_from(["+420222333666"])}
                    )
                ),
            },
        )
        for name in draw(st.lists(st.sampled_from(["t1", "t2"]), unique=True))
    ]
    inbound = [
        valid(
            InboundRoute,
            {
                "name": name,
                "did": did,
                "destination": draw(group_destinations),
                **draw(optional({"outside_business_hours": group_destinations})),
            },
        )
        for name, did in draw(
            st.lists(st.sampled_from([("main", "5000"), ("rest", "50X.")]), unique=True)
        )
    ]
    outbound = [
        valid(
            OutboundRoute,
            {
                "name": name,
                "patterns": draw(st.lists(st.sampled_from(["X.", "+X.", "112"]), min_size=1)),
                "trunks": ["t1"],
                **draw(
                    optional(
                        {
                            "enabled": st.booleans(),
                            "strip": st.sampled_from([0, 1]),
                            "prepend": st.sampled_from(["", "9"]),
                            "extensions": members,
                            "groups": st.sampled_from([[], ["sales"]]),
                            "business_hours_only": st.booleans(),
                            "caller_id": st.sampled_from(["+420222333777"]),
                        }
                    )
                ),
            },
        )
        for name in draw(st.lists(st.sampled_from(["national", "world"]), unique=True))
    ]
    system = valid(
        System,
        draw(
            optional(
                {
                    "timezone": st.sampled_from(["UTC", "Europe/Prague"]),
                    "country_code": st.sampled_from(["", "420"]),
                    "international_prefix": st.sampled_from(["00", "011"]),
                    "emergency_numbers": st.sampled_from([["112"], ["112", "150"], []]),
                }
            )
        ),
    )
    hours = valid(
        BusinessHours,
        draw(
            optional(
                {
                    "timezone": st.sampled_from([None, "Europe/Prague"]),
                    "weekly": st.sampled_from([{}, {"mon": ["08:00-12:00", "13:00-17:00"]}]),
                    "breaks": st.sampled_from([{}, {"mon": ["12:00-12:30"]}]),
                    "holidays": st.sampled_from(
                        [
                            [],
                            [
                                {"date": "2027-12-24", "end_date": "2027-12-26"},
                                {"date": "2027-01-01", "name": "New Year"},
                            ],
                        ]
                    ),
                }
            )
        ),
    )
    return {
        "extensions": extensions,
        "groups": groups,
        "ring_groups": ring_groups,
        "queues": queues,
        "trunks": trunks,
        "inbound_routes": inbound,
        "outbound_routes": outbound,
        "business_hours": hours,
        "system": system,
        "presence_changed_at": changed,
    }


# --- (a) the stored form projects to the same view as the model ------------------------------

KINDS = (
    ("extensions", Kind.EXTENSION),
    ("groups", Kind.GROUP),
    ("ring_groups", Kind.RING_GROUP),
    ("queues", Kind.QUEUE),
    ("trunks", Kind.TRUNK),
    ("inbound_routes", Kind.INBOUND_ROUTE),
    ("outbound_routes", Kind.OUTBOUND_ROUTE),
)


def secrets_of(kind: Kind, obj: BaseModel) -> dict[str, Any]:
    """The secrets kept apart from the settings (as the directory writer keeps them)."""
    data = obj.model_dump(mode="json")
    found = {}
    for path in SPECS[kind].secret_paths:
        head, _, leaf = path.rpartition(".")
        container = data.get(head, {}) if head else data
        if container.get(leaf) is not None:
            found[path] = container[leaf]
    return found


def store(pbx: Pbx, d: dict[str, Any]) -> None:
    """Replace the directory by ``d``'s objects, each row as the store writes it (its
    reference rows left out: the view does not read them)."""
    with pbx.tx() as repo:
        conn = repo.conn
        for _, kind in reversed(KINDS):
            conn.execute(delete(SPECS[kind].table))
        for field, kind in KINDS:
            spec = SPECS[kind]
            for position, obj in enumerate(d[field], 1):
                values = values_of(kind, obj, secrets_of(kind, obj))
                if spec.ordered:
                    values["position"] = position
                if kind is Kind.EXTENSION:
                    values["presence_changed_at"] = d["presence_changed_at"][obj.number]
                conn.execute(insert(spec.table).values(**values))
        Repository(conn).save_system(d["system"], {}, d["business_hours"])


@pytest.fixture
def pbx(database_url: str) -> Iterator[Pbx]:
    pbx = Pbx.from_url(database_url)
    yield pbx
    pbx.close()


def test_secrets_are_stored_apart() -> None:
    """The cases below exercise the secrets' split (the view needs none of them)."""
    assert "sip_password" in SECRET_FIELDS
    assert "voicemail.pin" in SPECS[Kind.EXTENSION].secret_paths
    assert "password" in SPECS[Kind.TRUNK].secret_paths


@SETTINGS
@given(directories())
def test_the_stored_form_projects_to_the_view_of_the_model(pbx: Pbx, d: dict[str, Any]) -> None:
    store(pbx, d)
    expected = project_directory(**d)
    with pbx.tx() as repo:
        loaded = load_directory(repo.conn)
        assert loaded == expected
        # Read again (views kept for unchanged rows) and one by one: the same views.
        assert load_directory(repo.conn) == expected
        for number, view in expected.extensions.items():
            assert load_directory(repo.conn, [number]).extensions == {number: view}
    for view in expected.extensions.values():
        assert set(view.statuses) == set(STATUSES), "every status is filled in"


# --- (b) the snapshot codec gives every view back --------------------------------------------


@pytest.mark.backend_independent
@SETTINGS
@given(directories())
def test_the_snapshot_codec_gives_the_directory_back(d: dict[str, Any]) -> None:
    directory = project_directory(**d)
    text = json.dumps(to_json(directory))
    assert from_json(json.loads(text)) == directory
    for view in directory.extensions.values():
        again = extension_from_json(json.loads(json.dumps(extension_to_json(view))))
        assert again == view
    # As Kamailio's reader does it: the directory without extensions, then each extension.
    rest = json.loads(json.dumps(to_json(Directory(**{**vars(directory), "extensions": {}}))))
    assert from_json({**rest, "extensions": []}) == Directory(
        **{**vars(directory), "extensions": {}}
    )
