"""Schema-driven fuzzing of ``/openapi.json`` (schemathesis): no input may cause a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.api.conftest import AppFactory

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 15


def test_no_input_to_any_operation_causes_a_server_error(make_app: AppFactory) -> None:
    # Driven by hand (not schemathesis' pytest plugin) so the app can come from a fixture.
    schema = schemathesis.openapi.from_asgi("/openapi.json", make_app())
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 7

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=[not_a_server_error])

        fuzz()
