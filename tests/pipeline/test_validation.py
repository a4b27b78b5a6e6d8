"""Validation names every failing field, the rule and the raw value."""

from __future__ import annotations

from typing import Any

from pipeline_claims import claim, history_row

from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.steps import clean, label, transform, validate


def _issues(raw: dict[str, Any], process_def: ProcessDefinition) -> dict[str, str]:
    cleaned, _ = clean(raw, process_def.cleaning)
    return {i.field: i.message for i in validate(cleaned, process_def.contract, raw=raw)}


def test_good_claims_pass(process_def: ProcessDefinition) -> None:
    for number in range(20):
        assert _issues(claim(number), process_def) == {}
    assert _issues(history_row(3, outcome="Fraud confirmed"), process_def) == {}


def test_every_failing_field_is_named(process_def: ProcessDefinition) -> None:
    raw = claim(
        1,
        amount="12,3x4",
        policy_number="PO-123456",
        claimant_age="200",
        channel="fax",
        incident_date="yesterday",
        prior_claims="-1",
        police_report="maybe",
    )
    del raw["claimant_name"]
    issues = _issues(raw, process_def)
    assert issues["amount"] == 'amount: "12,3x4" is not an amount of money'
    assert issues["policy_number"] == 'policy_number: "PO-123456" does not match POL-NNNNNN'
    assert issues["claimant_age"] == 'claimant_age: "200" is above the maximum 110'
    assert issues["channel"] == 'channel: "fax" is not one of web, phone, agent, email'
    assert issues["incident_date"].startswith(
        'incident_date: "yesterday" is not a date (written like'
    )
    assert issues["prior_claims"] == 'prior_claims: "-1" is below the minimum 0'
    assert issues["police_report"] == 'police_report: "maybe" is not a yes/no answer (yes/no)'
    assert issues["claimant_name"] == "claimant_name: is missing (it is required)"
    assert len(issues) == 8


def test_invalid_policy_numbers(process_def: ProcessDefinition) -> None:
    for bad in ("POL-12A456", "PO-123456", "POL-1234567", "pol-123456"):
        assert (
            "does not match POL-NNNNNN"
            in _issues(claim(1, policy_number=bad), process_def)["policy_number"]
        )


def test_issue_without_raw_cites_cleaned_value(process_def: ProcessDefinition) -> None:
    cleaned, _ = clean(claim(1, claimant_age="17.5"), process_def.cleaning)
    [issue] = validate(cleaned, process_def.contract)
    assert issue.rule == "type" and issue.value == "17.5"
    assert issue.summary == "claimant_age: is not a whole number"


def test_unknown_outcome_is_invalid(process_def: ProcessDefinition) -> None:
    issues = _issues(history_row(1, outcome="Pending"), process_def)
    assert issues == {"outcome": 'outcome: "Pending" is not one of Fraud confirmed, Paid'}


def test_label_and_transform(process_def: ProcessDefinition) -> None:
    assert process_def.labeling is not None
    cleaned, _ = clean(history_row(2, outcome="Fraud confirmed"), process_def.cleaning)
    assert label(cleaned, process_def.labeling) == (1, "portal:closed-claims-export#outcome")
    cleaned, _ = clean(claim(2), process_def.cleaning)
    assert label(cleaned, process_def.labeling) is None
    features = transform(cleaned, process_def.transform)
    # claim(2): incident 14 Mar 2026 ("Mar 14, 2026"), policy start 1 Jun 2024, reported 20 Mar.
    assert features["days_policy_active"] == 651
    assert features["report_delay_days"] == 6
    assert features["amount"] == 880.5
    assert set(features) == {f.name for f in process_def.model.features}
