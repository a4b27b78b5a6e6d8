"""Drift of a scoring run: what it scored, against the champion's training reference.

A scoring run counts each batch's features and scores into the bins of the reference
stored with the model version that scored them (:mod:`rpaml_models.drift`), so a run of a
million records keeps a few counts per feature, never the rows. At the end of the run each
feature's and the score's population stability index (PSI) is judged with the process
file's ``monitoring:`` thresholds: from ``psi_warn`` a warning, from ``psi_alert`` an alert,
and the score's binned Kolmogorov-Smirnov distance from ``ks_alert`` an alert too. A run
with fewer than ``min_rows`` rows is judged together with the earlier scoring runs of the
same version within ``window_hours``, newest first, until ``min_rows`` rows are reached
(each run keeps its own counts in its summary for that): a robot collecting every quarter
of an hour scores a handful of claims at a time, which alone says little about a
distribution, and together a day's worth. Fewer rows even so: figures, no verdict. A
version registered before references existed is named as such, never an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rpaml_models.drift import DriftReference, count_into, shift_from_counts
from rpaml_pipeline.process.monitoring_section import MonitoringSpec

ALERTS_KEY = "monitoring_alerts"
"""Where a run's details keep its monitoring alerts (shown by ``rpaml status``)."""
SCORE = "score"
"""The name the score distribution is reported under, beside the features."""


@dataclass
class _Counts:
    reference: DriftReference
    features: dict[str, np.ndarray] = field(default_factory=dict)
    score: np.ndarray | None = None
    rows: int = 0


@dataclass
class DriftMonitor:
    """Counts a run's scored rows per model version, then judges them.

    ``reference_of`` gives a version's reference (``None`` when it has none); it is asked
    once per version.
    """

    reference_of: Callable[[str], DriftReference | None]
    spec: MonitoringSpec
    model: str = ""
    """The model's name, carried into the report (and the metrics)."""
    earlier: Callable[[str], Iterable[Mapping[str, Any]]] = lambda version: ()
    """The own counts (``counts`` of their reports) of earlier scoring runs of a version
    within the window, newest first."""
    _counts: dict[str, _Counts | None] = field(default_factory=dict)
    _unreferenced: dict[str, int] = field(default_factory=dict)

    def add(
        self, version: str, columns: Mapping[str, Sequence[Any]], scores: Sequence[float]
    ) -> None:
        """Count the rows of one batch scored by ``version`` (features by column)."""
        if version not in self._counts:
            reference = self.reference_of(version)
            self._counts[version] = None if reference is None else _Counts(reference)
        counts = self._counts[version]
        if counts is None:
            self._unreferenced[version] = self._unreferenced.get(version, 0) + len(scores)
            return
        for name, binned in counts.reference.features.items():
            if name not in columns:
                continue
            added = np.asarray(count_into(binned, columns[name]), dtype=np.int64)
            before = counts.features.get(name)
            counts.features[name] = added if before is None else before + added
        added_scores = np.asarray(
            count_into(counts.reference.score, np.asarray(scores, dtype=np.float64)),
            dtype=np.int64,
        )
        counts.score = added_scores if counts.score is None else counts.score + added_scores
        counts.rows += len(scores)

    def report(self) -> dict[str, Any]:
        """The run's drift figures and alerts, JSON-ready (the run's ``drift`` summary)."""
        versions: dict[str, Any] = {}
        alerts: list[dict[str, Any]] = []
        for version, counts in sorted(self._counts.items()):
            if counts is None:
                versions[version] = {
                    "rows": self._unreferenced.get(version, 0),
                    "note": (
                        f"version {version} has no training reference (registered before "
                        "monitoring existed): retrain to monitor its drift"
                    ),
                }
                continue
            own = _own_counts(counts)
            windowed, runs = _with_earlier(counts, self.earlier(version), self.spec.min_rows)
            figures, found = _judge(version, windowed, self.spec)
            versions[version] = {**figures, "counts": own, "window_runs": runs}
            alerts.extend(found)
        return {
            "model": self.model,
            "thresholds": self.spec.model_dump(mode="json"),
            "versions": versions,
            "alerts": alerts,
        }


