"""Exploration: a seeded share of decisions sent to the action whose outcome is unbiased.

See :mod:`rpaml_pipeline.process.feedback_spec` for why. The scoring stage applies it to
what the service decided: a record is picked when a hash of the seed and its natural key
falls below the share, so the same record is picked in every run and replay, and the
records picked at a small share are among those picked at a larger one. A picked record
whose decision is another action gets ``action`` instead, with a reason naming the
decision it replaced and every action's expected cost left as the policy computed them:
the cost of exploring stays visible in realised cost. The share is ``share_on_drift``
while the champion's latest judged scoring run (a run with enough rows for a verdict)
carried a drift alert, ``share`` otherwise.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rpaml_models import ModelRegistry
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.process.feedback_spec import ExplorationSpec
from rpaml_pipeline.scoring import ScoreResult
from rpaml_pipeline.store import Store

EXPLORED = "exploration:"
"""How the first reason of a decision exploration changed begins."""
# How many recent scoring runs are searched for the champion's latest verdict.
_RECENT_RUNS = 200


@dataclass(frozen=True)
class Exploration:
    """The exploration a scoring run applies (see the module)."""

    action: str
    share: float
    seed: int
    drifting: bool = False

    def picks(self, natural_key: str) -> bool:
        digest = hashlib.sha256(f"{self.seed}:{natural_key}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.share

    def apply(self, result: ScoreResult, natural_key: str) -> ScoreResult:
        """``result``, or the exploring decision when the record is picked."""
        if result.decision == self.action or not self.picks(natural_key):
            return result
        why = "raised while the champion's inputs drift" if self.drifting else "seeded"
        reason = (
            f"{EXPLORED} {self.action} instead of {result.decision} "
            f"({self.share:.0%} of decisions, {why}) so its outcome is learned without bias"
        )
        return dataclasses.replace(result, decision=self.action, reasons=(reason, *result.reasons))


def champion_drifting(store: Store, process: str, model: str, version: str | None) -> bool:
    """Whether the latest judged scoring run of ``version`` carried a drift alert."""
    if version is None:
        return False
    for run in store.list_runs(process, kind="score", limit=_RECENT_RUNS):
        drift: Mapping[str, Any] = (run.summary or {}).get("drift") or {}
        if drift.get("model") not in (None, model):
            continue
        figures = (drift.get("versions") or {}).get(version)
        if not isinstance(figures, Mapping) or not figures.get("judged"):
            continue
        alerts: list[Any] = list(drift.get("alerts") or [])
        return any(
            isinstance(alert, Mapping)
            and alert.get("model_version") == version
            and alert.get("level") == "alert"
            for alert in alerts
        )
    return False


def exploration_for(
    store: Store, process: ProcessDefinition, registry: ModelRegistry
) -> Exploration | None:
    """The exploration of ``process``'s next scoring run (None when it declares none)."""
    spec: ExplorationSpec | None = process.policy.exploration
    if spec is None or (spec.share == 0 and spec.share_on_drift == 0):
        return None
    name = process.model.name
    drifting = champion_drifting(store, process.name, name, registry.champion(name))
    share = max(spec.share, spec.share_on_drift) if drifting else spec.share
    return Exploration(spec.action, share, spec.seed, drifting)


__all__ = ["EXPLORED", "Exploration", "champion_drifting", "exploration_for"]
