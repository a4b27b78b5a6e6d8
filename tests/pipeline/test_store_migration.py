"""Migration 0007 moves a store of the per-record JSON layout to columnar batches: every
record reads back as it was, its lineage is unchanged, and work goes on where it was."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from pipeline_claims import claim, history_row

from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.processing import process_collected
from rpaml_pipeline.store import Store
from rpaml_pipeline.store.engine import make_engine
from rpaml_pipeline.store.migrations import alembic_config
from rpaml_pipeline.store.records import STEPS_KEY
from rpaml_pipeline.store.schema import UtcDateTime
from stage_runs import delivered

PROCESS = "claims_triage"
AT = dt.datetime(2026, 3, 14, 11, 0, tzinfo=dt.UTC)

_runs = sa.table(
    "runs",
    *(sa.column(n) for n in ("run_id", "process", "kind", "robot", "status")),
    sa.column("details", sa.JSON),
    sa.column("summary", sa.JSON),
    sa.column("started_at", UtcDateTime),
    sa.column("finished_at", UtcDateTime),
)
_records = sa.table(
    "records",
    *(sa.column(n) for n in ("record_id", "process", "source", "source_location")),
    *(sa.column(n) for n in ("natural_key", "revision", "content_hash", "raw_hash", "state")),
    *(sa.column(n) for n in ("reason", "run_id", "attempts", "score", "decision")),
    *(sa.column(n) for n in ("label", "label_source")),
    sa.column("raw", sa.JSON),
    sa.column("data", sa.JSON),
    sa.column("features", sa.JSON),
    sa.column("reasons", sa.JSON),
    sa.column("captured_at", UtcDateTime),
    sa.column("created_at", UtcDateTime),
    sa.column("updated_at", UtcDateTime),
)
_events = sa.table(
    "record_events",
    *(sa.column(n) for n in ("record_id", "run_id", "step", "step_version", "config_hash")),
    *(sa.column(n) for n in ("from_state", "to_state")),
    sa.column("at", UtcDateTime),
    sa.column("detail", sa.JSON),
)


def _old_store(url: str) -> None:
    """A store as revision 0006 wrote it: one validated claim delivered to the lake, one
    decided claim (changed after its delivery), one history row labeled, one collected."""
    engine = make_engine(url)
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0006")
        conn.execute(
            sa.insert(_runs).values(
                run_id="run1", process=PROCESS, kind="collect", robot="collect_claims",
                status="succeeded", details={}, summary={}, started_at=AT, finished_at=AT,
            )
        )  # fmt: skip
        records: list[dict[str, Any]] = [
            _record("a" * 32, claim(1), "validated", data={"amount": 12.5}, features={"x": 1}),
            _record("b" * 32, claim(2), "decided", data={"amount": 3.0}, features={"x": 2},
                    score=0.8, decision="reject", reasons=["score 0.80 >= 0.60"]),
            _record("c" * 32, history_row(3, "Paid"), "labeled", data={"amount": 1.0},
                    features={"x": 3}, label=0, label_source="portal#outcome"),
            _record("d" * 32, claim(4), "collected"),
        ]  # fmt: skip
        conn.execute(sa.insert(_records), records)
        steps = [["clean", "1.0.0", "c" * 64, {"notes": []}], ["validate", "1.1.0", "v" * 64, {}]]
        events = [
            _event(row["record_id"], "ingest", None, "collected", {"source": "robot:collect"})
            for row in records
        ] + [
            _event("a" * 32, "clean", "collected", "validated", {STEPS_KEY: steps}),
            _event("a" * 32, "deliver", None, None, _delivered("lake"), AT + dt.timedelta(hours=1)),
            _event("b" * 32, "deliver", None, None, _delivered("lake"), AT - dt.timedelta(hours=1)),
        ]
        conn.execute(sa.insert(_events), events)
    engine.dispose()


def _record(record_id: str, payload: dict[str, str], state: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "record_id": record_id, "process": PROCESS, "source": "robot:collect_claims",
        "source_location": f"http://portal/claims/{payload['claim_id']}",
        "natural_key": payload["claim_id"], "revision": 1, "content_hash": "h" * 64,
        "raw_hash": "r" * 64, "raw": payload, "data": None, "features": None, "state": state,
        "reason": None, "run_id": "run1", "attempts": 0, "score": None, "decision": None,
        "reasons": None, "label": None, "label_source": None, "captured_at": AT,
        "created_at": AT, "updated_at": AT,
    }  # fmt: skip
    row.update(values)
    return row


def _event(
    record_id: str, step: str, before: str | None, after: str | None, detail: dict[str, Any],
    at: dt.datetime = AT,
) -> dict[str, Any]:  # fmt: skip
    return {
        "record_id": record_id, "run_id": "run1", "step": step, "step_version": "1",
        "config_hash": None, "from_state": before, "to_state": after, "at": at, "detail": detail,
    }  # fmt: skip


def _delivered(target: str) -> dict[str, str]:
    return {"target": target, "kind": "parquet", "location": "/lake/part-1.parquet"}


def test_an_old_store_reads_back_the_same_and_goes_on(
    store_url: str, process_def: ProcessDefinition, tmp_path: Path
) -> None:
    _old_store(store_url)
    store = Store.connect(store_url)  # migrates to the current schema
    validated = store.get_record("a" * 32)
    assert validated.raw == claim(1)
    assert (validated.data, validated.features) == ({"amount": 12.5}, {"x": 1})
    assert validated.source_location == "http://portal/claims/CLM-000001"
    assert validated.captured_at == AT
    decided = store.get_record("b" * 32)
    assert (decided.state, decided.decision, decided.reasons) == (
        "decided",
        "reject",
        ["score 0.80 >= 0.60"],
    )
    labeled = store.get_record("c" * 32)
    assert (labeled.label, labeled.label_source, labeled.raw["outcome"]) == (
        0,
        "portal#outcome",
        "Paid",
    )
    # Lineage reads exactly as before: the per-record events stay.
    trail = store.lineage("a" * 32)
    assert [e.step for e in trail.events] == ["ingest", "clean", "validate", "deliver"]
    assert trail.events[2].to_state == "validated"
    assert store.counts(PROCESS) == {
        PROCESS: {"validated": 1, "decided": 1, "labeled": 1, "collected": 1}
    }
    # Work goes on: the collected claim is processed, the decided one can be acted on.
    summary = process_collected(store, process_def, store.start_run(PROCESS, "process"))
    assert summary.processed == 1
    assert [r.record_id for r in store.claim(PROCESS, "decided", owner="robot")] == ["b" * 32]
    # Only what the lake has not taken in its current form goes out again: the decided
    # claim (changed after its delivery) and the newly processed one, not the validated one.
    lake = process_def.model_copy(
        update={"delivery": [target for target in process_def.delivery if target.name == "lake"]}
    )
    report = delivered(store, lake, data_dir=tmp_path)
    assert report.targets[0].delivered == 2
    assert report.targets[0].unchanged == 1
    store.close()
