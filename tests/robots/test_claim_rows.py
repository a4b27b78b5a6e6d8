"""The portal's rows: its labels become store field names, text values as shown, empty
means missing (the rules themselves: tests/pipeline/test_incoming_rows.py)."""

from __future__ import annotations

from rpaml_robots.claim_rows import (
    drop_duplicates,
    merge_details,
    normalise_history_row,
    rows_from_table,
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
