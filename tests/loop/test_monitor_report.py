"""``rpaml monitor``: the report is written with its plots and figures, labels or not."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from pathlib import Path

from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from rpaml_pipeline.cli import main
from rpaml_pipeline.model_training import TrainingOutcome
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.stages import MonitorStage, ProcessStage, ScoreStage, run_stage
from rpaml_pipeline.store import Store
from rpaml_sandbox.portal.generator import GeneratedClaim
from staged_claims import PROCESS_FILE, act_on_all_decided, process_all, stage

IMAGE = re.compile(r"<img alt='([^']+)' src='data:image/png;base64,([A-Za-z0-9+/=]+)'>")


def test_report_with_drift_then_with_labels(
    tmp_path: Path,
    store: Store,
    process: ProcessDefinition,
    claims: list[GeneratedClaim],
    trained_registry: tuple[Path, TrainingOutcome],
    service_url: str,
    service_key: str,
) -> None:
    open_claims = [c for c in claims if c.status == "open"]
    stage(store, process.name, open_claims, "collect")
    process_all(store, process)
    registry_dir, outcome = trained_registry
    runtime = Runtime.of(
        store, process, data_dir=tmp_path / "data", registry_dir=registry_dir
    ).with_service(service_url, service_key)
    scored = run_stage(runtime, ScoreStage())
    assert scored.succeeded and scored.summary["scored"] > 0

    result = run_stage(runtime, MonitorStage(output=tmp_path / "report"))
    assert result.succeeded, result.error
    page = Path(result.summary["report"]).read_text()
    images = dict(IMAGE.findall(page))
    assert set(images) == {
        "Feature drift (PSI per scoring run)",
        "Score drift (PSI and KS per scoring run)",
    }
    assert all(len(data) > 1000 for data in images.values())
    assert "No labels yet" in page
    facts = json.loads(Path(result.summary["facts"]).read_text())
    (run,) = facts["scoring_runs"]
    assert run["run_id"] == scored.run_id and run["version"] == outcome.version
    assert run["features"] == {
        name: figures["psi"]
        for name, figures in scored.summary["drift"]["versions"][outcome.version][
            "features"
        ].items()
    }
    assert f"{run['score_psi']:.4g}" in page
    assert facts["labels"] == 0 and facts["champion"]["reference"] is True
    # Decision weeks follow the claims' own calendar (the reported date, as the process
    # file's label maturity declares it), not the moment the test scored them.
    reported = {c.claim_id: c.reported_date for c in open_claims}
    decided_keys = [
        r.natural_key for chunk in store.iter_records(process.name, "decided") for r in chunk
    ]
    calendar = {
        f"{reported[k].isocalendar()[0]}-W{reported[k].isocalendar()[1]:02d}" for k in decided_keys
    }
    assert [w["week"] for w in facts["weeks"]] == sorted(calendar)
    assert all(week["labels"] == 0 for week in facts["weeks"])

    # The decisions are applied, then the claims close and come back with their outcome
    # (here the sandbox's truth) through the history export: labels judging the decisions.
    decided = list(act_on_all_decided(store, process).values())
    closed = [
        dataclasses.replace(
            claim,
            status="closed",
            closed_date=dt.date(2026, 4, 30),
            outcome="Fraud confirmed" if claim.is_fraud else "Paid",
        )
        for claim in open_claims
    ]
    stage(store, process.name, closed, "download_history")
    linked = run_stage(runtime, ProcessStage())
    assert linked.summary["outcome_labels"] == len(decided)
    labelled = run_stage(runtime, MonitorStage(output=tmp_path / "report"))
    page = Path(labelled.summary["report"]).read_text()
    assert set(dict(IMAGE.findall(page))) >= {
        "Realised cost per labelled decision, by decision week",
        "Calibration by decision week",
    }
    facts = json.loads(Path(labelled.summary["facts"]).read_text())
    weeks = facts["weeks"]
    # Every claim was reported more than 30 days before the closing date: all mature.
    assert max(reported.values()) <= dt.date(2026, 4, 30) - dt.timedelta(days=30)
    assert sum(w["labels"] for w in weeks) == scored.summary["scored"]
    assert sum(w["decisions"] for w in weeks) == scored.summary["scored"]
    week = max(weeks, key=lambda w: w["labels"])
    assert week["cost_per_decision"] is not None and set(week["baselines"]) == set(
        process.policy.actions
    )
    assert f"{week['cost_per_decision']:.4g}" in page
    metrics = (tmp_path / "data" / "metrics" / "rpaml.prom").read_text()
    names = {family.name for family in text_string_to_metric_families(metrics)}
    assert {"rpaml_drift_psi", "rpaml_outcome_cost_per_decision", "rpaml_outcome_ece"} <= names


def test_rpaml_monitor_on_a_store_without_runs(tmp_path: Path) -> None:
    env = {
        "RPAML_DATA_DIR": str(tmp_path / "data"),
        "RPAML_REGISTRY_DIR": str(tmp_path / "registry"),
    }
    output = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        ["monitor", "--process", str(PROCESS_FILE), "--output", str(output)],
        env=env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "0 scoring runs, 0 decision weeks, 0 labels" in result.output
    assert "has no champion yet" in result.output
    page = (output / "monitor-claims_triage.html").read_text()
    assert "No scoring run with drift figures yet" in page and "No labels yet" in page
    assert "<img" not in page
