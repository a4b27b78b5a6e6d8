"""The bulk decision screen: many open claims, one decision, one confirmation.

Back offices offer this for the routine cases (approve today's low-risk claims). It keeps
the single-claim guarantees: every claim still needs its own one-time token, a claim that
is no longer open is listed with its existing decision and never decided again, and the
answer lists one receipt per claim.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from rpaml_sandbox.portal.database import (
    ClaimNotFoundError,
    DecisionConflictError,
    InvalidTokenError,
    PortalDatabase,
)

#: Most claims one bulk decision may cover: one screen must stay readable and fast.
MAX_BULK_CLAIMS: Final = 500
_SEPARATORS: Final = re.compile(r"[\s,;]+")

ItemState = Literal["open", "decided", "closed", "not_found"]
Outcome = Literal["applied", "already_decided", "not_open", "not_found", "expired"]


@dataclass(frozen=True, slots=True)
class BulkItem:
    """One claim on the bulk confirmation page: its state and, when open, its token."""

    claim_id: str
    state: ItemState
    decision: str = ""
    receipt: str = ""
    token: str = ""


@dataclass(frozen=True, slots=True)
class BulkReceipt:
    """What happened to one claim of a confirmed bulk decision."""

    claim_id: str
    outcome: Outcome
    decision: str = ""
    receipt: str = ""


def parse_claim_ids(text: str) -> list[str]:
    """Claim ids pasted one per line (or separated by commas), in order, without repeats."""
    seen: dict[str, None] = {}
    for part in _SEPARATORS.split(text.strip()):
        if part:
            seen.setdefault(part.upper(), None)
    return list(seen)


def review_bulk(
    database: PortalDatabase, claim_ids: Sequence[str], action: str, user: str
) -> list[BulkItem]:
    """Read each claim's current state and issue a token for every open one."""
    items: list[BulkItem] = []
    open_ids: list[str] = []
    for claim_id in claim_ids:
        claim = database.get_claim(claim_id)
        if claim is None:
            items.append(BulkItem(claim_id, "not_found"))
        elif claim.action is not None:
            items.append(BulkItem(claim_id, "decided", claim.action.action, claim.action.receipt))
        elif claim.status != "open":
            items.append(BulkItem(claim_id, "closed"))
        else:
            items.append(BulkItem(claim_id, "open"))
            open_ids.append(claim_id)
    tokens = database.create_decision_tokens(open_ids, action, user) if open_ids else {}
    return [
        BulkItem(item.claim_id, item.state, token=tokens[item.claim_id])
        if item.state == "open"
        else item
        for item in items
    ]


def confirm_bulk(
    database: PortalDatabase, tokens: Mapping[str, str], action: str, user: str
) -> list[BulkReceipt]:
    """Confirm ``action`` on each claim with its token; each claim independently."""
    receipts: list[BulkReceipt] = []
    for claim_id, token in tokens.items():
        try:
            record = database.confirm_decision(claim_id, action, token, user)
        except ClaimNotFoundError:
            receipts.append(BulkReceipt(claim_id, "not_found"))
        except DecisionConflictError as conflict:
            existing = conflict.existing
            if existing is None:
                receipts.append(BulkReceipt(claim_id, "not_open"))
            else:
                receipts.append(
                    BulkReceipt(claim_id, "already_decided", existing.action, existing.receipt)
                )
        except InvalidTokenError:
            receipts.append(BulkReceipt(claim_id, "expired"))
        else:
            receipts.append(BulkReceipt(claim_id, "applied", record.action, record.receipt))
    return receipts
