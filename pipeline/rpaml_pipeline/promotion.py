"""Promotion on evidence: versions compared on labeled records neither was trained on.

Each registered version records the keys of the records it was trained on. Evidence for
a comparison is the labeled records outside both sets; the comparison (paired bootstrap
of the cost difference, :func:`rpaml_models.comparison.compare_versions`), the hash of
those records and the verdict are stored with the promotion. A person may promote
against or without the evidence; the record then says it was an override.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.model_selection import train_test_split

from rpaml_models import DecisionPolicy, ModelRegistry, training_data_hash
from rpaml_models.comparison import BETTER, WORSE, compare_versions
from rpaml_models.evaluation import amounts_of
from rpaml_pipeline.drifted_pattern import DriftedPattern
from rpaml_pipeline.errors import TrainingError
from rpaml_pipeline.monitoring.drift_check import SCORE

# Fewer records the champion never saw than this (or fewer positives than MIN_POSITIVES)
# cannot compare two versions; the challenger is then trained on everything and waits
# for a person's decision.
MIN_EVIDENCE = 60
MIN_POSITIVES = 5
EVIDENCE_SHARE = 0.5


@dataclass(frozen=True)
class LabeledRecords:
    """Labeled records of a process: features, labels and natural keys, in key order."""

    frame: pd.DataFrame
    labels: npt.NDArray[np.int64]
    keys: list[str]
    captured: tuple[str, str] | None = None
    """First and last capture time of the records (ISO 8601)."""
    captured_at: tuple[str, ...] = ()
    """Each record's capture time (ISO 8601), in the order of ``keys``."""

    def subset(self, positions: npt.NDArray[np.int64] | list[int]) -> LabeledRecords:
        index = np.asarray(positions, dtype=np.int64)
        return LabeledRecords(
            frame=self.frame.iloc[index].reset_index(drop=True),
            labels=self.labels[index],
            keys=[self.keys[i] for i in index.tolist()],
            captured_at=tuple(self.captured_at[i] for i in index.tolist())
            if self.captured_at
            else (),
        )

    def records_hash(self) -> str:
        return training_data_hash(self.frame, self.labels)


@dataclass(frozen=True)
class PromotionDecision:
    """Whether a new version replaces the champion, why, and the evidence."""

    promote: bool
    reason: str
    verdict: str | None
    evidence: dict[str, Any] = field(default_factory=dict)


def unseen_by(
    registry: ModelRegistry, name: str, versions: list[str], records: LabeledRecords
) -> LabeledRecords:
    """The records none of ``versions`` was trained on (all of them for a version that
    recorded no keys is impossible to know, so none)."""
    seen: set[str] = set()
    for version in versions:
        keys = registry.training_keys(name, version)
        if keys is None:
            return records.subset([])
        seen |= keys
    return records.subset([i for i, key in enumerate(records.keys) if key not in seen])


EvidenceSplit = Callable[
    [ModelRegistry, str, "str | None", "LabeledRecords", int],
    tuple["LabeledRecords", "LabeledRecords"],
]
"""(registry, model name, champion, labeled records, seed) -> (training records, evidence)."""


def evidence_split(
    registry: ModelRegistry, name: str, champion: str | None, records: LabeledRecords, seed: int
) -> tuple[LabeledRecords, LabeledRecords]:
    """(records to train the challenger on, evidence to compare it with the champion on).

    Evidence is a seeded, stratified half of the records the champion never saw; without
    a champion, or with too few such records, the challenger gets every record.
    """
    none = records.subset([])
    if champion is None:
        return records, none
    seen = registry.training_keys(name, champion)
    if seen is None:
        return records, none
    fresh = [i for i, key in enumerate(records.keys) if key not in seen]
    labels = records.labels[fresh]
    positives = int(labels.sum())
    if len(fresh) < MIN_EVIDENCE or min(positives, len(fresh) - positives) < 2 * MIN_POSITIVES:
        return records, none
    _, held = train_test_split(
        np.asarray(fresh), test_size=EVIDENCE_SHARE, stratify=labels, random_state=seed
    )
    held_set = set(np.asarray(held).tolist())
    train = [i for i in range(len(records.keys)) if i not in held_set]
    return records.subset(train), records.subset(sorted(held_set))


