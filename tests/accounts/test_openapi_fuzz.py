"""schemathesis against the OpenAPI schema, as an admin and as a user: no server error, and
no response that breaks the schema. Bounded: a few examples per operation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from accounts_world import token_client
from fastapi.testclient import TestClient

schemathesis = pytest.importorskip("schemathesis")
import schemathesis_hooks  # noqa: E402, F401  (greetings: audio bodies as bytes)

EXAMPLES = 4
# These reach out to the network (an SMTP server of the fuzzer's choosing): not here.
SKIP = {"test_smtp"}


def fuzz(app: Any, token: str) -> list[str]:
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.definition.raw.get("operationId") in SKIP:
            continue

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(headers=headers))
        def call(case: Any) -> None:
            case.call_and_validate(
                headers=headers, checks=[not_a_server_error, response_schema_conformance]
            )

        try:
            call()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:  # one line per broken operation, then carry on
            failures.append(f"{operation.label}: {describe(e)}")
    return failures


def describe(error: BaseException) -> str:
    """The gist of a schemathesis failure: each check that failed and its first lines."""
    parts = getattr(error, "exceptions", None) or [error]
    lines = []
    for part in parts:
        text = [line.strip() for line in str(part).splitlines() if line.strip()]
        lines.append(" / ".join(text[:4])[:400])
    return " | ".join(lines)


@pytest.mark.slow
@pytest.mark.backend_independent  # the API's contract; both backends run every API test
@pytest.mark.parametrize("persona", ["admin", "user"])
def test_no_operation_fails_or_breaks_its_schema(
    app: Any,
    admin_token: str,
    people: None,
    sign_in: Callable[..., Any],
    given: Callable[[str], None],
    persona: str,
) -> None:
    given("groups: [{name: Sales, members: ['101', '102']}]")
    if persona == "admin":
        token = admin_token
    else:
        jana: TestClient = sign_in("101").client
        made = jana.post("/api/v1/auth/tokens", json={"name": "fuzz"}).json()
        token = made["token"]
    failures = fuzz(app, token)
    assert not failures, "\n".join(failures)


__all__ = ["token_client"]
