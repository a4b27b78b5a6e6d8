"""The drifted pattern: which records look like what grew since the champion's training.

When the latest judged scoring run (one with enough rows for a verdict, of whichever
version scored) carries a drift alert, the inputs flagged in it (warnings and alerts: a new
pattern moves several features at once, not all beyond the alert threshold) are compared
bin by bin with the training reference of the version that scored them: a bin *grew* when
its share of the recent rows is at least :data:`GROWTH` times its share at training (and
holds at least :data:`MIN_ROWS` rows). The recent rows are that run's counts plus those of
the runs before it by the same version until the process file's ``monitoring.min_rows``,
as the verdict was reached. A record belongs to the pattern when its value falls in a grown
bin for at least half of the flagged inputs: a claim that shares one new trait with the new
pattern is not yet the pattern. Exploration sends those to investigation
(:mod:`rpaml_pipeline.exploration`); nothing here knows what the features mean.

The pattern also knows when it began: :attr:`DriftedPattern.since` is the start of the last
judged scoring run before the unbroken streak of drift alerts (whichever versions scored),
so records captured after it belong to the drift's era. Evidence about the pattern, and the
question whether a model has learned it, count only those (:mod:`rpaml_pipeline.promotion`):
the same bins held records before the drift, at their old share, and those say nothing about
what is new.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rpaml_models import ModelRegistry, RegistryError
from rpaml_models.drift import BinnedReference, bin_index
from rpaml_pipeline.monitoring.drift_check import SCORE
from rpaml_pipeline.store import Store

GROWTH = 1.2
"""A bin grew when its recent share is at least this many times its training share."""
MIN_ROWS = 5
"""A bin with fewer recent rows than this is noise, whatever its share."""
# How many recent scoring runs are searched for the latest verdict.
_RECENT_RUNS = 200


@dataclass(frozen=True)
class DriftedPattern:
    """The grown bins of the flagged inputs of one judged scoring run (see the module)."""

    version: str
    run_id: str
    references: Mapping[str, BinnedReference]
    grown: Mapping[str, frozenset[int]]
    since: dt.datetime | None = None
    """Start of the last judged run without a drift alert before this one's streak (None:
    no such run among the recent ones, so every record may be of the drift's era)."""

    def members(self, columns: Mapping[str, Sequence[object]], rows: int) -> npt.NDArray[np.bool_]:
        """Which of ``rows`` records (``columns``: input name -> values, the score under
        ``score``) belong to the pattern."""
        hits = np.zeros(rows, dtype=np.int64)
        for name, bins in self.grown.items():
            if name in columns:
                found = bin_index(self.references[name], columns[name])
                hits += np.isin(found, sorted(bins)).astype(np.int64)
        need = max(1, math.ceil(len(self.grown) / 2))
        member: npt.NDArray[np.bool_] = hits >= need
        return member

    def describe(self) -> str:
        """``region in east; channel in phone`` (readable bins of the grown inputs)."""
        parts = []
        for name, bins in sorted(self.grown.items()):
            labels = self.references[name].labels()
            parts.append(f"{name} in {', '.join(labels[i] for i in sorted(bins))}")
        return "; ".join(parts)


def drifted_pattern(
    store: Store, process: str, model: str, registry: ModelRegistry, min_rows: int
) -> DriftedPattern | None:
    """The pattern of the latest judged scoring run when it carried a drift alert."""
    runs = store.list_runs(process, kind="score", limit=_RECENT_RUNS)
    for position, run in enumerate(runs):
        drift: Mapping[str, Any] = (run.summary or {}).get("drift") or {}
        if drift.get("model") not in (None, model):
            continue
        versions: Mapping[str, Any] = drift.get("versions") or {}
        judged = [v for v, figures in versions.items() if (figures or {}).get("judged")]
        if not judged:
            continue
        alerts = [a for a in drift.get("alerts") or [] if isinstance(a, Mapping)]
        if not any(a.get("level") == "alert" for a in alerts):
            return None
        version = str(alerts[0].get("model_version") or judged[0])
        flagged = {str(a.get("feature")) for a in alerts if a.get("model_version") == version}
        found = _pattern(runs[position:], run.run_id, version, flagged, registry, model, min_rows)
        if found is None:
            return None
        return dataclasses.replace(found, since=_last_clean_start(runs[position + 1 :], model))
    return None


def _last_clean_start(runs: Sequence[Any], model: str) -> dt.datetime | None:
    """When the newest of ``runs`` (newest first) judged without a drift alert began."""
    for run in runs:
        drift: Mapping[str, Any] = (run.summary or {}).get("drift") or {}
        if drift.get("model") not in (None, model):
            continue
        versions: Mapping[str, Any] = drift.get("versions") or {}
        if not any((figures or {}).get("judged") for figures in versions.values()):
            continue
        alerts = [a for a in drift.get("alerts") or [] if isinstance(a, Mapping)]
        if not any(a.get("level") == "alert" for a in alerts):
            started: dt.datetime = run.started_at
            return started
    return None


def _pattern(
    runs: Sequence[Any],
    run_id: str,
    version: str,
    flagged: set[str],
    registry: ModelRegistry,
    model: str,
    min_rows: int,
) -> DriftedPattern | None:
    try:
        reference = registry.metadata(model, version).reference
    except (RegistryError, OSError):
        return None
    if reference is None:
        return None
    references = {**reference.features, SCORE: reference.score}
    recent: dict[str, npt.NDArray[np.int64]] = {}
    rows = 0
    for run in runs:
        drift = (run.summary or {}).get("drift") or {}
        own = ((drift.get("versions") or {}).get(version) or {}).get("counts")
        if not isinstance(own, Mapping):
            continue
        counted = {**(own.get("features") or {}), SCORE: own.get(SCORE)}
        for name in flagged & set(references):
            values = counted.get(name)
            if values is None or len(values) != len(references[name].counts) + 1:
                continue
            added = np.asarray(values, dtype=np.int64)
            recent[name] = recent[name] + added if name in recent else added
        rows += int(own.get("rows", 0))
        if rows >= min_rows:
            break
    grown: dict[str, frozenset[int]] = {}
    for name, current in recent.items():
        bins = _grown_bins(references[name], current)
        if bins:
            grown[name] = bins
    if not grown:
        return None
    return DriftedPattern(version, run_id, references, grown)


def _grown_bins(reference: BinnedReference, current: npt.NDArray[np.int64]) -> frozenset[int]:
    before = np.asarray([*reference.counts, reference.missing], dtype=np.float64)
    if before.sum() == 0 or current.sum() == 0:
        return frozenset()
    was = before / before.sum()
    now = current / current.sum()
    # A bin empty at training that fills now grew without bound.
    grew = (current >= MIN_ROWS) & (now >= GROWTH * was) & (now > was)
    return frozenset(int(i) for i in np.flatnonzero(grew))


__all__ = ["GROWTH", "MIN_ROWS", "DriftedPattern", "drifted_pattern"]
