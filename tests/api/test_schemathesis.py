"""Schemathesis over the gateway's OpenAPI: generated requests to every operation, signed in as a
maker of Leuven (so writes reach validation and the chain), and not one 5xx answer."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from api.main import create_app
from api.passkeys import PasskeyService
from tests.api.test_writes import Gateway, gw  # noqa: F401  (the module-scoped gateway fixture)

pytestmark = pytest.mark.anvil

EXAMPLES = 40


def test_no_server_errors(gw: Gateway) -> None:  # noqa: F811
    # The pages' passkey sign-in too (its routes answer 503 on a gateway without it).
    gw.state.passkeys = PasskeyService(gw.state.store, "http://localhost:8000")
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(gw.state))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    headers = {"X-API-Key": gw.keys["alice"]}
    tried: dict[str, int] = {}

    def check(operation: Any) -> None:
        label = operation.label

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: Any) -> None:
            response = case.call(headers=headers)
            if label == "GET /api/health" and response.status_code == 503:
                # Health's documented answer while no supervised follower reports (this
                # gateway's index is followed by a plain thread): a verdict, not a fault.
                assert response.json()["error"]["code"] == "unavailable"
            else:
                case.validate_response(response, checks=[not_a_server_error])
                assert response.status_code < 500, (
                    f"{label}: {response.status_code} {response.text}"
                )
            tried[label] = tried.get(label, 0) + 1

        run()

    for operation in operations:
        check(operation)
    assert len(tried) == len(operations)
