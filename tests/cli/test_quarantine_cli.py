"""``rpaml quarantine``: the batch gate on the shipped process file and sandbox claims, and a
person releasing the held batch from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rpaml_pipeline.cli import main
from rpaml_pipeline.store import Store
from rpaml_sandbox.portal.generator import generate_claims
from staged_claims import stage

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    data = tmp_path / "data"
    data.mkdir()
    return {
        "RPAML_PROJECT_DIR": str(PROJECT),
        "RPAML_DATA_DIR": str(data),
        "RPAML_REGISTRY_DIR": str(tmp_path / "registry"),
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_a_first_collection_in_cents_is_held_and_released_by_a_person(
    env: dict[str, str],
) -> None:
    url = f"sqlite:///{env['RPAML_DATA_DIR']}/rpaml.db"
    history = list(generate_claims(5, open_claims=0, closed_claims=300))
    usual = list(generate_claims(5, open_claims=30, closed_claims=0))
    later = list(generate_claims(6, open_claims=30, closed_claims=0))
    with Store.connect(url) as store:
        stage(store, "claims_triage", history, "download_history")
    assert run(env, "pipeline", "run")[0] == 0

    # The first collection, judged against the export: the portal's usual claims pass.
    with Store.connect(url) as store:
        stage(store, "claims_triage", usual, "collect_claims")
    code, output = run(env, "pipeline", "run", "--json")
    assert code == 0, output
    assert json.loads(output)["held_batches"] == []

    # The next one shows amounts in cents.
    cents = {c.claim_id: {"amount": f"{round(c.amount * 100):,}"} for c in later}
    with Store.connect(url) as store:
        stage(store, "claims_triage", later, "collect_claims", overrides=cents)
    code, output = run(env, "pipeline", "run", "--json")
    summary = json.loads(output)
    [held] = summary["held_batches"]
    assert summary["validated"] == 0
    assert any(f["field"] == "amount" and f["kind"] == "distribution" for f in held["findings"])

    code, text = run(env, "quarantine", "list")
    assert code == 0 and held["batch"] in text and "amount: values moved far" in text
    assert "1 batch(es) held by the gate" in run(env, "status")[1]
    assert json.loads(run(env, "status", "--json")[1])["held_batches"] == {"claims_triage": 1}
    code, text = run(env, "quarantine", "release", held["batch"])
    assert code == 2 and "--reason" in text  # a decision says why
    code, text = run(
        env, "quarantine", "release", held["batch"], "--reason", "amounts checked", "--by", "ops"
    )
    assert code == 0, text
    assert f"released batch {held['batch']}: " in text
    code, text = run(env, "quarantine", "reject", held["batch"], "--reason", "again")
    assert code == 1 and "is released, not held" in text
    assert "no batch is held" in run(env, "quarantine", "list")[1]

    with Store.connect(url) as store:
        record = next(
            r
            for chunk in store.iter_records("claims_triage", "validated")
            for r in chunk
            if r.natural_key == later[0].claim_id
        )
    code, text = run(env, "lineage", record.record_id)
    assert code == 0 and "gate_release" in text and "amounts checked" in text
