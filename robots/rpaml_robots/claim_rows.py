"""Turning what the portal shows into raw claim rows for the staging store.

The portal's vocabulary lives here (its column labels and the store's field names); the
rules live in :mod:`rpaml_pipeline.incoming_rows`, shared with every other source: raw
rows keep the values *as shown* (``$12,345.67``, ``14/03/2026``), only the keys are
normalised (to the store's field names), and an empty cell becomes a missing key, so
"not shown" and "shown as blank" mean the same thing, and the export staged by a robot
or dropped in the inbox is the same records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from rpaml_pipeline.incoming_rows import field_name, normalise_row

Row = dict[str, str]

#: The export's column headers (sheet "Closed claims") and the store's field names.
HISTORY_COLUMNS: Mapping[str, str] = {
    "Claim ID": "claim_id",
    "Policy No.": "policy_number",
    "Claimant": "claimant_name",
    "Claimant Age": "claimant_age",
    "Amount": "amount",
    "Incident Date": "incident_date",
    "Reported Date": "reported_date",
    "Policy Start": "policy_start_date",
    "Channel": "channel",
    "Category": "category",
    "Region": "region",
    "Prior Claims": "prior_claims",
    "Police Report": "police_report",
    "Description": "description",
    "Closed Date": "closed_date",
    "Outcome": "outcome",
}

#: The header cells of ``table#claims`` on ``/claims`` and the store's field names.
LIST_COLUMNS: Mapping[str, str] = {
    "Claim ID": "claim_id",
    "Policy No.": "policy_number",
    "Claimant": "claimant_name",
    "Amount": "amount",
    "Incident Date": "incident_date",
    "Channel": "channel",
    "Category": "category",
    "Status": "status",
}

NATURAL_KEY = "claim_id"
SOURCE_LOCATION = "source_location"


def normalise_history_row(row: Mapping[str, object]) -> Row:
    """One row of the closed-claims export, keyed like the store's fields."""
    return _text_row(normalise_row(row, HISTORY_COLUMNS))


def rows_from_table(
    headers: Sequence[str],
    cells: Iterable[Sequence[str]],
    known: Mapping[str, str] = LIST_COLUMNS,
) -> list[Row]:
    """Pair header cells with each row's cells (what the list-page script returns)."""
    keys = [field_name(header, known) for header in headers]
    return [
        _text_row(normalise_row(dict(zip(keys, row_cells, strict=False)))) for row_cells in cells
    ]


def _text_row(payload: Mapping[str, object]) -> Row:
    # What a screen or an export shows is text (or nothing); a structure never comes out.
    return {name: str(value) for name, value in payload.items()}


def drop_duplicates(rows: Iterable[Row], key: str = NATURAL_KEY) -> tuple[list[Row], int]:
    """Keep the first row of each key, count the repeats.

    While a robot pages through the open claims, new claims arrive at the top, so the
    last rows of one page show up again on the next one: the first sighting wins.
    """
    seen: set[str] = set()
    unique: list[Row] = []
    duplicates = 0
    for row in rows:
        value = row.get(key, "")
        if value in seen:
            duplicates += 1
            continue
        if value:
            seen.add(value)
        unique.append(row)
    return unique, duplicates


def merge_details(list_row: Mapping[str, str], details: Mapping[str, str]) -> Row:
    """A list row completed by its detail page: the detail page wins where both
    show a field (it is the fuller view), and its URL becomes the source location."""
    merged: Row = dict(list_row)
    merged.update({name: value for name, value in details.items() if value})
    return merged
