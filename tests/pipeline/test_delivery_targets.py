"""Delivery: a Parquet lake, a warehouse table, a report and a webhook, with lineage."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import polars as pl
import pytest
import yaml
from click.testing import CliRunner
from pipeline_claims import PROCESS_FILE, claim
from sqlalchemy import create_engine, text

from loopback_http import QuietHandler, loopback
from openlineage_spec import run_event_errors
from rpaml_pipeline.cli import main
from rpaml_pipeline.delivery import write_part
from rpaml_pipeline.lineage import OpenLineageEmitter
from rpaml_pipeline.process import ProcessDefinition, parse_process
from rpaml_pipeline.processing import process_collected
from rpaml_pipeline.stages import DeliverStage
from rpaml_pipeline.store import IncomingRecord, RecordState, StepEvent, Store, Transition
from stage_runs import delivered, staged_run


def with_delivery(targets: list[dict[str, Any]]) -> ProcessDefinition:
    data = yaml.safe_load(PROCESS_FILE.read_text(encoding="utf-8"))
    data.pop("enrichment", None)
    data["delivery"] = targets
    return parse_process(yaml.safe_dump(data), PROCESS_FILE)


class Webhook:
    """A loopback receiver that answers 503 to its first ``failures`` POSTs."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0
        self.bodies: list[dict[str, Any]] = []
        self.keys: list[str] = []
        self.url = ""


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook(failures=2)

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.attempts += 1
            if self.path.endswith("/reject"):
                self.send_response(422)
                self.end_headers()
                return
            if hook.attempts <= hook.failures:
                self.send_response(503)
                self.end_headers()
                return
            hook.bodies.append(json.loads(body))
            hook.keys.append(self.headers["Idempotency-Key"])
            self.send_response(204)
            self.end_headers()

    with loopback(Handler) as url:
        hook.url = f"{url}/hooks/claims"
        yield hook


def _stage_validated(
    store: Store, process: ProcessDefinition, count: int, chunk_size: int = 50_000
) -> list[str]:
    run_id = store.start_run(process.name, "collect", robot="collect_claims")
    result = store.ingest(
        process.name,
        [
            IncomingRecord(f"CLM-{n:06d}", claim(n), "robot:collect_claims", f"http://portal/{n}")
            for n in range(1, count + 1)
        ],
        run_id=run_id,
    )
    store.finish_run(run_id, "succeeded")
    process_collected(
        store, process, store.start_run(process.name, "process"), chunk_size=chunk_size
    )
    return result.record_ids


def _score(store: Store, record_id: str, score: float, decision: str) -> None:
    store.transition_many(
        [
            Transition(
                record_id,
                RecordState.DECIDED,
                RecordState.VALIDATED,
                values={
                    "score": score,
                    "decision": decision,
                    "reasons": ["amount is high"],
                    "model_name": "claims_fraud",
                    "model_version": "7",
                    "policy_version": "claims-policy-1",
                },
                events=[StepEvent("decide")],
            )
        ],
        run_id=None,
    )


def _lake_rows(lake: Path) -> list[dict[str, Any]]:
    con = duckdb.connect()
    try:
        query = (
            "SELECT natural_key, decision, score, amount, incident_date, process, date "
            f"FROM read_parquet('{lake}/**/*.parquet', hive_partitioning = true) "
            "ORDER BY natural_key, delivered_at"
        )
        cursor = con.execute(query)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


