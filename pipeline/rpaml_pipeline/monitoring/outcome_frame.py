"""The outcome frame of a process from its store (see :mod:`.outcomes` for its columns).

One row per decided record: ``decided_at`` is when the scoring run decided it (its
``decide`` lineage event), ``action`` its decision, ``score``, ``amount`` (the policy's
amount feature) and ``label``: the outcome that came back for it, from the labels that
judge decisions (:mod:`rpaml_pipeline.store.labels`), empty while the outcome is unknown.

When the process declares label maturity (``model.retrain.maturity``), monitoring reads
outcomes as training does: the outcome of a decision not yet mature counts as unknown (a
week of approvals judged on their quick good news alone would look cheaper than it was,
and "always approve" cheaper still), and ``decided_at`` is the record's ``entered_on``
date, the source's calendar, so decision weeks follow business days, in a replay or the
sandbox's simulated calendar too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import select

from rpaml_pipeline.label_maturity import date_of, is_mature
from rpaml_pipeline.monitoring.outcomes import OUTCOME_COLUMNS, empty_outcomes
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.store import RecordState, Store
from rpaml_pipeline.store.schema import record_events, records


def decision_outcomes(store: Store, process: ProcessDefinition) -> pd.DataFrame:
    """Every decided record of ``process`` with its decision time, action, score, label."""
    with store.ctx.read() as conn:
        decided = dict(
            conn.execute(
                select(record_events.c.record_id, record_events.c.at)
                .join(records, records.c.record_id == record_events.c.record_id)
                .where(
                    records.c.process == process.name,
                    record_events.c.step == "score",
                    record_events.c.to_state == RecordState.DECIDED.value,
                )
            ).all()
        )
    if not decided:
        return empty_outcomes()
    # The latest label judging each decision (observation order).
    judged = {row.record_id: row.label for row in store.labels.decided_with_labels(process.name)}
    amount = process.policy.amount_field
    maturity = process.model.retrain.maturity
    observed: list[dt.date] = []
    rows: list[dict[str, Any]] = []
    for chunk in store.iter_records(process.name):
        for record in chunk:
            if maturity is not None and record.state == RecordState.LABELED.value:
                found = date_of(record, maturity.observed_on)
                if found is not None:
                    observed.append(found)
            if record.decision is None or record.record_id not in decided:
                continue
            features = record.features or {}
            entered = None if maturity is None else date_of(record, maturity.entered_on)
            rows.append(
                {
                    "record_id": record.record_id,
                    "decided_at": decided[record.record_id]
                    if entered is None
                    else dt.datetime.combine(entered, dt.time(), dt.UTC),
                    "entered": entered,
                    "action": record.decision,
                    "score": record.score,
                    "label": judged.get(record.record_id),
                    "amount": features.get(amount) if amount else None,
                    "model_version": record.model_version,
                }
            )
    if not rows:
        return empty_outcomes()
    if maturity is not None:
        today = max(observed, default=None)
        for row in rows:
            if row["label"] is not None and not is_mature(
                row["action"], row["entered"], today, maturity
            ):
                row["label"] = None
    frame = pd.DataFrame(rows)
    return frame[[*OUTCOME_COLUMNS, "record_id", "model_version"]]
