"""Contract drift: a source that changes shape between two runs raises an alert on the run
and its affected records are quarantined, while records of the usual shape go through."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pipeline_claims import claim
from test_openlineage_events import _validator

from rpaml_pipeline.lineage import OpenLineageEmitter
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.process.definition import DriftSpec, QualitySpec
from rpaml_pipeline.processing import process_collected
from rpaml_pipeline.quality import check_record, merge_profiles, profile_records
from rpaml_pipeline.replay import replay_run
from rpaml_pipeline.stages import ProcessStage
from rpaml_pipeline.steps import clean
from rpaml_pipeline.store import IncomingRecord, Store
from stage_runs import staged_run

PARTNER = "sql:partner-claims"
OTHER = "robot:collect_claims"


@pytest.fixture
def drifting(process_def: ProcessDefinition) -> ProcessDefinition:
    quality = QualitySpec(drift=DriftSpec(min_records=20))
    return process_def.model_copy(update={"quality": quality})


def _stage(store: Store, process: str, payloads: list[tuple[str, str, dict[str, Any]]]) -> None:
    run = store.start_run(process, "collect", "drift-test")
    items = [IncomingRecord(key, payload, source) for key, source, payload in payloads]
    store.ingest(process, items, run_id=run)


def test_a_source_that_changes_shape_is_quarantined_and_alerted(
    store: Store, drifting: ProcessDefinition, tmp_path: Path
) -> None:
    name = drifting.name
    # Run 1: the partner's usual shape; it becomes the source's profile.
    _stage(store, name, [(f"P1-{n}", PARTNER, claim(n)) for n in range(30)])
    first = process_collected(store, drifting, store.start_run(name, "process"))
    assert first.validated == 30 and first.quarantined == 0 and first.drift_alerts == []
    profile = store.source_profiles(name)[PARTNER]
    assert profile["records"] == 30
    assert profile["columns"]["amount"]["numeric"]["max"] == pytest.approx(12345.67)
    assert profile["columns"]["channel"]["categories"] == ["agent", "email", "phone", "web"]

    # Run 2: the partner's screen changed. A renamed column, a number where text came,
    # amounts in cents; some records still have the usual shape. Another source with the
    # same new column has no history yet, so it is not judged.
    renamed = claim(100)
    renamed["claim_ref"] = renamed.pop("description")
    changed = [(f"P2-{n}", PARTNER, claim(100 + n, prior_claims=n % 4)) for n in range(1, 4)] + [
        (f"P2-{n}", PARTNER, claim(100 + n, amount="$4,500,000.00")) for n in range(4, 6)
    ]
    usual = [(f"P2-{n}", PARTNER, claim(100 + n)) for n in range(6, 10)]
    fresh = [(f"O2-{n}", OTHER, {**claim(200 + n), "claim_ref": "x"}) for n in range(3)]
    _stage(store, name, [("P2-0", PARTNER, renamed), *changed, *usual, *fresh])
    emitter = OpenLineageEmitter.for_data_dir(tmp_path)
    result = staged_run(store, drifting, ProcessStage(), tmp_path, emitter=emitter)
    second = SimpleNamespace(**result.summary)
    run = result.run_id

    assert second.quarantined == 6 and second.validated == 7
    kinds = {(a["field"], a["kind"]): a for a in second.drift_alerts}
    assert kinds[("claim_ref", "new_column")]["records"] == 1
    assert kinds[("description", "missing_column")]["records"] == 1
    assert kinds[("prior_claims", "type_change")]["records"] == 3
    assert kinds[("amount", "out_of_range")]["records"] == 2
    assert all(alert["source"] == PARTNER for alert in second.drift_alerts)

    by_key = {r.natural_key: r for chunk in store.iter_records(name) for r in chunk}
    assert by_key["P2-0"].state == "quarantined"
    assert f"claim_ref: is a new column: {PARTNER} never delivered it before" in (
        by_key["P2-0"].reason or ""
    )
    assert f"description: is missing: {PARTNER} delivered it in every record before" in (
        by_key["P2-0"].reason or ""
    )
    assert by_key["P2-1"].reason == (
        f"prior_claims: 1 is a number where {PARTNER} always delivered text before"
    )
    assert by_key["P2-4"].reason == (
        f'amount: "$4,500,000.00" is far outside what {PARTNER} delivered before '
        "(880.50 to 12,345.67)"
    )
    assert all(by_key[f"P2-{n}"].state == "validated" for n in range(6, 10))
    assert all(by_key[f"O2-{n}"].state == "validated" for n in range(3))

    # The alert is recorded on the run and in its OpenLineage COMPLETE event.
    details = store.get_run(run).details
    assert details["drift_alerts"] == second.drift_alerts
    assert details["drift_baseline"][PARTNER]["records"] == 30
    events = [json.loads(line) for line in (tmp_path / "lineage" / "events.jsonl").open()]
    complete = events[-1]
    assert complete["eventType"] == "COMPLETE"
    facet = complete["run"]["facets"]["rpamlDrift"]
    assert {(a["field"], a["kind"]) for a in facet["alerts"]} == set(kinds)
    validator = _validator()
    assert not list(validator.iter_errors(complete))

    # The baseline grew only with the valid records; replay reproduces every quarantine.
    assert store.source_profiles(name)[PARTNER]["records"] == 34
    assert store.source_profiles(name)[OTHER]["records"] == 3
    assert replay_run(store, run).identical


def test_young_sources_are_not_judged_and_categories_only_alert(
    process_def: ProcessDefinition,
) -> None:
    spec = DriftSpec(min_records=5)
    rows = []
    for n in range(4):
        raw = claim(n, channel="web")
        rows.append((raw, clean(raw, process_def.cleaning)[0]))
    young = profile_records(rows, process_def.contract)
    raw = claim(0, channel="phone", amount="$9,999,999.00")
    cleaned, _ = clean(raw, process_def.cleaning)
    assert check_record(raw, cleaned, PARTNER, young, process_def.contract, spec) == []
    grown = merge_profiles(young, young)
    assert grown["records"] == 8
    found = check_record(raw, cleaned, PARTNER, grown, process_def.contract, spec)
    assert {(f.field, f.kind, f.quarantine) for f in found} == {
        ("channel", "new_category", False),
        ("amount", "out_of_range", True),
    }
