"""The runner: bad records are quarantined and the run goes on; history rows are labeled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pipeline_claims import claim, history_row

from rpaml_pipeline.lineage import OpenLineageEmitter
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.processing import PipelineSteps, process_collected
from rpaml_pipeline.stages import ProcessStage
from rpaml_pipeline.store import IncomingRecord, Store
from stage_runs import staged_run


def _stage(
    store: Store, payloads: list[dict[str, str]], source: str = "robot:collect_claims"
) -> list[str]:
    run = store.start_run("claims_triage", "collect", source.split(":")[-1])
    items = [IncomingRecord(p["claim_id"], p, source) for p in payloads]
    return store.ingest("claims_triage", items, run_id=run).record_ids


def test_runner_quarantines_and_keeps_going(
    store: Store, process_def: ProcessDefinition, tmp_path: Path
) -> None:
    good = [claim(n) for n in range(1, 31)]
    bad = [
        claim(100, amount="12,3x4", policy_number="PO-123456"),
        claim(101, policy_number="POL-12A456"),
        claim(102, incident_date="someday"),
    ]
    history = [history_row(200, "Fraud confirmed"), history_row(201, "Paid")]
    ids = _stage(store, good + bad) + _stage(store, history, "robot:download_history")
    emitter = OpenLineageEmitter.for_data_dir(tmp_path)
    summary = staged_run(
        store, process_def, ProcessStage(chunk_size=7), tmp_path, emitter=emitter
    ).summary
    assert [summary[k] for k in ("processed", "validated", "labeled", "quarantined")] == [
        35,
        30,
        2,
        3,
    ]
    assert summary["top_reasons"][0] == ["policy_number: does not match POL-NNNNNN", 2]
    assert store.counts("claims_triage") == {
        "claims_triage": {"validated": 30, "labeled": 2, "quarantined": 3}
    }
    by_key = {store.get_record(i).natural_key: store.get_record(i) for i in ids}
    quarantined = by_key["CLM-000100"]
    assert quarantined.state == "quarantined"
    assert quarantined.reason == (
        'policy_number: "PO-123456" does not match POL-NNNNNN; '
        'amount: "12,3x4" is not an amount of money'
    )
    assert quarantined.data is not None and quarantined.data["amount"] == "12,3x4"
    fraud = by_key["CLM-000200"]
    assert (fraud.state, fraud.label, fraud.label_source) == (
        "labeled",
        1,
        "portal:closed-claims-export#outcome",
    )
    assert fraud.features is not None and fraud.features["days_policy_active"] == 651
    assert by_key["CLM-000201"].label == 0
    ok = by_key["CLM-000001"]
    assert ok.state == "validated" and ok.features is not None
    assert ok.data is not None and ok.data["incident_date"] == "2026-03-14"
    # Second run finds nothing left to do.
    again = process_collected(store, process_def, store.start_run("claims_triage", "process"))
    assert again.processed == 0
    # Run-level lineage: START then COMPLETE for the process job.
    events = [json.loads(line) for line in emitter.path.read_text().splitlines()]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert events[0]["job"] == {"namespace": "rpaml", "name": "claims_triage.process", "facets": {}}
    rows = {
        o["name"]: o["outputFacets"]["outputStatistics"]["rowCount"] for o in events[1]["outputs"]
    }
    assert rows == {
        "claims_triage.records.validated": 30,
        "claims_triage.records.labeled": 2,
        "claims_triage.records.quarantined": 3,
    }


def test_events_carry_step_versions_and_hashes(
    store: Store, process_def: ProcessDefinition
) -> None:
    [good, fraud, bad] = _stage(
        store, [claim(1), history_row(2, "Fraud confirmed"), claim(3, amount="lots")]
    )
    run = store.start_run("claims_triage", "process")
    process_collected(store, process_def, run)
    steps = PipelineSteps.of(process_def)
    assert steps.label is not None
    expected = {
        s.name: (s.version, s.config_hash)
        for s in (steps.clean, steps.validate, steps.label, steps.transform)
    }
    for record_id, names in (
        (good, ["ingest", "clean", "validate", "label", "transform"]),
        (fraud, ["ingest", "clean", "validate", "label", "transform"]),
        (bad, ["ingest", "clean", "validate"]),
    ):
        lineage = store.lineage(record_id)
        assert [e.step for e in lineage.events] == names
        for event in lineage.events[1:]:
            assert (event.step_version, event.config_hash) == expected[event.step]
            assert event.run_id == run
        assert lineage.events[-1].from_state == "collected"
    bad_events = store.record_events(bad)
    assert bad_events[-1].to_state == "quarantined"
    assert bad_events[-1].detail["issues"][0]["field"] == "amount"
    assert store.record_events(fraud)[-2].detail == {
        "outcome": "Fraud confirmed",
        "label": 1,
        "label_source": "portal:closed-claims-export#outcome",
    }


def test_a_crashing_step_quarantines_only_that_record(
    store: Store, process_def: ProcessDefinition, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rpaml_pipeline.processing.record as runner

    real = runner.transform

    def flaky(cleaned: dict[str, object], spec: object) -> dict[str, object]:
        if cleaned.get("claim_id") == "CLM-000002":
            raise ZeroDivisionError("division by zero")
        return real(cleaned, spec)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "transform", flaky)
    # A bug in the column path sends its slice to the reference path, record by record.
    import rpaml_pipeline.processing.batch as batch

    def broken(*_: object) -> object:
        raise RuntimeError("a bug in the column path")

    monkeypatch.setattr(batch, "process_columns", broken)
    ids = _stage(store, [claim(1), claim(2), claim(3)])
    summary = process_collected(store, process_def, store.start_run("claims_triage", "process"))
    assert (summary.validated, summary.quarantined) == (2, 1)
    crashed = store.get_record(ids[1])
    assert crashed.state == "quarantined"
    assert (
        crashed.reason
        == "internal error in step transform 1.0.0: ZeroDivisionError: division by zero"
    )


def test_failed_run_emits_fail(
    store: Store, process_def: ProcessDefinition, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stage(store, [claim(1)])

    def broken(*_: object, **__: object) -> object:
        raise RuntimeError("database went away")

    monkeypatch.setattr(store.transitions, "move", broken)
    emitter = OpenLineageEmitter.for_data_dir(tmp_path)
    with pytest.raises(RuntimeError):
        staged_run(store, process_def, ProcessStage(), tmp_path, emitter=emitter)
    [failed] = store.list_runs("claims_triage", kind="process")
    assert failed.status == "failed" and "database went away" in str(failed.summary)
    events = [json.loads(line) for line in emitter.path.read_text().splitlines()]
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    assert "database went away" in events[1]["run"]["facets"]["errorMessage"]["message"]
