"""Messy display strings, as a real back-office screen shows them.

Every claim's display values are drawn from a generator seeded with the portal seed and
the claim id, so they do not depend on the order of generation and a page always shows the
same text for a claim (the strings are stored in the database, too).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from typing import Final

from rpaml_sandbox.portal.generator import GeneratedClaim

# Share of claims whose policy number is shown corrupted (a clerk's typo, a legacy import).
INVALID_POLICY_SHARE: Final = 0.02

_AMOUNT_STYLES: Final = ("dollar", "usd", "plain")
_DATE_STYLES: Final = ("iso", "dmy", "mdy_text")


@dataclass(frozen=True, slots=True)
class DisplayValues:
    """The strings the portal shows for one claim ("" for a missing optional value)."""

    policy_number: str
    claimant_name: str
    claimant_age: str
    amount: str
    incident_date: str
    reported_date: str
    policy_start_date: str
    channel: str
    category: str
    region: str
    prior_claims: str
    police_report: str
    description: str
    closed_date: str


def format_amount(amount: float, style: str) -> str:
    """Format an amount as ``$12,345.67``, ``USD 12,345.67`` or ``12345.67``."""
    if style == "dollar":
        return f"${amount:,.2f}"
    if style == "usd":
        return f"USD {amount:,.2f}"
    return f"{amount:.2f}"


def format_date(value: date, style: str) -> str:
    """Format a date as ``2026-03-14``, ``14/03/2026`` or ``Mar 14, 2026``."""
    if style == "dmy":
        return value.strftime("%d/%m/%Y")
    if style == "mdy_text":
        return f"{value.strftime('%b')} {value.day}, {value.year}"
    return value.isoformat()


def display_values(claim: GeneratedClaim, seed: int) -> DisplayValues:
    """Return the messy but deterministic display strings of ``claim`` for ``seed``."""
    rng = random.Random(f"rpaml-portal:{seed}:display:{claim.claim_id}")
    amount_style = rng.choices(_AMOUNT_STYLES, weights=(50, 25, 25))[0]
    # One date style per claim: records come from different intake systems, each with its
    # own convention, so the dates of one record agree while the list as a whole is mixed.
    date_style = rng.choices(_DATE_STYLES, weights=(50, 30, 20))[0]
    police = "" if claim.police_report is None else _vary_case(rng, claim.police_report)
    description = claim.description or ""
    if description and rng.random() < 0.10:
        description = f"  {description} "
    return DisplayValues(
        policy_number=_policy_number(rng, claim.policy_number),
        claimant_name=claim.claimant_name,
        claimant_age=str(claim.claimant_age),
        amount=format_amount(claim.amount, amount_style),
        incident_date=format_date(claim.incident_date, date_style),
        reported_date=format_date(claim.reported_date, date_style),
        policy_start_date=format_date(claim.policy_start_date, date_style),
        channel=_messy_label(rng, claim.channel),
        category=_messy_label(rng, claim.category),
        region=_messy_label(rng, claim.region),
        prior_claims=str(claim.prior_claims),
        police_report=police,
        description=description,
        closed_date="" if claim.closed_date is None else format_date(claim.closed_date, date_style),
    )


def _vary_case(rng: random.Random, value: str) -> str:
    return rng.choices((value.lower(), value.upper(), value.title()), weights=(60, 20, 20))[0]


def _messy_label(rng: random.Random, value: str) -> str:
    text = _vary_case(rng, value)
    if rng.random() < 0.20:
        text = rng.choice((f" {text} ", f"{text} ", f"  {text}"))
    return text


def _policy_number(rng: random.Random, clean: str) -> str:
    if rng.random() >= INVALID_POLICY_SHARE:
        return clean
    digits = clean.removeprefix("POL-")
    kind = rng.randrange(3)
    if kind == 0:
        # A letter where a digit belongs, e.g. "POL-12A456".
        position = rng.randrange(len(digits))
        letter = rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ")
        return f"POL-{digits[:position]}{letter}{digits[position + 1 :]}"
    if kind == 1:
        return f"PO-{digits}"
    return f"POL-{digits[:4]}"