def _own_counts(counts: _Counts) -> dict[str, Any]:
    return {
        "rows": counts.rows,
        "features": {name: values.tolist() for name, values in counts.features.items()},
        SCORE: None if counts.score is None else counts.score.tolist(),
    }


def _with_earlier(
    counts: _Counts, earlier: Iterable[Mapping[str, Any]], min_rows: int
) -> tuple[_Counts, int]:
    """``counts`` plus earlier runs' own counts, newest first, until ``min_rows`` rows;
    returns them and how many runs they cover. Counts of another binning are skipped."""
    combined = _Counts(
        counts.reference,
        {name: values.copy() for name, values in counts.features.items()},
        None if counts.score is None else counts.score.copy(),
        counts.rows,
    )
    runs = 1
    for found in earlier:
        if combined.rows >= min_rows:
            break
        features = found.get("features") or {}
        score = found.get(SCORE)
        if not _same_shape(combined, features, score):
            continue
        for name, values in features.items():
            added = np.asarray(values, dtype=np.int64)
            before = combined.features.get(name)
            combined.features[name] = added if before is None else before + added
        if score is not None:
            added_score = np.asarray(score, dtype=np.int64)
            combined.score = added_score if combined.score is None else combined.score + added_score
        combined.rows += int(found.get("rows", 0))
        runs += 1
    return combined, runs


def _same_shape(counts: _Counts, features: Mapping[str, Any], score: Any) -> bool:
    # A run's counts are one per reference bin plus the missing count (count_into).
    for name, values in features.items():
        binned = counts.reference.features.get(name)
        if binned is None or len(values) != len(binned.counts) + 1:
            return False
    return score is None or len(score) == len(counts.reference.score.counts) + 1


def _judge(
    version: str, counts: _Counts, spec: MonitoringSpec
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    features: dict[str, Any] = {}
    for name, current in counts.features.items():
        found = shift_from_counts(counts.reference.features[name], current.tolist())
        features[name] = {"psi": round(found.psi, 6), "rows": found.rows}
    score: dict[str, Any] = {}
    if counts.score is not None:
        found = shift_from_counts(counts.reference.score, counts.score.tolist())
        score = {"psi": round(found.psi, 6), "ks": found.ks, "ks_pvalue": found.ks_pvalue}
    judged = counts.rows >= spec.min_rows
    figures: dict[str, Any] = {
        "rows": counts.rows,
        "judged": judged,
        "features": features,
        SCORE: score,
    }
    if not judged:
        figures["note"] = f"{counts.rows} rows, fewer than min_rows {spec.min_rows}: not judged"
        return figures, []
    alerts: list[dict[str, Any]] = []
    for name, psi in [*((n, f["psi"]) for n, f in features.items()), (SCORE, score.get("psi"))]:
        if psi is None or psi < spec.psi_warn:
            continue
        level = "alert" if psi >= spec.psi_alert else "warn"
        alerts.append(_alert(level, version, name, psi, counts.rows, spec))
    ks = score.get("ks")
    if ks is not None and ks >= spec.ks_alert and not any(a["feature"] == SCORE for a in alerts):
        alerts.append(
            {
                **_alert("alert", version, SCORE, score["psi"], counts.rows, spec),
                "ks": ks,
                "message": (
                    f"score distribution of v{version} moved: KS {ks:.3f} >= ks_alert "
                    f"{spec.ks_alert} over {counts.rows} rows"
                ),
            }
        )
    return figures, alerts


def _alert(
    level: str, version: str, name: str, psi: float, rows: int, spec: MonitoringSpec
) -> dict[str, Any]:
    threshold = spec.psi_alert if level == "alert" else spec.psi_warn
    what = "score distribution" if name == SCORE else f"feature {name}"
    return {
        "kind": "drift",
        "level": level,
        "model_version": version,
        "feature": name,
        "psi": psi,
        "rows": rows,
        "message": (
            f"{what} drifted from v{version}'s training reference: PSI {psi:.3f} >= "
            f"psi_{level} {threshold} over {rows} rows"
        ),
    }


def run_alerts(details: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The monitoring alerts recorded in a run's details (none for most runs)."""
    found = (details or {}).get(ALERTS_KEY) or []
    return [dict(alert) for alert in found if isinstance(alert, Mapping)]
