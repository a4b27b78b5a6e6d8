"""The review queue in the store: order, leases, decisions, labels and the audit trail,
on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from review_queue_items import queue_claims
from rpaml_pipeline.errors import ReviewDecidedError, ReviewItemNotFoundError, ReviewLeaseError
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.store import IncomingRecord, RecordState, Store, Transition
from rpaml_pipeline.store.review_decisions import ReviewVerdict
from rpaml_pipeline.store.review_queue import value_of_review
from rpaml_pipeline.store.schema import (
    record_labels,
    records,
    review_audit,
    review_decisions,
    review_items,
)


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 14, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def _verdict(choice: str = "reject") -> ReviewVerdict:
    outcome, label = ("fraud", 1) if choice == "reject" else ("legitimate", 0)
    return ReviewVerdict(choice=choice, action=choice, outcome=outcome, label=label,
                         shown_hash="0" * 64, note="checked the invoice")  # fmt: skip


def _snapshot(store: Store) -> dict[str, Any]:
    with store.ctx.read() as conn:
        return {
            table.name: sorted(tuple(map(str, row)) for row in conn.execute(select(table)))
            for table in (records, review_items, review_decisions, review_audit, record_labels)
        }


def test_value_of_review_is_the_cost_saved_over_the_best_automatic_action() -> None:
    costs = {"approve": 900.0, "escalate": 150.0, "reject": 1750.0}
    assert value_of_review(costs, "escalate") == 750.0
    assert value_of_review({"approve": 100.0, "escalate": 150.0}, "escalate") == 0.0
    assert value_of_review(None, "escalate") == 0.0


def test_escalations_wait_for_review_in_order_of_value(
    store: Store, process: ProcessDefinition
) -> None:
    queued = queue_claims(store, process, 40)
    assert queued
    waiting = store.reading.records(queued)
    assert {record.state for record in waiting} == {"review"}
    assert {record.decision for record in waiting} == {"escalate"}
    # The act robot's claim never sees them.
    assert all(
        r.decision != "escalate" for r in store.claim(process.name, "decided", owner="robot")
    )
    values = [item.value for item in store.review.listing(process.name, limit=100)]
    assert values == sorted(values, reverse=True)
    for record, item in zip(waiting, store.review.listing(process.name, limit=100), strict=True):
        assert record.expected_costs is not None
        assert item.value == pytest.approx(value_of_review(record.expected_costs, "escalate"))
    steps = [event.step for event in store.record_events(queued[0])]
    assert steps[-1] == "review.queue"


def test_items_past_their_sla_come_first(store_url: str, process: ProcessDefinition) -> None:
    clock = Clock()
    with Store.connect(store_url, clock=clock) as store:
        first = queue_claims(store, process, 20, seed=5)
        clock.advance(hours=23)
        later = set(queue_claims(store, process, 20, seed=6)) - set(first)
        clock.advance(hours=2)  # the first lot is past its 24 h SLA, the second is not
        order = [item.record_id for item in store.review.listing(process.name, limit=100)]
        assert set(order[: len(first)]) == set(first)
        assert set(order[len(first) :]) == set(later)
        stats = store.review.stats(process.name)
        assert (stats.open, stats.past_sla) == (len(first) + len(later), len(first))
        assert all(store.review.item(rid).past_sla(clock.now) for rid in first)


def test_two_reviewers_never_hold_the_same_item(store: Store, process: ProcessDefinition) -> None:
    queued = queue_claims(store, process, 60)
    got: dict[str, list[str]] = {f"reviewer{n}": [] for n in range(4)}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            while True:
                item = store.review.lease_next(process.name, name, lease_seconds=600,
                                               exclude=got[name])  # fmt: skip
                if item is None:
                    return
                got[name].append(item.record_id)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in got]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    taken = [rid for ids in got.values() for rid in ids]
    # Each reviewer holds one item at a time (a reviewer's next lease is their own first);
    # skipping keeps the lease, so every item went to exactly one of them.
    assert sorted(taken) == sorted(queued)
    assert len(set(taken)) == len(taken)


def test_an_expired_lease_returns_the_item(store_url: str, process: ProcessDefinition) -> None:
    clock = Clock()
    with Store.connect(store_url, clock=clock) as store:
        queue_claims(store, process, 20)
        ann = store.review.lease_next(process.name, "ann", lease_seconds=600)
        assert ann is not None
        bob = store.review.lease_next(process.name, "bob", lease_seconds=600)
        assert bob is not None and bob.record_id != ann.record_id
        clock.advance(minutes=11)
        cid = store.review.lease_next(process.name, "cid", lease_seconds=600)
        assert cid is not None and cid.record_id == ann.record_id
        with pytest.raises(ReviewLeaseError, match="leased to another reviewer"):
            store.review_decisions.decide(ann.record_id, "ann", ann.lease_token or "",
                                          _verdict(), run_id="r")  # fmt: skip
        trail = store.review_decisions.audit_trail(process.name, record_id=ann.record_id)
        assert [(e.event, e.reviewer) for e in trail] == [("lease", "ann"), ("lease", "cid")]
        assert trail[1].detail["expired_lease_of"] == "ann"


def test_a_decision_becomes_the_final_action_and_a_label(
    store: Store, process: ProcessDefinition
) -> None:
    queue_claims(store, process, 20)
    item = store.review.lease_next(process.name, "ann", lease_seconds=600)
    assert item is not None and item.lease_token is not None
    decision = store.review_decisions.decide(item.record_id, "ann", item.lease_token,
                                             _verdict("reject"), run_id="review-run")  # fmt: skip
    record = store.get_record(item.record_id)
    assert record.state == RecordState.DECIDED and record.decision == "reject"
    assert decision.model_action == "escalate" and decision.reviewer == "ann"
    assert decision.model_version == "1" and decision.policy_version == "claims-costs-1"
    [label] = store.labels.of_record(item.record_id)
    assert (label.kind, label.source, label.label, label.action) == (
        "review",
        "review",
        1,
        "escalate",
    )
    assert label.details["reviewer"] == "ann" and label.details["shown_hash"] == "0" * 64
    assert label.details["final_action"] == "reject"
    # The act robot takes it like any decision, and applies it once.
    claimed = {
        r.record_id: r for r in store.claim(process.name, "decided", owner="robot", limit=100)
    }
    assert claimed[item.record_id].decision == "reject"
    store.mark_acting(item.record_id, owner="robot")
    store.record_action(item.record_id, receipt="RCPT-1", outcome="applied")
    store.release_many(list(claimed), "robot")
    again = store.claim(process.name, "decided", owner="robot", limit=100)
    assert item.record_id not in {r.record_id for r in again}
    assert store.get_record(item.record_id).receipt == "RCPT-1"
    events = [e.event for e in store.review_decisions.audit_trail(process.name)]
    assert events == ["lease", "decision"]
    assert store.review.stats(process.name).decided_today == 1


def test_refused_requests_change_nothing(store: Store, process: ProcessDefinition) -> None:
    queue_claims(store, process, 20)
    item = store.review.lease_next(process.name, "ann", lease_seconds=600)
    other = store.review.lease_next(process.name, "bob", lease_seconds=600)
    assert item is not None and other is not None and item.lease_token is not None
    before = _snapshot(store)
    decide = store.review_decisions.decide
    with pytest.raises(ReviewItemNotFoundError):
        decide("f" * 32, "ann", item.lease_token, _verdict(), run_id="r")
    with pytest.raises(ReviewLeaseError, match="not from your current lease"):
        decide(item.record_id, "ann", "forged-token", _verdict(), run_id="r")
    with pytest.raises(ReviewLeaseError, match="another reviewer"):
        decide(other.record_id, "ann", item.lease_token, _verdict(), run_id="r")
    with pytest.raises(ReviewLeaseError):
        store.review.release(other.record_id, "ann", item.lease_token, reason="skip")
    assert _snapshot(store) == before
    decide(item.record_id, "ann", item.lease_token, _verdict(), run_id="r")
    after = _snapshot(store)
    with pytest.raises(ReviewDecidedError, match="already decided by ann"):
        decide(item.record_id, "ann", item.lease_token, _verdict("approve"), run_id="r")
    assert _snapshot(store) == after
    with store.ctx.read() as conn:
        assert conn.execute(select(func.count()).select_from(review_decisions)).scalar() == 1


def test_a_reviewed_record_keeps_its_review_and_its_outcome(
    store: Store, process: ProcessDefinition
) -> None:
    queue_claims(store, process, 20)
    item = store.review.lease_next(process.name, "ann", lease_seconds=600)
    assert item is not None and item.lease_token is not None
    store.review_decisions.decide(item.record_id, "ann", item.lease_token, _verdict("approve"),
                                  run_id="review-run")  # fmt: skip
    store.claim(process.name, "decided", owner="robot", limit=100)
    store.mark_acting(item.record_id, owner="robot")
    store.record_action(item.record_id, receipt="RCPT-7", outcome="applied")
    # The claim closes in the portal: the history export brings its outcome back.
    record = store.get_record(item.record_id)
    run = store.start_run(process.name, "history", "download_history")
    closed = IncomingRecord(natural_key=record.natural_key,
                            payload={**record.raw, "status": "Closed", "outcome": "Paid"},
                            source="robot:download_history")  # fmt: skip
    [labeled] = store.ingest(process.name, [closed], run_id=run).record_ids
    store.transition_many(
        [Transition(record_id=labeled, to_state=RecordState.LABELED,
                    values={"label": 0, "label_source": "portal:closed-claims-export"})],
        run_id=run,
    )  # fmt: skip
    assert store.labels.link_outcomes(process.name, run_id=run) == 1
    labels = store.labels.of_record(item.record_id)
    assert sorted((label.kind, label.source) for label in labels) == [
        ("outcome", "portal:closed-claims-export"),
        ("review", "review"),
    ]
    outcome = next(label for label in labels if label.kind == "outcome")
    assert outcome.action == "approve"  # the outcome judges the action the robot applied
    assert store.labels.counts(process.name) == {"outcome": 1, "review": 1}
