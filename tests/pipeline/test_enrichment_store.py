"""Enrichments: data robots look up elsewhere, stored beside the record and merged before
cleaning when the process file declares it (real SQLite and, marked, PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from pipeline_claims import PROCESS_FILE, claim

from rpaml_pipeline.errors import InvalidTransitionError, ProcessFileError, RecordNotFoundError
from rpaml_pipeline.process import ProcessDefinition, parse_process
from rpaml_pipeline.processing import process_collected
from rpaml_pipeline.store import IncomingRecord, RecordState, Store

PROCESS = "claims_triage"
POLICY_FIELDS = ["policy_start_date", "prior_claims"]


def _enriched_process(required: bool = True, fields: list[str] | None = None) -> ProcessDefinition:
    data = yaml.safe_load(PROCESS_FILE.read_text(encoding="utf-8"))
    # Replaces the shipped enrichment: the staged claims carry its fields already.
    data["enrichment"] = {
        "robot": "enrich_policies",
        "required": required,
        "fields": POLICY_FIELDS if fields is None else fields,
    }
    return parse_process(yaml.safe_dump(data), "enriched.yaml")


def _stage(store: Store, numbers: list[int]) -> list[str]:
    run = store.start_run(PROCESS, "collect", "collect_claims")
    items = []
    for number in numbers:
        payload = claim(number)
        # The portal does not show the policy: the enrichment robot looks it up.
        for name in POLICY_FIELDS:
            del payload[name]
        items.append(IncomingRecord(payload["claim_id"], payload, "robot:collect_claims"))
    return store.ingest(PROCESS, items, run_id=run).record_ids


def test_add_enrichment_stores_it_and_writes_lineage(store: Store) -> None:
    (record_id,) = _stage(store, [1])
    run = store.start_run(PROCESS, "enrich", "enrich_policies")
    first = store.add_enrichment(
        record_id,
        source="robot:enrich_policies",
        location="Policy Manager - POL-000007",
        search_term="POL-000007",
        payload={"policy_start_date": "01/06/2020", "prior_claims": "1"},
        run_id=run,
        captured_at=dt.datetime(2026, 3, 14, 12, 0),
    )
    second = store.add_enrichment(
        record_id,
        source="robot:enrich_policies",
        location="Policy Manager - POL-000007",
        search_term="POL-000007",
        payload={"policy_start_date": "01/06/2021", "prior_claims": "2"},
        run_id=run,
        captured_at=dt.datetime(2026, 3, 14, 13, 0, tzinfo=dt.UTC),
    )
    found = store.enrichments(record_id)
    assert [e.enrichment_id for e in found] == [first, second]
    assert found[0].captured_at == dt.datetime(2026, 3, 14, 12, 0, tzinfo=dt.UTC)
    assert found[1].payload == {"policy_start_date": "01/06/2021", "prior_claims": "2"}
    assert (found[1].process, found[1].search_term, found[1].run_id) == (
        PROCESS,
        "POL-000007",
        run,
    )
    assert len(found[1].raw_hash) == 64 and found[0].raw_hash != found[1].raw_hash
    assert store.latest_enrichments([record_id, "nope"]) == {record_id: found[1]}
    lineage = store.lineage(record_id)
    enrich_events = [e for e in lineage.events if e.step == "enrich"]
    assert [e.detail["enrichment_id"] for e in enrich_events] == [first, second]
    assert enrich_events[0].detail["location"] == "Policy Manager - POL-000007"
    assert lineage.enrichments == found
    # The raw record is what the collecting robot saw.
    assert "policy_start_date" not in store.get_record(record_id).raw
    with pytest.raises(RecordNotFoundError):
        store.add_enrichment(
            "missing", source="robot:x", location=None, search_term=None, payload={}, run_id=None
        )


def test_quarantine_a_collected_record_with_the_reason(store: Store) -> None:
    (record_id,) = _stage(store, [2])
    run = store.start_run(PROCESS, "enrich", "enrich_policies")
    store.quarantine(record_id, "policy POL-000014 does not exist in Policy Manager", run_id=run)
    record = store.get_record(record_id)
    assert (record.state, record.reason) == (
        "quarantined",
        "policy POL-000014 does not exist in Policy Manager",
    )
    last = store.lineage(record_id).events[-1]
    assert (last.step, last.from_state, last.to_state, last.run_id) == (
        "enrich",
        "collected",
        "quarantined",
        run,
    )
    with pytest.raises(InvalidTransitionError):
        store.quarantine(record_id, "again", run_id=run)


def test_runner_merges_the_newest_enrichment_and_waits_for_missing_ones(store: Store) -> None:
    process = _enriched_process()
    enriched_id, waiting_id = _stage(store, [3, 4])
    store.add_enrichment(
        enriched_id,
        source="robot:enrich_policies",
        location="Policy Manager",
        search_term="POL-000021",
        payload={"policy_start_date": "01/06/2020", "prior_claims": "9"},
        run_id=None,
    )
    newest = store.add_enrichment(
        enriched_id,
        source="robot:enrich_policies",
        location="Policy Manager",
        search_term="POL-000021",
        # Fields outside enrichment.fields are not merged.
        payload={"policy_start_date": "01/06/2024", "prior_claims": "2", "claimant_name": "X"},
        run_id=None,
    )
    run = store.start_run(PROCESS, "process")
    summary = process_collected(store, process, run, chunk_size=1)
    assert (summary.processed, summary.validated, summary.waiting) == (1, 1, 1)
    record = store.get_record(enriched_id)
    assert record.state == "validated"
    assert record.data is not None
    assert (record.data["policy_start_date"], record.data["prior_claims"]) == ("2024-06-01", 2)
    assert record.data["claimant_name"] == "Ada Lovelace"
    assert "policy_start_date" not in record.raw
    clean_event = next(e for e in store.lineage(enriched_id).events if e.step == "clean")
    assert clean_event.detail["enrichment"]["enrichment_id"] == newest
    assert clean_event.detail["enrichment"]["fields"] == POLICY_FIELDS
    # The record without enrichment waits, released, for the robot.
    waiting = store.get_record(waiting_id)
    assert (waiting.state, waiting.lease_owner) == (RecordState.COLLECTED.value, None)
    store.add_enrichment(
        waiting_id,
        source="robot:enrich_policies",
        location="Policy Manager",
        search_term="POL-000028",
        payload={"policy_start_date": "not a date", "prior_claims": "0"},
        run_id=None,
    )
    later = process_collected(store, process, store.start_run(PROCESS, "process"))
    assert (later.processed, later.quarantined, later.waiting) == (1, 1, 0)
    assert "policy_start_date" in (store.get_record(waiting_id).reason or "")


def test_optional_enrichment_does_not_hold_records_back(store: Store) -> None:
    process = _enriched_process(required=False)
    (record_id,) = _stage(store, [5])
    summary = process_collected(store, process, store.start_run(PROCESS, "process"))
    assert (summary.processed, summary.quarantined, summary.waiting) == (1, 1, 0)
    reason = store.get_record(record_id).reason or ""
    assert "policy_start_date" in reason and "prior_claims" in reason


def test_enrichment_fields_must_be_contract_fields() -> None:
    with pytest.raises(ProcessFileError, match=r"enrichment\.fields\.0: 'coverage_level'"):
        _enriched_process(fields=["coverage_level"])
