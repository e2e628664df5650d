"""schemathesis, every phase (examples, coverage, fuzzing, stateful), against a real server
with an admin token: no server error, and every answer as the OpenAPI document says.

Bounded for CI (each phase a share of about 2 minutes, seeded, no shrinking) and marked
slow. A longer run of the same command, with every check, is how the schema is checked by
hand (a server started with ``klapka serve``, the token ``klapka init`` printed):

    .venv/bin/schemathesis run http://127.0.0.1:8080/api/v1/openapi.json \\
        --phases examples,coverage,fuzzing,stateful --checks all \\
        -H "Authorization: Bearer $TOKEN" --exclude-operation-id test_smtp ... --seed 1
    (with SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH=tests)
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from served import served

from klapka.services.pbx import Pbx

pytest.importorskip("schemathesis")

# Sending email (to an SMTP server of the fuzzer's choosing) reaches out to the network.
NETWORK = ("test_smtp", "send_welcome_email", "send_welcome_emails")
# Without a SIP core (not started here) these answer 503, as documented.
NEED_SIP_CORE = ("get_extension_registrations", "list_trunk_status", "get_trunk_status")
# The event stream stays open until the client leaves (tests/services/test_live_events.py).
LONG_LIVED = ("stream_events",)

# What every answer must satisfy. Not here: positive_data_acceptance and
# negative_data_rejection (the services check rules, such as "2-8 digits" or "a contact
# needs a name", that the OpenAPI document describes in words only; see docs/operations.md).
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "allow_header_conformance",
    "unsupported_method",
    "missing_required_header",
    "ignored_auth",
)

WORLD = """
extensions:
  - {number: "101", first_name: Jana, last_name: Nováková, email: jana@example.com}
  - {number: "102", first_name: Petr, last_name: Svoboda}
groups: [{name: Sales, members: ["101", "102"]}]
ring_groups: [{number: "600", members: ["101"]}]
contacts: [{first_name: Eva, company: Acme, numbers: [{number: "+420601111222"}]}]
"""


@pytest.fixture
def server(pbx: Pbx, given: Callable[[str], None]) -> Iterator[str]:
    given(WORLD)
    with served(pbx) as address:
        yield "http://{}:{}".format(*address)


# Each phase with its share of the time budget (seconds): the coverage phase alone would
# take minutes on a CI machine. Seeded, so a run repeats the same cases as far as it gets.
PHASES = (("examples,coverage", 60), ("fuzzing", 25), ("stateful", 25))
HOOKS = Path(__file__).parent.parent  # tests/schemathesis_hooks.py: audio bodies as bytes


@pytest.mark.slow
@pytest.mark.backend_independent  # the API's contract; both backends run every API test
@pytest.mark.parametrize(("phases", "seconds"), PHASES, ids=[p for p, _ in PHASES])
def test_schemathesis_finds_nothing(
    server: str, admin_token: str, tmp_path: Path, phases: str, seconds: int
) -> None:
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{server}/api/v1/openapi.json",
        f"--phases={phases}",
        f"--checks={','.join(CHECKS)}",
        f"--header=Authorization: Bearer {admin_token}",
        *(f"--exclude-operation-id={op}" for op in (*NETWORK, *NEED_SIP_CORE, *LONG_LIVED)),
        "--max-examples=5",
        f"--max-time={seconds}",
        "--seed=1",
        "--no-shrink",
        "--generation-database=none",
        # One worker: on CPython 3.11.7 two threads in Hypothesis's lambda descriptions
        # (ast.parse) trip "AST constructor recursion depth mismatch" (a runtime error).
        "--workers=1",
        "--request-timeout=30",
        "--no-color",
        "--warnings=off",
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
        "PYTHONPATH": os.pathsep.join([str(HOOKS), os.environ.get("PYTHONPATH", "")]),
        "NO_COLOR": "1",
    }
    run = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=seconds + 120
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
