"""Shadow decisions: what the challenger would have decided for records the champion decided.

The scoring stage writes one row per record it decided with a shadow answer, in the
transaction that stores the champion's decision (:meth:`ShadowDecisions.add`), so a
record has its shadow decision exactly when it was decided with one. Nothing acts on a
shadow decision: the record's own ``decision`` is the champion's and the only one the act
robot reads. :meth:`ShadowDecisions.judged` pairs both decisions with the outcome label
that came back for the record, which is what ``rpaml model compare NAME`` measures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, insert, select
from sqlalchemy.engine import Connection

from rpaml_pipeline.store.context import StoreContext
from rpaml_pipeline.store.labels import OUTCOME
from rpaml_pipeline.store.schema import record_labels, records, shadow_decisions


@dataclass(frozen=True)
class ShadowDecision:
    """The challenger's decision for one record (a ``shadow_decisions`` row)."""

    shadow_id: int
    process: str
    record_id: str
    run_id: str
    model_name: str
    model_version: str
    champion_version: str
    policy_version: str
    score: float
    decision: str
    expected_costs: Mapping[str, float] | None
    created_at: dt.datetime

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ShadowDecision:
        """From a ``shadow_decisions`` row."""
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class JudgedShadow:
    """A record decided by the champion and, in shadow, by a challenger, with its outcome."""

    record_id: str
    natural_key: str
    label: int
    champion_version: str
    champion_decision: str
    challenger_version: str
    challenger_decision: str
    champion_reasons: tuple[str, ...] = ()
    """The record's reasons (the first names an exploration that overrode the policy)."""


class ShadowDecisions:
    """The ``shadow_decisions`` aggregate."""

    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx

    def add(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Write shadow decisions in the caller's transaction (``created_at`` is set here)."""
        if rows:
            now = self._ctx.now()
            conn.execute(insert(shadow_decisions), [{**row, "created_at": now} for row in rows])

    def of_record(self, record_id: str) -> list[ShadowDecision]:
        """The shadow decisions of ``record_id``, oldest first."""
        with self._ctx.read() as conn:
            return [
                ShadowDecision.from_row(dict(row))
                for row in conn.execute(
                    select(shadow_decisions)
                    .where(shadow_decisions.c.record_id == record_id)
                    .order_by(shadow_decisions.c.shadow_id)
                ).mappings()
            ]

    def counts(self, process: str, model_name: str) -> dict[str, int]:
        """``{challenger version: shadow decisions}`` of a process's model."""
        with self._ctx.read() as conn:
            return {
                str(version): int(count)
                for version, count in conn.execute(
                    select(shadow_decisions.c.model_version, func.count())
                    .where(
                        shadow_decisions.c.process == process,
                        shadow_decisions.c.model_name == model_name,
                    )
                    .group_by(shadow_decisions.c.model_version)
                )
            }

    def judged(self, process: str, model_name: str) -> list[JudgedShadow]:
        """Records of ``process`` with the champion's decision, a shadow decision of
        ``model_name`` and an outcome label judging them, by record id.

        Only the decision the champion took is judged by the outcome, so the record's
        own decision must still be the one its shadow was recorded beside (the same
        champion version); a record relabeled by several sources counts once, with the
        first outcome observed.
        """
        query = (
            select(
                records.c.record_id,
                records.c.natural_key,
                records.c.decision.label("champion_decision"),
                records.c.reasons.label("champion_reasons"),
                shadow_decisions.c.champion_version,
                shadow_decisions.c.model_version.label("challenger_version"),
                shadow_decisions.c.decision.label("challenger_decision"),
                record_labels.c.label,
            )
            .join(records, records.c.record_id == shadow_decisions.c.record_id)
            .join(
                record_labels,
                and_(
                    record_labels.c.record_id == shadow_decisions.c.record_id,
                    record_labels.c.kind == OUTCOME,
                ),
            )
            .where(
                shadow_decisions.c.process == process,
                shadow_decisions.c.model_name == model_name,
                records.c.decision.is_not(None),
                records.c.model_version == shadow_decisions.c.champion_version,
            )
            .order_by(
                records.c.record_id,
                shadow_decisions.c.shadow_id,
                record_labels.c.observed_at,
                record_labels.c.label_id,
            )
        )
        with self._ctx.read() as conn:
            found: dict[tuple[str, str], JudgedShadow] = {}
            for row in conn.execute(query).mappings():
                key = (row["record_id"], row["challenger_version"])
                if key not in found:
                    values = dict(row)
                    values["champion_reasons"] = tuple(values["champion_reasons"] or ())
                    found[key] = JudgedShadow(**values)
        return list(found.values())
