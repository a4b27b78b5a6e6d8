"""LoadedModel.score and baseline-substitution explanations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rpaml_models import (
    BaselineExplainer,
    FeatureSchema,
    LoadedModel,
    ModelRegistry,
    Scored,
    TrainingResult,
)


@pytest.fixture
def model(tmp_path: Path, trained: TrainingResult, schema, policy) -> LoadedModel:
    registry = ModelRegistry(tmp_path)
    registry.register(
        "claims_fraud",
        trained.pipeline,
        schema=schema,
        policy=policy,
        training_data_hash="sha256:x",
        metrics=trained.metrics,
        params={},
        baseline=trained.baseline,
    )
    return registry.load("claims_fraud", "1")


def baseline_row(trained: TrainingResult) -> dict[str, object]:
    """A row holding every feature's baseline value, typed as a client sends it."""
    row: dict[str, object] = dict(trained.baseline)
    row["police_report"] = bool(row["police_report"])
    return row


def test_baseline_row_has_no_model_reasons(model: LoadedModel, trained):
    outcome = model.score([baseline_row(trained)])
    assert outcome.ok
    (result,) = outcome.results
    assert len(result.reasons) == 1  # the policy's reason only


def test_explanation_points_at_the_driving_numeric_feature(model: LoadedModel, trained):
    row = {**baseline_row(trained), "prior_claims": 6}
    (result,) = model.score([row]).results
    assert result.action == "reject"
    assert result.reasons[0].startswith("score ")
    assert result.reasons[1].startswith("prior_claims=6 raises the score by ")
    assert len(result.reasons) == 2  # nothing else differs from the baseline


def test_explanation_ranks_the_strongest_drivers_first(model: LoadedModel, trained):
    row = {
        **baseline_row(trained),
        "prior_claims": 4,
        "channel": "phone",
        "amount": 999999.0,  # noise: must not outrank the drivers
    }
    (result,) = model.score([row]).results
    model_reasons = result.reasons[1:]
    assert model_reasons[0].startswith("prior_claims=4 raises the score by")
    assert model_reasons[1].startswith("channel=phone raises the score by")
    effects = [float(reason.rsplit(" ", 1)[1]) for reason in model_reasons]
    assert effects == sorted(effects, reverse=True)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"channel": "phone"}, "channel=phone raises the score by "),
        ({"police_report": False}, "police_report=false raises the score by "),
    ],
)
def test_explanation_points_at_categorical_and_boolean_drivers(
    model: LoadedModel, trained, change, expected
):
    assert trained.baseline["police_report"] == 1.0  # most claims come with a report
    (result,) = model.score([{**baseline_row(trained), **change}]).results
    assert result.reasons[1].startswith(expected)


def test_effects_match_direct_substitution(model: LoadedModel, trained, claims, schema):
    frame, _ = claims
    rows = schema.coerce_frame(frame.head(30)).reset_index(drop=True)
    explainer = BaselineExplainer(model.pipeline, schema, trained.baseline)
    preprocess = model.pipeline[:-1]
    transformed = preprocess.transform(rows)
    scores = explainer.predict(transformed)
    effects = explainer.effects(explainer.substitute(transformed), scores)
    # Recompute one cell the slow way: a full-pipeline call on an edited frame.
    order = list(preprocess.get_feature_names_out())
    column = order.index("prior_claims")
    edited = rows.copy()
    edited.loc[4, "prior_claims"] = trained.baseline["prior_claims"]
    direct = scores[4] - model.pipeline.predict_proba(edited.iloc[[4]])[0, 1]
    assert effects[4, column] == pytest.approx(direct)
    # A value equal to the baseline has no effect.
    same = rows["channel"].to_numpy() == trained.baseline["channel"]
    assert np.all(effects[same, order.index("channel")] == 0.0)


def test_score_returns_every_issue_and_no_results(model: LoadedModel, trained):
    rows = [baseline_row(trained), {**baseline_row(trained), "amount": "lots", "extra": 1}]
    outcome = model.score(rows)
    assert not outcome.ok
    assert outcome.results == []
    assert {(i.index, i.field) for i in outcome.issues} == {(1, "amount"), (1, "extra")}


def test_batch_scoring_matches_single_rows(model: LoadedModel, claims, schema):
    frame, _ = claims
    rows = schema.coerce_frame(frame.head(40)).to_dict("records")
    rows = [
        {**row, "police_report": bool(row["police_report"]), "prior_claims": row["prior_claims"]}
        for row in rows
    ]
    batch = model.score(rows).results
    assert len(batch) == 40 and all(isinstance(r, Scored) for r in batch)
    for index in (0, 17, 39):
        (single,) = model.score([rows[index]]).results
        assert single.score == pytest.approx(batch[index].score)
        assert single.action == batch[index].action
        assert single.reasons == batch[index].reasons
    assert [r.score for r in model.score(rows, explain=False).results] == pytest.approx(
        [r.score for r in batch]
    )


def test_model_without_baseline_gives_policy_reasons_only(
    tmp_path: Path, trained, schema: FeatureSchema, policy
):
    registry = ModelRegistry(tmp_path)
    registry.register(
        "plain",
        trained.pipeline,
        schema=schema,
        policy=policy,
        training_data_hash="sha256:x",
        metrics={},
        params={},
    )
    model = registry.load("plain", "1")
    row = {**baseline_row(trained), "prior_claims": 6}
    (result,) = model.score([row]).results
    assert len(result.reasons) == 1


def test_empty_batch(model: LoadedModel):
    outcome = model.score([])
    assert outcome.ok and outcome.results == []
