"""Property-based API tests from the OpenAPI schema: no 5xx, every answer fits the schema.

Runs against a real uvicorn server (lifespan run, models loaded), with a key holding
both scopes, and a bounded number of examples per operation. The schema is read with
the key too: it is not served without one.

Random model names would only ever reach the 404 of an unknown model. The service's
document declares the served models as examples of the ``{name}`` path parameter, with
a body per model that fits its feature schema; every operation is exercised three ways:

* its declared examples (schemathesis' examples phase): every served model, valid body;
* generated cases, into which schemathesis mixes the declared examples;
* generated cases with ``{name}`` pinned to each served model, so generated bodies meet
  the real models' validation and scoring.

A record's features are an open JSON object in the document: each model has its own
feature schema (``GET /v1/models/{name}``), checked when scoring. So a generated body
that fits the document may still be refused with the documented 422 by the model it
reaches; on the scoring routes, and only there, 422 counts as an accepted answer to a
schema-valid request (every other check, the response's shape included, still holds).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from live_server import LiveServer
from schemathesis.config import SchemathesisConfig
from service_keys import HEADERS, keyed_settings

SERVED = ("claims_fraud", "claims_priority")
MAX_EXAMPLES = 12
CONFIG = SchemathesisConfig.from_dict(
    {
        "operations": [
            {
                "include-tag": "scoring",
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]
                    }
                },
            }
        ]
    }
)


@pytest.fixture(scope="module")
def live_url(registry_dir: Path) -> Iterator[str]:
    with LiveServer(keyed_settings(registry_dir=registry_dir, reload_interval=0)) as url:
        yield url


def _run(strategy: st.SearchStrategy[Any], statuses: Counter[int], examples: int) -> None:
    """Send every drawn case with the key and check it (5xx, status, schema, ...)."""

    @given(case=strategy)
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        response = case.call_and_validate(headers=HEADERS)
        statuses[response.status_code] += 1

    check()


def test_api_conforms_to_its_schema(live_url: str) -> None:
    # Operations are driven with Hypothesis directly: schemathesis' own pytest plugin
    # does not support this pytest release.
    api = schemathesis.openapi.from_url(f"{live_url}/openapi.json", config=CONFIG, headers=HEADERS)
    by_operation: dict[str, Counter[int]] = {}
    reached_a_model: dict[str, Counter[int]] = {}
    for result in api.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        statuses = by_operation[label] = Counter()
        examples = operation.get_strategies_from_examples()
        if examples:
            _run(st.one_of(examples), statuses, examples=2 * len(examples))
        _run(operation.as_strategy(), statuses, MAX_EXAMPLES)
        if "{name}" in operation.path:
            pinned = reached_a_model[label] = Counter()
            for name in SERVED:
                strategy = operation.as_strategy(path_parameters={"name": name})
                _run(strategy, pinned, MAX_EXAMPLES // 2)
            statuses.update(pinned)

    assert "POST /v1/models/{name}/score" in by_operation and len(by_operation) == 8
    for label, pinned in reached_a_model.items():
        statuses = by_operation[label]
        # The served models were reached in a good share of the cases (about two thirds
        # in practice; the pinned cases alone make 40%), and answered them: the scoring
        # routes scored the valid example bodies (200) and refused most generated ones
        # with 422, whose shape the checks compared with the schema.
        assert pinned and 404 not in pinned, (label, pinned)
        assert statuses.total() - statuses[404] >= 0.4 * statuses.total(), (label, statuses)
        assert statuses[200] > 0, (label, statuses)
