"""Outcomes that come back for decided records become labels judging those decisions."""

from __future__ import annotations

import datetime as dt

from pipeline_claims import FakeClock, claim

from rpaml_pipeline.store import IncomingRecord, RecordState, StepEvent, Store, Transition

PROCESS = "claims_triage"
SOURCE = "portal:closed-claims-export"


def _incoming(number: int, source: str, **overrides: str) -> IncomingRecord:
    payload = claim(number, **overrides)
    return IncomingRecord(
        natural_key=payload["claim_id"],
        payload=payload,
        source=source,
        source_location=f"http://portal/claims/{payload['claim_id']}",
        captured_at=dt.datetime(2026, 3, 14, 11, 0, tzinfo=dt.UTC),
    )


def _acted(store: Store, numbers: list[int], action: str) -> list[str]:
    """Stage claims, decide them (as scoring does) and apply them (as the act robot does)."""
    run = store.start_run(PROCESS, "collect", "collect_claims")
    incoming = [_incoming(n, "robot:collect_claims") for n in numbers]
    ids = store.ingest(PROCESS, incoming, run_id=run).record_ids
    store.transition_many(
        [
            Transition(
                record_id=rid,
                to_state=RecordState.DECIDED,
                values={
                    "score": 0.3,
                    "decision": action,
                    "model_version": "4",
                    "policy_version": "claims-costs-1",
                    "expected_costs": {"approve": 900.0, "escalate": 150.0, "reject": 1750.0},
                },
                events=[StepEvent("decide", "1", "abc", {})],
            )
            for rid in ids
        ],
        run_id=run,
    )
    store.claim(PROCESS, "decided", owner="robot", limit=len(ids))
    for rid in ids:
        store.mark_acting(rid, owner="robot")
        store.record_action(rid, receipt=f"RCPT-{rid[-8:]}", outcome="applied", run_id=None)
    return ids


def _closed(store: Store, numbers: list[int], label: int) -> list[str]:
    """The closed claims come back from the history export; processing labels them."""
    run = store.start_run(PROCESS, "history", "download_history")
    closed = [_incoming(n, "robot:download_history", status="Closed") for n in numbers]
    ids = store.ingest(PROCESS, closed, run_id=run).record_ids
    store.transition_many(
        [
            Transition(
                record_id=rid,
                to_state=RecordState.LABELED,
                values={"label": label, "label_source": SOURCE},
            )
            for rid in ids
        ],
        run_id=run,
    )
    return ids


def test_an_outcome_judges_the_decision_with_its_provenance(store: Store, clock: FakeClock) -> None:
    [decided] = _acted(store, [1], "escalate")
    clock.advance(seconds=5 * 86400)
    [labeled] = _closed(store, [1], label=1)
    run = store.start_run(PROCESS, "process", None)

    assert store.labels.link_outcomes(PROCESS, run_id=run) == 1

    [judged] = store.lineage(decided).labels
    assert (judged.kind, judged.label, judged.source, judged.action) == (
        "outcome",
        1,
        SOURCE,
        "escalate",
    )
    assert (judged.model_version, judged.policy_version, judged.score) == (
        "4",
        "claims-costs-1",
        0.3,
    )
    assert judged.delay_seconds is not None and judged.delay_seconds >= 5 * 86400
    assert judged.details["labeled_record"] == labeled and judged.run_id == run
    # The decided revision keeps its state, decision and receipt.
    kept = store.get_record(decided)
    assert (kept.state, kept.decision, kept.superseded_by) == ("acted", "escalate", labeled)
    [row] = store.labels.decided_with_labels(PROCESS)
    assert (row.record_id, row.label, row.action) == (decided, 1, "escalate")
    assert row.expected_costs == {"approve": 900.0, "escalate": 150.0, "reject": 1750.0}


def test_linking_is_idempotent_and_counts_by_kind(store: Store) -> None:
    _acted(store, [1, 2, 3], "approve")
    _closed(store, [1, 2], label=0)
    run = store.start_run(PROCESS, "process", None)
    assert store.labels.link_outcomes(PROCESS, run_id=run) == 2
    assert store.labels.link_outcomes(PROCESS, run_id=run) == 0
    _closed(store, [3], label=1)
    assert store.labels.link_outcomes(PROCESS, run_id=run) == 1
    assert store.labels.counts(PROCESS) == {"outcome": 3}
    assert sorted(row.label for row in store.labels.decided_with_labels(PROCESS)) == [0, 0, 1]


def test_history_never_decided_and_undecided_records_get_no_decision_label(store: Store) -> None:
    # A closed claim rpaml never saw before is history (a labeled record), nothing to judge.
    _closed(store, [7], label=1)
    # A claim still waiting for its decision has nothing to be judged yet.
    run = store.start_run(PROCESS, "collect", "collect_claims")
    store.ingest(PROCESS, [_incoming(8, "robot:collect_claims")], run_id=run)
    _closed(store, [8], label=0)
    assert store.labels.link_outcomes(PROCESS, run_id=run) == 0
    assert store.labels.counts(PROCESS) == {}
