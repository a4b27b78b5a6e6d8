"""The closed-claims Excel export, as a real reporting screen produces it."""

from __future__ import annotations

from io import BytesIO
from typing import Final

from openpyxl import Workbook

from rpaml_sandbox.portal.database import ClosedClaim

SHEET_TITLE: Final = "Closed claims"
EXPORT_COLUMNS: Final = (
    "Claim ID",
    "Policy No.",
    "Claimant",
    "Claimant Age",
    "Amount",
    "Incident Date",
    "Reported Date",
    "Policy Start",
    "Channel",
    "Category",
    "Region",
    "Prior Claims",
    "Police Report",
    "Description",
    "Closed Date",
    "Outcome",
)
XLSX_MEDIA_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def closed_claims_workbook(claims: list[ClosedClaim]) -> bytes:
    """Return an .xlsx file with one row per closed claim under ``EXPORT_COLUMNS``.

    Text cells carry the same messy display strings as the screens (real exports are no
    cleaner); counts are numbers; a missing optional value is an empty cell.
    """
    # Write-only mode streams rows instead of building a cell graph: the history is large.
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET_TITLE)
    sheet.append(list(EXPORT_COLUMNS))
    for claim in claims:
        shown = claim.display
        sheet.append(
            [
                claim.claim_id,
                shown.policy_number,
                shown.claimant_name,
                claim.claimant_age,
                shown.amount,
                shown.incident_date,
                shown.reported_date,
                shown.policy_start_date,
                shown.channel,
                shown.category,
                shown.region,
                claim.prior_claims,
                shown.police_report or None,
                shown.description or None,
                shown.closed_date,
                claim.outcome,
            ]
        )
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
