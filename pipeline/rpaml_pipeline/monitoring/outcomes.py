"""Outcome monitoring: what the applied decisions cost once their outcomes came back.

The input is one row per decided record (:data:`OUTCOME_COLUMNS`): when it was decided,
the action applied, the model's score, the label if its outcome is known (else missing)
and the policy's amount. Rows are grouped by the ISO week of ``decided_at`` (the *decision
week*), and each week gets: its decisions, the labels received so far, the realised cost
per labelled decision of the applied actions under the process file's cost table, the same
for each always-one-action baseline (what "approve everything" would have cost on the same
records: no oracle needed), calibration (mean score against observed rate, and the
expected calibration error, ECE) and ROC AUC.

Performance alerts, judged only for weeks with at least ``min_labels`` labels (thresholds
in the process file's ``monitoring:`` section):

- ``cost``: the realised cost per labelled decision exceeds ``cost_vs_baseline`` times the
  cheapest always-one-action baseline of the same week (the model does worse than a
  constant policy), or ``cost_vs_history`` times the median of the earlier judged weeks;
- ``calibration``: the week's ECE is at least ``ece_alert`` and beyond what chance gives a
  calibrated model on as few labels: the 99th percentile of the ECE of outcomes drawn from
  the week's own scores (consistency resampling, Bröcker and Smith 2007; seeded). On 30
  labels a perfectly calibrated model's ECE often exceeds 0.1, so the threshold alone
  would cry wolf on every young week.

Labels arrive late and not at random (an approved case is only labelled when something is
discovered), so a young week's figures move as labels come in, and its realised cost is
that of the labelled decisions only; the labels count says how much is known.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import roc_auc_score

from rpaml_models import DecisionPolicy
from rpaml_models.evaluation import expected_calibration_error, realised_costs
from rpaml_pipeline.process.monitoring_section import MonitoringSpec

IntArray = npt.NDArray[np.int64]
OUTCOME_COLUMNS = ("decided_at", "action", "score", "label", "amount")
"""The frame :func:`weekly_outcomes` reads: ``decided_at`` (datetime), ``action`` (one of
the policy's actions), ``score`` (float), ``label`` (0/1, missing while unknown),
``amount`` (the policy's amount field, missing counts as 0)."""


@dataclass
class WeekOutcome:
    """One decision week's figures (costs are per labelled decision)."""

    week: str
    """ISO week of the decisions, ``2026-W49``."""
    decisions: int
    labels: int
    positives: int = 0
    cost_per_decision: float | None = None
    baselines: dict[str, float] = field(default_factory=dict)
    """Cost per labelled decision had every one got that action."""
    mean_score: float | None = None
    observed_rate: float | None = None
    ece: float | None = None
    ece_if_calibrated: float | None = None
    """The 99th percentile of the ECE a calibrated model shows on these scores by chance."""
    auc: float | None = None
    judged: bool = False
    alerts: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def empty_outcomes() -> pd.DataFrame:
    """An outcome frame without rows (a process with no decisions yet)."""
    return pd.DataFrame({name: pd.Series([], dtype=object) for name in OUTCOME_COLUMNS})


def weekly_outcomes(
    frame: pd.DataFrame, policy: DecisionPolicy, spec: MonitoringSpec
) -> list[WeekOutcome]:
    """Per decision week, oldest first, its figures and performance alerts."""
    missing = [name for name in OUTCOME_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(f"outcome frame lacks columns: {', '.join(missing)}")
    if frame.empty:
        return []
    decided = pd.to_datetime(frame["decided_at"], utc=True)
    iso = decided.dt.isocalendar()
    weeks = iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)
    unknown = sorted(set(frame["action"].dropna()) - set(policy.actions))
    if unknown:
        raise ValueError(f"actions not in the policy {policy.actions}: {', '.join(unknown)}")
    results: list[WeekOutcome] = []
    history: list[float] = []
    for week in sorted(weeks.unique()):
        rows = frame[(weeks == week).to_numpy()]
        outcome = _week(str(week), rows, policy)
        if outcome.labels >= spec.min_labels and outcome.cost_per_decision is not None:
            outcome.judged = True
            outcome.alerts = _alerts(outcome, history, spec)
            history.append(outcome.cost_per_decision)
        results.append(outcome)
    return results


def _week(week: str, rows: pd.DataFrame, policy: DecisionPolicy) -> WeekOutcome:
    labelled = rows[rows["label"].notna()]
    outcome = WeekOutcome(week=week, decisions=len(rows), labels=len(labelled))
    if labelled.empty:
        return outcome
    y: IntArray = np.asarray(labelled["label"], dtype=np.int64)
    scores = pd.to_numeric(labelled["score"], errors="coerce").to_numpy(dtype=np.float64)
    amounts = pd.to_numeric(labelled["amount"], errors="coerce").to_numpy(dtype=np.float64)
    index = {action: position for position, action in enumerate(policy.actions)}
    applied: IntArray = np.asarray(labelled["action"].map(index), dtype=np.int64)
    outcome.positives = int(y.sum())
    outcome.cost_per_decision = float(realised_costs(policy, applied, y, amounts).mean())
    outcome.baselines = {
        action: float(
            realised_costs(policy, np.full(len(y), position, dtype=np.int64), y, amounts).mean()
        )
        for action, position in index.items()
    }
    known = ~np.isnan(scores)
    if known.any():
        outcome.mean_score = float(scores[known].mean())
        outcome.observed_rate = float(y[known].mean())
        outcome.ece = expected_calibration_error(y[known], scores[known])
        outcome.ece_if_calibrated = _ece_by_chance(scores[known])
        if len(set(y[known].tolist())) == 2:
            outcome.auc = float(roc_auc_score(y[known], scores[known]))
    return outcome


def _alerts(
    outcome: WeekOutcome, history: list[float], spec: MonitoringSpec
) -> list[dict[str, Any]]:
    assert outcome.cost_per_decision is not None
    cost = outcome.cost_per_decision
    alerts: list[dict[str, Any]] = []
    action, cheapest = min(outcome.baselines.items(), key=lambda item: item[1])
    if cost > spec.cost_vs_baseline * cheapest:
        alerts.append(
            _alert(outcome, "cost", cost, (
                f"week {outcome.week}: the applied decisions cost {cost:.2f} per labelled "
                f"decision, more than {spec.cost_vs_baseline} x always {action} "
                f"({cheapest:.2f}) over {outcome.labels} labels"
            ))
        )  # fmt: skip
    if history:
        median = float(np.median(history))
        if cost > spec.cost_vs_history * median:
            alerts.append(
                _alert(outcome, "cost", cost, (
                    f"week {outcome.week}: cost per labelled decision {cost:.2f} is above "
                    f"{spec.cost_vs_history} x the earlier weeks' median {median:.2f}"
                ))
            )  # fmt: skip
    chance = outcome.ece_if_calibrated or 0.0
    if outcome.ece is not None and outcome.ece >= spec.ece_alert and outcome.ece > chance:
        alerts.append(
            _alert(outcome, "calibration", outcome.ece, (
                f"week {outcome.week}: calibration error {outcome.ece:.3f} >= ece_alert "
                f"{spec.ece_alert} and above the {chance:.3f} a calibrated model reaches by "
                f"chance (mean score {outcome.mean_score:.3f}, observed rate "
                f"{outcome.observed_rate:.3f}, {outcome.labels} labels)"
            ))
        )  # fmt: skip
    return alerts


_RESAMPLES = 200


def _ece_by_chance(scores: npt.NDArray[np.float64]) -> float:
    """The 99th percentile of the ECE of outcomes drawn from ``scores`` themselves."""
    rng = np.random.default_rng(0)
    draws = rng.random((_RESAMPLES, len(scores))) < scores
    found = [expected_calibration_error(draw.astype(np.int64), scores) for draw in draws]
    return float(np.quantile(found, 0.99))


def _alert(outcome: WeekOutcome, measure: str, value: float, message: str) -> dict[str, Any]:
    return {
        "kind": "performance",
        "level": "alert",
        "measure": measure,
        "week": outcome.week,
        "value": value,
        "rows": outcome.labels,
        "message": message,
    }
