"""Seeded generator of the portal's claims, with a hidden, documented fraud probability.

The generator is a pure function of ``(seed, open_claims, closed_claims, late_arrivals)``:
the same arguments always give the same claims, so a decision robot's quality can be
measured later against the realised ``is_fraud`` of every claim.

Fraud probability (the "ground truth" a model is expected to learn)::

    z = -3.90
        + 0.80 * ln(amount / 2500)          larger amounts
        + 1.40 * [policy started < 60 days before the incident]
        + 0.30 * prior_claims               (0..8)
        + 0.90 * [reported > 30 days after the incident]
        + 0.50 * [channel in {web, email}]  no person saw the claimant
        + 0.70 * [category == travel]
        + 0.80 * [police_report == no]
        + 0.40 * [police_report missing]
        + 0.60 * [claimant_age < 30]
    fraud_probability = 1 / (1 + exp(-z))
    is_fraud ~ Bernoulli(fraud_probability)

The intercept is chosen so that about 12 % of the claims are fraudulent.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

# A fixed "today" keeps the generator a pure function: wall-clock dates would make the
# same seed produce different claims on different days.
REFERENCE_DATE: Final = date(2026, 3, 31)

CHANNELS: Final = ("web", "phone", "agent", "email")
CATEGORIES: Final = ("auto", "home", "travel", "health", "property")
REGIONS: Final = ("north", "south", "east", "west", "central")

RECENT_POLICY_DAYS: Final = 60
LATE_REPORT_DAYS: Final = 30
YOUNG_AGE: Final = 30
BASE_AMOUNT: Final = 2500.0

_INTERCEPT: Final = -3.9

_FIRST_NAMES: Final = (
    "Anna", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas",
    "Kemal", "Laura", "Marco", "Nadia", "Oliver", "Priya", "Quentin", "Rosa", "Samuel",
    "Tessa", "Umar", "Vera", "William", "Xenia", "Yusuf", "Zoe", "Liam", "Maja", "Noah",
    "Olga", "Pedro", "Sofia", "Tomasz", "Aisha", "Erik", "Hana",
)  # fmt: skip
_LAST_NAMES: Final = (
    "Adams", "Becker", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ito",
    "Jensen", "Kowalski", "Lopez", "Meyer", "Novak", "O'Brien", "Petrov", "Quinn", "Rossi",
    "Schmidt", "Tanaka", "Urban", "Virtanen", "Weber", "Xu", "Yilmaz", "Zimmermann",
    "Nguyen", "Murphy", "Silva", "Andersen", "Khan", "Moreau",
)  # fmt: skip
_DESCRIPTIONS: Final[dict[str, tuple[str, ...]]] = {
    "auto": (
        "Rear-end collision at traffic lights",
        "Vehicle damaged in car park",
        "Windscreen cracked by stone on motorway",
        "Car stolen from driveway overnight",
    ),
    "home": (
        "Water leak from upstairs flat",
        "Storm damage to roof tiles",
        "Burglary, electronics taken",
        "Kitchen fire, smoke damage",
    ),
    "travel": (
        "Luggage lost on connecting flight",
        "Trip cancelled due to illness",
        "Medical treatment abroad",
        "Passport and wallet stolen in hotel",
    ),
    "health": (
        "Emergency dental treatment",
        "Physiotherapy after sports injury",
        "Hospital stay, two nights",
        "Prescription costs not covered by plan",
    ),
    "property": (
        "Warehouse flooding after heavy rain",
        "Shop window smashed",
        "Equipment damaged by power surge",
        "Fence destroyed by fallen tree",
    ),
}


@dataclass(frozen=True, slots=True)
class GeneratedClaim:
    """One claim with its clean (true) values and its hidden fraud ground truth.

    ``arrival_order`` is the claim's position in the portal's list (1 = oldest) or None for
    a late arrival, which stays hidden until revealed; ``late_rank`` orders late arrivals.
    """

    claim_id: str
    policy_number: str
    claimant_name: str
    claimant_age: int
    amount: float
    incident_date: date
    reported_date: date
    policy_start_date: date
    channel: str
    category: str
    region: str
    prior_claims: int
    police_report: str | None
    description: str | None
    fraud_probability: float
    is_fraud: bool
    status: str
    closed_date: date | None
    outcome: str | None
    arrival_order: int | None
    late_rank: int | None


def fraud_probability(
    *,
    amount: float,
    policy_age_days: int,
    prior_claims: int,
    report_delay_days: int,
    channel: str,
    category: str,
    police_report: str | None,
    claimant_age: int,
) -> float:
    """Return the hidden probability that a claim is fraudulent (formula in the module doc)."""
    z = _INTERCEPT
    z += 0.80 * math.log(max(amount, 1.0) / BASE_AMOUNT)
    z += 1.40 * (policy_age_days < RECENT_POLICY_DAYS)
    z += 0.30 * prior_claims
    z += 0.90 * (report_delay_days > LATE_REPORT_DAYS)
    z += 0.50 * (channel in ("web", "email"))
    z += 0.70 * (category == "travel")
    z += 0.80 * (police_report == "no")
    z += 0.40 * (police_report is None)
    z += 0.60 * (claimant_age < YOUNG_AGE)
    return 1.0 / (1.0 + math.exp(-z))


def generate_claims(
    seed: int, open_claims: int, closed_claims: int, late_arrivals: int = 0
) -> list[GeneratedClaim]:
    """Generate ``open_claims + closed_claims`` claims, deterministically for the arguments.

    The last ``late_arrivals`` open claims are late arrivals: reported "today" and hidden
    until the portal reveals them. Raises ValueError for negative counts or more late
    arrivals than open claims.
    """
    if min(open_claims, closed_claims, late_arrivals) < 0:
        raise ValueError("claim counts must not be negative")
    if late_arrivals > open_claims:
        raise ValueError(
            f"late_arrivals ({late_arrivals}) cannot exceed open_claims ({open_claims})"
        )
    # A string seed is hashed with SHA-512 by random.Random, independent of PYTHONHASHSEED.
    rng = random.Random(f"rpaml-portal:{seed}:claims")
    total = open_claims + closed_claims
    claim_numbers = rng.sample(range(100_000, 1_000_000), total)
    drafts: list[_Draft] = []
    for index, number in enumerate(claim_numbers):
        is_open = index < open_claims
        is_late = is_open and index >= open_claims - late_arrivals
        drafts.append(_draw_claim(rng, f"CLM-{number:06d}", is_open=is_open, is_late=is_late))

    # The list is ordered by arrival: report date first, the claim id breaks ties.
    visible = sorted((d for d in drafts if not d.is_late), key=lambda d: (d.reported, d.claim_id))
    order = {d.claim_id: position for position, d in enumerate(visible, start=1)}
    late = [d for d in drafts if d.is_late]
    late_rank = {d.claim_id: rank for rank, d in enumerate(late, start=1)}
    return [
        _finish(d, arrival_order=order.get(d.claim_id), late_rank=late_rank.get(d.claim_id))
        for d in drafts
    ]


@dataclass(slots=True)
class _Draft:
    claim_id: str
    policy_number: str
    claimant_name: str
    claimant_age: int
    amount: float
    incident: date
    reported: date
    policy_start: date
    channel: str
    category: str
    region: str
    prior_claims: int
    police_report: str | None
    description: str | None
    probability: float
    is_fraud: bool
    is_open: bool
    is_late: bool
    closed: date | None


def _draw_claim(rng: random.Random, claim_id: str, *, is_open: bool, is_late: bool) -> _Draft:
    age = min(90, max(18, round(rng.triangular(18, 90, 36))))
    amount = rng.lognormvariate(math.log(BASE_AMOUNT), 0.9)
    if rng.random() < 0.03:
        # A few very large claims: the ones an investigator always looks at twice.
        amount *= rng.uniform(8.0, 25.0)
    amount = round(min(max(amount, 50.0), 500_000.0), 2)

    if is_late:
        incident = REFERENCE_DATE - timedelta(days=rng.randint(0, 5))
        reported = REFERENCE_DATE
    else:
        incident = REFERENCE_DATE - timedelta(
            days=rng.randint(1, 60) if is_open else rng.randint(150, 1100)
        )
        delay_kind = rng.random()
        if delay_kind < 0.80:
            delay = rng.randint(0, 7)
        elif delay_kind < 0.95:
            delay = rng.randint(8, 30)
        else:
            delay = rng.randint(31, 120)
        reported = min(incident + timedelta(days=delay), REFERENCE_DATE)

    if rng.random() < 0.15:
        policy_start = incident - timedelta(days=rng.randint(1, RECENT_POLICY_DAYS - 1))
    else:
        policy_start = incident - timedelta(days=rng.randint(RECENT_POLICY_DAYS, 3650))

    channel = rng.choices(CHANNELS, weights=(35, 30, 20, 15))[0]
    category = rng.choices(CATEGORIES, weights=(35, 25, 12, 15, 13))[0]
    region = rng.choice(REGIONS)
    prior = rng.choices(range(9), weights=(45, 25, 13, 7, 4, 2.5, 1.5, 1, 1))[0]
    police_report = rng.choices(("yes", "no", None), weights=(50, 35, 15))[0]
    description = None if rng.random() < 0.30 else rng.choice(_DESCRIPTIONS[category])
    name = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"
    policy_number = f"POL-{rng.randint(0, 999_999):06d}"

    probability = fraud_probability(
        amount=amount,
        policy_age_days=(incident - policy_start).days,
        prior_claims=prior,
        report_delay_days=(reported - incident).days,
        channel=channel,
        category=category,
        police_report=police_report,
        claimant_age=age,
    )
    is_fraud = rng.random() < probability
    closed = None
    if not is_open:
        closed = min(reported + timedelta(days=rng.randint(14, 120)), REFERENCE_DATE)
    return _Draft(
        claim_id=claim_id,
        policy_number=policy_number,
        claimant_name=name,
        claimant_age=age,
        amount=amount,
        incident=incident,
        reported=reported,
        policy_start=policy_start,
        channel=channel,
        category=category,
        region=region,
        prior_claims=prior,
        police_report=police_report,
        description=description,
        probability=probability,
        is_fraud=is_fraud,
        is_open=is_open,
        is_late=is_late,
        closed=closed,
    )


def _finish(draft: _Draft, *, arrival_order: int | None, late_rank: int | None) -> GeneratedClaim:
    outcome = None
    if not draft.is_open:
        outcome = "Fraud confirmed" if draft.is_fraud else "Paid"
    return GeneratedClaim(
        claim_id=draft.claim_id,
        policy_number=draft.policy_number,
        claimant_name=draft.claimant_name,
        claimant_age=draft.claimant_age,
        amount=draft.amount,
        incident_date=draft.incident,
        reported_date=draft.reported,
        policy_start_date=draft.policy_start,
        channel=draft.channel,
        category=draft.category,
        region=draft.region,
        prior_claims=draft.prior_claims,
        police_report=draft.police_report,
        description=draft.description,
        fraud_probability=draft.probability,
        is_fraud=draft.is_fraud,
        status="open" if draft.is_open else "closed",
        closed_date=draft.closed,
        outcome=outcome,
        arrival_order=arrival_order,
        late_rank=late_rank,
    )
