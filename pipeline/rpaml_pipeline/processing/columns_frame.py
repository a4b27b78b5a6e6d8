"""The column path's processed batch: step details, cleaned data, features and the
profile of the valid records, built from whole columns (the layout of
:mod:`rpaml_pipeline.store.layout`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from rpaml_pipeline.process.definition import ProcessDefinition
from rpaml_pipeline.processing.columns_clean import CleanedBatch
from rpaml_pipeline.processing.steps import PipelineSteps
from rpaml_pipeline.quality.drift import PROFILE_VERSION
from rpaml_pipeline.store import codec, layout
from rpaml_pipeline.store.states import RecordState

_MARKERS: Mapping[Any, str] = {
    pl.String: "",
    pl.Int64: "#int",
    pl.Float64: "#float",
    pl.Boolean: "#bool",
    pl.Date: "#date",
    pl.Null: "",
}
_NUMERIC = ("integer", "number", "money")


def step_details(
    frame: pl.DataFrame,
    process: ProcessDefinition,
    steps: PipelineSteps,
    drift: bool,
    feature_names: Sequence[str],
) -> pl.Series:
    """Each record's JSON list of its step details (clean, validate, then for a valid record
    label and transform), as the reference path writes them."""
    validate = [pl.col("valid"), pl.col("issues"), *([pl.col("drift")] if drift else [])]
    parts = [
        pl.lit("["),
        pl.struct(pl.col("notes")).struct.json_encode(),
        pl.lit(","),
        pl.struct(validate).struct.json_encode(),
    ]
    valid_tail: list[pl.Expr] = []
    if process.labeling is not None and steps.label is not None:
        label = pl.struct(
            pl.col("outcome_value").alias("outcome"), pl.col("label"), pl.col("label_source")
        )
        valid_tail += [pl.lit(","), label.struct.json_encode()]
    transform = '{"features":[' + ",".join(f'"{name}"' for name in feature_names) + "]}"
    valid_tail += [pl.lit(","), pl.lit(transform)]
    tail = pl.when(pl.col("valid")).then(pl.concat_str(valid_tail)).otherwise(pl.lit(""))
    return frame.select(pl.concat_str([*parts, tail, pl.lit("]")]).alias("d")).to_series()


def processed_frame(
    frame: pl.DataFrame,
    states: Sequence[RecordState],
    details: pl.Series,
    cleaned: CleanedBatch,
    features: Mapping[str, pl.Series],
) -> pl.DataFrame:
    """The processed batch of the slice."""
    labeled = pl.Series([state is RecordState.LABELED for state in states])
    control = pl.DataFrame(
        {
            "record_id": frame.get_column("record_id"),
            "to_state": pl.Series([state.value for state in states], dtype=pl.String),
            "step_details": details,
            "has_features": frame.get_column("valid"),
            "label": frame.get_column("label"),
            "label_source": frame.get_column("label_source"),
            "labeled": labeled,
        }
    ).select(
        "record_id",
        "to_state",
        "step_details",
        "has_features",
        pl.when("labeled").then("label").alias("label"),
        pl.when("labeled").then("label_source").alias("label_source"),
        pl.lit(True).alias("has_data"),
    )
    columns: list[pl.Series] = []
    for field in cleaned.fields:
        name = layout.DATA + field.name + _MARKERS[field.values.dtype]
        columns.append(field.values.alias(name))
        if field.unparsed is not None:
            columns.append(field.unparsed.alias(name + codec.TEXT_OVERRIDE))
    for feature, values in features.items():
        columns.append(values.alias(layout.FEATURES + feature + _MARKERS[values.dtype]))
    return pl.concat([control, pl.DataFrame(columns)], how="horizontal") if columns else control


def slice_profile(
    payload: pl.DataFrame, cleaned: CleanedBatch, valid: pl.Series, process: ProcessDefinition
) -> dict[str, Any] | None:
    """What ``profile_records`` makes of the slice's valid records (None when none)."""
    rows = int(valid.sum())
    if not rows:
        return None
    keep = payload.filter(valid)
    columns: dict[str, dict[str, Any]] = {}
    for name in payload.columns:
        text = keep.height - keep.get_column(name).null_count()
        columns[name] = {"present": keep.height, "types": {"text": text} if text else {}}
    for name, spec in process.contract.fields.items():
        field = cleaned.field(name)
        if name not in columns or field is None:
            continue
        values = field.values.filter(valid)
        if spec.type in _NUMERIC:
            numbers = (
                values.cast(pl.Float64)
                .drop_nulls()
                .filter(values.cast(pl.Float64).drop_nulls().is_finite())
                if values.dtype in (pl.Int64, pl.Float64)
                else pl.Series([], dtype=pl.Float64)
            )
            if len(numbers):
                columns[name]["numeric"] = {
                    "min": numbers.min(),
                    "max": numbers.max(),
                    "p01": numbers.quantile(0.01),
                    "p50": numbers.quantile(0.5),
                    "p99": numbers.quantile(0.99),
                }
        elif spec.type == "category":
            texts = (
                values.drop_nulls() if values.dtype == pl.String else pl.Series([], dtype=pl.String)
            )
            columns[name]["categories"] = sorted(texts.unique().to_list())
    return {"version": PROFILE_VERSION, "records": rows, "columns": columns}
