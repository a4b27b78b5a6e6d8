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

A fraud ring (the business clock's switch, :mod:`rpaml_sandbox.portal.clock`): from a
given business day on, a share of each day's new claims (``RING_SHARE``) comes from an
organised ring instead, with its own profile and its own drivers of fraud. Ring claims are
filed by phone for health or property damage in the east, with a police report and an
established policy: everything the pattern above calls low risk. Their fraud probability::

    z = -0.60
        + 0.40 * ln(amount / 2500)
        + 1.20 * [category == health]
        + 0.80 * [claimant_age >= 50]
        - 0.50 * prior_claims
    fraud_probability = 1 / (1 + exp(-z))

so a model trained before the switch approves exactly the claims the ring gets paid for,
and the feature mix of the daily claims moves (the ring's channel, category and region).
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final, Literal

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
_RING_INTERCEPT: Final = -0.6

#: Share of a day's new claims that come from the fraud ring once it is active.
RING_SHARE: Final = 0.3
#: Which pattern drives a new claim's fraud: the usual one, or (from the switch) the ring.
FraudPattern = Literal["standard", "ring"]

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


def ring_fraud_probability(
    *, amount: float, category: str, claimant_age: int, prior_claims: int
) -> float:
    """The hidden fraud probability of a fraud ring's claim (formula in the module doc)."""
    z = _RING_INTERCEPT
    z += 0.40 * math.log(max(amount, 1.0) / BASE_AMOUNT)
    z += 1.20 * (category == "health")
    z += 0.80 * (claimant_age >= 50)
    z -= 0.50 * prior_claims
    return 1.0 / (1.0 + math.exp(-z))


def generate_arrivals(
    seed: int, day: date, count: int, *, taken: Collection[str], ring: bool = False
) -> list[GeneratedClaim]:
    """The ``count`` claims reported on business day ``day``, deterministic for the seed
    and day; ``taken`` are the claim ids already in use (none is drawn twice). With
    ``ring``, a ``RING_SHARE`` of them are the fraud ring's (see the module doc).

    They are open, visible claims; ``arrival_order`` is their order within the day.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    rng = random.Random(f"rpaml-portal:{seed}:arrivals:{day.isoformat()}")
    used = set(taken)
    drafts: list[_Draft] = []
    for _ in range(count):
        number = rng.randrange(100_000, 1_000_000)
        while f"CLM-{number:06d}" in used:
            number = rng.randrange(100_000, 1_000_000)
        claim_id = f"CLM-{number:06d}"
        used.add(claim_id)
        pattern: FraudPattern = "ring" if ring and rng.random() < RING_SHARE else "standard"
        drafts.append(
            _draw_claim(rng, claim_id, is_open=True, is_late=False, today=day, pattern=pattern)
        )
    drafts.sort(key=lambda d: (d.reported, d.claim_id))
    return [
        _finish(d, arrival_order=position, late_rank=None)
        for position, d in enumerate(drafts, start=1)
    ]


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


def _draw_claim(
    rng: random.Random,
    claim_id: str,
    *,
    is_open: bool,
    is_late: bool,
    today: date = REFERENCE_DATE,
    pattern: FraudPattern = "standard",
) -> _Draft:
    if pattern == "ring":
        return _draw_ring_claim(rng, claim_id, today=today)
    age = min(90, max(18, round(rng.triangular(18, 90, 36))))
    amount = rng.lognormvariate(math.log(BASE_AMOUNT), 0.9)
    if rng.random() < 0.03:
        # A few very large claims: the ones an investigator always looks at twice.
        amount *= rng.uniform(8.0, 25.0)
    amount = round(min(max(amount, 50.0), 500_000.0), 2)

    if is_late:
        incident = today - timedelta(days=rng.randint(0, 5))
        reported = today
    elif today != REFERENCE_DATE:
        # A claim arriving on a later business day: reported that day, after the usual delay.
        incident = today - timedelta(days=_report_delay(rng))
        reported = today
    else:
        incident = REFERENCE_DATE - timedelta(
            days=rng.randint(1, 60) if is_open else rng.randint(150, 1100)
        )
        reported = min(incident + timedelta(days=_report_delay(rng)), REFERENCE_DATE)

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


def _report_delay(rng: random.Random) -> int:
    delay_kind = rng.random()
    if delay_kind < 0.80:
        return rng.randint(0, 7)
    if delay_kind < 0.95:
        return rng.randint(8, 30)
    return rng.randint(31, 120)


def _draw_ring_claim(rng: random.Random, claim_id: str, *, today: date) -> _Draft:
    """A fraud ring's claim: a clean-looking profile, fraud driven by other features."""
    age = rng.randint(22, 75)
    amount = round(min(max(rng.lognormvariate(math.log(3000.0), 0.5), 500.0), 30_000.0), 2)
    incident = today - timedelta(days=rng.randint(0, 4))
    policy_start = incident - timedelta(days=rng.randint(400, 3000))
    category = rng.choices(("health", "property"), weights=(60, 40))[0]
    prior = rng.choices(range(3), weights=(70, 20, 10))[0]
    probability = ring_fraud_probability(
        amount=amount, category=category, claimant_age=age, prior_claims=prior
    )
    return _Draft(
        claim_id=claim_id,
        policy_number=f"POL-{rng.randint(0, 999_999):06d}",
        claimant_name=f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}",
        claimant_age=age,
        amount=amount,
        incident=incident,
        reported=today,
        policy_start=policy_start,
        channel="phone",
        category=category,
        region="east",
        prior_claims=prior,
        police_report="yes",
        description=rng.choice(_DESCRIPTIONS[category]),
        probability=probability,
        is_fraud=rng.random() < probability,
        is_open=True,
        is_late=False,
        closed=None,
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
