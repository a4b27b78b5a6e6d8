"""A processed batch from the outcomes of its records (the layout of
:mod:`rpaml_pipeline.store.layout`)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from rpaml_pipeline.canonical import dump_json
from rpaml_pipeline.processing.record import RecordOutcome
from rpaml_pipeline.store import codec, layout


def processed_frame(outcomes: Sequence[RecordOutcome]) -> pl.DataFrame:
    """The processed batch holding ``outcomes`` (one row each, in order)."""
    control = pl.DataFrame(
        {
            "record_id": [o.record_id for o in outcomes],
            "to_state": [o.to_state.value for o in outcomes],
            "step_details": [dump_json(o.details) for o in outcomes],
            "has_features": [o.features is not None for o in outcomes],
            "label": [o.label for o in outcomes],
            "label_source": [o.label_source for o in outcomes],
        },
        schema=dict(layout.PROCESSED_SCHEMA),
    )
    with_data = [o.data is not None for o in outcomes]
    data = codec.encode([o.data or {} for o in outcomes], layout.DATA, dates=True)
    features = codec.encode([o.features or {} for o in outcomes], layout.FEATURES)
    parts = [control.with_columns(pl.Series("has_data", with_data, dtype=pl.Boolean))]
    parts += [part for part in (data, features) if part.width]
    return pl.concat(parts, how="horizontal")
