"""Reading what the policy-administration application hands out: the tab-separated text
of "Copy record" and the CSV of "Export". Pure functions, testable without a display."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass

from rpaml_robots.errors import ApplicationError

#: Every enrichment payload holds these policy fields (the application's column names).
POLICY_FIELDS: tuple[str, ...] = (
    "policy_number",
    "holder_name",
    "holder_age",
    "start_date",
    "product",
    "coverage_limit",
    "annual_premium",
    "prior_claims",
    "missed_payments",
    "risk_segment",
    "status",
)


@dataclass(frozen=True)
class CopiedRecord:
    """One "Copy record" answer: the search term it answers and the policy, if found."""

    search_term: str
    found: bool
    fields: dict[str, str]


def normalise_policy_number(value: str) -> str:
    """The search term for a claim's policy number: trimmed, upper case."""
    return str(value or "").strip().upper()


def parse_copied_record(text: str) -> CopiedRecord | None:
    """Parse the clipboard text; None when it is not a "Copy record" answer (e.g. stale
    text from another program). Raises :class:`ApplicationError` when it looks like
    one but its columns disagree (the application changed its format)."""
    lines = [line for line in str(text or "").splitlines() if line.strip()]
    if len(lines) != 2 or not lines[0].startswith("search_term\tresult"):
        return None
    names = lines[0].split("\t")
    values = lines[1].split("\t")
    if len(names) != len(values):
        raise ApplicationError(
            f"the copied policy record has {len(names)} column names but {len(values)} values"
        )
    row = dict(zip(names, values, strict=True))
    result = row.pop("result")
    term = row.pop("search_term")
    if result == "not found":
        return CopiedRecord(search_term=term, found=False, fields={})
    if result != "found":
        raise ApplicationError(f"the copied policy record has an unknown result {result!r}")
    missing = [name for name in POLICY_FIELDS if name not in row]
    if missing:
        raise ApplicationError(f"the copied policy record lacks {', '.join(missing)}")
    return CopiedRecord(search_term=term, found=True, fields=row)


def parse_policy_export(text: str) -> dict[str, dict[str, str]]:
    """Parse the export CSV: policy number to its fields. Raises :class:`ApplicationError`
    when the header lacks a policy field."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [name for name in POLICY_FIELDS if name not in (reader.fieldnames or [])]
    if missing:
        raise ApplicationError(f"the policy export lacks the columns {', '.join(missing)}")
    return {row["policy_number"]: dict(row) for row in reader}


def lookup_exported(
    policies: Mapping[str, Mapping[str, str]], policy_number: str
) -> dict[str, str] | None:
    """The exported policy of ``policy_number`` (normalised), or None."""
    found = policies.get(normalise_policy_number(policy_number))
    return dict(found) if found is not None else None
