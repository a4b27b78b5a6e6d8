"""Feature schemas: what a model expects and how incoming rows are checked against it.

The schema is the single description of a model's inputs. It is stored in the model's
metadata, so the scoring service validates requests against exactly what the model was
trained on, and :meth:`FeatureSchema.validate_rows` turns accepted rows into the frame
the pipeline expects.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FeatureKind = Literal["numeric", "categorical", "boolean"]

# Row-level problems (a row that is not an object) are reported under this field name.
ROW_FIELD = "*"

_NUMERIC_TYPES = (int, float, np.integer, np.floating)
_BOOLEAN_TYPES = (bool, np.bool_)
# Exact types accepted without a per-value check: the common JSON-decoded case.
_FAST_TYPES: dict[FeatureKind, frozenset[type]] = {
    "numeric": frozenset({int, float, type(None)}),
    "boolean": frozenset({bool, type(None)}),
    "categorical": frozenset({str, type(None)}),
}


@dataclass(frozen=True, slots=True)
class FieldIssue:
    """One problem found in one field of one row.

    Attributes
    ----------
    index : int
        Position of the row in the batch.
    field : str
        Feature name, or ``"*"`` for a problem with the row as a whole.
    message : str
        What was wrong, readable by a person.
    """

    index: int
    field: str
    message: str


class FeatureSpec(BaseModel):
    """Description of one model input.

    Parameters
    ----------
    name : str
        Column name, as sent by clients and stored in the staging store.
    kind : {"numeric", "categorical", "boolean"}
        How the value is typed and encoded.
    categories : tuple of str, default=None
        Known categories of a categorical feature, in encoding order. Values outside
        the list are accepted and treated as unseen by the model. ``None`` learns the
        categories from the training data.
    description : str, default=""
        Meaning of the feature, for model cards and the service's model listing.
    required : bool, default=False
        When true, ``null`` is refused. By default a ``null`` value is a missing value,
        which the gradient-boosting model handles natively.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    kind: FeatureKind
    categories: tuple[str, ...] | None = None
    description: str = ""
    required: bool = False

    @model_validator(mode="after")
    def _categories_only_for_categoricals(self) -> FeatureSpec:
        if self.categories is not None:
            if self.kind != "categorical":
                raise ValueError(
                    f"feature {self.name!r}: categories are only allowed for categorical "
                    f"features, not {self.kind}"
                )
            if len(set(self.categories)) != len(self.categories):
                raise ValueError(f"feature {self.name!r}: categories must be unique")
        return self


