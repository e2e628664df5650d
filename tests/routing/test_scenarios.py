"""The call-routing specification: every scenario in ``scenarios/*.yaml`` (see its README).

Each scenario applies its configuration document to a database, simulates one call and
compares the outcome and the ring steps exactly (the entries of one step ring at once, so
they are compared as a set), plus a few words the trace must contain. Every scenario runs
through the Python API; a representative subset (files 01 and 18 in full, and the first
scenario of every other file) also runs through ``klapka simulate --json``.

Scenarios with the same document share one database (the simulator changes nothing), so a
few dozen documents are applied instead of one per scenario.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from klapka.domain.document import parse_document
from klapka.services.directory.config import ConfigService
from klapka.services.directory.yamlfmt import load_yaml
from klapka.services.pbx import Pbx

SCENARIO_DIR = Path(__file__).parent / "scenarios"
CALL_FIELDS = ("from", "to", "at", "path", "registered", "in_call", "answer", "reject")
EXPECT_FIELDS = ("outcome", "steps", "trace_contains", "kind")
# Files whose every scenario also runs through the command line; of the other files, the
# first scenario does (a run costs about a second, mostly interpreter start-up).
CLI_FILES = ("01-unknown-disabled.yaml", "18-inbound.yaml")


# --- the scenarios -------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    file: str
    name: str
    position: int  # in the file, from 0
    config: Any
    call: Any
    expect: Any

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"

    @property
    def config_key(self) -> str:
        return json.dumps(self.config, sort_keys=True)

    def request(self) -> dict[str, Any]:
        """The call as the Python API and the HTTP API take it."""
        request: dict[str, Any] = {}
        for key in CALL_FIELDS:
            if key not in self.call:
                continue
            value = self.call[key]
            if key == "registered":
                value = {ext: list(classes or []) for ext, classes in value.items()}
            request[key] = copy.deepcopy(value)
        return request

    def cli_args(self) -> list[str]:
        """The call as ``klapka simulate`` flags."""
        call = self.call
        args = ["simulate", "--from", call["from"], "--to", call["to"]]
        if "at" in call:
            args += ["--at", call["at"]]
        if "path" in call:
            args += ["--path", call["path"]]
        for ext, classes in (call.get("registered") or {}).items():
            args += ["--registered", f"{ext}={','.join(classes or [])}"]
        for flag, key in (("--in-call", "in_call"), ("--answer", "answer"), ("--reject", "reject")):
            for value in call.get(key) or []:
                args += [flag, value]
        return [*args, "--json"]


def load_scenarios() -> list[Scenario]:
    scenarios = []
    for path in sorted(SCENARIO_DIR.glob("*.yaml")):
        data = load_yaml(path.read_text(encoding="utf-8"))
        for position, entry in enumerate(data["scenarios"]):
            scenarios.append(
                Scenario(
                    file=path.name,
                    name=entry["name"],
                    position=position,
                    config=entry.get("config", data.get("config")),
                    call=entry["call"],
                    expect=entry["expect"],
                )
            )
    return scenarios


SCENARIOS = load_scenarios()
CLI_SCENARIOS = [s for s in SCENARIOS if s.file in CLI_FILES or s.position == 0]


def scenario_id(scenario: Scenario) -> str:
    return scenario.id


def ring_entry_key(entry: Any) -> str:
    return json.dumps(entry, sort_keys=True)


def comparable(steps: Any, expected: bool = False) -> Any:
    """Steps with each ring list as a sorted set; expected timeouts as whole numbers."""
    if not isinstance(steps, list):
        return steps
    out = []
    for step in steps:
        if not isinstance(step, dict):
            out.append(step)
            continue
        step = dict(step)
        if isinstance(step.get("ring"), list):
            step["ring"] = sorted(step["ring"], key=ring_entry_key)
        if expected:
            step["timeout"] = int(step["timeout"])
        out.append(step)
    return out


def check(scenario: Scenario, result: dict[str, Any]) -> None:
    """The simulation's result against the scenario's expectation."""
    expect = scenario.expect
    trace = result.get("trace") or []
    explained = "trace:\n  " + "\n  ".join(str(line) for line in trace)
    actual = {"outcome": result.get("outcome"), "steps": comparable(result.get("steps"))}
    wanted = {"outcome": expect["outcome"], "steps": comparable(expect["steps"], expected=True)}
    if "kind" in expect:
        actual["kind"] = (result.get("call") or {}).get("kind")
        wanted["kind"] = expect["kind"]
    assert actual == wanted, explained
    text = "\n".join(str(line) for line in trace).lower()
    missing = [w for w in expect.get("trace_contains") or [] if str(w).lower() not in text]
    assert not missing, f"the trace does not mention {missing}; {explained}"


# --- databases: one per distinct configuration document -------------------------------------


class ScenarioDatabases:
    """Fresh migrated databases (copies of the session's template), one per document."""

    def __init__(self, template_url: str, cluster: Any, directory: Path) -> None:
        self._template_url = template_url
        self._cluster = cluster
        self._directory = directory
        self._urls: dict[str, str] = {}
        self._pbxs: dict[str, Pbx] = {}
        self._pg_names: list[str] = []
        self._numbers = itertools.count(1)

    def url(self, scenario: Scenario) -> str:
        key = scenario.config_key
        if key not in self._urls:
            url = self._new_database(next(self._numbers))
            pbx = Pbx.from_url(url)
            try:
                ConfigService(pbx).apply(copy.deepcopy(scenario.config))
            except BaseException:
                pbx.close()
                raise
            self._urls[key] = url
            self._pbxs[key] = pbx
        return self._urls[key]

    def pbx(self, scenario: Scenario) -> Pbx:
        self.url(scenario)
        return self._pbxs[scenario.config_key]

    def _new_database(self, n: int) -> str:
        if self._cluster is None:
            template = Path(self._template_url.removeprefix("sqlite:///"))
            path = self._directory / f"scenarios-{n}.db"
            shutil.copy(template, path)
            return f"sqlite:///{path}"
        name = f"scenarios_{os.getpid()}_{n}"
        self._cluster.create_database(name, template=make_url(self._template_url).database)
        self._pg_names.append(name)
        return str(self._cluster.url(name))

    def close(self) -> None:
        for pbx in self._pbxs.values():
            pbx.close()
        for name in self._pg_names:
            self._cluster.drop_database(name)


@pytest.fixture(scope="session")
def scenario_databases(
    _template_database_url: str, _pg_cluster: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ScenarioDatabases]:
    databases = ScenarioDatabases(
        _template_database_url, _pg_cluster, tmp_path_factory.mktemp("scenarios")
    )
    yield databases
    databases.close()


# --- the command line ----------------------------------------------------------------------


def klapka_command() -> list[str]:
    beside_python = Path(sys.executable).parent / "klapka"
    if beside_python.exists():
        return [str(beside_python)]
    found = shutil.which("klapka")
    return [found] if found else [sys.executable, "-m", "klapka.cli"]


def run_cli(scenario: Scenario, url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLAPKA_")}
    env["KLAPKA_DATABASE_URL"] = url
    env["KLAPKA_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [*klapka_command(), *scenario.cli_args()],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="session")
def cli_runs(
    request: pytest.FixtureRequest,
    scenario_databases: ScenarioDatabases,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Future[subprocess.CompletedProcess[str]]]]:
    """The selected CLI scenarios, started all at once (a run is mostly interpreter start-up)."""
    selected = [
        item.callspec.params["scenario"]  # type: ignore[attr-defined]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_scenario_through_the_cli"
    ]
    data_dir = tmp_path_factory.mktemp("cli-data")
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        runs: dict[str, Future[subprocess.CompletedProcess[str]]] = {}
        for s in selected:
            try:
                url = scenario_databases.url(s)
            except Exception as e:  # the scenario's own test reports it
                failed: Future[subprocess.CompletedProcess[str]] = Future()
                failed.set_exception(e)
                runs[s.id] = failed
                continue
            runs[s.id] = pool.submit(run_cli, s, url, data_dir)
        yield runs
        for future in runs.values():
            future.cancel()


# --- the tests -----------------------------------------------------------------------------


def test_the_suite_has_enough_scenarios() -> None:
    assert len(SCENARIOS) >= 85
    assert len({s.id for s in SCENARIOS}) == len(SCENARIOS), "scenario names repeat in a file"


@pytest.mark.parametrize("path", sorted(SCENARIO_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_every_scenario_is_well_formed(path: Path) -> None:
    data = load_yaml(path.read_text(encoding="utf-8"))
    assert set(data) <= {"config", "scenarios"}
    for entry in data["scenarios"]:
        where = f"{path.name}::{entry.get('name')}"
        assert set(entry) <= {"name", "config", "call", "expect"}, where
        assert set(entry["call"]) <= set(CALL_FIELDS), where
        assert {"from", "to"} <= set(entry["call"]), where
        assert set(entry["expect"]) <= set(EXPECT_FIELDS), where
        assert {"outcome", "steps"} <= set(entry["expect"]), where
        for step in entry["expect"]["steps"]:
            assert set(step) == {"ring", "timeout", "for"} and step["ring"], where
        parse_document(copy.deepcopy(entry.get("config", data.get("config"))))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_scenario_through_the_python_api(
    scenario: Scenario, scenario_databases: ScenarioDatabases
) -> None:
    from klapka.services.telephony.simulator import Simulator

    pbx = scenario_databases.pbx(scenario)
    result = Simulator(pbx).simulate(scenario.request())
    check(scenario, result)


@pytest.mark.backend_independent  # the Python API pass covers loading into PostgreSQL
@pytest.mark.parametrize("scenario", CLI_SCENARIOS, ids=scenario_id)
def test_scenario_through_the_cli(
    scenario: Scenario, cli_runs: dict[str, Future[subprocess.CompletedProcess[str]]]
) -> None:
    run = cli_runs[scenario.id].result()
    assert run.returncode == 0, run.stderr
    check(scenario, json.loads(run.stdout))
