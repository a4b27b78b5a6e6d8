"""Weak rule-based labels: recorded with the rule that gave them, the record still scored;
known outcomes always win. Cleaning notes in lineage name the rule that wrote them."""

from __future__ import annotations

import pytest
from pipeline_claims import claim, history_row
from pydantic import ValidationError

from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.process.definition import Condition, WeakLabelRule
from rpaml_pipeline.processing import process_collected
from rpaml_pipeline.replay import replay_run
from rpaml_pipeline.steps.label import holds
from rpaml_pipeline.store import IncomingRecord, Store

RULES = [
    WeakLabelRule(
        name="large claim on a young policy",
        label=1,
        when=[
            Condition(field="amount", op="ge", value=10000),
            Condition(field="days_policy_active", op="lt", value=700),
        ],
    ),
    WeakLabelRule(
        name="small web claim", label=0, when=[Condition(field="channel", op="in", value=["web"])]
    ),
]


def test_weak_labels_are_recorded_with_their_rule(
    store: Store, process_def: ProcessDefinition
) -> None:
    process = process_def.model_copy(update={"weak_labels": RULES})
    items = [
        # amount $12,345.67, policy since 2024-06-01, incident 2026-03-14: 651 days
        IncomingRecord("LARGE", claim(0), "robot:collect"),
        IncomingRecord("WEB", claim(4, channel="web"), "robot:collect"),  # amount 880.5
        IncomingRecord("NONE", claim(2, channel="phone"), "robot:collect"),
        IncomingRecord("KNOWN", history_row(3, outcome="Paid"), "robot:history"),
    ]
    run = store.start_run(process.name, "collect", "test")
    ids = dict(
        zip(
            [i.natural_key for i in items],
            store.ingest(process.name, items, run_id=run).record_ids,
            strict=True,
        )
    )
    process_run = store.start_run(process.name, "process")
    summary = process_collected(store, process, process_run)
    assert summary.validated == 3 and summary.labeled == 1
    large, web, none, known = (store.get_record(ids[key]) for key in ids)
    assert (large.state, large.label, large.label_source) == (
        "validated",
        1,
        "weak:large claim on a young policy",
    )
    assert (web.label, web.label_source) == (0, "weak:small web claim")
    assert (none.label, none.label_source) == (None, None)
    assert (known.state, known.label, known.label_source) == (
        "labeled",
        0,
        "portal:closed-claims-export#outcome",
    )
    trail = store.lineage(large.record_id)
    weak = [e for e in trail.events if e.step == "weak_label"]
    assert len(weak) == 1 and weak[0].detail["rule"] == "large claim on a young policy"
    assert weak[0].step_version and weak[0].config_hash
    assert not [e for e in store.lineage(known.record_id).events if e.step == "weak_label"]
    # claim(2) shows no police report: the named default rule fills it, and says so.
    none_events = store.lineage(none.record_id).events
    notes = next(e for e in none_events if e.step == "clean").detail["notes"]
    assert notes == [
        "police_report: missing, set to False (rule no report on file means no police report)"
    ]
    assert replay_run(store, process_run).identical


def test_conditions() -> None:
    values = {"amount": 12.5, "channel": "web", "flag": True, "gone": None}
    assert holds(Condition(field="amount", op="gt", value=12), values)
    assert not holds(Condition(field="channel", op="gt", value=1), values)
    assert not holds(Condition(field="flag", op="ge", value=1), values)  # yes/no is no number
    assert holds(Condition(field="gone", op="missing"), values)
    assert holds(Condition(field="absent", op="missing"), values)
    assert holds(Condition(field="channel", op="ne", value="phone"), values)
    with pytest.raises(ValidationError, match="needs a list"):
        Condition(field="channel", op="in", value="web")
    with pytest.raises(ValidationError, match="needs a number"):
        Condition(field="amount", op="lt", value="12")
