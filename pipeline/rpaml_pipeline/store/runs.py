"""Runs: one robot or pipeline execution, which records and batches point back to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select, update

from rpaml_pipeline.canonical import to_jsonable
from rpaml_pipeline.errors import RecordNotFoundError, StoreError
from rpaml_pipeline.store.context import StoreContext, new_id
from rpaml_pipeline.store.records import RunInfo
from rpaml_pipeline.store.schema import runs

RUN_STATUSES = frozenset({"running", "succeeded", "failed"})


class Runs:
    """The ``runs`` table."""

    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx

    def start(
        self,
        process: str,
        kind: str,
        robot: str | None = None,
        config_hash: str | None = None,
        details: Mapping[str, Any] | None = None,
        *,
        run_id: str | None = None,
    ) -> str:
        """Record the start of a run; return its id."""
        run_id = run_id or new_id()
        with self._ctx.write() as conn:
            conn.execute(
                insert(runs).values(
                    run_id=run_id,
                    process=process,
                    kind=kind,
                    robot=robot,
                    status="running",
                    config_hash=config_hash,
                    details=to_jsonable(dict(details or {})),
                    started_at=self._ctx.now(),
                )
            )
        return run_id

    def finish(self, run_id: str, status: str, summary: Mapping[str, Any] | None = None) -> None:
        """Mark a run ``succeeded`` or ``failed`` with its summary."""
        if status not in RUN_STATUSES - {"running"}:
            raise StoreError(f"run status must be 'succeeded' or 'failed', not {status!r}")
        with self._ctx.write() as conn:
            result = conn.execute(
                update(runs)
                .where(runs.c.run_id == run_id)
                .values(
                    status=status,
                    summary=to_jsonable(dict(summary or {})),
                    finished_at=self._ctx.now(),
                )
            )
            if result.rowcount == 0:
                raise RecordNotFoundError(f"no run with id {run_id!r}")

    def annotate(self, run_id: str, details: Mapping[str, Any]) -> None:
        """Merge ``details`` into the run's details."""
        with self._ctx.write() as conn:
            current = conn.execute(select(runs.c.details).where(runs.c.run_id == run_id)).first()
            if current is None:
                raise RecordNotFoundError(f"no run with id {run_id!r}")
            merged = {**dict(current[0] or {}), **to_jsonable(dict(details))}
            conn.execute(update(runs).where(runs.c.run_id == run_id).values(details=merged))

    def get(self, run_id: str) -> RunInfo:
        """The run with ``run_id``."""
        with self._ctx.read() as conn:
            row = conn.execute(select(runs).where(runs.c.run_id == run_id)).mappings().first()
        if row is None:
            raise RecordNotFoundError(f"no run with id {run_id!r}")
        return RunInfo.from_row(row)

    def list(
        self, process: str | None = None, *, kind: str | None = None, limit: int = 50
    ) -> list[RunInfo]:
        """The newest runs first, optionally of one process and kind."""
        query = select(runs).order_by(runs.c.started_at.desc(), runs.c.run_id).limit(limit)
        if process is not None:
            query = query.where(runs.c.process == process)
        if kind is not None:
            query = query.where(runs.c.kind == kind)
        with self._ctx.read() as conn:
            return [RunInfo.from_row(row) for row in conn.execute(query).mappings()]
