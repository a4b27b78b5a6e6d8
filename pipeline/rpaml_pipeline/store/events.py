"""Lineage event rows: one record's own event, or a step applied to a whole batch."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from rpaml_pipeline.canonical import to_jsonable
from rpaml_pipeline.store.context import STORE_STEP_VERSION
from rpaml_pipeline.store.states import RecordState

BATCH_STEPS_KEY = "rpaml:batch_steps"
"""A processing batch event lists the steps it ran as ``[name, version, config_hash]``;
each record's own details of those steps are columns of the processed batch."""
GATE_KEY = "rpaml:batch_gate"
"""The detail key of a batch gate event (``hold``, ``release``, ``reject``) on a processed
batch."""


def record_event(
    record_id: str,
    run_id: str | None,
    step: str,
    from_state: RecordState | None,
    to_state: RecordState | None,
    at: dt.datetime,
    detail: Mapping[str, Any],
    *,
    step_version: str | None = STORE_STEP_VERSION,
    config_hash: str | None = None,
) -> dict[str, Any]:
    """A ``record_events`` row of one record."""
    return {
        "record_id": record_id,
        "batch_id": None,
        "run_id": run_id,
        "step": step,
        "step_version": step_version,
        "config_hash": config_hash,
        "from_state": from_state.value if from_state else None,
        "to_state": to_state.value if to_state else None,
        "at": at,
        "detail": to_jsonable(dict(detail)),
    }


def batch_event(
    batch_id: str,
    run_id: str | None,
    step: str,
    from_state: RecordState | None,
    to_state: RecordState | None,
    at: dt.datetime,
    detail: Mapping[str, Any],
    *,
    step_version: str | None = STORE_STEP_VERSION,
    config_hash: str | None = None,
) -> dict[str, Any]:
    """A ``record_events`` row of a step applied to every record of ``batch_id``."""
    row = record_event(
        "",
        run_id,
        step,
        from_state,
        to_state,
        at,
        detail,
        step_version=step_version,
        config_hash=config_hash,
    )
    return {**row, "record_id": None, "batch_id": batch_id}