class FeatureSchema(BaseModel):
    """Ordered set of features a model takes.

    Parameters
    ----------
    features : tuple of FeatureSpec
        The features, in the column order of the frames the model sees.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    features: tuple[FeatureSpec, ...] = Field(min_length=1)

    @field_validator("features")
    @classmethod
    def _unique_names(cls, features: tuple[FeatureSpec, ...]) -> tuple[FeatureSpec, ...]:
        counts = Counter(f.name for f in features)
        duplicates = sorted(name for name, count in counts.items() if count > 1)
        if duplicates:
            raise ValueError(f"duplicate feature names: {', '.join(duplicates)}")
        return features

    # Cached because validate_rows reads them on every call; pydantic leaves
    # cached properties out of fields, equality and serialisation.
    @cached_property
    def names(self) -> tuple[str, ...]:
        """Feature names in schema order."""
        return tuple(f.name for f in self.features)

    @cached_property
    def name_set(self) -> frozenset[str]:
        """Feature names as a set, for membership tests."""
        return frozenset(self.names)

    def names_of_kind(self, kind: FeatureKind) -> tuple[str, ...]:
        """Names of the features of one kind, in schema order."""
        return tuple(f.name for f in self.features if f.kind == kind)

    def validate_rows(
        self, rows: Sequence[Mapping[str, object]]
    ) -> tuple[pd.DataFrame, list[FieldIssue]]:
        """Check rows against the schema and build the model's input frame.

        Every row must hold every feature (``null`` is a missing value unless the
        feature is ``required``) and no other field. Numeric values must be finite
        ints or floats (booleans are refused), booleans must be ``true``/``false``,
        categoricals must be strings; an unknown category is accepted because the
        model encodes it as unseen.

        Parameters
        ----------
        rows : sequence of mappings
            Feature values by name, e.g. decoded JSON objects.

        Returns
        -------
        frame : pandas.DataFrame
            One row per input row, columns in schema order: numeric and boolean
            features as ``float64`` (booleans as 0.0/1.0), categoricals as ``object``
            holding ``str``; missing values are NaN. Rows with issues are still
            present (with NaN where the value was bad) so indices line up.
        issues : list of FieldIssue
            Every problem found, ordered by row then schema order; empty when all
            rows are valid.
        """
        columns, issues = self.validate_columns(rows)
        return self.input_frame(columns, len(rows)), issues

    def input_frame(self, columns: Mapping[str, Any], n_rows: int) -> pd.DataFrame:
        """The pipeline's input frame from :meth:`validate_columns`' columns.

        Categoricals become explicit object Series: pandas 3 would otherwise infer its
        string dtype, which the encoder need not see and which costs a conversion per
        call. Done here rather than in validation so the compiled path, which reads
        the arrays directly, never pays for building Series.
        """
        data = {
            name: (
                pd.Series(column, dtype=object, copy=False)
                if isinstance(column, np.ndarray) and column.dtype == object
                else column
            )
            for name, column in columns.items()
        }
        return pd.DataFrame(data, index=pd.RangeIndex(n_rows), copy=False)

    def validate_columns(
        self, rows: Sequence[Mapping[str, object]]
    ) -> tuple[dict[str, Any], list[FieldIssue]]:
        """:meth:`validate_rows` without building the DataFrame (the scoring hot path).

        Returns
        -------
        columns : dict of str to ndarray
            The frame's columns by name: float64 arrays for numeric and boolean
            features, object arrays of str (NaN when missing) for categoricals
            (:meth:`input_frame` turns them into the frame).
        issues : list of FieldIssue
            As :meth:`validate_rows` reports them.
        """
        issues: list[FieldIssue] = []
        name_set = self.name_set
        mappings: list[Mapping[str, object]] = []
        # Key check first: comparing a keys view with a frozenset is one C-level
        # operation per row, so the usual case (exactly the schema's keys) costs little.
        for index, row in enumerate(rows):
            if not isinstance(row, Mapping):
                issues.append(
                    FieldIssue(index, ROW_FIELD, f"expected an object, got {_type_name(row)}")
                )
                mappings.append({})
                continue
            mappings.append(row)
            keys = row.keys()
            if keys == name_set:
                continue
            issues.extend(
                FieldIssue(index, name, "field required (send null for an unknown value)")
                for name in self.names
                if name not in row
            )
            issues.extend(
                FieldIssue(index, str(name), "unknown field")
                for name in sorted(map(str, keys - name_set))
            )

        # Type checks and conversion run column by column so the frame is built from
        # ready arrays: no per-row DataFrame work on the scoring hot path.
        columns: dict[str, Any] = {}
        for spec in self.features:
            values = [row.get(spec.name) for row in mappings]
            column, column_issues = _convert_column(spec, values)
            columns[spec.name] = column
            issues.extend(column_issues)
        if len(issues) > 1:
            # Row-level problems first, then schema order, then unknown fields.
            order = {name: position for position, name in enumerate(self.names)}
            order[ROW_FIELD] = -1
            issues.sort(key=lambda issue: (issue.index, order.get(issue.field, len(order))))
        return columns, issues

    def validate_column_lists(
        self, columns: Mapping[str, Sequence[object]], n_rows: int
    ) -> tuple[dict[str, Any], list[FieldIssue]]:
        """:meth:`validate_columns` for rows sent column by column (the bulk path).

        Parameters
        ----------
        columns : mapping of str to sequence
            Feature name -> one value per row; every sequence ``n_rows`` long.
        n_rows : int
            Number of rows.

        Returns
        -------
        columns, issues
            As :meth:`validate_columns` returns them for the same rows, with the same
            issues (a missing or unknown column is reported on every row).
        """
        if columns.keys() != self.name_set:
            # Rare (and an error): reuse the row path so the issues read the same.
            names = list(columns)
            rows: list[Mapping[str, object]] = [{} for _ in range(n_rows)]
            if names:
                rows = [
                    dict(zip(names, values, strict=True))
                    for values in zip(*columns.values(), strict=True)
                ]
            return self.validate_columns(rows)
        converted: dict[str, Any] = {}
        issues: list[FieldIssue] = []
        for spec in self.features:
            # A copy: conversion replaces bad values in place.
            column, column_issues = _convert_column(spec, list(columns[spec.name]))
            converted[spec.name] = column
            issues.extend(column_issues)
        if len(issues) > 1:
            order = {name: position for position, name in enumerate(self.names)}
            issues.sort(key=lambda issue: (issue.index, order[issue.field]))
        return converted, issues

    def coerce_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return ``frame``'s schema columns with the dtypes :meth:`validate_rows` gives.

        Used for training frames, which come from the staging store or files rather
        than from JSON, so their dtypes vary (nullable booleans, pandas strings,
        integers).

        Parameters
        ----------
        frame : pandas.DataFrame
            Must contain every schema column; other columns are dropped.

        Returns
        -------
        pandas.DataFrame
            A new frame with the schema's columns in schema order.

        Raises
        ------
        ValueError
            If a column is missing or cannot be converted.
        """
        missing = [name for name in self.names if name not in frame.columns]
        if missing:
            raise ValueError(f"frame lacks schema columns: {', '.join(missing)}")
        columns: dict[str, Any] = {}
        for spec in self.features:
            series = frame[spec.name]
            try:
                columns[spec.name] = _coerce_series(spec, series)
            except (TypeError, ValueError) as error:
                raise ValueError(f"column {spec.name!r} ({spec.kind}): {error}") from error
        return pd.DataFrame(columns, index=frame.index, copy=False)


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, _BOOLEAN_TYPES):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, _NUMERIC_TYPES):
        return "number"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, Sequence):
        return "array"
    return type(value).__name__


