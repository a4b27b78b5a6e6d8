"""Turning what the portal shows into raw claim rows for the staging store.

Raw rows keep the values *as shown* (``$12,345.67``, ``14/03/2026``): cleaning is the
pipeline's job, and the store's raw hash must describe what the robot saw. Only the
keys are normalised (to the store's snake_case field names), and an empty cell
becomes a missing key, so "not shown" and "shown as blank" mean the same thing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence

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


def snake_case(header: str) -> str:
    """``"Policy No."`` -> ``"policy_no"``: the fallback for a header we do not know.

    A new column on the portal then still reaches the store under a predictable
    name instead of being dropped.
    """
    words = re.findall(r"[0-9a-z]+", header.lower())
    return "_".join(words)


def column_key(header: str, known: Mapping[str, str]) -> str:
    """The store field name for a header, tolerant of case and stray whitespace."""
    cleaned = " ".join(header.split())
    for label, key in known.items():
        if label.lower() == cleaned.lower():
            return key
    return snake_case(cleaned)


def cell_text(value: object) -> str:
    """A cell value as the text a person sees, ``""`` for an empty cell.

    Spreadsheet cells can come back typed: whole numbers lose their ``.0`` (an
    age of ``34.0`` is shown as ``34``), and dates at midnight are shown as dates.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def normalise_row(row: Mapping[str, object], known: Mapping[str, str]) -> Row:
    """Rename a row's keys to store field names and keep non-empty values as text."""
    normalised: Row = {}
    for header, value in row.items():
        text = cell_text(value)
        if text:
            normalised[column_key(str(header), known)] = text
    return normalised


def normalise_history_row(row: Mapping[str, object]) -> Row:
    """One row of the closed-claims export, keyed like the store's fields."""
    return normalise_row(row, HISTORY_COLUMNS)


def rows_from_table(
    headers: Sequence[str],
    cells: Iterable[Sequence[str]],
    known: Mapping[str, str] = LIST_COLUMNS,
) -> list[Row]:
    """Pair header cells with each row's cells (what the list-page script returns)."""
    keys = [column_key(header, known) for header in headers]
    rows = []
    for row_cells in cells:
        rows.append(normalise_row(dict(zip(keys, row_cells, strict=False)), {}))
    return rows


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
