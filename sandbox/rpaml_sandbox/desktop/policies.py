"""The desktop application's policy records, derived from the portal's seeded claims.

Every policy a portal claim refers to exists here with consistent values (holder, age,
start date, prior claims), so a robot can enrich a claim with what only the policy
system knows: the coverage limit, the premium, missed payments and the underwriting
risk segment. Policy numbers the portal shows corrupted (``POL-12A456``, ``PO-123456``)
exist nowhere: looking them up is "not found", a business exception.

Underwriting data carries signal the claim itself does not: a policy holder who missed
premium payments is likelier to file a fraudulent claim. The number of missed payments is
drawn with a higher rate for claims whose hidden ``is_fraud`` is true; that is the
documented reason a model gains from the enrichment.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Final

from rpaml_sandbox.portal.generator import GeneratedClaim, generate_claims

#: Data file format version (the JSON file's ``format`` key).
DATA_FORMAT: Final = "rpaml-policies/1"

#: Coverage limit range (min, max) per product, in dollars.
_COVERAGE: Final[Mapping[str, tuple[int, int]]] = {
    "auto": (20_000, 120_000),
    "home": (150_000, 900_000),
    "travel": (5_000, 25_000),
    "health": (10_000, 250_000),
    "property": (50_000, 1_500_000),
}
#: Weights of 0..4 missed payments for honest and for fraudulent holders.
_MISSED_WEIGHTS_HONEST: Final = (78, 14, 5, 2, 1)
_MISSED_WEIGHTS_FRAUD: Final = (35, 25, 20, 12, 8)
RISK_SEGMENTS: Final = ("A", "B", "C", "D")


@dataclass(frozen=True, slots=True)
class PolicyRecord:
    """One policy as the policy-administration application shows it (all text)."""

    policy_number: str
    holder_name: str
    holder_age: str
    start_date: str
    product: str
    coverage_limit: str
    annual_premium: str
    prior_claims: str
    missed_payments: str
    risk_segment: str
    status: str

    def as_dict(self) -> dict[str, str]:
        """Field name to value, in display order."""
        return asdict(self)


#: Field names in display and export order.
POLICY_FIELDS: Final[tuple[str, ...]] = tuple(f.name for f in fields(PolicyRecord))
#: Labels shown next to each field in the details view.
FIELD_LABELS: Final[Mapping[str, str]] = {
    "policy_number": "Policy number",
    "holder_name": "Policy holder",
    "holder_age": "Holder age",
    "start_date": "Start date",
    "product": "Product",
    "coverage_limit": "Coverage limit",
    "annual_premium": "Annual premium",
    "prior_claims": "Prior claims",
    "missed_payments": "Missed payments",
    "risk_segment": "Risk segment",
    "status": "Status",
}


class PolicyDataError(ValueError):
    """The policy data file is missing, unreadable or not in the expected format."""


def policy_for_claim(claim: GeneratedClaim, seed: int) -> PolicyRecord:
    """The policy behind ``claim``, deterministic for ``(seed, policy number)``."""
    rng = random.Random(f"rpaml-desktop:{seed}:{claim.policy_number}")
    low, high = _COVERAGE[claim.category]
    coverage = round(rng.uniform(low, high), -3)
    weights = _MISSED_WEIGHTS_FRAUD if claim.is_fraud else _MISSED_WEIGHTS_HONEST
    missed = rng.choices(range(len(weights)), weights=weights)[0]
    policy_age_days = (claim.incident_date - claim.policy_start_date).days
    points = (
        min(claim.prior_claims, 4)
        + 2 * missed
        + (2 if policy_age_days < 60 else 0)
        + (1 if claim.claimant_age < 30 else 0)
    )
    segment = RISK_SEGMENTS[min(points // 2, len(RISK_SEGMENTS) - 1)]
    rate = 0.004 + 0.003 * RISK_SEGMENTS.index(segment) + rng.uniform(0.0, 0.004)
    return PolicyRecord(
        policy_number=claim.policy_number,
        holder_name=claim.claimant_name,
        holder_age=str(claim.claimant_age),
        start_date=claim.policy_start_date.isoformat(),
        product=claim.category,
        coverage_limit=f"{coverage:.2f}",
        annual_premium=f"{coverage * rate:.2f}",
        prior_claims=str(claim.prior_claims),
        missed_payments=str(missed),
        risk_segment=segment,
        status="lapsed" if rng.random() < 0.05 else "active",
    )


def fraud_probability_given_policy(claim: GeneratedClaim, seed: int) -> float:
    """The claim's fraud probability given everything the portal and the policy
    application show, the policy's missed payments included.

    Missed payments are drawn after the claim's fraud (more of them for a fraud), so they
    carry information the claim's ``fraud_probability`` lacks: this Bayes posterior is
    the best any policy could know, and what decisions are measured against.
    """
    missed = int(policy_for_claim(claim, seed).missed_payments)
    fraud = _MISSED_WEIGHTS_FRAUD[missed] / sum(_MISSED_WEIGHTS_FRAUD)
    honest = _MISSED_WEIGHTS_HONEST[missed] / sum(_MISSED_WEIGHTS_HONEST)
    p = claim.fraud_probability
    return p * fraud / (p * fraud + (1.0 - p) * honest)


def generate_policies(
    seed: int, open_claims: int, closed_claims: int, late_arrivals: int = 0
) -> list[PolicyRecord]:
    """The policies of every claim the portal generates for the same arguments.

    Two claims on one policy number share the first claim's policy, as in a real system
    where a policy has one record however many claims it has.
    """
    return policies_of_claims(
        generate_claims(seed, open_claims, closed_claims, late_arrivals), seed
    )


def policies_of_claims(claims: Iterable[GeneratedClaim], seed: int) -> list[PolicyRecord]:
    """The policies behind ``claims`` (in generation order: a policy's record comes from
    its first claim), sorted by policy number."""
    policies: dict[str, PolicyRecord] = {}
    for claim in claims:
        if claim.policy_number not in policies:
            policies[claim.policy_number] = policy_for_claim(claim, seed)
    return sorted(policies.values(), key=lambda p: p.policy_number)


def save_policies(path: Path, policies: Iterable[PolicyRecord]) -> None:
    """Write the data file atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"format": DATA_FORMAT, "policies": [p.as_dict() for p in policies]}
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(document, indent=1), encoding="utf-8")
    temporary.replace(path)


