"""The portal's own SQLite database: schema, first-start generation, queries and decisions.

Every method opens its own short-lived connection: FastAPI runs sync endpoints and their
dependencies on different worker threads, and a connection per call is both cheap on
SQLite and free of cross-thread sharing. The file runs in WAL mode so readers never wait
for the writer; writes that must be atomic use ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import string
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from rpaml_sandbox.portal.display import DisplayValues
from rpaml_sandbox.portal.generator import REFERENCE_DATE, generate_claims
from rpaml_sandbox.portal.outcomes import closure_for
from rpaml_sandbox.portal.schema import create_schema, display_of, insert_claims

logger = logging.getLogger(__name__)

ACTIONS: Final = ("approve", "escalate", "reject")
ACTION_STATUS: Final = {"approve": "approved", "escalate": "escalated", "reject": "rejected"}
STATUS_FILTERS: Final[dict[str, tuple[str, ...] | None]] = {
    "open": ("open",),
    "closed": ("closed",),
    "approved": ("approved",),
    "escalated": ("escalated",),
    "rejected": ("rejected",),
    "decided": ("approved", "escalated", "rejected"),
    "all": None,
}
TOKEN_LIFETIME: Final = timedelta(minutes=30)
_RECEIPT_ALPHABET: Final = string.ascii_uppercase + string.digits
_BUSY_TIMEOUT_SECONDS: Final = 10.0


class ClaimNotFoundError(LookupError):
    """No visible claim has this id."""


class InvalidTokenError(ValueError):
    """The confirmation token is unknown, used, expired or for another claim or action."""


class DecisionConflictError(RuntimeError):
    """The claim is no longer open; ``existing`` is its recorded action, if it has one."""

    def __init__(self, claim_id: str, status: str, existing: ActionRecord | None) -> None:
        super().__init__(f"claim {claim_id} is {status}")
        self.claim_id = claim_id
        self.status = status
        self.existing = existing


@dataclass(frozen=True, slots=True)
class ClaimFilters:
    """Filters of the claims list; empty strings mean "no filter"."""

    status: str = "open"
    q: str = ""
    category: str = ""
    channel: str = ""


@dataclass(frozen=True, slots=True)
class ClaimRow:
    """One row of the claims list, as displayed."""

    claim_id: str
    policy_number: str
    claimant_name: str
    amount: str
    incident_date: str
    channel: str
    category: str
    status: str


@dataclass(frozen=True, slots=True)
class ClaimPage:
    """One page of the claims list and where it sits in the whole."""

    rows: list[ClaimRow]
    total: int
    page: int
    pages: int
    per_page: int


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """A decision taken in the portal, with its receipt."""

    claim_id: str
    action: str
    receipt: str
    decided_at: str
    user: str


@dataclass(frozen=True, slots=True)
class ClaimDetail:
    """Everything the detail page shows for one claim."""

    claim_id: str
    display: DisplayValues
    status: str
    outcome: str | None
    action: ActionRecord | None


@dataclass(frozen=True, slots=True)
class ClosedClaim:
    """A claim of the history, as the closed-claims export shows it."""

    claim_id: str
    display: DisplayValues
    claimant_age: int
    prior_claims: int
    outcome: str


class PortalDatabase:
    """Access to the portal's SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """Open a connection in autocommit mode; transactions are explicit where needed."""
        conn = sqlite3.connect(
            self.path,
            timeout=_BUSY_TIMEOUT_SECONDS,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            yield conn
        finally:
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken up front (``BEGIN IMMEDIATE``): no upgrade deadlocks."""
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def ensure_ready(
        self, *, seed: int, open_claims: int, closed_claims: int, late_arrivals: int
    ) -> bool:
        """Create and fill the database on first start; keep an existing one as it is.

        Returns True when the claims were generated now. Safe when several processes start
        at once: the check and the fill happen in one immediate transaction.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as conn:
            # WAL is a property of the file, so setting it once per start is enough.
            conn.execute("PRAGMA journal_mode = WAL")
        with self.transaction() as conn:
            create_schema(conn)
            found = conn.execute("SELECT value FROM portal_meta WHERE key = 'seed'").fetchone()
            if found is not None:
                if int(found["value"]) != seed:
                    logger.warning(
                        "portal database %s was generated with seed %s; keeping it (seed %s "
                        "ignored)",
                        self.path,
                        found["value"],
                        seed,
                    )
                return False
            claims = generate_claims(seed, open_claims, closed_claims, late_arrivals)
            insert_claims(conn, claims, seed)
            meta = {
                "seed": seed,
                "open_claims": open_claims,
                "closed_claims": closed_claims,
                "late_arrivals": late_arrivals,
                "generated_at": _now(),
            }
            conn.executemany(
                "INSERT INTO portal_meta (key, value) VALUES (?, ?)",
                [(key, str(value)) for key, value in meta.items()],
            )
        return True

    def reveal_late_arrival(self) -> str | None:
        """Make the next hidden claim visible as the newest one; return its id, if any."""
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT claim_id FROM claims WHERE arrival_seq IS NULL ORDER BY late_rank LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE claims SET arrival_seq = "
                "(SELECT COALESCE(MAX(arrival_seq), 0) + 1 FROM claims) WHERE claim_id = ?",
                (row["claim_id"],),
            )
            return str(row["claim_id"])

    def list_claims(self, filters: ClaimFilters, *, page: int, per_page: int) -> ClaimPage:
        """Return one page of visible claims, newest first."""
        where = ["arrival_seq IS NOT NULL"]
        params: list[Any] = []
        statuses = STATUS_FILTERS[filters.status]
        if statuses is not None:
            where.append(f"status IN ({', '.join('?' for _ in statuses)})")
            params.extend(statuses)
        if filters.q:
            pattern = f"%{_escape_like(filters.q)}%"
            where.append(r"(claim_id LIKE ? ESCAPE '\' OR claimant_name LIKE ? ESCAPE '\')")
            params.extend((pattern, pattern))
        if filters.category:
            where.append("category = ?")
            params.append(filters.category)
        if filters.channel:
            where.append("channel = ?")
            params.append(filters.channel)
        clause = " AND ".join(where)
        with self.connect() as conn:
            # A read transaction gives the count and the rows one snapshot. Two indexed
            # queries beat one with COUNT(*) OVER (), which materialises every match.
            conn.execute("BEGIN")
            try:
                count = conn.execute(f"SELECT COUNT(*) FROM claims WHERE {clause}", params)
                total = int(count.fetchone()[0])
                rows = conn.execute(
                    "SELECT claim_id, policy_number_display, claimant_name_display, "
                    "amount_display, incident_date_display, channel_display, category_display, "
                    f"status FROM claims WHERE {clause} "
                    "ORDER BY arrival_seq DESC LIMIT ? OFFSET ?",
                    [*params, per_page, (page - 1) * per_page],
                ).fetchall()
            finally:
                conn.execute("COMMIT")
        return ClaimPage(
            rows=[
                ClaimRow(
                    claim_id=row["claim_id"],
                    policy_number=row["policy_number_display"],
                    claimant_name=row["claimant_name_display"],
                    amount=row["amount_display"],
                    incident_date=row["incident_date_display"],
                    channel=row["channel_display"],
                    category=row["category_display"],
                    status=row["status"],
                )
                for row in rows
            ],
            total=total,
            page=page,
            pages=max(1, -(-total // per_page)),
            per_page=per_page,
        )

    def get_claim(self, claim_id: str) -> ClaimDetail | None:
        """Return a visible claim with its decision, or None."""
        with self.connect() as conn:
            row = conn.execute(
                "SELECT * FROM claims WHERE claim_id = ? AND arrival_seq IS NOT NULL", (claim_id,)
            ).fetchone()
            if row is None:
                return None
            action = _action(conn, claim_id)
        return ClaimDetail(
            claim_id=row["claim_id"],
            display=display_of(row),
            status=row["status"],
            outcome=row["outcome"],
            action=action,
        )

    def create_decision_token(self, claim_id: str, action: str, user: str) -> str:
        """Issue a one-time token that lets ``user`` confirm ``action`` on ``claim_id``."""
        token = secrets.token_urlsafe(24)
        now = datetime.now(UTC)
        with self.transaction() as conn:
            # Expired tokens are swept here so the table cannot grow without bound.
            conn.execute(
                "DELETE FROM decision_tokens WHERE created_at < ?",
                ((now - TOKEN_LIFETIME).isoformat(),),
            )
            conn.execute(
                "INSERT INTO decision_tokens (token, claim_id, action, user, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (token, claim_id, action, user, now.isoformat()),
            )
        return token

    def create_decision_tokens(
        self, claim_ids: Sequence[str], action: str, user: str
    ) -> dict[str, str]:
        """One-time tokens for many claims at once (the bulk screen), in one transaction."""
        now = datetime.now(UTC)
        tokens = {claim_id: secrets.token_urlsafe(24) for claim_id in claim_ids}
        with self.transaction() as conn:
            conn.execute(
                "DELETE FROM decision_tokens WHERE created_at < ?",
                ((now - TOKEN_LIFETIME).isoformat(),),
            )
            conn.executemany(
                "INSERT INTO decision_tokens (token, claim_id, action, user, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (token, claim_id, action, user, now.isoformat())
                    for claim_id, token in tokens.items()
                ],
            )
        return tokens

    def confirm_decision(self, claim_id: str, action: str, token: str, user: str) -> ActionRecord:
        """Record ``action`` on an open claim, atomically, and return it with its receipt.

        Raises ClaimNotFoundError, DecisionConflictError (the claim is not open: nothing
        changes) or InvalidTokenError. Of two concurrent confirmations exactly one wins:
        both run in ``BEGIN IMMEDIATE`` transactions and the status update is conditional.
        """
        now = datetime.now(UTC)
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT status, is_fraud FROM claims "
                "WHERE claim_id = ? AND arrival_seq IS NOT NULL",
                (claim_id,),
            ).fetchone()
            if row is None:
                raise ClaimNotFoundError(claim_id)
            if row["status"] != "open":
                raise DecisionConflictError(claim_id, row["status"], _action(conn, claim_id))
            issued = conn.execute(
                "DELETE FROM decision_tokens WHERE token = ? AND claim_id = ? AND action = ? "
                "RETURNING created_at",
                (token, claim_id, action),
            ).fetchone()
            if issued is None or datetime.fromisoformat(issued[0]) < now - TOKEN_LIFETIME:
                raise InvalidTokenError(claim_id)
            updated = conn.execute(
                "UPDATE claims SET status = ? WHERE claim_id = ? AND status = 'open'",
                (ACTION_STATUS[action], claim_id),
            )
            if updated.rowcount != 1:
                raise DecisionConflictError(claim_id, "decided", _action(conn, claim_id))
            record = ActionRecord(
                claim_id=claim_id,
                action=action,
                receipt=_new_receipt(conn),
                decided_at=now.isoformat(timespec="seconds").replace("+00:00", "Z"),
                user=user,
            )
            conn.execute(
                "INSERT INTO actions (claim_id, action, receipt, decided_at, user) "
                "VALUES (?, ?, ?, ?, ?)",
                (record.claim_id, record.action, record.receipt, record.decided_at, record.user),
            )
            _schedule_closure(conn, claim_id, action, is_fraud=bool(row["is_fraud"]))
        return record

    def business_date(self) -> date:
        """The portal's business day (the clock starts at the generator's reference date)."""
        with self.connect() as conn:
            return business_date_of(conn)

    def get_action(self, claim_id: str) -> ActionRecord | None:
        """Return the action recorded on a claim, if any."""
        with self.connect() as conn:
            return _action(conn, claim_id)

    def list_actions(self) -> list[ActionRecord]:
        """Every decision taken in the portal, oldest first."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT claim_id, action, receipt, decided_at, user FROM actions "
                "ORDER BY decided_at, rowid"
            ).fetchall()
        return [ActionRecord(**dict(row)) for row in rows]

    def status_counts(self) -> dict[str, int]:
        """Visible claims per status."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT status, COUNT(*) FROM claims WHERE arrival_seq IS NOT NULL "
                "GROUP BY status ORDER BY status"
            ).fetchall()
        return {str(row[0]): int(row[1]) for row in rows}

    def closed_claims(self, closed_since: date | None = None) -> list[ClosedClaim]:
        """Visible closed claims (the history), newest first; with ``closed_since``, only
        those closed on or after that date (an incremental export: the day itself is
        included, so a claim closed later on the day of the last export is not missed)."""
        since = "" if closed_since is None else closed_since.isoformat()
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT * FROM claims WHERE status = 'closed' AND arrival_seq IS NOT NULL "
                "AND (? = '' OR closed_date >= ?) ORDER BY arrival_seq DESC",
                (since, since),
            ).fetchall()
        return [
            ClosedClaim(
                claim_id=row["claim_id"],
                display=display_of(row),
                claimant_age=int(row["claimant_age"]),
                prior_claims=int(row["prior_claims"]),
                outcome=str(row["outcome"]),
            )
            for row in rows
        ]


