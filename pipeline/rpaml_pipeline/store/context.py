"""What every part of the store shares: the engine, the clock, ids and transactions."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from rpaml_pipeline.store.engine import READ_ONLY

STORE_STEP_VERSION = "1"
"""Version of the store's own steps (ingest, claim, act...) recorded in their events."""

_STATISTICS_EVERY = 5.0
_ANALYZE_MIN_CHANGES = 5_000
_ANALYZE_FRACTION = 0.2


def new_id() -> str:
    """A random 32-hex id (runs)."""
    return uuid.uuid4().hex


def ordered_id() -> str:
    """A 32-hex id that sorts by creation time (nanosecond clock, then random bits), so new
    rows append to their indexes instead of landing on random pages."""
    return f"{time.time_ns():016x}{uuid.uuid4().hex[:16]}"


def batch_ids(count: int) -> tuple[str, list[str]]:
    """A batch id and ``count`` record ids that share its first 24 hex digits and sort in
    row order (so a batch's records sit side by side in every index)."""
    batch = f"{time.time_ns():016x}{os.urandom(4).hex()}"
    return batch + "00000000", [f"{batch}{row:08x}" for row in range(1, count + 1)]


@dataclass
class StoreContext:
    """The engine and clock of one :class:`~rpaml_pipeline.store.Store`.

    ``retry_base_seconds``/``retry_max_seconds`` bound the backoff of records whose action
    failed because of the application.
    """

    engine: Engine
    clock: Callable[[], dt.datetime]
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    _statistics_checked: float = field(default=0.0, repr=False)
    _writer: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def now(self) -> dt.datetime:
        """The store clock's current time (aware UTC)."""
        return self.clock()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (SQLite: ``BEGIN IMMEDIATE``, so writers queue for the
        lock at the start instead of failing half-way).

        On SQLite the threads of one process also queue on a lock of their own first:
        SQLite lets one writer in at a time anyway, and a writer waiting in its busy
        handler polls with sleeps of up to 100 ms, which many threads writing at once (the
        review app's reviewers) would spend mostly asleep."""
        if self.engine.dialect.name != "sqlite":
            with self.engine.begin() as conn:
                yield conn
            return
        with self._writer, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One read-only unit of work (SQLite: a deferred ``BEGIN``; never waits)."""
        with self.engine.connect().execution_options(**{READ_ONLY: True}) as conn:
            yield conn

    def refresh_statistics(self) -> None:
        """PostgreSQL: ``ANALYZE`` the records when they changed a lot since the last one.

        The planner picks the ingest and claim plans from table statistics. Autovacuum
        normally keeps them fresh, but it may be off or behind (it was off on the machine
        the benchmarks ran on); with statistics from when the table held 200 rows, every
        ingest chunk scanned every record of the process. Checked at most every
        ``_STATISTICS_EVERY`` seconds (one cheap catalog read); ``ANALYZE`` samples the table
        and blocks no reader or writer.
        """
        if self.dialect != "postgresql":
            return
        now = time.monotonic()
        if now - self._statistics_checked < _STATISTICS_EVERY:
            return
        self._statistics_checked = now
        with self.engine.connect() as conn:
            for table in ("records", "batches"):
                row = conn.exec_driver_sql(
                    "SELECT n_mod_since_analyze, n_live_tup FROM pg_stat_user_tables "
                    f"WHERE relid = to_regclass('{table}')"
                ).first()
                if row is None:
                    continue
                changed, live = int(row[0] or 0), int(row[1] or 0)
                if changed > max(_ANALYZE_MIN_CHANGES, _ANALYZE_FRACTION * live):
                    conn.exec_driver_sql(f"ANALYZE {table}")
            conn.commit()
