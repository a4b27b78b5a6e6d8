"""The enrichment task suite (robots/tasks/enrich_policies.robot) against the real desktop
application on its own Xvfb display and a real SQLite store: every collected claim is
enriched with its lineage or, when its policy does not exist, quarantined; the pipeline
then merges the enrichment; a second run enriches nothing again."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
from robot.api import ExecutionResult

from rpaml_pipeline.process import load_process
from rpaml_pipeline.processing import process_collected
from rpaml_pipeline.store import IncomingRecord, Store
from rpaml_sandbox.desktop.policies import generate_policies, save_policies
from rpaml_sandbox.portal.display import display_values
from rpaml_sandbox.portal.generator import generate_claims

ROOT = Path(__file__).resolve().parents[2]
PROCESS_FILE = ROOT / "pipeline" / "processes" / "claims_triage.yaml"
SEED = 13


def _stage_claims(store: Store, count: int) -> dict[str, str]:
    """Stage ``count`` open claims as the collecting robot does; key -> shown policy."""
    claims = generate_claims(SEED, open_claims=count, closed_claims=0)
    run_id = store.start_run("claims_triage", "collect", robot="collect_claims")
    rows = {}
    for claim in claims:
        shown = asdict(display_values(claim, SEED))
        shown.pop("closed_date")
        rows[claim.claim_id] = {"claim_id": claim.claim_id, "status": "open", **shown}
    # A clerk's typo, whatever the seed drew: a policy number that exists nowhere.
    rows[claims[0].claim_id]["policy_number"] = "POL-12A456"
    store.ingest(
        "claims_triage",
        [
            IncomingRecord(natural_key=k, payload=v, source="robot:collect_claims")
            for k, v in rows.items()
        ],
        run_id=run_id,
    )
    store.finish_run(run_id, "succeeded")
    return {key: row["policy_number"] for key, row in rows.items()}


def claims_with_typo(shown: dict[str, str]) -> set[str]:
    return {key for key, number in shown.items() if number == "POL-12A456"}


def _run_suite(tmp_path: Path, store_url: str, data: Path, export_from: int, name: str) -> None:
    env = {
        **os.environ,
        "RPAML_STORE_URL": store_url,
        "RPAML_PROCESS_FILE": str(PROCESS_FILE),
        "RPAML_DATA_DIR": str(tmp_path / "data"),
        "RPAML_POLICY_DATA": str(data),
        "RPAML_ENRICH_EXPORT_FROM": str(export_from),
    }
    env.pop("DISPLAY", None)  # the library starts its own Xvfb
    env.pop("RPAML_RUN_ID", None)
    out = tmp_path / name
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "robot",
            "--rpa",
            "--outputdir",
            str(out),
            "--consolecolors",
            "off",
            str(ROOT / "robots" / "tasks" / "enrich_policies.robot"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    result = ExecutionResult(str(out / "output.xml"))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert result.statistics.total.passed == 1


@pytest.mark.parametrize(("export_from", "mode"), [(1000, "keyboard"), (1, "export")])
def test_enrichment_robot_enriches_or_quarantines_every_claim(
    tmp_path: Path, export_from: int, mode: str
) -> None:
    data = tmp_path / "policies.json"
    save_policies(data, generate_policies(SEED, 25 if mode == "keyboard" else 120, 0))
    url = f"sqlite:///{tmp_path / 'rpaml.db'}"
    with Store.connect(url) as store:
        shown = _stage_claims(store, 25 if mode == "keyboard" else 120)
        _run_suite(tmp_path, url, data, export_from, "first")
        policies = {p.policy_number for p in generate_policies(SEED, len(shown), 0)}
        records = {r.natural_key: r for chunk in store.iter_records("claims_triage")
                   for r in chunk}  # fmt: skip
        quarantined = {k for k, r in records.items() if r.state == "quarantined"}
        assert quarantined == {k for k, number in shown.items() if number not in policies}
        assert claims_with_typo(shown) <= quarantined
        for key in quarantined:
            assert "not found in the policy application" in (records[key].reason or "")
        for key, record in records.items():
            if key in quarantined:
                continue
            assert record.state == "collected" and record.lease_owner is None
            (enrichment,) = store.enrichments(record.record_id)
            assert enrichment.search_term == shown[key]
            assert enrichment.payload["policy_number"] == shown[key]
            assert enrichment.source == "robot:enrich_policies"
            expected = "/export:" if mode == "export" else "desktop:Policy Administration@:"
            assert expected in (enrichment.location or "")

        # A second run finds nothing left to enrich.
        _run_suite(tmp_path, url, data, export_from, "second")
        for key, record in records.items():
            if key not in quarantined:
                assert len(store.enrichments(record.record_id)) == 1

        # The pipeline merges the enrichment: validated records carry the policy fields.
        process = load_process(PROCESS_FILE)
        run_id = store.start_run("claims_triage", "process")
        process_collected(store, process, run_id)
        store.finish_run(run_id, "succeeded")
        validated = [r for chunk in store.iter_records("claims_triage", "validated")
                     for r in chunk]  # fmt: skip
        assert validated
        for record in validated:
            assert record.features is not None
            assert record.features["risk_segment"] in {"A", "B", "C", "D"}
            assert record.features["coverage_limit"] > 0
