"""The portal's business clock: days pass, new claims arrive, decided claims close.

The portal starts on the generator's reference date and stays there until the clock is
moved on (``POST /admin/clock/advance``, or ``rpaml sandbox advance --days N``). Each day
that passes, in order:

1. ``daily_claims`` new claims are reported (seeded by the portal seed and the day, so a
   repeated run sees the same claims; from ``fraud_ring_from`` on, a share of them are a
   fraud ring's, see :mod:`rpaml_sandbox.portal.generator`);
2. the decided claims whose outcome is due that day close with it (the delays and rates
   are in :mod:`rpaml_sandbox.portal.outcomes`): they appear in the closed-claims export
   with their closing date.

Each day is one transaction: a crash leaves the clock on the last complete day.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Final

from rpaml_sandbox.portal.database import PortalDatabase, business_date_of, meta_int
from rpaml_sandbox.portal.display import display_values
from rpaml_sandbox.portal.generator import generate_arrivals
from rpaml_sandbox.portal.schema import claim_of, insert_claims

MAX_DAYS_PER_CALL: Final = 366


@dataclass(frozen=True, slots=True)
class ClockState:
    """Where the clock stands and what each new day brings."""

    business_date: date
    daily_claims: int
    fraud_ring_from: date | None


@dataclass(frozen=True, slots=True)
class BusinessDay:
    """What one business day brought."""

    day: date
    arrived: int
    closed: int
    fraud_ring: bool


class BusinessClock:
    """The clock of one portal database; ``daily_claims`` and ``fraud_ring_from`` are the
    start settings, which :meth:`configure` overrides (kept in the database)."""

    def __init__(
        self, database: PortalDatabase, *, daily_claims: int, fraud_ring_from: date | None
    ) -> None:
        self.database = database
        self._daily_claims = daily_claims
        self._fraud_ring_from = fraud_ring_from

    def state(self) -> ClockState:
        """The business date and the settings in force."""
        with self.database.connect() as conn:
            daily = meta_int(conn, "daily_claims")
            ring = conn.execute(
                "SELECT value FROM portal_meta WHERE key = 'fraud_ring_from'"
            ).fetchone()
            return ClockState(
                business_date=business_date_of(conn),
                daily_claims=self._daily_claims if daily is None else daily,
                fraud_ring_from=self._fraud_ring_from
                if ring is None
                else (date.fromisoformat(ring[0]) if ring[0] else None),
            )

    def configure(
        self,
        *,
        daily_claims: int | None = None,
        fraud_ring_from: date | None = None,
        clear_fraud_ring: bool = False,
    ) -> ClockState:
        """Change the claims per day and the fraud ring's first day (kept across restarts)."""
        if daily_claims is not None and daily_claims < 0:
            raise ValueError("daily_claims must not be negative")
        with self.database.transaction() as conn:
            if daily_claims is not None:
                _set_meta(conn, "daily_claims", str(daily_claims))
            if clear_fraud_ring:
                _set_meta(conn, "fraud_ring_from", "")
            elif fraud_ring_from is not None:
                _set_meta(conn, "fraud_ring_from", fraud_ring_from.isoformat())
        return self.state()

    def advance(self, days: int) -> list[BusinessDay]:
        """Move the clock on by ``days`` business days (1 to 366), one transaction each."""
        if not 1 <= days <= MAX_DAYS_PER_CALL:
            raise ValueError(f"days must be between 1 and {MAX_DAYS_PER_CALL}, not {days}")
        return [self._next_day() for _ in range(days)]

    def _next_day(self) -> BusinessDay:
        state = self.state()
        day = state.business_date + timedelta(days=1)
        ring = state.fraud_ring_from is not None and day >= state.fraud_ring_from
        with self.database.transaction() as conn:
            if business_date_of(conn) != state.business_date:
                # Another caller moved the clock between our read and this transaction.
                raise RuntimeError("the business clock moved while advancing it")
            seed = meta_int(conn, "seed")
            if seed is None:
                raise RuntimeError("the portal database was never generated")
            taken = {row[0] for row in conn.execute("SELECT claim_id FROM claims")}
            last = conn.execute("SELECT COALESCE(MAX(arrival_seq), 0) FROM claims").fetchone()[0]
            arrivals = generate_arrivals(seed, day, state.daily_claims, taken=taken, ring=ring)
            insert_claims(
                conn,
                (replace(c, arrival_order=int(last) + (c.arrival_order or 0)) for c in arrivals),
                seed,
            )
            due = conn.execute(
                "SELECT c.*, z.close_on, z.outcome AS closing_outcome FROM closures z "
                "JOIN claims c ON c.claim_id = z.claim_id "
                "WHERE z.closed = 0 AND z.close_on <= ? ORDER BY z.close_on, z.claim_id",
                (day.isoformat(),),
            ).fetchall()
            for row in due:
                closed_on = date.fromisoformat(row["close_on"])
                closed = replace(claim_of(row), closed_date=closed_on)
                conn.execute(
                    "UPDATE claims SET status = 'closed', closed_date = ?, outcome = ?, "
                    "closed_date_display = ? WHERE claim_id = ?",
                    (
                        closed_on.isoformat(),
                        row["closing_outcome"],
                        display_values(closed, seed).closed_date,
                        row["claim_id"],
                    ),
                )
                conn.execute(
                    "UPDATE closures SET closed = 1 WHERE claim_id = ?", (row["claim_id"],)
                )
            _set_meta(conn, "business_date", day.isoformat())
        return BusinessDay(day=day, arrived=len(arrivals), closed=len(due), fraud_ring=ring)


def _set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO portal_meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