def test_every_target_takes_the_records_once(
    store: Store, tmp_path: Path, webhook: Webhook
) -> None:
    process = with_delivery(
        [
            {"name": "lake", "kind": "parquet", "path": "lake"},
            {
                "name": "warehouse",
                "kind": "warehouse",
                "url": "sqlite:///{data_dir}/warehouse.db",
                "table": "claims",
            },
            {"name": "report", "kind": "report", "path": "reports", "format": "csv"},
            {"name": "excel", "kind": "report", "path": "reports", "format": "xlsx"},
            {
                "name": "partner",
                "kind": "webhook",
                "url": webhook.url,
                "batch_size": 2,
                "retries": 3,
                "backoff_seconds": 0.01,
            },
        ]
    )
    ids = _stage_validated(store, process, 3)
    _score(store, ids[0], 0.91, "reject")
    emitter = OpenLineageEmitter.for_data_dir(tmp_path)

    result = staged_run(store, process, DeliverStage(), tmp_path, emitter=emitter)

    assert result.succeeded, result.as_dict()
    assert [t["delivered"] for t in result.summary["targets"]] == [3, 3, 3, 3, 3]
    # Lake: Hive partitions by process and date, no temp file left, readable by DuckDB.
    parts = sorted((tmp_path / "lake").rglob("*.parquet"))
    assert len(parts) == 1
    assert parts[0].parent.name == "date=2026-03-14"
    assert parts[0].parent.parent.name == "process=claims_triage"
    assert not list((tmp_path / "lake").rglob("*.tmp"))
    rows = _lake_rows(tmp_path / "lake")
    assert [r["natural_key"] for r in rows] == ["CLM-000001", "CLM-000002", "CLM-000003"]
    assert rows[0]["decision"] == "reject" and rows[0]["score"] == pytest.approx(0.91)
    assert rows[0]["amount"] == pytest.approx(1200.0)
    assert str(rows[0]["incident_date"]) == "2026-03-14"
    # Warehouse: one row per natural key.
    warehouse = create_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    with warehouse.connect() as conn:
        table = conn.execute(text("SELECT natural_key, state FROM claims ORDER BY 1")).all()
    assert table == [
        ("CLM-000001", "decided"),
        ("CLM-000002", "validated"),
        ("CLM-000003", "validated"),
    ]
    # Reports: CSV and Excel with a header and one line per record.
    [csv_report] = sorted((tmp_path / "reports").glob("*.csv"))
    with csv_report.open(encoding="utf-8") as handle:
        lines = list(csv.DictReader(handle))
    assert [line["natural_key"] for line in lines] == ["CLM-000001", "CLM-000002", "CLM-000003"]
    [xlsx_report] = sorted((tmp_path / "reports").glob("*.xlsx"))
    sheet = openpyxl.load_workbook(xlsx_report, read_only=True).active
    assert sheet is not None and len(list(sheet.iter_rows(values_only=True))) == 4
    # Webhook: two 503s were retried; 2 batches arrived, with every record once.
    assert webhook.attempts == 4
    assert [len(body["records"]) for body in webhook.bodies] == [2, 1]
    assert len(set(webhook.keys)) == 2
    # Lineage: each record shows one deliver event per target.
    trail = store.lineage(ids[1])
    took = [e.detail for e in trail.events if e.step == "deliver"]
    assert sorted(d["target"] for d in took) == [
        "excel",
        "lake",
        "partner",
        "report",
        "warehouse",
    ]
    lake_event = next(d for d in took if d["target"] == "lake")
    assert lake_event["location"] == str(parts[0])

    # Nothing changed: a second run delivers nothing and duplicates nothing.
    second = delivered(store, process, data_dir=tmp_path)
    assert [(t.delivered, t.unchanged) for t in second.targets] == [(0, 3)] * 5
    assert len(list((tmp_path / "lake").rglob("*.parquet"))) == 1
    assert webhook.attempts == 4

    # One record is decided: only it goes out again; the warehouse updates it in place.
    _score(store, ids[1], 0.05, "approve")
    third = delivered(store, process, data_dir=tmp_path, names=["lake", "warehouse"])
    assert [(t.target, t.delivered, t.unchanged) for t in third.targets] == [
        ("lake", 1, 2),
        ("warehouse", 1, 2),
    ]
    with warehouse.connect() as conn:
        table = conn.execute(text("SELECT natural_key, decision FROM claims ORDER BY 1")).all()
    warehouse.dispose()
    assert table == [("CLM-000001", "reject"), ("CLM-000002", "approve"), ("CLM-000003", None)]
    assert len(_lake_rows(tmp_path / "lake")) == 4

    # Run-level lineage: the first delivery run's events validate against OpenLineage 2-0-2
    # (the later runs append theirs to the same file).
    events = [json.loads(line) for line in emitter.path.read_text().splitlines()][:2]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    outputs = {o["name"]: o for o in events[1]["outputs"]}
    assert outputs["claims"]["outputFacets"]["outputStatistics"]["rowCount"] == 3
    for event in events:
        assert run_event_errors(event) == []


