"""Fixtures for the integrated loop: a store filled the way the robots fill it, a model
trained from it through the pipeline, and a real scoring service on loopback."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rpaml_pipeline.child_processes import ManagedProcess
from rpaml_pipeline.model_training import TrainingOutcome, train_from_store
from rpaml_pipeline.process import ProcessDefinition, load_process
from rpaml_pipeline.secrets_file import SERVICE_KEY, write_service_keys
from rpaml_pipeline.store import Store
from rpaml_sandbox.portal.generator import GeneratedClaim, generate_claims
from staged_claims import PROCESS_FILE, SEED, process_all, stage


@pytest.fixture(scope="session")
def process() -> ProcessDefinition:
    # The loop's tests follow the model's decisions from scoring to the receipt, so the
    # escalations are acted on directly; the review queue has its own tests (tests/review).
    return load_process(PROCESS_FILE).model_copy(update={"review": None})


@pytest.fixture(scope="session")
def claims() -> list[GeneratedClaim]:
    return generate_claims(SEED, open_claims=60, closed_claims=600)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.connect(f"sqlite:///{tmp_path / 'rpaml.db'}") as opened:
        yield opened


@pytest.fixture(scope="session")
def trained_registry(
    tmp_path_factory: pytest.TempPathFactory,
    process: ProcessDefinition,
    claims: list[GeneratedClaim],
) -> tuple[Path, TrainingOutcome]:
    """A registry with one champion trained from the closed claims through the pipeline."""
    root = tmp_path_factory.mktemp("registry-project")
    with Store.connect(f"sqlite:///{root / 'rpaml.db'}") as history_store:
        stage(history_store, process.name, [c for c in claims if c.status == "closed"], "hist")
        process_all(history_store, process)
        outcome = train_from_store(history_store, process, root / "registry")
    return root / "registry", outcome


@pytest.fixture(scope="session")
def service_key() -> str:
    """The API key the session's scoring service accepts (it starts with none other)."""
    return secrets.token_urlsafe(24)


@pytest.fixture(scope="session")
def service_url(
    tmp_path_factory: pytest.TempPathFactory,
    trained_registry: tuple[Path, TrainingOutcome],
    service_key: str,
) -> Iterator[str]:
    """A real scoring service process on a free loopback port, accepting ``service_key``
    through a keys file written as the demo writes it."""
    run_dir = tmp_path_factory.mktemp("service")
    registry, _ = trained_registry
    keys_file = write_service_keys(run_dir, {SERVICE_KEY: service_key})
    with ManagedProcess(
        "scoring service",
        [
            sys.executable,
            "-m",
            "rpaml_service",
            "--registry",
            str(registry),
            "--port",
            "0",
            "--ready-file",
            str(run_dir / "url"),
        ],
        ready_file=run_dir / "url",
        log_file=run_dir / "service.log",
        env={**os.environ, "RPAML_SERVICE_API_KEYS_FILE": str(keys_file)},
    ) as service:
        yield service.url
