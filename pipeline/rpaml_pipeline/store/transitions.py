"""The one guarded write path for record state changes.

Every change of a record's state goes through :meth:`Transitions.move`: a set of records
moves from one state to another in one statement whose ``WHERE`` re-checks the state (and,
when asked, the lease) the caller expects, under the write lock (SQLite's ``BEGIN
IMMEDIATE``; the row lock of the ``UPDATE`` on PostgreSQL), so a record that changed in the
meantime is left alone and reported lost instead of being overwritten. Values every record
gets (``data_batch_id``, a state's reason) are fixed in the statement; values per record (a
quarantine reason, a score and its decision, a receipt) travel as one row set
(:mod:`rpaml_pipeline.store.bulk`). The lineage events of the records that moved are written
in the same transaction, and the processed batches holding them count a change (so a
delivery sends them again).

The batch form (:meth:`Transitions.move_batch`) moves every record of a batch still in a
state, except the ones given: processing's ``collected -> validated`` for a whole batch
is one statement, whatever its size.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from rpaml_pipeline.canonical import to_jsonable
from rpaml_pipeline.errors import RecordNotFoundError, StoreError
from rpaml_pipeline.store.batches import Batches
from rpaml_pipeline.store.bulk import guard_sql, id_select, pg_text, update_rows
from rpaml_pipeline.store.context import StoreContext
from rpaml_pipeline.store.schema import record_events, records
from rpaml_pipeline.store.states import RecordState

SETTABLE_VALUES = frozenset(
    {
        "data_batch_id",
        "score",
        "decision",
        "reasons",
        "expected_costs",
        "model_name",
        "model_version",
        "policy_version",
        "receipt",
        "label",
        "label_source",
        "reason",
        "attempts",
        "next_attempt_at",
    }
)
"""Columns a transition may set besides the state (the identity and hashes never change)."""


@dataclass(frozen=True)
class Lease:
    """How a move checks the lease: held by ``owner`` (and unexpired when ``unexpired``),
    or, with ``free_or_owner``, not held by anyone else."""

    owner: str
    unexpired: bool = False
    free_or_owner: bool = False
    keep: bool = False
    """Keep the lease on the moved records (``decided -> acting``); else it is cleared."""


@dataclass(frozen=True)
class Move:
    """Records ``from_state -> to_state``.

    ``values`` are set on every moved record; ``per_record`` maps a record id to values of
    its own (every mapping with the same keys). ``events`` are the lineage rows of each
    record (:func:`~rpaml_pipeline.store.events.record_event`), written for those that
    moved.
    """

    record_ids: Sequence[str]
    to_state: RecordState
    from_state: RecordState | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    per_record: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    lease: Lease | None = None
    events: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)


class Transitions:
    """State changes of records (see the module docstring)."""

    def __init__(self, ctx: StoreContext, batches: Batches) -> None:
        self._ctx = ctx
        self._batches = batches

    def move(self, conn: Connection, move: Move, now: dt.datetime) -> set[str]:
        """Apply ``move`` in the caller's transaction; return the ids that moved."""
        unknown = (set(move.values) | _keys(move.per_record)) - SETTABLE_VALUES
        if unknown:
            raise StoreError(f"cannot set {sorted(unknown)} through a transition")
        if not move.record_ids:
            return set()
        guard, params = self._guard(conn, move, now)
        fixed = self._fixed(move, now)
        columns = sorted(_keys(move.per_record))
        rows = [
            (
                record_id,
                *(_json_ready(move.per_record.get(record_id, {}), name) for name in columns),
            )
            for record_id in dict.fromkeys(move.record_ids)
        ]
        if columns and set(move.per_record) != set(move.record_ids):
            raise StoreError("per-record values must be given for every record of the move")
        changed = update_rows(
            conn,
            records,
            "record_id",
            columns,
            rows,
            fixed=fixed,
            guard=guard,
            guard_params=params,
            returning=["data_batch_id"],
        )
        moved = set(changed)
        self._batches.bump(conn, [values[0] for values in changed.values()])
        events = [row for record_id in moved for row in move.events.get(record_id, ())]
        if events:
            conn.execute(insert(record_events), sorted(events, key=_event_order(move)))
        return moved

    def move_batch(
        self,
        conn: Connection,
        batch_id: str,
        *,
        from_state: RecordState,
        to_state: RecordState,
        values: Mapping[str, Any],
        now: dt.datetime,
        exclude: Sequence[str] = (),
        owner: str | None = None,
    ) -> set[str]:
        """Move every record of raw batch ``batch_id`` still in ``from_state`` (and not
        leased to anyone but ``owner``), except ``exclude``; return their ids."""
        unknown = set(values) - SETTABLE_VALUES
        if unknown:
            raise StoreError(f"cannot set {sorted(unknown)} through a transition")
        fixed = self._fixed(Move((), to_state, from_state, values), now)
        params: dict[str, Any] = {f"_set_{name}": value for name, value in fixed.items()}
        params.update(_batch=batch_id, _from_state=from_state.value, _now=now)
        lease = "lease_owner IS NULL OR lease_expires_at < %(_now)s"
        if owner:
            lease += " OR lease_owner = %(_owner)s"
            params["_owner"] = owner
        where = f"batch_id = %(_batch)s AND state = %(_from_state)s AND ({lease})"
        if exclude:
            where += f" AND record_id NOT IN ({_ids_sql(conn)})"
            params["_ids"] = orjson.dumps(list(exclude)).decode()
        assignments = ", ".join(f"{name} = %(_set_{name})s" for name in fixed)
        sql = guard_sql(conn, f"UPDATE records SET {assignments} WHERE {where} RETURNING record_id")
        return {row[0] for row in conn.exec_driver_sql(sql, _bind(conn, params))}

    def current(self, conn: Connection, record_ids: Sequence[str]) -> dict[str, Any]:
        """``record_id -> row`` of the records that exist (locked on PostgreSQL)."""
        wanted = sorted(set(record_ids))
        if not wanted:
            return {}
        query = select(records).where(records.c.record_id.in_(id_select(conn, wanted)))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        return {row["record_id"]: row for row in conn.execute(query).mappings()}

    def require(self, conn: Connection, record_ids: Sequence[str]) -> dict[str, Any]:
        """:meth:`current`, raising :class:`RecordNotFoundError` for an unknown id."""
        found = self.current(conn, record_ids)
        for record_id in record_ids:
            if record_id not in found:
                raise RecordNotFoundError(f"no record with id {record_id!r}")
        return found

    @staticmethod
    def _guard(conn: Connection, move: Move, now: dt.datetime) -> tuple[str, dict[str, Any]]:
        parts: list[str] = []
        params: dict[str, Any] = {}
        if move.from_state is not None:
            parts.append("records.state = %(_from_state)s")
            params["_from_state"] = move.from_state.value
        lease = move.lease
        if lease is not None:
            params["_owner"] = lease.owner
            if lease.free_or_owner:
                parts.append(
                    "(records.lease_owner IS NULL OR records.lease_owner = %(_owner)s"
                    " OR records.lease_expires_at < %(_now)s)"
                )
                params["_now"] = _bound_time(conn, now)
            else:
                parts.append("records.lease_owner = %(_owner)s")
                if lease.unexpired:
                    parts.append(
                        "(records.lease_expires_at IS NULL OR records.lease_expires_at >= %(_now)s)"
                    )
                    params["_now"] = _bound_time(conn, now)
        return " AND ".join(parts), params

    @staticmethod
    def _fixed(move: Move, now: dt.datetime) -> dict[str, Any]:
        fixed: dict[str, Any] = {"state": move.to_state.value, "updated_at": now}
        if move.lease is None or not move.lease.keep:
            fixed.update(lease_owner=None, lease_expires_at=None)
        fixed.update(dict(move.values))
        if "next_attempt_at" not in fixed and "next_attempt_at" not in _keys(move.per_record):
            fixed["next_attempt_at"] = None
        if "reason" not in fixed and "reason" not in _keys(move.per_record):
            fixed["reason"] = None
        return fixed


