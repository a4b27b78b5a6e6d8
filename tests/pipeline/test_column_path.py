"""The column path of processing gives exactly what the per-record reference path gives:
the same states, reasons, labels, cleaned data, features, lineage details, drift findings
and source profile, on generated batches of messy and broken claims."""

from __future__ import annotations

from typing import Any, cast

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pipeline_claims import claim, history_row

from rpaml_pipeline.canonical import load_json, to_jsonable
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.process.definition import DriftSpec, QualitySpec
from rpaml_pipeline.processing.batch import BatchWork, reference_slice
from rpaml_pipeline.processing.columns import SliceResult, columns_apply, process_columns
from rpaml_pipeline.processing.record import RawRecord
from rpaml_pipeline.processing.steps import PipelineSteps
from rpaml_pipeline.quality.drift import DriftCheck, profile_records
from rpaml_pipeline.steps import clean
from rpaml_pipeline.store import codec, layout

SOURCE = "robot:collect_claims"
MESSY: dict[str, list[str]] = {
    "reported_date": ["2026-03-10", "2027-01-01", "01/01/2020"],
    "policy_start_date": ["2026-03-20", "2019-01-01"],
    "amount": ["$12,345.67", "USD 1,200.00", "880.5", "12,3x4", "-5", "4,500,000.00", " 7 "],
    "incident_date": ["2026-03-14", "14/03/2026", "Mar 14, 2026", "2026-02-30", "someday"],
    "claimant_age": ["42", "16", "200", "4.0", "x", "1,200"],
    "prior_claims": ["0", "3", "-1", "101"],
    "channel": [" Web ", "e-mail", "telephone", "PHONE", "pigeon"],
    "police_report": ["yes", "no", "", "maybe", "Y"],
    "claim_id": ["CLM-000001", "CLM-12", "CLM-١٢٣٤٥٦", "clm-000001"],
    "policy_number": ["POL-000007", "PO-123456", "POL-12A456"],
    "outcome": ["Paid", "Fraud confirmed", "Unknown"],
    "region": ["north", "Mars"],
}
texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


def _value(field: str) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), st.sampled_from(MESSY.get(field, ["x"])), texts)


@st.composite
def batches(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Claims with the same keys (as one robot page or file delivers them)."""
    count = draw(st.integers(1, 12))
    history = draw(st.booleans())
    rows = [history_row(n) if history else claim(n) for n in range(count)]
    fields = draw(st.lists(st.sampled_from(sorted(rows[0])), max_size=4, unique=True))
    extra = draw(st.booleans())
    dropped = draw(st.sampled_from([None, "description", "police_report"]))
    for row in rows:
        for field in fields:
            if draw(st.booleans()):
                row[field] = draw(_value(field))
        if extra:
            row["claim_ref"] = draw(st.one_of(st.none(), texts))
        if dropped is not None:
            row.pop(dropped, None)
    return [to_jsonable(row) for row in rows]


def _work(process: ProcessDefinition, profile: dict[str, Any] | None) -> BatchWork:
    baseline = {SOURCE: profile} if profile is not None else {}
    return BatchWork(
        store=cast(Any, None),  # neither path touches the store
        process=process,
        steps=PipelineSteps.of(process),
        run_id="run",
        owner="test",
        baseline=baseline,
        chunk_size=1000,
    )


def _frame(payloads: list[dict[str, Any]]) -> pl.DataFrame:
    ids = pl.DataFrame({"record_id": [f"r{i:04d}" for i in range(len(payloads))]})
    return pl.concat([ids, codec.encode(payloads, layout.PAYLOAD)], how="horizontal")


def _records(result: SliceResult) -> list[dict[str, Any]]:
    frame = result.frame
    data = codec.decode_where(frame, layout.DATA, "has_data")
    features = codec.decode_where(frame, layout.FEATURES, "has_features")
    return [
        {
            "id": record_id,
            "state": result.states[i],
            "reason": result.reasons[i],
            "label": (result.labels[i], result.label_sources[i]),
            "stored_label": (frame["label"][i], frame["label_source"][i], frame["to_state"][i]),
            "summaries": result.summaries[i],
            "drift": [vars(f) for f in result.findings[i]],
            "data": data[i],
            "features": features[i],
            "details": load_json(frame["step_details"][i]),
        }
        for i, record_id in enumerate(result.record_ids)
    ]


def _check(process: ProcessDefinition, work: BatchWork, payloads: list[dict[str, Any]]) -> None:
    raw = _frame(payloads)
    assert columns_apply(raw, process, work.steps)
    fast = process_columns(raw, process, work.steps, work.check(SOURCE))
    if fast is None:  # a field cleaned to mixed types: the reference path takes the slice
        return
    items = [(RawRecord(f"r{i:04d}", SOURCE, p), None) for i, p in enumerate(payloads)]
    reference = reference_slice(work, items)
    for mine, theirs in zip(_records(fast), _records(reference), strict=True):
        assert mine == theirs
    assert fast.profile == reference.profile


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads=batches())
def test_the_column_path_gives_what_the_reference_path_gives(
    process_def: ProcessDefinition, payloads: list[dict[str, Any]]
) -> None:
    _check(process_def, _work(process_def, None), payloads)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads=batches(), baseline=st.lists(st.integers(0, 50), min_size=6, max_size=6))
def test_drift_findings_and_profiles_agree(
    process_def: ProcessDefinition, payloads: list[dict[str, Any]], baseline: list[int]
) -> None:
    drifting = process_def.model_copy(
        update={"quality": QualitySpec(drift=DriftSpec(min_records=5, range_tolerance=0.5))}
    )
    steps = PipelineSteps.of(drifting)
    earlier = [claim(n) for n in baseline]
    rows = [(row, clean(row, drifting.cleaning)[0]) for row in earlier]
    profile = profile_records(rows, drifting.contract)
    work = _work(drifting, profile)
    assert work.steps == steps
    assert isinstance(work.check(SOURCE), DriftCheck)
    _check(drifting, work, payloads)