def compare(
    registry: ModelRegistry,
    name: str,
    challenger: str,
    champion: str,
    evidence: LabeledRecords,
    policy: DecisionPolicy,
    seed: int = 0,
) -> dict[str, Any]:
    """Score both versions on ``evidence`` and compare their cost under ``policy``."""
    if len(evidence.keys) == 0:
        raise TrainingError(
            f"no labeled records that neither {name} v{challenger} nor v{champion} was trained on"
        )
    scores = {}
    for version in (challenger, champion):
        model = registry.load(name, version)
        scores[version] = model.score_frame(model.schema.coerce_frame(evidence.frame))
    comparison = compare_versions(
        policy,
        evidence.labels,
        amounts_of(policy, evidence.frame),
        scores[challenger],
        scores[champion],
        records_hash=evidence.records_hash(),
        seed=seed,
    )
    return {"challenger_version": challenger, "champion_version": champion, **comparison}


def judge(
    registry: ModelRegistry,
    name: str,
    version: str,
    champion: str | None,
    evidence: LabeledRecords,
    policy: DecisionPolicy,
    seed: int,
    pattern: DriftedPattern | None = None,
) -> PromotionDecision:
    """Promote a first model; a later one only when the comparison says ``better``.

    With ``pattern`` (the inputs drift: :mod:`rpaml_pipeline.drifted_pattern`), evidence
    from before the change says little about the records that changed: the challenger must
    also be better on the evidence records like the drifted pattern, and there must be
    enough of them; until then it waits (:func:`_judge_on_pattern`).
    """
    if champion is None:
        return PromotionDecision(True, "first model of this process", None)
    if len(evidence.keys) == 0:
        return PromotionDecision(
            False,
            f"not promoted: too few labeled records v{champion} was not trained on to compare "
            f"(need {MIN_EVIDENCE}); promote by hand with `rpaml model promote {version} "
            "--reason ...`",
            None,
        )
    comparison = compare(registry, name, version, champion, evidence, policy, seed)
    diff = comparison["difference"]
    figures = (
        f"cost per record {comparison['challenger']['mean']:,.2f} against "
        f"{comparison['champion']['mean']:,.2f} on {comparison['records']} records neither "
        f"was trained on (difference {diff['mean']:+,.2f}, 95% interval "
        f"{diff['low']:+,.2f} to {diff['high']:+,.2f})"
    )
    verdict = str(comparison["verdict"])
    if pattern is not None:
        return _judge_on_pattern(
            registry, name, version, champion, evidence, policy, seed, pattern, comparison
        )
    promote = verdict == BETTER
    reason = ("promoted: " if promote else f"not promoted ({verdict}): ") + figures
    return PromotionDecision(promote, reason, verdict, {"comparison": comparison})


def drift_era_like(
    registry: ModelRegistry,
    name: str,
    scorer: str,
    records: LabeledRecords,
    pattern: DriftedPattern,
) -> LabeledRecords:
    """The ``records`` like ``pattern`` (the score under version ``scorer``) that were
    captured in the drift's era, since :attr:`DriftedPattern.since`: the same bins held
    records before the drift, at their old share, and those are no evidence of what is new."""
    if not records.keys:
        return records
    model = registry.load(name, scorer)
    columns: dict[str, Any] = {str(c): records.frame[c].tolist() for c in records.frame.columns}
    columns[SCORE] = model.score_frame(model.schema.coerce_frame(records.frame)).tolist()
    like = pattern.members(columns, len(records.keys))
    if pattern.since is not None and records.captured_at:
        since = _aware(pattern.since)
        like &= np.array(
            [_aware(dt.datetime.fromisoformat(at)) >= since for at in records.captured_at],
            dtype=np.bool_,
        )
    return records.subset(np.flatnonzero(like))


