"""Cleaning turns every messy form the portal shows into typed values."""

from __future__ import annotations

import datetime as dt

import pytest
from pipeline_claims import claim

from rpaml_pipeline.process import ParseMoneyRule, ProcessDefinition
from rpaml_pipeline.steps import Unparsed, clean, clean_step
from rpaml_pipeline.steps.clean import parse_int, parse_money


@pytest.mark.parametrize(
    ("shown", "amount"),
    [
        ("$12,345.67", 12345.67),
        ("USD 12,345.67", 12345.67),
        ("12345.67", 12345.67),
        ("  $ 1,000 ", 1000.0),
        ("US$5", 5.0),
        ("12,345.67 USD", 12345.67),
        ("1,234,567.00", 1234567.0),
    ],
)
def test_money_forms(process_def: ProcessDefinition, shown: str, amount: float) -> None:
    cleaned, _ = clean({"amount": shown}, process_def.cleaning)
    assert cleaned["amount"] == pytest.approx(amount)


@pytest.mark.parametrize("shown", ["12,3x4", "$", "12.34.56", "1,23", "abc", "EUR 5"])
def test_bad_money_is_kept_unparsed(process_def: ProcessDefinition, shown: str) -> None:
    cleaned, notes = clean({"amount": shown}, process_def.cleaning)
    assert isinstance(cleaned["amount"], Unparsed)
    assert cleaned["amount"].raw == shown
    assert any(n.field == "amount" and "not an amount of money" in n.message for n in notes)


@pytest.mark.parametrize("shown", ["2026-03-14", "14/03/2026", "Mar 14, 2026", " March 14, 2026 "])
def test_date_forms(process_def: ProcessDefinition, shown: str) -> None:
    cleaned, _ = clean({"incident_date": shown}, process_def.cleaning)
    assert cleaned["incident_date"] == dt.date(2026, 3, 14)


def test_bad_date_names_the_expected_forms(process_def: ProcessDefinition) -> None:
    cleaned, _ = clean({"incident_date": "31/02/2026"}, process_def.cleaning)
    value = cleaned["incident_date"]
    assert isinstance(value, Unparsed)
    assert "2026-03-14" in value.expected and "14/03/2026" in value.expected


@pytest.mark.parametrize(
    ("shown", "channel"),
    [
        (" Web ", "web"),
        ("PHONE", "phone"),
        ("agent\t", "agent"),
        ("E-mail", "email"),
        ("Email  ", "email"),
    ],
)
def test_channel_case_whitespace_and_synonyms(
    process_def: ProcessDefinition, shown: str, channel: str
) -> None:
    cleaned, _ = clean({"channel": shown}, process_def.cleaning)
    assert cleaned["channel"] == channel


def test_full_claim(process_def: ProcessDefinition) -> None:
    cleaned, _ = clean(claim(7), process_def.cleaning)
    assert cleaned["claimant_age"] == 42
    assert cleaned["prior_claims"] == 3
    assert cleaned["category"] == "travel"
    assert cleaned["region"] == "east"
    assert cleaned["channel"] == "email"
    assert cleaned["policy_start_date"] == dt.date(2024, 6, 1)
    assert cleaned["amount"] == 1200.0
    assert cleaned["police_report"] is False
    assert cleaned["claim_id"] == "CLM-000007"
    assert not any(isinstance(v, Unparsed) for v in cleaned.values())


@pytest.mark.parametrize(
    ("shown", "expected"), [("yes", True), ("No", False), ("", False), (None, False), ("  ", False)]
)
def test_police_report(process_def: ProcessDefinition, shown: str | None, expected: bool) -> None:
    cleaned, notes = clean({"police_report": shown}, process_def.cleaning)
    assert cleaned["police_report"] is expected
    if shown is None or not shown.strip():
        assert any(n.rule == "default" for n in notes)


def test_missing_optional_field_stays_missing(process_def: ProcessDefinition) -> None:
    raw = claim(1)
    del raw["description"]
    del raw["police_report"]
    cleaned, _ = clean(raw, process_def.cleaning)
    assert "description" not in cleaned
    assert cleaned["police_report"] is False  # the default rule fills absent fields too


def test_empty_text_becomes_missing(process_def: ProcessDefinition) -> None:
    cleaned, _ = clean({"description": "   ", "claimant_age": ""}, process_def.cleaning)
    assert cleaned["description"] is None and cleaned["claimant_age"] is None


def test_integers() -> None:
    assert parse_int("3") == 3
    assert parse_int(" 1,200 ") == 1200
    assert parse_int("4.0") == 4
    assert isinstance(parse_int("3.5"), Unparsed)
    assert isinstance(parse_int("three"), Unparsed)
    assert isinstance(parse_int(True), Unparsed)


def test_money_rule_options() -> None:
    rule = ParseMoneyRule(
        rule="parse_money",
        fields=["amount"],
        currency_markers=["EUR"],
        thousands_separator=".",
        decimal_separator=",",
    )
    assert parse_money("EUR 1.234,50", rule) == pytest.approx(1234.5)


def test_cleaning_does_not_touch_its_input(process_def: ProcessDefinition) -> None:
    raw = claim(1)
    before = dict(raw)
    clean(raw, process_def.cleaning)
    assert raw == before


def test_step_identity(process_def: ProcessDefinition) -> None:
    step = clean_step(process_def.cleaning)
    assert (step.name, step.version) == ("clean", "1.0.0")
    assert len(step.config_hash) == 64
    assert clean_step(process_def.cleaning[:-1]).config_hash != step.config_hash
