"""SQL and HTTP sources: rows from any SQLAlchemy URL and a real loopback JSON endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pipeline_claims import PROCESS_FILE, claim
from sqlalchemy import create_engine, text

from loopback_http import QuietHandler, answer_json, loopback
from openlineage_spec import run_event_errors
from rpaml_pipeline.lineage import OpenLineageEmitter
from rpaml_pipeline.process import ProcessDefinition, parse_process
from rpaml_pipeline.store import Store, raw_hash
from stage_runs import ingested


def with_sources(sources: list[dict[str, Any]]) -> ProcessDefinition:
    data = yaml.safe_load(PROCESS_FILE.read_text(encoding="utf-8"))
    data.pop("enrichment", None)
    data["sources"] = sources
    return parse_process(yaml.safe_dump(data), PROCESS_FILE)


@pytest.fixture
def endpoint() -> Iterator[str]:
    """``/claims`` answers claims under ``data.items``; ``/down`` answers 503."""
    body = {"data": {"items": [claim(21), claim(22), {"claimId": ""}]}}

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            if self.path != "/claims":
                self.send_response(503)
                self.end_headers()
                return
            answer_json(self, body)

    with loopback(Handler) as url:
        yield url


def test_sql_source_stages_query_rows(store: Store, tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'claims-system.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE claims (ref TEXT, amount TEXT, claimant_age INTEGER)"))
        conn.execute(
            text("INSERT INTO claims VALUES ('CLM-000031', '$10.00', 40), ('CLM-000032', '5', 51)")
        )
    engine.dispose()
    process = with_sources(
        [
            {
                "name": "claims_system",
                "kind": "sql",
                "url": "sqlite:///{data_dir}/claims-system.db",
                "query": "SELECT ref, amount, claimant_age FROM claims ORDER BY ref",
                "fields": {"claim_id": "ref"},
            }
        ]
    )
    emitter = OpenLineageEmitter.for_data_dir(tmp_path)
    [report] = ingested(store, process, data_dir=tmp_path, emitter=emitter)
    assert report.status == "succeeded" and report.new == 2, report
    record = store.latest(process.name, "CLM-000032")
    assert record is not None
    assert record.source == "sql:claims_system"
    assert record.raw == {"claim_id": "CLM-000032", "amount": "5", "claimant_age": "51"}
    assert record.raw_hash == raw_hash(record.raw)
    location = record.source_location or ""
    assert "claims-system.db" in location and "SELECT ref, amount" in location
    assert location.endswith("| row 2")
    [again] = ingested(store, process, data_dir=tmp_path)
    assert again.unchanged == 2 and again.new == 0
    # The first ingest run's OpenLineage events: START and COMPLETE, valid against spec
    # 2-0-2 (the second run appends its own).
    events = [json.loads(line) for line in emitter.path.read_text().splitlines()][:2]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert events[1]["job"]["name"] == "claims_triage.ingest.claims_system"
    assert events[1]["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 2
    assert "claims-system.db" in events[0]["inputs"][0]["name"]
    for event in events:
        assert run_event_errors(event) == []


def test_http_source_and_a_failing_source_does_not_stop_the_others(
    store: Store, tmp_path: Path, endpoint: str
) -> None:
    process = with_sources(
        [
            {"name": "down", "kind": "http", "url": f"{endpoint}/down", "timeout_seconds": 5.0},
            {
                "name": "partner_api",
                "kind": "http",
                "url": f"{endpoint}/claims",
                "records_path": "data.items",
            },
            {
                "name": "bad_sql",
                "kind": "sql",
                "url": "sqlite:///{data_dir}/nothing.db",
                "query": "SELECT * FROM no_such_table",
            },
        ]
    )
    down, partner, bad_sql = ingested(store, process, data_dir=tmp_path)
    assert down.status == "failed" and "HTTP 503" in (down.error or "")
    assert store.get_run(down.run_id).status == "failed"
    assert bad_sql.status == "failed" and "no_such_table" in (bad_sql.error or "")
    assert partner.status == "succeeded" and partner.new == 2
    assert len(partner.rejected) == 1 and "#/data/items/2" in partner.rejected[0]
    record = store.latest(process.name, "CLM-000021")
    assert record is not None
    assert record.source == "http:partner_api"
    assert record.source_location == f"{endpoint}/claims#/data/items/0"
    assert record.raw["amount"] == claim(21)["amount"]
    [only] = ingested(store, process, data_dir=tmp_path, names=["partner_api"])
    assert only.unchanged == 2
