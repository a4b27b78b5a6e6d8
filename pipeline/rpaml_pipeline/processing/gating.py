"""The batch gate inside processing: judge a processed slice, and hold it when the gate
says so (every record quarantined with the gate's figures; the processed batch keeps what
the steps made of each record, so a person's release restores it exactly)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import polars as pl

from rpaml_pipeline.processing.columns import SliceResult
from rpaml_pipeline.quality.gate import BatchGate, GateVerdict, batch_history
from rpaml_pipeline.store import codec, layout
from rpaml_pipeline.store.events import GATE_KEY
from rpaml_pipeline.store.states import RecordState


@dataclass(frozen=True)
class Gated:
    """A slice after the gate: what to write, and what the gate said."""

    result: SliceResult
    verdict: GateVerdict | None
    """None when the process has no gate or the batch was already released."""
    history: dict[str, Any] | None
    """The slice's figures for its source's history (None when held: garbage never
    becomes normal)."""


def gate_slice(
    gate: BatchGate | None, source: str, raw: pl.DataFrame, result: SliceResult, *, judge: bool
) -> Gated:
    """Judge ``result`` (made from ``raw``) when ``judge``; hold it if the gate says so."""
    if gate is None or gate.spec is None:
        return Gated(result, None, None)
    figures = batch_history(payload_text(raw), numeric_values(result.frame), result.summaries)
    if not judge:
        return Gated(result, None, figures)
    verdict = gate.judge(source, figures)
    if not verdict.held:
        return Gated(result, verdict, figures)
    return Gated(held(result, verdict), verdict, None)


def held(result: SliceResult, verdict: GateVerdict) -> SliceResult:
    """Every record of the slice quarantined for the gate (a record failing on its own
    keeps its own reason first)."""
    reason = verdict.reason
    summaries = [f"batch held: {finding.message}" for finding in verdict.findings]
    return replace(
        result,
        states=[RecordState.QUARANTINED] * len(result.states),
        reasons=[reason if own is None else f"{own}; {reason}" for own in result.reasons],
        summaries=[[*own, *summaries] for own in result.summaries],
        profile=None,
    )


def payload_text(raw: pl.DataFrame) -> pl.DataFrame:
    """Each payload field of a raw slice as text, one column per field (null where a record
    has no value)."""
    fields = codec.plan(raw, layout.PAYLOAD)
    if fields is not None and all(marker == "" for _, marker, _ in fields):
        return raw.select([pl.col(column).alias(name) for name, _, column in fields])
    payloads = codec.decode(raw, layout.PAYLOAD)
    names = sorted({name for payload in payloads for name in payload})
    return pl.DataFrame(
        {
            name: pl.Series(
                name,
                [None if p.get(name) is None else str(p[name]) for p in payloads],
                dtype=pl.String,
            )
            for name in names
        }
    )


def numeric_values(frame: pl.DataFrame) -> dict[str, np.ndarray]:
    """Finite values of each numeric (not yes/no) field and feature of a processed batch; a
    feature copied from a field of the same name is compared once. Dates are left out: time
    moves on, their differences (features) are compared."""
    found: dict[str, np.ndarray] = {}
    for prefix in (layout.FEATURES, layout.DATA):
        columns: dict[str, list[pl.Series]] = {}
        for name, marker, column in codec.plan(frame, prefix) or []:
            series = frame.get_column(column)
            if marker in ("", "#int", "#float") and series.dtype.is_numeric():
                columns.setdefault(name, []).append(series.cast(pl.Float64))
        for name, parts in columns.items():
            if name in found:
                continue
            values = pl.concat([part.drop_nulls() for part in parts]).to_numpy()
            found[name] = values[np.isfinite(values)]
    return found


def gate_detail(verdict: GateVerdict, **extra: Any) -> dict[str, Any]:
    """The detail of a gate event."""
    return {GATE_KEY: "hold", **verdict.as_dict(), **extra}
