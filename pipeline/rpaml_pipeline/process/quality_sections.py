"""The quality section of a process file: contract drift and the batch gate."""

from __future__ import annotations

from pydantic import Field

from rpaml_pipeline.process.section_base import Section

# --- quality --------------------------------------------------------------------------


class DriftSpec(Section):
    """Contract drift: compare each record with what its source delivered in earlier runs
    (see :mod:`rpaml_pipeline.quality.drift`)."""

    min_records: int = Field(default=200, ge=1)
    """Checks start once the source's profile holds this many valid records."""
    range_tolerance: float = Field(default=1.0, gt=0)
    """A value is far outside when it lies beyond the seen range by this many range widths."""
    quarantine: bool = True
    """Quarantine drifted records (otherwise only alert)."""


class GateSpec(Section):
    """The batch gate: hold a source's whole batch when it differs far from what that source
    delivered before (see :mod:`rpaml_pipeline.quality.gate`)."""

    reference: str | None = None
    """The source a young source is judged against (its own history too short), e.g. the
    export the model was trained on, so the very first collection is judged too."""
    min_history: int = Field(default=200, ge=1)
    """Records a source's history needs before the gate judges against it."""
    alpha: float = Field(default=1e-4, gt=0, lt=1)
    """How unlikely under the history a batch's figure must be to hold it."""
    min_jump: float = Field(default=0.2, gt=0, le=1)
    """By how much a failure (or unfamiliar-format) share must exceed the history's."""
    max_distance: float = Field(default=0.3, gt=0, le=1)
    """The Kolmogorov-Smirnov distance from the history that holds a batch."""
    min_values: int = Field(default=8, ge=2)
    """Values of a field a batch needs before its distribution is compared."""


class QualitySpec(Section):
    """Data-quality checks beyond the contract."""

    drift: DriftSpec | None = None
    gate: GateSpec | None = None
