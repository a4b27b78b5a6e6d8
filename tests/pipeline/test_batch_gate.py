"""The batch gate: a source whose screen switched its format, unit or scale has its whole
batch held (every record quarantined with the figures now and before, an alert on the run),
until a person releases or rejects it; a usual batch, even a small one, goes through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pipeline_claims import claim, history_row

from rpaml_pipeline.errors import HeldBatchError
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.process.definition import Contract, GateSpec, QualitySpec
from rpaml_pipeline.processing import process_collected
from rpaml_pipeline.processing.held_batches import decide, held_batches
from rpaml_pipeline.store import IncomingRecord, Store

SOURCE = "robot:collect_claims"
HISTORY = "robot:download_history"


@pytest.fixture
def gated(process_def: ProcessDefinition) -> ProcessDefinition:
    quality = QualitySpec(gate=GateSpec(reference=HISTORY, min_history=50))
    return process_def.model_copy(update={"quality": quality})


def _dated(number: int, form: str, **overrides: Any) -> dict[str, Any]:
    day = 1 + number % 12
    dates = {
        "iso": f"2026-03-{day:02d}",
        "dmy": f"{day:02d}/03/2026",
    }
    values = {
        "incident_date": dates[form],
        "reported_date": "2026-03-20" if form == "iso" else "20/03/2026",
        "amount": f"{1_000 + 37 * (number % 80):,}.00",
        "claimant_age": str(20 + number % 50),
    }
    return claim(number, **(values | overrides))


def _stage(store: Store, process: str, source: str, payloads: list[dict[str, Any]]) -> str:
    run = store.start_run(process, "collect", "gate-test")
    items = [IncomingRecord(p["claim_id"], p, source) for p in payloads]
    store.ingest(process, items, run_id=run)
    return run


def _states(store: Store, process: str) -> dict[str, str]:
    return {r.natural_key: r.state for chunk in store.iter_records(process) for r in chunk}


@pytest.mark.parametrize(("before", "after"), [("iso", "dmy"), ("dmy", "iso")])
def test_a_source_switching_its_date_format_is_held_whole_both_ways(
    store: Store, gated: ProcessDefinition, before: str, after: str
) -> None:
    name = gated.name
    _stage(store, name, SOURCE, [_dated(n, before) for n in range(80)])
    first = process_collected(store, gated, store.start_run(name, "process"))
    assert first.validated == 80 and first.held_batches == []

    # Every date still parses (both forms are in the process file): only the gate sees it.
    _stage(store, name, SOURCE, [_dated(n, after) for n in range(100, 130)])
    second = process_collected(store, gated, store.start_run(name, "process"))
    assert second.validated == 0 and second.quarantined == 30
    [held] = second.held_batches
    assert held["source"] == SOURCE and held["records"] == 30
    fields = {finding["field"] for finding in held["findings"]}
    assert {"incident_date", "reported_date"} <= fields
    assert {finding["kind"] for finding in held["findings"]} == {"format"}
    message = next(f["message"] for f in held["findings"] if f["field"] == "incident_date")
    new, old = ("9999-9-9", "9/9/9999") if after == "iso" else ("9/9/9999", "9999-9-9")
    assert f"100% of 30 values are written like {new}" in message
    assert f"(usually {old})" in message and "0% of 80 values" in message

    new_records = [r for chunk in store.iter_records(name) for r in chunk if r.run_id]
    states = _states(store, name)
    assert all(states[f"CLM-{n:06d}"] == "quarantined" for n in range(100, 130))
    record = next(r for r in new_records if r.natural_key == "CLM-000100")
    assert record.reason is not None
    assert record.reason.startswith(f"batch held by the gate (judged against {SOURCE})")
    assert "incident_date" in record.reason
    [batch] = held_batches(store, name)
    assert batch.gate is not None and batch.gate["verdict"] == "held"

    # The held batch taught the history nothing: a third batch like it is held too.
    _stage(store, name, SOURCE, [_dated(n, after) for n in range(200, 230)])
    third = process_collected(store, gated, store.start_run(name, "process"))
    assert third.quarantined == 30 and len(third.held_batches) == 1


def test_the_tenth_of_the_month_is_not_a_new_date_format(
    store: Store, gated: ProcessDefinition
) -> None:
    # A month's first days in "Mar 4, 2026" form, then a batch reported on the 10th and
    # later: one digit more is the calendar moving on, not a screen that changed.
    name = gated.name

    def texted(number: int, day: int) -> dict[str, Any]:
        # Every date moves with the day, so only how the report date is written changes.
        return _dated(
            number,
            "iso",
            policy_start_date=f"2025-03-{day:02d}",
            incident_date=f"2026-03-{day:02d}",
            reported_date=f"Mar {day}, 2026",
        )

    _stage(store, name, SOURCE, [texted(n, 1 + n % 9) for n in range(80)])
    first = process_collected(store, gated, store.start_run(name, "process"))
    assert first.held_batches == []
    _stage(store, name, SOURCE, [texted(n, 10 + n % 18) for n in range(100, 130)])
    second = process_collected(store, gated, store.start_run(name, "process"))
    assert second.held_batches == [] and second.validated == 30


def test_released_records_go_on_and_the_decision_is_in_lineage(
    store: Store, gated: ProcessDefinition
) -> None:
    name = gated.name
    _stage(store, name, SOURCE, [_dated(n, "iso") for n in range(80)])
    process_collected(store, gated, store.start_run(name, "process"))
    broken = _dated(101, "dmy", claimant_age="200")  # fails on its own too
    _stage(
        store,
        name,
        SOURCE,
        [_dated(100, "dmy"), broken, *(_dated(n, "dmy") for n in range(102, 120))],
    )
    process_collected(store, gated, store.start_run(name, "process"))
    [batch] = held_batches(store, name)

    with pytest.raises(HeldBatchError, match="say why"):
        decide(store, batch.batch_id, "release", by="ops", reason=" ")
    done = decide(
        store, batch.batch_id, "release", by="ops", reason="the portal changed its locale"
    )
    assert (done.restored, done.quarantined) == (19, 1)
    states = _states(store, name)
    assert states["CLM-000100"] == "validated" and states["CLM-000101"] == "quarantined"
    assert held_batches(store, name) == []
    with pytest.raises(HeldBatchError, match="released, not held"):
        decide(store, batch.batch_id, "reject", by="ops", reason="changed my mind")

    record = next(
        r for chunk in store.iter_records(name) for r in chunk if r.natural_key == "CLM-000100"
    )
    assert record.reason is None
    steps = [(e.step, e.to_state) for e in store.lineage(record.record_id).events]
    assert ("gate", "quarantined") in steps and ("gate_release", "validated") in steps
    release = next(e for e in store.lineage(record.record_id).events if e.step == "gate_release")
    assert release.detail["by"] == "ops" and release.detail["reason"].startswith("the portal")
    # The released batch is scored like any other: its processed batch has work pending.
    data = store.batches.info(record.data_batch_id or "")
    assert data.pending == "score" and data.status == "released"


def test_a_rejected_batch_stays_quarantined(
    store: Store, gated: ProcessDefinition, tmp_path: Path
) -> None:
    name = gated.name
    _stage(store, name, SOURCE, [_dated(n, "iso") for n in range(80)])
    process_collected(store, gated, store.start_run(name, "process"))
    _stage(store, name, SOURCE, [_dated(n, "dmy") for n in range(100, 120)])
    process_collected(store, gated, store.start_run(name, "process"))
    [batch] = held_batches(store, name)
    done = decide(store, batch.batch_id, "reject", by="ops", reason="garbage export")
    assert (done.restored, done.quarantined) == (0, 20)
    assert set(_states(store, name).values()) == {"validated", "quarantined"}
    assert store.batches.info(batch.batch_id).status == "rejected"
    with pytest.raises(HeldBatchError, match="no batch"):
        decide(store, "no-such-batch", "release", by="ops", reason="x")


def test_the_first_collection_is_judged_against_the_reference_export(
    store: Store, gated: ProcessDefinition
) -> None:
    name = gated.name
    history = [history_row(n, amount=f"{1_000 + 37 * n:,}.00") for n in range(120)]
    _stage(store, name, HISTORY, history)
    process_collected(store, gated, store.start_run(name, "process"))

    # A small first batch with amounts in cents: each value is plausible alone.
    cents = [claim(n, amount=f"{(1_000 + 37 * (n % 120)) * 100:,}") for n in range(500, 530)]
    _stage(store, name, SOURCE, cents)
    summary = process_collected(store, gated, store.start_run(name, "process"))
    [held] = summary.held_batches
    assert summary.validated == 0
    amount = next(f for f in held["findings"] if f["field"] == "amount")
    assert amount["kind"] == "distribution"
    assert "Kolmogorov-Smirnov distance 1.00 over 30 values" in amount["message"]
    assert held["reason"].startswith(f"batch held by the gate (judged against {HISTORY})")


def test_a_usual_batch_goes_through_even_a_small_one(
    store: Store, gated: ProcessDefinition
) -> None:
    name = gated.name
    _stage(
        store, name, HISTORY, [history_row(n, amount=f"{1_000 + 37 * n:,}.00") for n in range(120)]
    )
    process_collected(store, gated, store.start_run(name, "process"))
    # A dozen usual claims, two of them broken on their own: no hold.
    usual = [claim(n, amount=f"{1_000 + 37 * (n % 120):,}.00") for n in range(300, 310)]
    usual += [claim(310, amount="12,3x4"), claim(311, channel="pigeon")]
    _stage(store, name, SOURCE, usual)
    summary = process_collected(store, gated, store.start_run(name, "process"))
    assert summary.held_batches == []
    assert summary.validated == 10 and summary.quarantined == 2


def test_a_claim_out_of_date_order_names_both_fields(
    store: Store, process_def: ProcessDefinition
) -> None:
    name = process_def.name
    early = claim(1, policy_start_date="2026-04-01", incident_date="2026-03-14")
    late = claim(2, reported_date="2026-03-01", incident_date="14/03/2026")
    _stage(store, name, SOURCE, [early, late, claim(3, incident_date="2026-03-14")])
    summary = process_collected(store, process_def, store.start_run(name, "process"))
    assert (summary.validated, summary.quarantined) == (1, 2)
    reasons = {
        r.natural_key: r.reason for chunk in store.iter_records(name) for r in chunk if r.reason
    }
    assert reasons["CLM-000001"] == (
        "policy_start_date, incident_date: policy_start_date 2026-04-01 is after "
        "incident_date 2026-03-14 (the policy starts on or before the incident, reported on "
        "or after it)"
    )
    assert reasons["CLM-000002"].startswith(
        "incident_date, reported_date: incident_date 2026-03-14 is after reported_date 2026-03-01"
    )


def test_a_rule_naming_an_unknown_or_text_field_is_refused(process_def: ProcessDefinition) -> None:
    contract = process_def.contract.model_dump()
    with pytest.raises(ValueError, match="'incident_day', not a contract field"):
        Contract.model_validate(
            {**contract, "rules": [{"name": "r", "ordered": ["incident_day", "reported_date"]}]}
        )
    with pytest.raises(ValueError, match="'region' is a category field"):
        Contract.model_validate(
            {**contract, "rules": [{"name": "r", "ordered": ["region", "reported_date"]}]}
        )