def test_a_failing_webhook_does_not_stop_the_other_targets(store: Store, tmp_path: Path) -> None:
    process = with_delivery(
        [
            {
                "name": "partner",
                "kind": "webhook",
                "url": "http://127.0.0.1:9/never",
                "retries": 1,
                "backoff_seconds": 0.01,
                "timeout_seconds": 2.0,
            },
            {"name": "lake", "kind": "parquet"},
        ]
    )
    ids = _stage_validated(store, process, 2)
    report = delivered(store, process, data_dir=tmp_path)
    partner, lake = report.targets
    assert partner.status == "failed" and "after 2 attempts" in (partner.error or "")
    assert lake.status == "succeeded" and lake.delivered == 2
    assert not report.ok and store.get_run(report.run_id).status == "failed"
    # The webhook's records are not marked delivered: the next run tries them again.
    assert [e.detail["target"] for e in store.record_events(ids[0]) if e.step == "deliver"] == [
        "lake"
    ]


def test_the_lake_never_shows_a_half_written_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = pl.DataFrame({"natural_key": ["CLM-000001"], "amount": [1.0]})

    def crash_half_way(self: pl.DataFrame, file: Path, **_: Any) -> None:
        Path(file).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", crash_half_way)
    with pytest.raises(OSError, match="disk full"):
        write_part(frame, tmp_path / "part", "part-1")
    assert list((tmp_path / "part").iterdir()) == []


def test_warehouse_upsert_on_postgresql(store: Store, tmp_path: Path, pg_url: str) -> None:
    process = with_delivery(
        [{"name": "warehouse", "kind": "warehouse", "url": pg_url, "table": "claims"}]
    )
    ids = _stage_validated(store, process, 2)
    assert delivered(store, process, data_dir=tmp_path).targets[0].delivered == 2
    _score(store, ids[0], 0.5, "escalate")
    assert delivered(store, process, data_dir=tmp_path).targets[0].delivered == 1
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT natural_key, decision, revision FROM claims ORDER BY 1")
            ).all()
    finally:
        engine.dispose()
    assert rows == [("CLM-000001", "escalate", 1), ("CLM-000002", None, 1)]


def test_cli_deliver_and_lineage_show_the_delivery(tmp_path: Path) -> None:
    process_file = tmp_path / "claims.yaml"
    data = yaml.safe_load(PROCESS_FILE.read_text(encoding="utf-8"))
    data.pop("enrichment", None)
    data["delivery"] = [{"name": "lake", "kind": "parquet"}]
    process_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    env = {"RPAML_DATA_DIR": str(tmp_path / "data"), "RPAML_PROCESS_FILE": str(process_file)}
    with Store.connect(f"sqlite:///{tmp_path / 'data' / 'rpaml.db'}") as store:
        [record_id] = _stage_validated(store, parse_process(yaml.safe_dump(data)), 1)
    result = CliRunner().invoke(main, ["deliver", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["targets"][0]["delivered"] == 1
    trail = CliRunner().invoke(main, ["lineage", record_id], env=env)
    assert trail.exit_code == 0, trail.output
    assert "deliver" in trail.output and "target: lake" in trail.output
    assert "process=claims_triage" in trail.output


def test_a_webhook_that_refuses_a_batch_is_not_retried(
    store: Store, tmp_path: Path, webhook: Webhook
) -> None:
    webhook.failures = 0
    process = with_delivery(
        [{"name": "partner", "kind": "webhook", "url": webhook.url + "/reject", "retries": 3}]
    )
    _stage_validated(store, process, 1)
    [partner] = delivered(store, process, data_dir=tmp_path).targets
    assert partner.status == "failed" and "refused the batch: HTTP 422" in (partner.error or "")
    assert webhook.attempts == 1 and partner.delivered == 0


def test_records_are_delivered_a_batch_at_a_time(store: Store, tmp_path: Path) -> None:
    """Memory stays bounded by a processed batch: one lake part per batch."""
    process = with_delivery(
        [
            {"name": "lake", "kind": "parquet"},
            {"name": "report", "kind": "report", "format": "csv"},
        ]
    )
    _stage_validated(store, process, 5, chunk_size=2)
    lake, report = delivered(store, process, data_dir=tmp_path).targets
    assert (lake.delivered, report.delivered) == (5, 5)
    assert len(list((tmp_path / "lake").rglob("*.parquet"))) == 3
    assert len(_lake_rows(tmp_path / "lake")) == 5
    [csv_report] = list((tmp_path / "reports").glob("*.csv"))
    assert len(csv_report.read_text(encoding="utf-8").splitlines()) == 6
    assert not list((tmp_path / "reports").glob(".*"))