def _keys(per_record: Mapping[str, Mapping[str, Any]]) -> set[str]:
    return {key for values in per_record.values() for key in values}


def _json_ready(values: Mapping[str, Any], name: str) -> Any:
    value = values.get(name)
    return value if name in ("next_attempt_at",) else to_jsonable(value)


def _event_order(move: Move) -> Any:
    order = {record_id: index for index, record_id in enumerate(move.record_ids)}

    def key(row: Mapping[str, Any]) -> int:
        return order.get(str(row["record_id"]), 0)

    return key


def _bound_time(conn: Connection, at: dt.datetime) -> Any:
    kind = records.c.updated_at.type
    process = kind.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return process(at) if process is not None else at


def _ids_sql(conn: Connection) -> str:
    if conn.dialect.name == "sqlite":
        return "SELECT value FROM json_each(%(_ids)s)"
    return "SELECT json_array_elements_text(%(_ids)s::json)"


def _bind(conn: Connection, params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters through their columns' bind processors (UTC datetimes, JSON)."""
    bound: dict[str, Any] = {}
    for name, value in params.items():
        column = name.removeprefix("_set_") if name.startswith("_set_") else None
        if column is not None and column in records.c:
            kind = records.c[column].type
        elif name == "_now":
            kind = records.c.updated_at.type
        else:
            bound[name] = value
            continue
        process = kind.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        value = process(value) if process is not None else value
        bound[name] = value if conn.dialect.name == "sqlite" else pg_text(value)
    return bound