def load_policies(path: Path) -> dict[str, PolicyRecord]:
    """Read the data file: policy number to record. Raises :class:`PolicyDataError`."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise PolicyDataError(f"cannot read policy data {path}: {error}") from error
    if not isinstance(document, dict) or document.get("format") != DATA_FORMAT:
        raise PolicyDataError(f"{path} is not a policy data file (format {DATA_FORMAT!r})")
    try:
        records = [PolicyRecord(**row) for row in document["policies"]]
    except (KeyError, TypeError) as error:
        raise PolicyDataError(f"{path}: malformed policy row: {error}") from error
    return {record.policy_number: record for record in records}


def record_as_tsv(search_term: str, record: PolicyRecord | None) -> str:
    """What "Copy record" puts on the clipboard: a header line and a value line.

    The first two columns are the search term and ``found`` or ``not found``, so a reader
    can tell a fresh answer from a stale clipboard and a miss from a hit.
    """
    names = ["search_term", "result"]
    values = [search_term, "found" if record is not None else "not found"]
    if record is not None:
        names.extend(POLICY_FIELDS)
        values.extend(record.as_dict().values())
    return "\t".join(names) + "\n" + "\t".join(_one_line(v) for v in values) + "\n"


def export_csv(path: Path, policies: Sequence[PolicyRecord]) -> int:
    """Write ``policies`` as CSV (header row first) atomically; return the row count."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(POLICY_FIELDS), lineterminator="\n")
    writer.writeheader()
    for record in policies:
        writer.writerow(record.as_dict())
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(buffer.getvalue(), encoding="utf-8")
    temporary.replace(path)
    return len(policies)


def _one_line(value: str) -> str:
    return value.replace("\t", " ").replace("\n", " ")
