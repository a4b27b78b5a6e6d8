"""Fixtures for the integrated loop: a store filled the way the robots fill it, a model
trained from it through the pipeline, and a real scoring service on loopback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from rpaml_pipeline.child_processes import ManagedProcess
from rpaml_pipeline.model_training import TrainingOutcome, train_from_store
from rpaml_pipeline.process import ProcessDefinition, load_process
from rpaml_pipeline.runner import process_collected
from rpaml_pipeline.store import IncomingRecord, Store
from rpaml_sandbox.portal.display import display_values
from rpaml_sandbox.portal.generator import GeneratedClaim, generate_claims

PROJECT = Path(__file__).resolve().parents[2]
PROCESS_FILE = PROJECT / "pipeline" / "processes" / "claims_triage.yaml"
SEED = 11


def screen_row(claim: GeneratedClaim) -> dict[str, str]:
    """The raw strings a robot reads for ``claim`` (list page + detail page or export)."""
    shown = asdict(display_values(claim, SEED))
    row = {"claim_id": claim.claim_id, "status": claim.status, **shown}
    if claim.outcome is not None:
        row["outcome"] = claim.outcome
    else:
        row.pop("closed_date")
    return row


def stage(store: Store, process: str, claims: list[GeneratedClaim], source: str) -> str:
    """Ingest ``claims`` as a robot run would; return the run id."""
    run_id = store.start_run(process, "collect", robot=source)
    store.ingest(
        process,
        [
            IncomingRecord(
                natural_key=claim.claim_id,
                payload=screen_row(claim),
                source=f"robot:{source}",
                source_location=f"http://portal.test/claims/{claim.claim_id}",
            )
            for claim in claims
        ],
        run_id=run_id,
    )
    store.finish_run(run_id, "succeeded")
    return run_id


@pytest.fixture(scope="session")
def process() -> ProcessDefinition:
    return load_process(PROCESS_FILE)


@pytest.fixture(scope="session")
def claims() -> list[GeneratedClaim]:
    return generate_claims(SEED, open_claims=60, closed_claims=600)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.connect(f"sqlite:///{tmp_path / 'rpaml.db'}") as opened:
        yield opened


def process_all(store: Store, process: ProcessDefinition) -> None:
    run_id = store.start_run(process.name, "process")
    process_collected(store, process, run_id)
    store.finish_run(run_id, "succeeded")


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
def service_url(
    tmp_path_factory: pytest.TempPathFactory, trained_registry: tuple[Path, TrainingOutcome]
) -> Iterator[str]:
    """A real scoring service process on a free loopback port."""
    run_dir = tmp_path_factory.mktemp("service")
    registry, _ = trained_registry
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
    ) as service:
        yield service.url
