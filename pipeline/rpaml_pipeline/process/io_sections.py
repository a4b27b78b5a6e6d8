"""The sources (besides robots) and delivery targets sections of a process file."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator

from rpaml_pipeline.process.section_base import FieldName, Section

# --- sources (besides robots) -----------------------------------------------------------
# Paths are relative to the data folder. In URLs and headers, ``{data_dir}`` stands for it
# and ``${NAME}`` for a variable from the environment or the secrets file (never write a
# password or token here: rpaml_pipeline.process.placeholders).


class _SourceBase(Section):
    name: FieldName
    fields: dict[FieldName, str] = Field(default_factory=dict)
    """Payload field <- source column. Unmapped columns keep their name in snake_case."""


class InboxSource(_SourceBase):
    """Files dropped into a folder: CSV, Excel (``.xlsx``), JSON lines, PDF text.

    Each file is taken once (by content hash) and moved to ``done/`` once its records are
    committed, or to ``failed/`` with a ``.reason.txt`` beside it.
    """

    kind: Literal["inbox"]
    path: str = Field(min_length=1)
    patterns: list[str] = Field(
        default_factory=lambda: ["*.csv", "*.xlsx", "*.jsonl", "*.pdf"], min_length=1
    )
    csv_delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: str = "utf-8"
    sheet: str | None = None
    """Excel worksheet to read (the first one when not given)."""
    pdf_record_pattern: str | None = None
    """Regular expression with named groups; each match in a PDF's text is one record."""

    @field_validator("pdf_record_pattern")
    @classmethod
    def _named_groups(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compiled = re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression ({exc})") from exc
            if not compiled.groupindex:
                raise ValueError("needs named groups, e.g. (?P<claim_id>CLM-\\d{6})")
        return value


class SqlSource(_SourceBase):
    """Rows of a SQL query against any SQLAlchemy URL."""

    kind: Literal["sql"]
    url: str = Field(min_length=1)
    query: str = Field(min_length=1)


class HttpSource(_SourceBase):
    """Records from an HTTP endpoint answering JSON (a list, or a list under ``records_path``)."""

    kind: Literal["http"]
    url: str = Field(pattern=r"^https?://")
    records_path: str | None = None
    """Dotted path to the list of records in the JSON answer (``data.items``)."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra request headers, e.g. ``Authorization: "Bearer ${PARTNER_TOKEN}"``."""
    timeout_seconds: float = Field(default=30.0, gt=0)


SourceSpec = Annotated[InboxSource | SqlSource | HttpSource, Field(discriminator="kind")]


# --- delivery ---------------------------------------------------------------------------

DeliverableState = Literal["validated", "scored", "decided", "acting", "acted", "labeled"]
_DELIVERED_BY_DEFAULT: tuple[DeliverableState, ...] = (
    "validated",
    "scored",
    "decided",
    "acting",
    "acted",
)


class _TargetBase(Section):
    name: FieldName
    states: list[DeliverableState] = Field(
        default_factory=lambda: list(_DELIVERED_BY_DEFAULT), min_length=1
    )
    """Records in these states are delivered (each change of a record once per target)."""


class ParquetTarget(_TargetBase):
    """A Parquet data lake: ``<path>/process=<name>/date=<YYYY-MM-DD>/part-*.parquet``."""

    kind: Literal["parquet"]
    path: str = "lake"


class WarehouseTarget(_TargetBase):
    """A table in any SQLAlchemy database, upserted by the natural key."""

    kind: Literal["warehouse"]
    url: str = Field(min_length=1)
    table: FieldName


class ReportTarget(_TargetBase):
    """A CSV or Excel report per delivery run under ``path``."""

    kind: Literal["report"]
    path: str = "reports"
    format: Literal["csv", "xlsx"] = "csv"


class WebhookTarget(_TargetBase):
    """JSON POSTs of record batches, retried with exponential backoff."""

    kind: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    batch_size: int = Field(default=500, ge=1)
    retries: int = Field(default=3, ge=0)
    backoff_seconds: float = Field(default=1.0, ge=0)
    timeout_seconds: float = Field(default=10.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra request headers, e.g. ``Authorization: "Bearer ${WEBHOOK_TOKEN}"``."""


DeliveryTarget = Annotated[
    ParquetTarget | WarehouseTarget | ReportTarget | WebhookTarget,
    Field(discriminator="kind"),
]
