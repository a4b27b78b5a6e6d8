"""The claims generator and the messy display values: deterministic and plausible."""

from __future__ import annotations

import re
from statistics import mean
from typing import Any

import pytest

from rpaml_sandbox.portal.display import display_values
from rpaml_sandbox.portal.generator import (
    CATEGORIES,
    CHANNELS,
    REGIONS,
    GeneratedClaim,
    fraud_probability,
    generate_claims,
)

AMOUNT_FORMATS = (
    re.compile(r"^\$\d{1,3}(,\d{3})*\.\d{2}$"),
    re.compile(r"^USD \d{1,3}(,\d{3})*\.\d{2}$"),
    re.compile(r"^\d+\.\d{2}$"),
)
DATE_FORMATS = (
    re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    re.compile(r"^\d{2}/\d{2}/\d{4}$"),
    re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4}$"),
)


@pytest.fixture(scope="module")
def many_claims() -> list[GeneratedClaim]:
    return generate_claims(7, 300, 6000, 5)


def test_same_arguments_give_the_same_claims() -> None:
    assert generate_claims(7, 40, 200, 5) == generate_claims(7, 40, 200, 5)
    assert generate_claims(7, 40, 200, 5) != generate_claims(8, 40, 200, 5)


def test_display_values_are_deterministic_per_seed_and_claim() -> None:
    claims = generate_claims(7, 40, 200, 5)
    first = [display_values(c, 7) for c in claims]
    # Independent of generation order: shuffled input gives the same strings per claim.
    again = {c.claim_id: display_values(c, 7) for c in reversed(claims)}
    assert first == [again[c.claim_id] for c in claims]
    assert first != [display_values(c, 8) for c in claims]


def test_counts_statuses_and_late_arrivals() -> None:
    claims = generate_claims(3, 40, 200, 5)
    assert len(claims) == 240
    assert len({c.claim_id for c in claims}) == 240
    open_claims = [c for c in claims if c.status == "open"]
    closed = [c for c in claims if c.status == "closed"]
    assert (len(open_claims), len(closed)) == (40, 200)
    late = [c for c in claims if c.arrival_order is None]
    assert len(late) == 5 and all(c.status == "open" for c in late)
    assert sorted(c.late_rank for c in late if c.late_rank is not None) == [1, 2, 3, 4, 5]
    orders = sorted(c.arrival_order for c in claims if c.arrival_order is not None)
    assert orders == list(range(1, 236))
    # Late arrivals are the newest claims of all.
    newest_visible = max(c.reported_date for c in claims if c.arrival_order is not None)
    assert all(c.reported_date >= newest_visible for c in late)


def test_clean_values_are_well_formed(many_claims: list[GeneratedClaim]) -> None:
    for claim in many_claims:
        assert re.fullmatch(r"CLM-\d{6}", claim.claim_id)
        assert re.fullmatch(r"POL-\d{6}", claim.policy_number)
        assert 18 <= claim.claimant_age <= 90
        assert claim.amount > 0
        assert claim.policy_start_date < claim.incident_date <= claim.reported_date
        assert claim.channel in CHANNELS
        assert claim.category in CATEGORIES
        assert claim.region in REGIONS
        assert 0 <= claim.prior_claims <= 8
        assert claim.police_report in ("yes", "no", None)
        assert 0.0 < claim.fraud_probability < 1.0
        if claim.status == "closed":
            assert claim.closed_date is not None and claim.closed_date >= claim.reported_date
            assert claim.outcome == ("Fraud confirmed" if claim.is_fraud else "Paid")
        else:
            assert claim.closed_date is None and claim.outcome is None
    assert any(c.police_report is None for c in many_claims)
    assert any(c.description is None for c in many_claims)
    assert max(c.amount for c in many_claims) > 10 * sorted(c.amount for c in many_claims)[3000]


def test_fraud_rate_and_drivers_are_sensible(many_claims: list[GeneratedClaim]) -> None:
    rate = mean(c.is_fraud for c in many_claims)
    assert 0.09 <= rate <= 0.15
    # The realised labels follow the hidden probabilities.
    assert abs(rate - mean(c.fraud_probability for c in many_claims)) < 0.02

    def fraud_rate(claims: list[GeneratedClaim]) -> float:
        return mean(c.is_fraud for c in claims)

    recent = [c for c in many_claims if (c.incident_date - c.policy_start_date).days < 60]
    settled = [c for c in many_claims if (c.incident_date - c.policy_start_date).days >= 60]
    assert 0.08 < len(recent) / len(many_claims) < 0.25
    assert fraud_rate(recent) > 1.8 * fraud_rate(settled)
    no_report = [c for c in many_claims if c.police_report == "no"]
    with_report = [c for c in many_claims if c.police_report == "yes"]
    assert fraud_rate(no_report) > fraud_rate(with_report)
    many_prior = [c for c in many_claims if c.prior_claims >= 3]
    no_prior = [c for c in many_claims if c.prior_claims == 0]
    assert fraud_rate(many_prior) > fraud_rate(no_prior)


def test_each_documented_driver_raises_the_probability() -> None:
    base: dict[str, Any] = {
        "amount": 2500.0,
        "policy_age_days": 400,
        "prior_claims": 0,
        "report_delay_days": 2,
        "channel": "phone",
        "category": "auto",
        "police_report": "yes",
        "claimant_age": 45,
    }
    p0 = fraud_probability(**base)
    riskier: list[dict[str, Any]] = [
        {"amount": 40000.0},
        {"policy_age_days": 20},
        {"prior_claims": 4},
        {"report_delay_days": 60},
        {"channel": "web"},
        {"channel": "email"},
        {"category": "travel"},
        {"police_report": "no"},
        {"police_report": None},
        {"claimant_age": 22},
    ]
    for change in riskier:
        assert fraud_probability(**{**base, **change}) > p0, change


def test_generator_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError, match="late_arrivals"):
        generate_claims(7, 3, 10, 4)
    with pytest.raises(ValueError, match="negative"):
        generate_claims(7, -1, 10, 0)


def test_display_values_are_messy_in_the_documented_ways(
    many_claims: list[GeneratedClaim],
) -> None:
    shown = [(c, display_values(c, 7)) for c in many_claims]
    amount_styles = {i for _, d in shown for i, f in enumerate(AMOUNT_FORMATS) if f.match(d.amount)}
    date_styles = {
        i for _, d in shown for i, f in enumerate(DATE_FORMATS) if f.match(d.incident_date)
    }
    assert amount_styles == {0, 1, 2} and date_styles == {0, 1, 2}
    for claim, display in shown:
        assert any(f.match(display.amount) for f in AMOUNT_FORMATS), display.amount
        assert float(re.sub(r"[^\d.]", "", display.amount)) == pytest.approx(claim.amount)
        for value in (display.incident_date, display.reported_date, display.policy_start_date):
            assert any(f.match(value) for f in DATE_FORMATS), value
        assert display.channel.strip().lower() == claim.channel
        assert display.category.strip().lower() == claim.category
        assert display.region.strip().lower() == claim.region
        assert (display.police_report == "") == (claim.police_report is None)
        assert display.description.strip() == (claim.description or "")
    assert any(d.channel != d.channel.strip() for _, d in shown)
    assert any(d.channel.isupper() for _, d in shown)
    invalid = [d.policy_number for _, d in shown if not re.fullmatch(r"POL-\d{6}", d.policy_number)]
    assert 0.01 <= len(invalid) / len(shown) <= 0.03
    assert {p[:3] for p in invalid} <= {"POL", "PO-"}
