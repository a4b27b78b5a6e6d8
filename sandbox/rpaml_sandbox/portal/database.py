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

from rpaml_sandbox.portal.display import DisplayValues, display_values
from rpaml_sandbox.portal.generator import GeneratedClaim, generate_claims

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

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS portal_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (
    claim_id TEXT PRIMARY KEY,
    policy_number TEXT NOT NULL,
    claimant_name TEXT NOT NULL,
    claimant_age INTEGER NOT NULL,
    amount REAL NOT NULL,
    incident_date TEXT NOT NULL,
    reported_date TEXT NOT NULL,
    policy_start_date TEXT NOT NULL,
    channel TEXT NOT NULL,
    category TEXT NOT NULL,
    region TEXT NOT NULL,
    prior_claims INTEGER NOT NULL,
    police_report TEXT,
    description TEXT,
    fraud_probability REAL NOT NULL,
    is_fraud INTEGER NOT NULL,
    status TEXT NOT NULL,
    closed_date TEXT,
    outcome TEXT,
    -- Position in the list (newest = highest), NULL while a late arrival is still hidden.
    arrival_seq INTEGER UNIQUE,
    late_rank INTEGER,
    policy_number_display TEXT NOT NULL,
    claimant_name_display TEXT NOT NULL,
    claimant_age_display TEXT NOT NULL,
    amount_display TEXT NOT NULL,
    incident_date_display TEXT NOT NULL,
    reported_date_display TEXT NOT NULL,
    policy_start_date_display TEXT NOT NULL,
    channel_display TEXT NOT NULL,
    category_display TEXT NOT NULL,
    region_display TEXT NOT NULL,
    prior_claims_display TEXT NOT NULL,
    police_report_display TEXT NOT NULL,
    description_display TEXT NOT NULL,
    closed_date_display TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS claims_status_seq ON claims (status, arrival_seq);
CREATE INDEX IF NOT EXISTS claims_category_seq ON claims (category, arrival_seq);
CREATE INDEX IF NOT EXISTS claims_channel_seq ON claims (channel, arrival_seq);
CREATE INDEX IF NOT EXISTS claims_late_rank ON claims (late_rank) WHERE arrival_seq IS NULL;
CREATE TABLE IF NOT EXISTS actions (
    claim_id TEXT PRIMARY KEY REFERENCES claims (claim_id),
    action TEXT NOT NULL,
    receipt TEXT NOT NULL UNIQUE,
    decided_at TEXT NOT NULL,
    user TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS decision_tokens (
    token TEXT PRIMARY KEY,
    claim_id TEXT NOT NULL REFERENCES claims (claim_id),
    action TEXT NOT NULL,
    user TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""

_DISPLAY_FIELDS: Final = tuple(DisplayValues.__dataclass_fields__)

_CLEAN_COLUMNS: Final = (
    "claim_id",
    "policy_number",
    "claimant_name",
    "claimant_age",
    "amount",
    "incident_date",
    "reported_date",
    "policy_start_date",
    "channel",
    "category",
    "region",
    "prior_claims",
    "police_report",
    "description",
    "fraud_probability",
    "is_fraud",
    "status",
    "closed_date",
    "outcome",
    "arrival_seq",
    "late_rank",
)
_INSERT_COLUMNS: Final = _CLEAN_COLUMNS + tuple(f"{name}_display" for name in _DISPLAY_FIELDS)


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
            # executescript() would commit first, so the statements run one by one.
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
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
            placeholders = ", ".join("?" for _ in _INSERT_COLUMNS)
            conn.executemany(
                f"INSERT INTO claims ({', '.join(_INSERT_COLUMNS)}) VALUES ({placeholders})",
                (_claim_row(claim, display_values(claim, seed)) for claim in claims),
            )
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
            display=_display(row),
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
                "SELECT status FROM claims WHERE claim_id = ? AND arrival_seq IS NOT NULL",
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
        return record

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

    def admin_claims(self) -> list[dict[str, Any]]:
        """Every claim, hidden ones included, with clean values and the fraud ground truth."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT c.*, a.action AS decision, a.receipt, a.decided_at, a.user AS decided_by "
                "FROM claims c LEFT JOIN actions a ON a.claim_id = c.claim_id "
                "ORDER BY c.arrival_seq IS NULL, c.arrival_seq DESC, c.late_rank"
            ).fetchall()
        posterior = self._posteriors()
        claims: list[dict[str, Any]] = []
        for row in rows:
            values = dict(row)
            item: dict[str, Any] = {name: values[name] for name in _CLEAN_COLUMNS}
            item["is_fraud"] = bool(values["is_fraud"])
            item["fraud_probability_given_policy"] = posterior.get(values["claim_id"])
            item["hidden"] = values["arrival_seq"] is None
            item["display"] = {name: values[f"{name}_display"] for name in _DISPLAY_FIELDS}
            for name in ("decision", "receipt", "decided_at", "decided_by"):
                item[name] = values[name]
            claims.append(item)
        return claims

    def _posteriors(self) -> dict[str, float]:
        """Each claim's fraud probability given its policy's data too (the desktop
        application's, regenerated from the same seed and counts)."""
        # Imported here: the desktop's policies import the portal's generator, whose
        # package imports this module.
        from rpaml_sandbox.desktop.policies import fraud_probability_given_policy

        with self.connect() as conn:
            meta = {r["key"]: r["value"] for r in conn.execute("SELECT * FROM portal_meta")}
        try:
            seed = int(meta["seed"])
            counts = [int(meta[k]) for k in ("open_claims", "closed_claims", "late_arrivals")]
        except (KeyError, ValueError):
            return {}
        owners: dict[str, str] = {}
        posterior: dict[str, float] = {}
        for claim in generate_claims(seed, *counts):
            # A policy's record is drawn with its first claim: it tells nothing more
            # about any later claim on the same policy.
            owner = owners.setdefault(claim.policy_number, claim.claim_id)
            posterior[claim.claim_id] = (
                fraud_probability_given_policy(claim, seed)
                if owner == claim.claim_id
                else claim.fraud_probability
            )
        return posterior

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
                display=_display(row),
                claimant_age=int(row["claimant_age"]),
                prior_claims=int(row["prior_claims"]),
                outcome=str(row["outcome"]),
            )
            for row in rows
        ]


def _display(row: sqlite3.Row) -> DisplayValues:
    return DisplayValues(**{name: row[f"{name}_display"] for name in _DISPLAY_FIELDS})


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


def _claim_row(claim: GeneratedClaim, display: DisplayValues) -> tuple[Any, ...]:
    clean: tuple[Any, ...] = (
        claim.claim_id,
        claim.policy_number,
        claim.claimant_name,
        claim.claimant_age,
        claim.amount,
        claim.incident_date.isoformat(),
        claim.reported_date.isoformat(),
        claim.policy_start_date.isoformat(),
        claim.channel,
        claim.category,
        claim.region,
        claim.prior_claims,
        claim.police_report,
        claim.description,
        claim.fraud_probability,
        int(claim.is_fraud),
        claim.status,
        None if claim.closed_date is None else claim.closed_date.isoformat(),
        claim.outcome,
        claim.arrival_order,
        claim.late_rank,
    )
    return clean + tuple(getattr(display, name) for name in _DISPLAY_FIELDS)
