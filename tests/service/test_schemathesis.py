"""Property-based API tests from the OpenAPI schema: no 5xx, every answer fits the schema.

Runs against a real uvicorn server (lifespan run, models loaded), with a key holding
both scopes, and a small bounded number of examples per operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from live_server import LiveServer

from rpaml_service.auth import digest
from rpaml_service.settings import ServiceSettings

KEY = "schemathesis-key"


@pytest.fixture(scope="module")
def live_url(registry_dir: Path) -> Iterator[str]:
    settings = ServiceSettings(
        registry_dir=registry_dir,
        api_keys=[f"tester:score,admin:{digest(KEY)}"],
        reload_interval=0,
    )
    with LiveServer(settings) as url:
        yield url


def test_api_conforms_to_its_schema(live_url: str) -> None:
    # Operations are driven with Hypothesis directly: schemathesis' own pytest plugin
    # does not support this pytest release.
    api = schemathesis.openapi.from_url(f"{live_url}/openapi.json")
    checked = []
    for result in api.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(headers={"X-API-Key": KEY})

        check()
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert "POST /v1/models/{name}/score" in checked and len(checked) == 8
