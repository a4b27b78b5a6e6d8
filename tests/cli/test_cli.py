"""The rpaml command line, run as a user runs it, on real stores and process files."""

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
    return {
        "RPAML_PROJECT_DIR": str(PROJECT),
        "RPAML_DATA_DIR": str(tmp_path / "data"),
        "RPAML_REGISTRY_DIR": str(tmp_path / "registry"),
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def stage_claims(env: dict[str, str], *, closed: bool, bad_amounts: int = 0) -> int:
    """Stage and enrich sandbox claims the way the robots do; return how many."""
    claims = [
        c
        for c in generate_claims(5, open_claims=30, closed_claims=300)
        if (c.status == "closed") == closed
    ]
    broken = {claim.claim_id: {"amount": "12,3x4"} for claim in claims[:bad_amounts]}
    Path(env["RPAML_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    with Store.connect(f"sqlite:///{env['RPAML_DATA_DIR']}/rpaml.db") as store:
        stage(store, "claims_triage", claims, "test", seed=5, overrides=broken)
    return len(claims)


def test_status_on_an_empty_store(env: dict[str, str]) -> None:
    code, output = run(env, "status")
    assert code == 0
    assert "No records yet." in output


def test_pipeline_run_quarantines_with_reasons_and_status_counts(env: dict[str, str]) -> None:
    staged = stage_claims(env, closed=False, bad_amounts=3)
    # The enrichment robot already quarantined the claims whose policy does not exist.
    code, output = run(env, "status", "--json")
    not_found = json.loads(output)["records"]["claims_triage"].get("quarantined", 0)
    code, output = run(env, "pipeline", "run", "--json")
    assert code == 0, output
    summary = json.loads(output)
    assert summary["processed"] == staged - not_found
    assert summary["quarantined"] >= 3
    assert any(reason.startswith("amount:") for reason, _ in summary["top_reasons"])
    code, output = run(env, "status", "--json")
    counts = json.loads(output)["records"]["claims_triage"]
    assert sum(counts.values()) == staged
    assert counts["quarantined"] == not_found + summary["quarantined"]
    code, text = run(env, "status")
    assert f"claims_triage: {staged} records" in text


def test_train_then_lineage_of_a_labeled_record(env: dict[str, str]) -> None:
    stage_claims(env, closed=True)
    assert run(env, "pipeline", "run")[0] == 0
    code, output = run(env, "train", "--json")
    assert code == 0, output
    outcome = json.loads(output)
    assert outcome["trained"] and outcome["promoted"] and outcome["version"] == "1"
    assert (Path(env["RPAML_REGISTRY_DIR"]) / "claims_fraud" / "1" / "model.joblib").is_file()
    code, output = run(env, "train", "--json")
    assert json.loads(output)["trained"] is False
    with Store.connect(f"sqlite:///{env['RPAML_DATA_DIR']}/rpaml.db") as store:
        record = next(iter(store.iter_records("claims_triage", "labeled")))[0]
    code, text = run(env, "lineage", record.record_id)
    assert code == 0
    for step in ("clean", "validate", "label", "transform"):
        assert step in text
    code, output = run(env, "lineage", record.record_id, "--json")
    trail = json.loads(output)
    assert trail["record"]["label"] in (0, 1)
    assert all(e["config_hash"] for e in trail["events"] if e["step"] not in {"ingest", "enrich"})


def test_broken_process_file_names_file_key_and_expectation(
    env: dict[str, str], tmp_path: Path
) -> None:
    text = (PROJECT / "pipeline" / "processes" / "claims_triage.yaml").read_text()
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("amount: {type: money", "amount: {type: moneys"))
    code, output = run({**env, "RPAML_PROCESS_FILE": str(broken)}, "pipeline", "run")
    assert code == 1
    assert str(broken) in output
    assert "contract.fields.amount.type" in output
    assert "money" in output and "Traceback" not in output


def test_unknown_robot_is_reported_with_the_known_ones(env: dict[str, str]) -> None:
    code, output = run(env, "robot", "run", "no_such_robot")
    assert code == 1
    assert "no robot named 'no_such_robot'" in output
    assert "collect_claims" in output


def test_unknown_record_in_lineage(env: dict[str, str]) -> None:
    code, output = run(env, "lineage", "nope")
    assert code == 1
    assert "no record with id 'nope'" in output


def test_robot_roles_resolve_to_the_process_robots() -> None:
    from rpaml_pipeline.process import load_process
    from rpaml_pipeline.stages import robot_name

    process = load_process(PROJECT / "pipeline" / "processes" / "claims_triage.yaml")
    assert robot_name(process, "collect") == "collect_claims"
    assert robot_name(process, "enrich") == "enrich_policies"
    assert robot_name(process, "apply_decisions") == "apply_decisions"
