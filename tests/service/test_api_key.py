"""API keys: hashed, sent in X-API-Key, with score and admin scopes; health stays open."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from claims_registry import LOW_RISK
from fastapi.testclient import TestClient
from pydantic import SecretStr

from rpaml_service.app import create_app
from rpaml_service.auth import digest, main, new_key_line
from rpaml_service.errors import ConfigurationError
from rpaml_service.settings import ServiceSettings

BODY = {"records": [{"features": LOW_RISK}]}
SCORE = "/v1/models/claims_fraud/score"


@pytest.fixture(scope="module")
def keyed_client(
    registry_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    keys_file = tmp_path_factory.mktemp("secrets") / "service-keys.env"
    keys_file.write_text(f"# name:scopes:sha256\nops:admin:{digest('ops-key')}\n", encoding="utf-8")
    settings = ServiceSettings(
        registry_dir=registry_dir,
        api_keys=[f"pipeline:score:{digest('pipe-key')}"],
        api_keys_file=keys_file,
        api_key=SecretStr("s3cret"),
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_every_route_but_health_needs_a_known_key(keyed_client: TestClient) -> None:
    missing = keyed_client.post(SCORE, json=BODY)
    wrong = keyed_client.get("/v1/models", headers={"X-API-Key": "guess"})
    no_metrics = keyed_client.get("/metrics")

    assert missing.status_code == 401
    assert missing.json() == {"detail": "missing API key: send it in the X-API-Key header"}
    assert wrong.status_code == 401 and "guess" not in wrong.text
    assert no_metrics.status_code == 401
    assert keyed_client.get("/v1/health").json()["ready"] is True


def test_scopes_separate_scoring_from_administration(keyed_client: TestClient) -> None:
    pipeline = {"X-API-Key": "pipe-key"}
    ops = {"X-API-Key": "ops-key"}

    assert keyed_client.post(SCORE, json=BODY, headers=pipeline).status_code == 200
    refused = keyed_client.get("/metrics", headers=pipeline)
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "API key 'pipeline' lacks the 'admin' scope this route needs"
    }
    assert keyed_client.post(SCORE, json=BODY, headers=ops).status_code == 403
    assert keyed_client.get("/metrics", headers=ops).status_code == 200
    # The legacy single key has every scope.
    assert keyed_client.post(SCORE, json=BODY, headers={"X-API-Key": "s3cret"}).status_code == 200


def test_malformed_key_entries_are_refused_at_startup(registry_dir: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown or no scopes"):
        create_app(ServiceSettings(registry_dir=registry_dir, api_keys=["x:root:" + "0" * 64]))
    with pytest.raises(ConfigurationError, match="64-digit hex"):
        create_app(ServiceSettings(registry_dir=registry_dir, api_keys=["x:score:abc"]))


def test_new_keys_are_random_and_only_their_digest_is_stored(
    capsys: pytest.CaptureFixture[str],
) -> None:
    key, line = new_key_line("robot", "score")
    assert line == f"robot:score:{digest(key)}" and key not in line
    assert main(["robot", "score"]) == 0
    assert "KEYS_FILE_LINE=robot:score:" in capsys.readouterr().out