def business_date_of(conn: sqlite3.Connection) -> date:
    """The business day stored in ``conn``'s database."""
    row = conn.execute("SELECT value FROM portal_meta WHERE key = 'business_date'").fetchone()
    return REFERENCE_DATE if row is None else date.fromisoformat(row[0])


def meta_int(conn: sqlite3.Connection, key: str) -> int | None:
    """An integer of ``portal_meta``, or None when it is not set."""
    row = conn.execute("SELECT value FROM portal_meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else int(row[0])


def _schedule_closure(
    conn: sqlite3.Connection, claim_id: str, action: str, *, is_fraud: bool
) -> None:
    seed = meta_int(conn, "seed")
    if seed is None:
        return
    today = business_date_of(conn)
    closure = closure_for(seed, claim_id, action, is_fraud=is_fraud, decided_on=today)
    if closure is not None:
        conn.execute(
            "INSERT INTO closures (claim_id, decided_on, close_on, outcome) VALUES (?, ?, ?, ?)",
            (claim_id, today.isoformat(), closure.close_on.isoformat(), closure.outcome),
        )


def _action(conn: sqlite3.Connection, claim_id: str) -> ActionRecord | None:
    row = conn.execute(
        "SELECT claim_id, action, receipt, decided_at, user FROM actions WHERE claim_id = ?",
        (claim_id,),
    ).fetchone()
    return None if row is None else ActionRecord(**dict(row))


def _new_receipt(conn: sqlite3.Connection) -> str:
    while True:
        receipt = "RCPT-" + "".join(secrets.choice(_RECEIPT_ALPHABET) for _ in range(8))
        taken = conn.execute("SELECT 1 FROM actions WHERE receipt = ?", (receipt,)).fetchone()
        if taken is None:
            return receipt


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