def _aware(moment: dt.datetime) -> dt.datetime:
    """``moment`` as an aware time (a naive one is UTC, as the store keeps them)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _judge_on_pattern(
    registry: ModelRegistry,
    name: str,
    version: str,
    champion: str,
    evidence: LabeledRecords,
    policy: DecisionPolicy,
    seed: int,
    pattern: DriftedPattern,
    overall: dict[str, Any],
) -> PromotionDecision:
    """Better on the records of the drift's era like the drifted pattern, and not worse on
    all of them."""
    like = drift_era_like(registry, name, champion, evidence, pattern)
    positives = int(like.labels.sum())
    drifting = f"the inputs drift from v{pattern.version}'s training ({pattern.describe()})"
    if len(like.keys) < MIN_EVIDENCE or positives < MIN_POSITIVES:
        era = "" if pattern.since is None else f" since {pattern.since:%Y-%m-%d %H:%M}"
        return PromotionDecision(
            False,
            f"not promoted (waiting): {drifting}, and only {len(like.keys)} evidence records "
            f"({positives} positive) captured{era} look like them (need {MIN_EVIDENCE} with "
            f"{MIN_POSITIVES} positive)",
            None,
            {"comparison": overall, "drifted_pattern": pattern.describe()},
        )
    focused = compare(registry, name, version, champion, like, policy, seed)
    verdict, overall_verdict = str(focused["verdict"]), str(overall["verdict"])
    promote = verdict == BETTER and overall_verdict != WORSE
    diff = focused["difference"]
    reason = (
        ("promoted: " if promote else f"not promoted ({verdict}, overall {overall_verdict}): ")
        + f"{drifting}; on the {focused['records']} evidence records like them, cost per "
        f"record {focused['challenger']['mean']:,.2f} against {focused['champion']['mean']:,.2f}"
        f" (difference {diff['mean']:+,.2f}, 95% interval {diff['low']:+,.2f} to "
        f"{diff['high']:+,.2f}); overall {overall_verdict}"
    )
    return PromotionDecision(
        promote,
        reason,
        verdict,
        {
            "comparison": overall,
            "pattern_comparison": focused,
            "drifted_pattern": pattern.describe(),
        },
    )


def compare_in_store(
    registry: ModelRegistry,
    name: str,
    first: str,
    second: str,
    records: LabeledRecords,
    policy: DecisionPolicy,
    seed: int = 0,
) -> dict[str, Any]:
    """``first`` (challenger) against ``second`` on the labeled records neither saw."""
    for version in (first, second):
        registry.metadata(name, version)  # a clear error for an unknown version
    evidence = unseen_by(registry, name, [first, second], records)
    return compare(registry, name, first, second, evidence, policy, seed)


def promote_by_hand(
    registry: ModelRegistry,
    name: str,
    version: str,
    records: LabeledRecords,
    policy: DecisionPolicy,
    *,
    reason: str,
    override: bool,
) -> PromotionDecision:
    """A person's promotion: compared with the champion when there is evidence; against
    worse (or without) evidence only with ``override``, and then recorded as one."""
    if not reason.strip():
        raise TrainingError("a promotion by hand needs --reason")
    champion = registry.champion(name)
    registry.metadata(name, version)
    if champion == version:
        raise TrainingError(f"{name} v{version} is already the champion")
    comparison: dict[str, Any] | None = None
    verdict: str | None = None
    if champion is not None:
        evidence = unseen_by(registry, name, [version, champion], records)
        if len(evidence.keys) >= MIN_EVIDENCE:
            comparison = compare(registry, name, version, champion, evidence, policy)
            verdict = str(comparison["verdict"])
    if verdict != BETTER and champion is not None and not override:
        found = (
            f"the evidence says {verdict!r}"
            if verdict is not None
            else f"there are too few records (< {MIN_EVIDENCE}) neither version was trained on"
        )
        raise TrainingError(
            f"refusing to promote {name} v{version} over v{champion}: {found}; "
            "add --override to promote anyway (recorded as a person's override)"
        )
    decision = PromotionDecision(
        True,
        f"by hand: {reason}",
        verdict,
        {"comparison": comparison, "by": "person"},
    )
    registry.promote(
        name,
        version,
        reason=decision.reason,
        evidence=decision.evidence,
        verdict=verdict,
        override=verdict != BETTER,
    )
    return decision