def _convert_column(
    spec: FeatureSpec, values: list[object]
) -> tuple[npt.NDArray[Any], list[FieldIssue]]:
    """Check one column's values and convert them to the pipeline's dtype."""
    if len(values) == 1:
        single = _convert_single(spec, values[0])
        if single is not None:
            return single, []
    issues: list[FieldIssue] = []
    kinds = set(map(type, values))
    fast = kinds <= _FAST_TYPES[spec.kind] and not (spec.required and type(None) in kinds)
    name = spec.name
    if spec.kind == "numeric":
        if not fast:
            for index, value in enumerate(values):
                problem = _numeric_problem(value, spec.required)
                if problem is not None:
                    issues.append(FieldIssue(index, name, problem))
                    values[index] = None
        # numpy turns None into NaN when asked for float64.
        numbers = np.array(values, dtype=np.float64)
        if fast and not np.isfinite(numbers).all():
            for position in np.flatnonzero(~np.isfinite(numbers)).tolist():
                if values[position] is not None:
                    issues.append(FieldIssue(position, name, "must be a finite number"))
                    numbers[position] = np.nan
        return numbers, issues
    if spec.kind == "boolean":
        flags = np.full(len(values), np.nan)
        for index, value in enumerate(values):
            if value is None:
                if spec.required:
                    issues.append(FieldIssue(index, name, "must not be null"))
            elif fast or isinstance(value, _BOOLEAN_TYPES):
                flags[index] = 1.0 if value else 0.0
            else:
                issues.append(
                    FieldIssue(index, name, f"must be true or false, got {_type_name(value)}")
                )
        return flags, issues
    if not fast:
        for index, value in enumerate(values):
            if value is None:
                if spec.required:
                    issues.append(FieldIssue(index, name, "must not be null"))
            elif not isinstance(value, str):
                issues.append(FieldIssue(index, name, f"must be a string, got {_type_name(value)}"))
                values[index] = None
    labels = np.empty(len(values), dtype=object)
    labels[:] = values
    labels[labels == None] = np.nan  # noqa: E711 - element-wise comparison on purpose
    return labels, issues


# Integers up to this size convert to float64 exactly.
_EXACT_INT = 2**53


def _convert_single(spec: FeatureSpec, value: object) -> npt.NDArray[Any] | None:
    """The column of a single valid value, or None to let the general path judge it.

    Scoring one record is the most common request; the general path's set of types
    and array-wide checks cost several times more than these few comparisons.
    """
    kind = spec.kind
    if value is None:
        if spec.required:
            return None
        if kind != "categorical":
            return np.array([np.nan])
        missing = np.empty(1, dtype=object)
        missing[0] = np.nan
        return missing
    value_type = type(value)
    if kind == "numeric":
        if value_type is float and math.isfinite(value):  # type: ignore[arg-type]
            return np.array([value], dtype=np.float64)
        if value_type is int and -_EXACT_INT <= value <= _EXACT_INT:  # type: ignore[operator]
            return np.array([value], dtype=np.float64)
        return None
    if kind == "boolean":
        return np.array([1.0 if value else 0.0]) if value_type is bool else None
    if value_type is str:
        label = np.empty(1, dtype=object)
        label[0] = value
        return label
    return None


def _numeric_problem(value: object, required: bool) -> str | None:
    if value is None:
        return "must not be null" if required else None
    if isinstance(value, _BOOLEAN_TYPES) or not isinstance(value, _NUMERIC_TYPES):
        return f"must be a number, got {_type_name(value)}"
    if not math.isfinite(float(value)):
        return "must be a finite number"
    return None


def _coerce_series(spec: FeatureSpec, series: pd.Series[Any]) -> Any:
    if spec.kind == "numeric":
        if pd.api.types.is_bool_dtype(series.dtype):
            raise TypeError("booleans are not numbers")
        return pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    if spec.kind == "boolean":
        mapped = series.astype(object).map(
            lambda value: (
                np.nan
                if value is None or value is pd.NA or (isinstance(value, float) and value != value)
                else _boolean_value(value)
            )
        )
        return mapped.to_numpy(dtype=np.float64, na_value=np.nan)
    values = series.astype(object).to_numpy(dtype=object, copy=True)
    missing = pd.isna(values)
    values[missing] = np.nan
    bad = [v for v, m in zip(values, missing, strict=True) if not m and not isinstance(v, str)]
    if bad:
        raise TypeError(f"expected strings, found {type(bad[0]).__name__} {bad[0]!r}")
    return pd.Series(values, index=series.index, dtype=object, copy=False)


def _boolean_value(value: object) -> float:
    if isinstance(value, _BOOLEAN_TYPES):
        return 1.0 if value else 0.0
    if isinstance(value, _NUMERIC_TYPES) and float(value) in (0.0, 1.0):
        return float(value)
    raise TypeError(f"expected booleans, found {type(value).__name__} {value!r}")
