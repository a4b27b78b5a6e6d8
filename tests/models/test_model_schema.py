"""FeatureSchema.validate_rows and coerce_frame."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from rpaml_models import FeatureSchema, FeatureSpec, FieldIssue


def valid_row() -> dict[str, object]:
    return {
        "amount": 1200.5,
        "prior_claims": 2,
        "claimant_age": 41,
        "police_report": True,
        "channel": "web",
        "region": "north",
    }


def test_valid_rows_give_frame_in_schema_order_with_pipeline_dtypes(schema: FeatureSchema):
    rows = [valid_row(), {**valid_row(), "channel": None, "amount": None, "police_report": False}]
    frame, issues = schema.validate_rows(rows)
    assert issues == []
    assert tuple(frame.columns) == schema.names
    assert frame["amount"].dtype == np.float64
    assert frame["police_report"].dtype == np.float64
    assert frame["channel"].dtype == object
    assert frame["police_report"].tolist() == [1.0, 0.0]
    assert math.isnan(frame.loc[1, "amount"])
    assert pd.isna(frame.loc[1, "channel"])
    assert frame.loc[0, "prior_claims"] == 2.0


def test_every_failing_field_of_every_row_is_named(schema: FeatureSchema):
    rows = [
        valid_row(),
        {**valid_row(), "amount": "12,000", "police_report": 1, "channel": 3},
        {**valid_row(), "prior_claims": True, "claimant_age": float("inf")},
        {k: v for k, v in valid_row().items() if k != "region"} | {"regoin": "north"},
        "not an object",
    ]
    _, issues = schema.validate_rows(rows)  # type: ignore[arg-type]
    found = {(issue.index, issue.field) for issue in issues}
    assert found == {
        (1, "amount"),
        (1, "police_report"),
        (1, "channel"),
        (2, "prior_claims"),
        (2, "claimant_age"),
        (3, "region"),
        (3, "regoin"),
        (4, "*"),
    }
    by_key = {(issue.index, issue.field): issue.message for issue in issues}
    assert by_key[(1, "amount")] == "must be a number, got string"
    assert by_key[(1, "police_report")] == "must be true or false, got number"
    assert by_key[(1, "channel")] == "must be a string, got number"
    assert by_key[(2, "prior_claims")] == "must be a number, got boolean"
    assert by_key[(2, "claimant_age")] == "must be a finite number"
    assert "field required" in by_key[(3, "region")]
    assert by_key[(3, "regoin")] == "unknown field"
    # Ordered by row, then schema order.
    assert [issue.index for issue in issues] == sorted(issue.index for issue in issues)


def test_nan_is_refused_but_null_is_missing(schema: FeatureSchema):
    frame, issues = schema.validate_rows([{**valid_row(), "amount": float("nan")}])
    assert issues == [FieldIssue(0, "amount", "must be a finite number")]
    frame, issues = schema.validate_rows([{**valid_row(), "amount": None}])
    assert issues == []
    assert math.isnan(frame.loc[0, "amount"])


def test_unknown_category_is_accepted(schema: FeatureSchema):
    frame, issues = schema.validate_rows([{**valid_row(), "channel": "carrier pigeon"}])
    assert issues == []
    assert frame.loc[0, "channel"] == "carrier pigeon"


def test_numpy_scalars_are_accepted(schema: FeatureSchema):
    row = {
        **valid_row(),
        "amount": np.float32(3.5),
        "prior_claims": np.int64(4),
        "police_report": np.bool_(False),
    }
    frame, issues = schema.validate_rows([row])
    assert issues == []
    assert frame.loc[0, "prior_claims"] == 4.0
    assert frame.loc[0, "police_report"] == 0.0


def test_required_feature_refuses_null():
    schema = FeatureSchema(
        features=(
            FeatureSpec(name="amount", kind="numeric", required=True),
            FeatureSpec(name="flag", kind="boolean", required=True),
            FeatureSpec(name="kind", kind="categorical", required=True),
        )
    )
    _, issues = schema.validate_rows([{"amount": None, "flag": None, "kind": None}])
    assert [(i.field, i.message) for i in issues] == [
        ("amount", "must not be null"),
        ("flag", "must not be null"),
        ("kind", "must not be null"),
    ]


def test_empty_batch(schema: FeatureSchema):
    frame, issues = schema.validate_rows([])
    assert issues == []
    assert frame.shape == (0, len(schema.names))


def test_large_batch_matches_row_by_row(schema: FeatureSchema):
    rng = np.random.default_rng(0)
    rows = [
        {**valid_row(), "amount": float(a), "channel": str(c)}
        for a, c in zip(rng.random(1000), rng.choice(["web", "phone"], 1000), strict=True)
    ]
    rows[500] = {**rows[500], "amount": "oops"}
    frame, issues = schema.validate_rows(rows)
    assert issues == [FieldIssue(500, "amount", "must be a number, got string")]
    assert len(frame) == 1000
    single, _ = schema.validate_rows(rows[7:8])
    assert single.loc[0, "amount"] == frame.loc[7, "amount"]


def test_schema_definition_errors_are_clear():
    with pytest.raises(ValidationError, match="duplicate feature names: a"):
        FeatureSchema(
            features=(FeatureSpec(name="a", kind="numeric"), FeatureSpec(name="a", kind="boolean"))
        )
    with pytest.raises(ValidationError, match="only allowed for categorical"):
        FeatureSpec(name="a", kind="numeric", categories=("x",))


def test_schema_round_trips_through_json(schema: FeatureSchema):
    assert FeatureSchema.model_validate_json(schema.model_dump_json()) == schema


def test_coerce_frame_normalises_training_dtypes(schema: FeatureSchema):
    frame = pd.DataFrame(
        {
            "amount": pd.array([1, None], dtype="Int64"),
            "prior_claims": [0, 3],
            "claimant_age": [30.0, np.nan],
            "police_report": pd.array([True, None], dtype="boolean"),
            "channel": pd.array(["web", None], dtype="string"),
            "region": ["north", "south"],
            "ignored": [1, 2],
        }
    )
    coerced = schema.coerce_frame(frame)
    assert tuple(coerced.columns) == schema.names
    assert coerced["amount"].dtype == np.float64
    assert coerced["police_report"].iloc[0] == 1.0
    assert math.isnan(coerced["police_report"].iloc[1])
    assert coerced["channel"].dtype == object
    assert pd.isna(coerced["channel"].iloc[1])
    with pytest.raises(ValueError, match="frame lacks schema columns: region"):
        schema.coerce_frame(frame.drop(columns="region"))


_SINGLE_SCHEMA = FeatureSchema(
    features=(
        FeatureSpec(name="n", kind="numeric"),
        FeatureSpec(name="r", kind="numeric", required=True),
        FeatureSpec(name="b", kind="boolean"),
        FeatureSpec(name="c", kind="categorical", categories=("x", "y")),
    )
)


@pytest.mark.parametrize(
    "row",
    [
        {"n": 1.5, "r": 2, "b": True, "c": "x"},
        {"n": None, "r": 0, "b": None, "c": None},
        {"n": 2**60, "r": -3.25, "b": False, "c": "unseen"},
        {"n": math.inf, "r": None, "b": 1, "c": 7},
        {"n": True, "r": "3", "b": "yes", "c": ["x"]},
        {"n": np.float32(1.5), "r": np.int64(4), "b": np.bool_(True), "c": "y"},
    ],
)
def test_a_single_row_converts_as_in_a_batch(row: dict[str, object]) -> None:
    # One row takes a shortcut; a batch the general path: both must agree exactly.
    one, one_issues = _SINGLE_SCHEMA.validate_columns([row])
    two, two_issues = _SINGLE_SCHEMA.validate_columns([row, dict(row)])

    assert one_issues == [issue for issue in two_issues if issue.index == 0]
    for name in _SINGLE_SCHEMA.names:
        _assert_same_column(one[name], two[name][:1])


def _assert_same_column(left: np.ndarray, right: np.ndarray) -> None:
    assert left.dtype == right.dtype
    assert pd.isna(left).tolist() == pd.isna(right).tolist()
    assert [v for v in left.tolist() if not pd.isna(v)] == [
        v for v in right.tolist() if not pd.isna(v)
    ]


def test_columns_validate_as_the_same_rows() -> None:
    rows = [
        {"n": 1.0, "r": 2, "b": True, "c": "x"},
        {"n": "no", "r": None, "b": 3, "c": "y"},
    ]
    columns = {name: [row[name] for row in rows] for name in _SINGLE_SCHEMA.names}

    by_columns, column_issues = _SINGLE_SCHEMA.validate_column_lists(columns, 2)
    by_rows, row_issues = _SINGLE_SCHEMA.validate_columns(rows)
    missing, missing_issues = _SINGLE_SCHEMA.validate_column_lists({"n": [1.0], "z": [1]}, 1)

    assert column_issues == row_issues and len(row_issues) == 3
    for name in _SINGLE_SCHEMA.names:
        _assert_same_column(by_columns[name], by_rows[name])
    # A missing or unknown column is reported on the row, as the row path reports it.
    assert missing_issues == _SINGLE_SCHEMA.validate_columns([{"n": 1.0, "z": 1}])[1]
    assert {(i.field, i.message) for i in missing_issues} >= {
        ("b", "field required (send null for an unknown value)"),
        ("z", "unknown field"),
    }
    assert set(missing) == set(_SINGLE_SCHEMA.names)
