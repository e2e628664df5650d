"""Bad input to the call simulator: `klapka simulate` exits 2 with one line on stderr that
names the flag; the Python API raises InvalidInput naming the field. Nothing else is bad
input: a --from that is no extension is simply an external caller (docs/call-routing.md §10).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from klapka.domain.problems import InvalidInput
from klapka.services.directory.config import ConfigService
from klapka.services.directory.yamlfmt import load_yaml
from klapka.services.pbx import Pbx

CONFIG = """
version: 1
system: {timezone: Europe/Prague}
extensions:
  - {number: "101"}
  - {number: "102"}
"""

AT = "2027-03-01T10:00:00+01:00"

# (what is wrong, CLI arguments after `simulate`, the flag named, Python request, field named)
BAD_INPUT: list[tuple[str, list[str], str, dict[str, Any], str]] = [
    (
        "malformed --to",
        ["--from", "101", "--to", "abc"],
        "--to",
        {"from": "101", "to": "abc"},
        "to",
    ),
    (
        "malformed --from",
        ["--from", "10a1", "--to", "102"],
        "--from",
        {"from": "10a1", "to": "102"},
        "from",
    ),
    (
        "missing --to",
        ["--from", "101"],
        "--to",
        {"from": "101"},
        "to",
    ),
    (
        "unknown flag",
        ["--from", "101", "--to", "102", "--colour", "red"],
        "--colour",
        {"from": "101", "to": "102", "colour": "red"},
        "colour",
    ),
    (
        "impossible time",
        ["--from", "101", "--to", "102", "--at", "2027-02-30T10:00"],
        "--at",
        {"from": "101", "to": "102", "at": "2027-02-30T10:00"},
        "at",
    ),
    (
        "not a time",
        ["--from", "101", "--to", "102", "--at", "tomorrow"],
        "--at",
        {"from": "101", "to": "102", "at": "tomorrow"},
        "at",
    ),
    (
        "unknown call path",
        ["--from", "101", "--to", "102", "--path", "sideways"],
        "--path",
        {"from": "101", "to": "102", "path": "sideways"},
        "path",
    ),
    (
        "unknown endpoint class",
        ["--from", "101", "--to", "102", "--registered", "101=phone"],
        "--registered",
        {"from": "101", "to": "102", "registered": {"101": ["phone"]}},
        "registered",
    ),
    (
        "registered for an unknown extension",
        ["--from", "101", "--to", "102", "--registered", "199=desk"],
        "--registered",
        {"from": "101", "to": "102", "registered": {"199": ["desk"]}},
        "registered",
    ),
    (
        "registered without '='",
        ["--from", "101", "--to", "102", "--registered", "101"],
        "--registered",
        None,  # the Python API takes a mapping: no such shape
        "",
    ),
    (
        "in call: unknown extension",
        ["--from", "101", "--to", "102", "--in-call", "199"],
        "--in-call",
        {"from": "101", "to": "102", "in_call": ["199"]},
        "in_call",
    ),
    (
        "in call: unknown endpoint class",
        ["--from", "101", "--to", "102", "--in-call", "102:phone"],
        "--in-call",
        {"from": "101", "to": "102", "in_call": ["102:phone"]},
        "in_call",
    ),
    (
        "reject: unknown endpoint class",
        ["--from", "101", "--to", "102", "--reject", "102:phone"],
        "--reject",
        {"from": "101", "to": "102", "reject": ["102:phone"]},
        "reject",
    ),
]


@pytest.fixture
def configured_url(database_url: str) -> str:
    pbx = Pbx.from_url(database_url)
    try:
        ConfigService(pbx).apply(load_yaml(CONFIG))
    finally:
        pbx.close()
    return database_url


@pytest.fixture
def pbx(configured_url: str) -> Any:
    pbx = Pbx.from_url(configured_url)
    yield pbx
    pbx.close()


def klapka(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    beside_python = Path(sys.executable).parent / "klapka"
    found = str(beside_python) if beside_python.exists() else shutil.which("klapka")
    command = [found] if found else [sys.executable, "-m", "klapka.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLAPKA_")}
    env["KLAPKA_DATABASE_URL"] = url
    env["KLAPKA_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [*command, "simulate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "flag"), [(b[1], b[2]) for b in BAD_INPUT], ids=[b[0] for b in BAD_INPUT]
)
def test_bad_input_exits_2_with_one_line_naming_the_flag(
    configured_url: str, tmp_path: Path, args: list[str], flag: str
) -> None:
    run = klapka(configured_url, tmp_path, *args, "--json")
    assert run.returncode == 2, (run.stdout, run.stderr)
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert flag in lines[0], run.stderr
    assert run.stdout == ""


@pytest.mark.parametrize(
    ("request_", "field"),
    [(b[3], b[4]) for b in BAD_INPUT if b[3] is not None],
    ids=[b[0] for b in BAD_INPUT if b[3] is not None],
)
def test_bad_input_raises_invalid_input_naming_the_field(
    pbx: Pbx, request_: dict[str, Any], field: str
) -> None:
    from klapka.services.telephony.simulator import Simulator

    with pytest.raises(InvalidInput) as refused:
        Simulator(pbx).simulate(request_)
    roots = [p.path.split(".")[0].split("[")[0] for p in refused.value.problems]
    assert field in roots, [str(p) for p in refused.value.problems]


def test_a_caller_that_is_no_extension_is_an_external_caller(
    configured_url: str, tmp_path: Path, pbx: Pbx
) -> None:
    from klapka.services.telephony.simulator import Simulator

    run = klapka(configured_url, tmp_path, "--from", "199", "--to", "101", "--at", AT, "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["call"]["kind"] == "external"
    result = Simulator(pbx).simulate({"from": "199", "to": "101", "at": AT})
    assert result["call"]["kind"] == "external"
    assert Simulator(pbx).simulate({"from": "102", "to": "101", "at": AT})["call"]["kind"] == (
        "internal"
    )


def test_an_outcome_that_is_not_a_ring_is_no_error(configured_url: str, tmp_path: Path) -> None:
    # An unrouted DID ends the call (not found), but the simulation ran: exit 0.
    run = klapka(configured_url, tmp_path, "--from", "601111222", "--to", "+420111222333", "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["outcome"] == {"result": "hangup", "cause": "not_found"}
