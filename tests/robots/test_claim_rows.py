"""Row normalisation: store keys, text values as shown, empty means missing."""

from __future__ import annotations

import datetime as dt

from rpaml_robots.claim_rows import (
    cell_text,
    column_key,
    drop_duplicates,
    merge_details,
    normalise_history_row,
    rows_from_table,
    snake_case,
)


def test_history_row_uses_store_field_names_and_drops_empty_cells() -> None:
    row = {
        "Claim ID": "CLM-000001",
        "Policy No.": "POL-123456",
        "Claimant Age": 34,
        "Amount": "$12,345.67",
        "Policy Start": "14/03/2026",
        "Prior Claims": 0,
        "Police Report": None,
        "Description": "",
        "Outcome": "Paid",
    }
    assert normalise_history_row(row) == {
        "claim_id": "CLM-000001",
        "policy_number": "POL-123456",
        "claimant_age": "34",
        "amount": "$12,345.67",
        "policy_start_date": "14/03/2026",
        "prior_claims": "0",
        "outcome": "Paid",
    }


def test_cell_text_shows_values_as_a_person_reads_them() -> None:
    assert cell_text(None) == ""
    assert cell_text(34.0) == "34"
    assert cell_text(12.5) == "12.5"
    assert cell_text(dt.datetime(2026, 3, 14)) == "2026-03-14"
    assert cell_text(dt.date(2026, 3, 14)) == "2026-03-14"
    assert cell_text(True) == "true"
    assert cell_text("  web ") == "web"


def test_unknown_headers_become_snake_case() -> None:
    assert snake_case("Policy No.") == "policy_no"
    assert column_key("  claim   id ", {"Claim ID": "claim_id"}) == "claim_id"
    assert column_key("Adjuster Name", {}) == "adjuster_name"


def test_rows_from_table_pairs_headers_with_cells() -> None:
    rows = rows_from_table(
        ["Claim ID", "Policy No.", "Claimant", "Amount", "Status"],
        [["CLM-000001", "POL-000001", "Ann Lee", "USD 1,000.00", "open"]],
    )
    assert rows == [
        {
            "claim_id": "CLM-000001",
            "policy_number": "POL-000001",
            "claimant_name": "Ann Lee",
            "amount": "USD 1,000.00",
            "status": "open",
        }
    ]


def test_first_sighting_wins_and_repeats_are_counted() -> None:
    rows = [
        {"claim_id": "A", "source_location": "page=1"},
        {"claim_id": "B", "source_location": "page=1"},
        {"claim_id": "A", "source_location": "page=2"},
        {"claim_id": "C", "source_location": "page=2"},
    ]
    unique, duplicates = drop_duplicates(rows)
    assert [row["claim_id"] for row in unique] == ["A", "B", "C"]
    assert unique[0]["source_location"] == "page=1"
    assert duplicates == 1


def test_details_complete_the_list_row_and_win_on_conflicts() -> None:
    merged = merge_details(
        {"claim_id": "A", "amount": "$1", "source_location": "list"},
        {"claim_id": "A", "amount": "$1.00", "region": "north", "source_location": "detail"},
    )
    assert merged == {
        "claim_id": "A",
        "amount": "$1.00",
        "region": "north",
        "source_location": "detail",
    }
