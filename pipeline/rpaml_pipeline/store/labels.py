"""Labels that judge decisions: outcomes linked to the decided record, with provenance.

A decided claim that closes comes back from its source (the history robot's closed-claims
export) as a new revision of the same natural key, carrying its outcome: processing makes
that revision ``labeled`` (a training record of its own), and the decided revision keeps
its state, decision and receipt (what happened in the application stays visible;
:mod:`rpaml_pipeline.store.ingest`). :meth:`Labels.link_outcomes` then records, once per
decided record and label source, a row of ``record_labels`` (kind ``outcome``) linking the
outcome to the decision it judges: the action, score, model and policy versions, when it
was decided, when the outcome was observed (the labeled revision's capture) and the delay
between them. Recording is idempotent: the same outcome seen again is the same row.

:meth:`Labels.decided_with_labels` is what realised-cost monitoring and retraining read:
every decided record of a process that has a label, with the label, the action taken, the
score, the expected costs of every action, decided and observed times.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, insert, select
from sqlalchemy.engine import Connection

from rpaml_pipeline.store.context import StoreContext
from rpaml_pipeline.store.schema import record_events, record_labels, records

OUTCOME = "outcome"
"""The kind of a label that came back from the application (a closed case's outcome)."""

# Only a decision the application carried out can be judged by its outcome.
_JUDGED_STATES = ("acted",)


@dataclass(frozen=True)
class RecordLabel:
    """One label judging one decided record."""

    label_id: int
    process: str
    record_id: str
    natural_key: str
    label: int
    kind: str
    source: str
    observed_at: dt.datetime
    decided_at: dt.datetime | None
    delay_seconds: float | None
    action: str | None
    score: float | None
    model_version: str | None
    policy_version: str | None
    run_id: str
    details: Mapping[str, Any]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> RecordLabel:
        """From a ``record_labels`` row."""
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class LabeledDecision:
    """A decided record with a label: what monitoring and retraining learn from."""

    record_id: str
    natural_key: str
    label: int
    kind: str
    action: str | None
    score: float | None
    expected_costs: Mapping[str, float] | None
    model_version: str | None
    policy_version: str | None
    decided_at: dt.datetime | None
    observed_at: dt.datetime


class Labels:
    """The ``record_labels`` aggregate."""

    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx

    def link_outcomes(self, process: str, *, run_id: str) -> int:
        """Record an ``outcome`` label for every acted record of ``process`` whose key has
        a newer ``labeled`` revision not linked yet; return how many were recorded."""
        decided = records.alias("decided")
        labeled = records.alias("outcome")
        query = (
            select(
                decided.c.record_id,
                decided.c.natural_key,
                decided.c.decision,
                decided.c.score,
                decided.c.model_version,
                decided.c.policy_version,
                decided.c.receipt,
                labeled.c.record_id.label("labeled_id"),
                labeled.c.revision.label("labeled_revision"),
                labeled.c.label,
                labeled.c.label_source,
                labeled.c.created_at.label("observed_at"),
            )
            .join(
                labeled,
                and_(
                    labeled.c.process == decided.c.process,
                    labeled.c.natural_key == decided.c.natural_key,
                    labeled.c.revision > decided.c.revision,
                ),
            )
            .outerjoin(
                record_labels,
                and_(
                    record_labels.c.record_id == decided.c.record_id,
                    record_labels.c.kind == OUTCOME,
                    record_labels.c.source == labeled.c.label_source,
                ),
            )
            .where(
                decided.c.process == process,
                decided.c.state.in_(_JUDGED_STATES),
                decided.c.decision.is_not(None),
                labeled.c.state == "labeled",
                labeled.c.label.is_not(None),
                labeled.c.label_source.is_not(None),
                record_labels.c.label_id.is_(None),
            )
            .order_by(decided.c.record_id, labeled.c.revision)
        )
        with self._ctx.write() as conn:
            found: dict[tuple[str, str], Mapping[str, Any]] = {}
            for candidate in conn.execute(query).mappings():
                # The first outcome revision after the decision is the one that judged it.
                key = (candidate["record_id"], candidate["label_source"])
                found.setdefault(key, dict(candidate))
            if not found:
                return 0
            decided_at = _decided_at(conn, {record_id for record_id, _ in found})
            now = self._ctx.now()
            rows = []
            for (record_id, source), row in found.items():
                at = decided_at.get(record_id)
                observed = row["observed_at"]
                rows.append(
                    {
                        "process": process,
                        "record_id": record_id,
                        "natural_key": row["natural_key"],
                        "label": int(row["label"]),
                        "kind": OUTCOME,
                        "source": source,
                        "observed_at": observed,
                        "decided_at": at,
                        "delay_seconds": None if at is None else (observed - at).total_seconds(),
                        "action": row["decision"],
                        "score": row["score"],
                        "model_version": row["model_version"],
                        "policy_version": row["policy_version"],
                        "run_id": run_id,
                        "details": {
                            "labeled_record": row["labeled_id"],
                            "labeled_revision": int(row["labeled_revision"]),
                            "receipt": row["receipt"],
                        },
                        "created_at": now,
                    }
                )
            conn.execute(insert(record_labels), rows)
        return len(rows)

    def of_record(self, record_id: str) -> list[RecordLabel]:
        """The labels judging ``record_id``, oldest first."""
        with self._ctx.read() as conn:
            return [
                RecordLabel.from_row(dict(row))
                for row in conn.execute(
                    select(record_labels)
                    .where(record_labels.c.record_id == record_id)
                    .order_by(record_labels.c.observed_at, record_labels.c.label_id)
                ).mappings()
            ]

    def counts(self, process: str) -> dict[str, int]:
        """``{kind: labels}`` of ``process``."""
        with self._ctx.read() as conn:
            return {
                str(kind): int(count)
                for kind, count in conn.execute(
                    select(record_labels.c.kind, func.count())
                    .where(record_labels.c.process == process)
                    .group_by(record_labels.c.kind)
                )
            }

    def judged_actions(self, process: str) -> dict[str, str]:
        """``{labeled record id: the action its outcome judges}`` for ``process``: which
        labeled records are outcomes of the process's own decisions, and of which."""
        query = select(record_labels.c.action, record_labels.c.details).where(
            record_labels.c.process == process,
            record_labels.c.kind == OUTCOME,
            record_labels.c.action.is_not(None),
        )
        with self._ctx.read() as conn:
            found: dict[str, str] = {}
            for action, details in conn.execute(query):
                labeled = (details or {}).get("labeled_record")
                if labeled is not None:
                    found[str(labeled)] = str(action)
            return found

    def decided_with_labels(self, process: str) -> list[LabeledDecision]:
        """Every labeled decision of ``process``, by observation time (see the module)."""
        query = (
            select(
                record_labels.c.record_id,
                record_labels.c.natural_key,
                record_labels.c.label,
                record_labels.c.kind,
                record_labels.c.action,
                record_labels.c.score,
                records.c.expected_costs,
                record_labels.c.model_version,
                record_labels.c.policy_version,
                record_labels.c.decided_at,
                record_labels.c.observed_at,
            )
            .join(records, records.c.record_id == record_labels.c.record_id)
            .where(record_labels.c.process == process)
            .order_by(record_labels.c.observed_at, record_labels.c.label_id)
        )
        with self._ctx.read() as conn:
            return [LabeledDecision(**dict(row)) for row in conn.execute(query).mappings()]


def _decided_at(conn: Connection, record_ids: Iterable[str]) -> dict[str, dt.datetime]:
    """When each record was last moved to ``decided``."""
    ids = sorted(record_ids)
    found: dict[str, dt.datetime] = {}
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        for record_id, at in conn.execute(
            select(record_events.c.record_id, func.max(record_events.c.at))
            .where(record_events.c.record_id.in_(part), record_events.c.to_state == "decided")
            .group_by(record_events.c.record_id)
        ):
            found[str(record_id)] = at
    return found
