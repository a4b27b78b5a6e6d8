"""The one normalisation of incoming rows: field names, values as shown, empty means
absent, natural keys (the robot and inbox paths on one export: tests/robots/
test_export_normalisation.py)."""

from __future__ import annotations

import datetime as dt
import decimal

from rpaml_pipeline.incoming_rows import (
    field_name,
    natural_key_of,
    normalise_row,
    raw_value,
    snake_case,
)
from rpaml_pipeline.sources.rows import payload_of


def test_headers_become_field_names() -> None:
    assert snake_case("Policy No.") == "policy_no"
    assert snake_case("claimId") == "claim_id"
    assert snake_case("claim-id") == "claim_id"
    assert snake_case(" Claim ID ") == "claim_id"
    assert field_name("  claim   id ", {"Claim ID": "claim_id"}) == "claim_id"
    assert field_name("POLICY NO.", {"Policy No.": "policy_number"}) == "policy_number"
    assert field_name("Adjuster Name") == "adjuster_name"
    assert field_name("policy_start_date") == "policy_start_date"  # field names stay


def test_values_read_as_a_person_sees_them() -> None:
    assert raw_value(34.0) == "34"
    assert raw_value(34) == "34"
    assert raw_value(12.5) == "12.5"
    assert raw_value(decimal.Decimal("1.50")) == "1.50"
    assert raw_value(dt.datetime(2026, 3, 14)) == "2026-03-14"
    assert raw_value(dt.datetime(2026, 3, 14, 9, 30)) == "2026-03-14T09:30:00"
    assert raw_value(dt.date(2026, 3, 14)) == "2026-03-14"
    assert raw_value(True) == "true"
    assert raw_value("  web ") == "web"
    assert raw_value({"a": [1, dt.date(2026, 1, 2)]}) == {"a": [1, "2026-01-02"]}


def test_an_empty_cell_is_an_absent_field() -> None:
    for empty in (None, "", "   ", "\t\n"):
        assert raw_value(empty) is None
    row = {"Claim ID": "CLM-1", "Police Report": None, "Description": "  ", "": "nameless"}
    assert normalise_row(row) == {"claim_id": "CLM-1"}


def test_natural_key_is_the_key_fields_text() -> None:
    row = {"claim_id": " CLM-000001 ", "policy_number": "POL-1"}
    assert natural_key_of(row, ["claim_id"]) == "CLM-000001"
    assert natural_key_of(row, ["claim_id", "policy_number"]) == "CLM-000001|POL-1"
    assert natural_key_of({"amount": "$1"}, ["claim_id"]) == ""
    assert natural_key_of({"claim_id": {"nested": "x"}}, ["claim_id"]) == ""


def test_a_source_mapping_names_fields_as_a_robot_would() -> None:
    values = {"Claim ID": "CLM-1", "policy no.": " POL-1 ", "Region": None, "extraCol": 2.0}
    assert payload_of(values, {"policy_number": "Policy No."}) == {
        "claim_id": "CLM-1",
        "policy_number": "POL-1",
        "extra_col": "2",
    }
