"""Exploration: a seeded share of decisions sent to the action whose outcome is unbiased.

See :mod:`rpaml_pipeline.process.feedback_spec` for why. The scoring stage applies it to
what the service decided. A record is picked when a hash of the seed and its natural key
falls below the share, so the same record is picked in every run and replay, and the
records picked at a small share are among those picked at a larger one. The share is
``share``, and ``share_on_drift`` for the records of the drifted pattern while the latest
judged scoring run carries a drift alert (:mod:`rpaml_pipeline.drifted_pattern`): when the
inputs move, what looks like the new pattern is looked at by a person until the champion
learned it (:func:`learned_by_champion`). A picked record whose decision
is another action gets ``action`` instead, with a first reason naming the decision it
replaced; every action's expected cost stays as the policy computed it, so the price of
exploring shows in realised cost.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rpaml_models import DecisionPolicy, ModelRegistry
from rpaml_models.evaluation import amounts_of, realised_costs
from rpaml_pipeline.drifted_pattern import DriftedPattern, drifted_pattern
from rpaml_pipeline.model_spec import decision_policy
from rpaml_pipeline.model_training import labeled_records
from rpaml_pipeline.monitoring.drift_check import SCORE
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.promotion import MIN_EVIDENCE, MIN_POSITIVES, LabeledRecords, drift_era_like
from rpaml_pipeline.scoring import ScoreResult
from rpaml_pipeline.store import Store

EXPLORED = "exploration:"
"""How the first reason of a decision exploration changed begins."""


@dataclass(frozen=True)
class Exploration:
    """The exploration a scoring run applies (see the module)."""

    action: str
    share: float
    seed: int
    share_on_drift: float = 0.0
    pattern: DriftedPattern | None = None
    """The drifted pattern whose records are explored at ``share_on_drift`` (None: none)."""
    learned: str | None = None
    """Why a drifted pattern is no longer explored: the champion learned it
    (:func:`learned_by_champion`)."""

    def draw(self, natural_key: str) -> float:
        """The record's seeded draw in [0, 1): picked when below the share."""
        digest = hashlib.sha256(f"{self.seed}:{natural_key}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def picks(self, natural_key: str, *, drifted: bool = False) -> bool:
        share = max(self.share, self.share_on_drift) if drifted else self.share
        return self.draw(natural_key) < share

    def apply(
        self,
        results: Sequence[ScoreResult],
        keys: Mapping[str, str],
        features: Mapping[str, Mapping[str, object]],
    ) -> list[ScoreResult]:
        """``results`` with the picked records' decisions replaced (``keys``: record id ->
        natural key, ``features``: record id -> the features that were scored)."""
        drifted = [False] * len(results)
        if self.pattern is not None and results:
            names = set(self.pattern.grown)
            columns: dict[str, list[object]] = {
                name: [features.get(r.id, {}).get(name) for r in results] for name in names
            }
            columns[SCORE] = [r.score for r in results]
            drifted = self.pattern.members(columns, len(results)).tolist()
        return [
            self._explore(result, in_pattern)
            if result.decision != self.action and self.picks(keys[result.id], drifted=in_pattern)
            else result
            for result, in_pattern in zip(results, drifted, strict=True)
        ]

    def _explore(self, result: ScoreResult, in_pattern: bool) -> ScoreResult:
        if in_pattern and self.pattern is not None:
            share = max(self.share, self.share_on_drift)
            why = f"like the inputs that drifted from v{self.pattern.version}'s training"
        else:
            share, why = self.share, "seeded"
        reason = (
            f"{EXPLORED} {self.action} instead of {result.decision} "
            f"({share:.0%} of decisions {why}) so its outcome is learned without bias"
        )
        return dataclasses.replace(result, decision=self.action, reasons=(reason, *result.reasons))


def exploration_for(
    store: Store, process: ProcessDefinition, registry: ModelRegistry
) -> Exploration | None:
    """The exploration of ``process``'s next scoring run (None when it declares none)."""
    spec = process.policy.exploration
    if spec is None or (spec.share == 0 and spec.share_on_drift == 0):
        return None
    pattern, learned = None, None
    if spec.share_on_drift > spec.share:
        pattern = drifted_pattern(
            store, process.name, process.model.name, registry, process.monitoring.min_rows
        )
        if pattern is not None:
            learned = learned_by_champion(store, process, registry, pattern)
            pattern = None if learned is not None else pattern
    return Exploration(spec.action, spec.share, spec.seed, spec.share_on_drift, pattern, learned)


def learned_by_champion(
    store: Store, process: ProcessDefinition, registry: ModelRegistry, pattern: DriftedPattern
) -> str | None:
    """Why the champion needs no more exploration of ``pattern``, or None while it does.

    Exploration buys the labels a model lacks, and its action is the safe one while the
    model's own decisions on the pattern are unknown. It stops when both hold:

    - the champion was trained on as many records of the drift's era like the pattern as a
      promotion needs as evidence (:data:`~rpaml_pipeline.promotion.MIN_EVIDENCE`, with
      :data:`~rpaml_pipeline.promotion.MIN_POSITIVES` positive);
    - on the drift era's labeled records like the pattern that it was *not* trained on (at
      least :data:`~rpaml_pipeline.promotion.MIN_POSITIVES` positive; a promotion while
      drifting holds such evidence back), its own decisions cost less on average than
      exploring them all. Having seen the pattern is not having learned it: a champion
      trained on a few dozen frauds of a new ring may still approve them.

    The drift alert may stay (its reference is the whole training set, mostly older).
    Without a known start of the drift (:attr:`DriftedPattern.since`) nothing counts as
    learned.
    """
    name = process.model.name
    champion = registry.champion(name)
    if champion is None or pattern.since is None:
        return None
    keys = registry.training_keys(name, champion)
    if not keys:
        return None
    records = labeled_records(store, process)
    seen = [i for i, key in enumerate(records.keys) if key in keys]
    like = drift_era_like(registry, name, champion, records.subset(seen), pattern)
    positives = int(like.labels.sum())
    if len(like.keys) < MIN_EVIDENCE or positives < MIN_POSITIVES:
        return None
    unseen = [i for i, key in enumerate(records.keys) if key not in keys]
    held = drift_era_like(registry, name, champion, records.subset(unseen), pattern)
    spec = process.policy.exploration
    if spec is None or int(held.labels.sum()) < MIN_POSITIVES:
        return None
    own, exploring = _costs_on(
        registry, name, champion, held, decision_policy(process), spec.action
    )
    if own.mean() >= exploring.mean():
        return None
    return (
        f"v{champion} was trained on {len(like.keys)} records ({positives} positive) captured "
        f"since {pattern.since:%Y-%m-%d %H:%M} like the inputs that drifted "
        f"({pattern.describe()}), and on {len(held.keys)} such records it never saw its "
        f"decisions cost {own.mean():,.2f} per record against {exploring.mean():,.2f} "
        f"for {spec.action}"
    )


def _costs_on(
    registry: ModelRegistry,
    name: str,
    version: str,
    records: LabeledRecords,
    policy: DecisionPolicy,
    action: str,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per record of ``records``: the realised cost of ``version``'s decisions, and of
    ``action`` for every one."""
    model = registry.load(name, version)
    scores = model.score_frame(model.schema.coerce_frame(records.frame))
    amounts = amounts_of(policy, records.frame)
    everyone = np.full(len(records.keys), policy.actions.index(action), dtype=np.int64)
    return (
        realised_costs(policy, policy.choose(scores, amounts), records.labels, amounts),
        realised_costs(policy, everyone, records.labels, amounts),
    )


__all__ = ["EXPLORED", "Exploration", "exploration_for", "learned_by_champion"]
