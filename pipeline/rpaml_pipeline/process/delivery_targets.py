"""The delivery section of a process file: where processed records, scores and decisions
go."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from rpaml_pipeline.process.section_base import FieldName, Section

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
