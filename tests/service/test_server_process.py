"""The real server: ``python -m rpaml_service`` on a loopback port chosen by the kernel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from claims_registry import HIGH_RISK, LOW_RISK
from service_keys import API_KEYS, KEY

from rpaml_pipeline.scoring import ScoringClient, ScoringError, ScoringRejectedError

STARTUP_TIMEOUT = 30.0
# One worker runs all of this module, so under xdist only one server process starts.


def _service_env(**keys: str) -> dict[str, str]:
    """This environment without any RPAML_SERVICE_* setting, plus ``keys``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RPAML_SERVICE_")}
    return {**clean, **keys}


def _command(registry_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "rpaml_service", "--registry", str(registry_dir), *extra]


@pytest.fixture(scope="module")
def server(registry_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start the service as a subprocess, yield its base URL, stop it by its PID."""
    ready_file = tmp_path_factory.mktemp("server") / "service.url"
    process = subprocess.Popen(
        _command(
            registry_dir,
            *("--host", "127.0.0.1", "--port", "0", "--ready-file", str(ready_file)),
            *("--log-level", "warning"),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_service_env(RPAML_SERVICE_API_KEYS=json.dumps(API_KEYS)),
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not ready_file.exists():
            if process.poll() is not None:
                _, stderr = process.communicate()
                pytest.fail(f"service exited with {process.returncode}: {stderr}")
            if time.monotonic() > deadline:
                pytest.fail("service did not write its ready file in time")
            time.sleep(0.05)
        url = ready_file.read_text(encoding="utf-8").strip()
        yield url
    finally:
        if process.poll() is None:
            process.terminate()  # SIGTERM to this PID only: uvicorn shuts down gracefully
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    stdout, _ = process.communicate()
    assert f"SERVICE_URL={url}" in stdout
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the status names it.
    assert process.returncode in (0, -signal.SIGTERM)
    # The ready file goes with the server, so nobody reads a stale URL.
    assert not ready_file.exists()


def test_server_refuses_to_start_without_an_api_key(registry_dir: Path) -> None:
    # On loopback too: there is no open mode.
    done = subprocess.run(
        _command(registry_dir, "--host", "127.0.0.1", "--port", "0"),
        capture_output=True,
        text=True,
        timeout=STARTUP_TIMEOUT,
        env=_service_env(),
        check=False,
    )

    assert done.returncode == 2
    assert done.stderr.startswith("error: the scoring service needs at least one API key")
    assert "RPAML_SERVICE_API_KEYS_FILE" in done.stderr
    assert "SERVICE_URL" not in done.stdout


def test_server_is_ready_on_a_kernel_chosen_port(server: str) -> None:
    assert server.startswith("http://127.0.0.1:")
    assert not server.endswith(":0")

    anonymous = httpx.get(f"{server}/v1/health", timeout=5).json()
    health = httpx.get(f"{server}/v1/health", headers={"X-API-Key": KEY}, timeout=5).json()
    refused = httpx.get(f"{server}/v1/models", timeout=5)

    assert anonymous == {"status": "ok", "ready": True, "models": None}
    assert health["ready"] is True
    assert set(health["models"]) == {"claims_fraud", "claims_priority"}
    assert refused.status_code == 401


def test_pipeline_client_scores_through_the_real_server(server: str) -> None:
    items = [(f"CLM-{i}", HIGH_RISK if i % 2 else LOW_RISK) for i in range(7)]

    with ScoringClient(server, api_key=KEY, chunk_size=3) as client:
        results = client.score("claims_fraud", items)
        health = client.health()

    assert [r.id for r in results] == [item_id for item_id, _ in items]
    assert [r.decision for r in results] == ["approve", "reject"] * 3 + ["approve"]
    assert {(r.model_version, r.policy_version) for r in results} == {("1", "thresholds-1")}
    assert health["ready"] is True


def test_pipeline_client_reports_every_refused_field(server: str) -> None:
    bad = {**LOW_RISK, "amount": "lots", "channel": 3}
    items = [("a", LOW_RISK), ("b", bad), ("c", LOW_RISK), ("d", {**LOW_RISK, "extra": 1})]

    with (
        ScoringClient(server, api_key=KEY, chunk_size=2) as client,
        pytest.raises(ScoringRejectedError) as caught,
    ):
        client.score("claims_fraud", items)

    issues = [(i.index, i.id, i.field) for i in caught.value.issues]
    assert issues == [(1, "b", "amount"), (1, "b", "channel"), (3, "d", "extra")]
    assert caught.value.rejected_ids == ["b", "d"]
    # Both chunks were refused as a whole, so nothing was scored.
    assert caught.value.scored == []


def test_pipeline_client_bulk_path_matches_the_record_path(server: str) -> None:
    items = [(f"CLM-{i}", HIGH_RISK if i % 3 else LOW_RISK) for i in range(25)]
    bad = [("ok", LOW_RISK), ("bad", {**LOW_RISK, "amount": "lots"})]

    with ScoringClient(server, api_key=KEY, chunk_size=10, columnar=True) as bulk:
        by_columns = bulk.score("claims_fraud", items)
        with pytest.raises(ScoringRejectedError) as caught:
            bulk.score("claims_fraud", bad)
    with ScoringClient(server, api_key=KEY, chunk_size=10) as records:
        by_records = records.score("claims_fraud", items)

    assert by_columns == by_records
    assert [(i.id, i.field) for i in caught.value.issues] == [("bad", "amount")]


def test_pipeline_client_without_a_key_is_told_what_to_send(server: str) -> None:
    with ScoringClient(server, retries=0) as client, pytest.raises(ScoringError) as caught:
        client.score("claims_fraud", [("CLM-1", LOW_RISK)])

    assert caught.value.status_code == 401
    assert "missing API key: send it in the X-API-Key header" in str(caught.value)
