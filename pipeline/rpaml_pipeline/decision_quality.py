"""How good the applied decisions were, measured against a sandbox's hidden truth.

Only a sandbox knows each record's true probability of the positive outcome; with it the
expected cost of every applied decision under the process's cost table is known exactly,
and so is the best any policy could have done (the oracle, which decides on the true
probability). The truth is used here to measure, never to decide.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from rpaml_models import ModelRegistry
from rpaml_models.evaluation import expected_costs_given_truth
from rpaml_pipeline.model_spec import decision_policy, feature_schema
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.store import Store

MODEL_ROW = "rpaml (model's decisions)"
"""The row of the model's own decisions in :func:`measure`'s costs."""


def measure(
    store: Store,
    process: ProcessDefinition,
    truth: Mapping[str, float],
    outcomes: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Expected cost per record of the acted decisions, the oracle and every
    always-the-same-action rule, from ``truth`` (natural key -> true probability).

    A record a person reviewed counts with the model's decision (the review is what its
    action, an escalation, pays for); what the people then decided is judged apart, against
    the realised ``outcomes`` (natural key -> outcome value) when given: a reviewer sees
    the investigation, so the true probability is not what their choice should be held to.
    """
    policy = decision_policy(process)
    if policy.kind != "costs":
        return {}
    reviewed = {d.record_id: d for d in store.review_decisions.decisions(process.name)}
    keys: list[str] = []
    chosen: list[int] = []
    amounts: list[float] = []
    people: list[tuple[int, int, float]] = []  # (their action, outcome, amount)
    for chunk in store.iter_records(process.name, "acted"):
        for record in chunk:
            review = reviewed.get(record.record_id)
            decision = record.decision if review is None else review.model_action
            if decision not in policy.actions or record.natural_key not in truth:
                continue
            keys.append(record.natural_key)
            chosen.append(policy.actions.index(decision))
            features = record.features or {}
            amount = features.get(policy.amount_feature) if policy.amount_feature else None
            amounts.append(float(amount) if isinstance(amount, int | float) else np.nan)
            if review is not None and outcomes is not None and record.natural_key in outcomes:
                their = policy.actions.index(review.action)
                people.append((their, outcomes[record.natural_key], amounts[-1]))
    if not keys:
        return {}
    p = np.array([truth[key] for key in keys], dtype=np.float64)
    amount_array = np.array(amounts, dtype=np.float64)
    choices = np.array(chosen, dtype=np.int64)

    def cost(of: np.ndarray) -> float:
        return float(expected_costs_given_truth(policy, of, p, amount_array).mean())

    applied = cost(choices)
    oracle = cost(policy.choose(p, amount_array))
    rows: dict[str, float] = {MODEL_ROW: applied, "oracle": oracle}
    for index, action in enumerate(policy.actions):
        rows[f"{action} everything"] = cost(np.full(len(keys), index, dtype=np.int64))
    return {
        "records": len(keys),
        "cost_per_record": rows,
        "ratio_to_oracle": {name: value / oracle for name, value in rows.items()},
        "actions": {a: int(np.sum(choices == i)) for i, a in enumerate(policy.actions)},
        "reviewed": _people(policy, people, len(keys)),
    }


def _people(policy: Any, decided: list[tuple[int, int, float]], records: int) -> dict[str, Any]:
    """How the reviewers' decisions fared against the realised outcomes: the cost their
    wrong choices added beyond the review itself, per acted record."""
    if not decided:
        return {}
    actions, outcome, amount = (np.array(column) for column in zip(*decided, strict=True))
    # A realised outcome is a certain one: its cost under the table is the choice's cost.
    added = expected_costs_given_truth(
        policy, actions.astype(np.int64), outcome.astype(np.float64), amount.astype(np.float64)
    )
    return {
        "decisions": len(decided),
        "wrong": int(np.sum(added > 0)),
        "added_cost_per_record": float(added.sum() / records),
    }


def render(quality: Mapping[str, Any]) -> list[str]:
    """The measurement as lines of a table."""
    if not quality:
        return []
    lines = [
        f"Decisions     expected cost per record of the {quality['records']} acted records, "
        "from the sandbox's true probabilities"
    ]
    ratios = quality["ratio_to_oracle"]
    for name, value in quality["cost_per_record"].items():
        lines.append(f"  {name:<28} {value:>10,.0f}   {ratios[name]:6.2f}x oracle")
    people = quality.get("reviewed") or {}
    if people:
        lines.append(
            f"  the reviewers' {people['decisions']} decisions: {people['wrong']} against the "
            f"investigation's outcome, adding {people['added_cost_per_record']:,.0f} per record"
        )
    return lines


def versions_on_truth(
    store: Store,
    process: ProcessDefinition,
    registry: ModelRegistry,
    versions: tuple[str, str],
    truth: Mapping[str, float],
) -> dict[str, Any]:
    """Both ``versions``' policy decisions on the same acted records of ``truth``, each
    version scoring them afresh: expected cost per record of each, from the truth.

    What a promotion did, told apart from what the days brought: the records are the same,
    only the model differs (exploration, applied after the policy, is left out of both).
    """
    policy = decision_policy(process)
    names = [feature.name for feature in process.model.features]
    keys: list[str] = []
    rows: list[dict[str, Any]] = []
    for chunk in store.iter_records(process.name, "acted"):
        for record in chunk:
            if record.natural_key in truth and record.features is not None:
                keys.append(record.natural_key)
                rows.append({name: record.features.get(name) for name in names})
    if not keys or policy.kind != "costs":
        return {}
    frame, _ = feature_schema(process).validate_rows(rows)
    p = np.array([truth[key] for key in keys], dtype=np.float64)
    amounts = (
        frame[policy.amount_feature].to_numpy(dtype=np.float64)
        if policy.amount_feature
        else np.full(len(keys), np.nan)
    )
    costs: dict[str, float] = {}
    for version in versions:
        scores = registry.load(process.model.name, version).score_frame(frame)
        chosen = policy.choose(scores, amounts)
        costs[version] = float(expected_costs_given_truth(policy, chosen, p, amounts).mean())
    oracle = float(expected_costs_given_truth(policy, policy.choose(p, amounts), p, amounts).mean())
    return {"records": len(keys), "cost_per_record": costs, "oracle": oracle}
