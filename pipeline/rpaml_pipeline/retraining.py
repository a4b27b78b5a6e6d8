"""Retraining on the outcomes observed so far, judged over time.

The ``retrain`` job (``schedules: retrain:`` in the process file, run by ``rpaml worker``,
or ``rpaml run retrain`` by hand) trains a challenger once enough labels arrived that the
champion never saw: history rows and the outcomes of decided records, both ``labeled``
records (:mod:`rpaml_pipeline.store.labels` links the latter to the decisions they
judge). Fewer than the process file's ``model.retrain.min_new_labels``: the run is
skipped, and its summary says why.

The split is by time, not at random: the labeled records the champion never saw are
ordered by when their label was captured; the earliest join the challenger's training data
and the latest ``evidence_share`` of them are the evidence both versions are compared on.
The challenger thus learns only what was known before the cut-off and is judged on what
came after it, as it would be used. Promotion follows the evidence rule of
:mod:`rpaml_pipeline.promotion` (paired bootstrap of the business cost difference); while
the latest judged scoring run has a drift alert, the challenger must also be better on the
evidence records like the drifted pattern, and enough of them must exist. A
training that fails raises :class:`~rpaml_pipeline.errors.TrainingError` before anything is
registered or promoted, so the champion keeps serving.

With ``model.shadow.enabled``, a challenger that was trained but not promoted becomes the
registry's shadow challenger (:meth:`~rpaml_models.ModelRegistry.set_challenger`): the
service scores it beside the champion on live traffic until a later retrain replaces it
or a promotion clears it (:mod:`rpaml_pipeline.shadow`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rpaml_models import ModelRegistry
from rpaml_pipeline.drifted_pattern import drifted_pattern
from rpaml_pipeline.model_training import TrainingOutcome, labeled_records, train_from_store
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.promotion import MIN_EVIDENCE, MIN_POSITIVES, EvidenceSplit, LabeledRecords
from rpaml_pipeline.store import Store


@dataclass(frozen=True)
class RetrainOutcome:
    """What a retrain run did: trained (with the training's outcome) or skipped, and why."""

    skipped: bool
    reason: str
    new_labels: int
    cutoff: str | None = None
    """Capture time of the last label the challenger could learn from (time split)."""
    training: TrainingOutcome | None = None
    shadow_challenger: str | None = None
    """The version set to shadow the champion by this run (shadow mode), else None."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the training's fields at the top level, as a train run's)."""
        figures = {"skipped": self.skipped, "reason": self.reason, "new_labels": self.new_labels}
        if self.cutoff is not None:
            figures["cutoff"] = self.cutoff
        if self.shadow_challenger is not None:
            figures["shadow_challenger"] = self.shadow_challenger
        if self.training is not None:
            figures = {**self.training.as_dict(), **figures}
        return figures


def time_split(evidence_share: float) -> EvidenceSplit:
    """An evidence split (see :func:`rpaml_pipeline.model_training.train_from_store`) that
    keeps the latest ``evidence_share`` of the records the champion never saw as evidence."""

    def split(
        registry: ModelRegistry,
        name: str,
        champion: str | None,
        records: LabeledRecords,
        seed: int,
    ) -> tuple[LabeledRecords, LabeledRecords]:
        none = records.subset([])
        seen = None if champion is None else registry.training_keys(name, champion)
        if seen is None:
            return records, none
        fresh = [i for i, key in enumerate(records.keys) if key not in seen]
        # Oldest first; ties in capture time are broken by key, so the split is stable.
        fresh.sort(key=lambda i: (records.captured_at[i], records.keys[i]))
        held = fresh[len(fresh) - round(len(fresh) * evidence_share) :]
        labels = records.labels[held]
        positives = int(labels.sum())
        if len(held) < MIN_EVIDENCE or min(positives, len(held) - positives) < MIN_POSITIVES:
            return records, none
        held_set = set(held)
        train = [i for i in range(len(records.keys)) if i not in held_set]
        return records.subset(train), records.subset(sorted(held_set))

    return split


def retrain_from_store(
    store: Store,
    process: ProcessDefinition,
    registry_dir: Path,
    *,
    run_id: str | None = None,
) -> RetrainOutcome:
    """Train and judge a challenger when enough new labels arrived (see the module)."""
    spec = process.model.retrain
    registry = ModelRegistry(registry_dir)
    name = process.model.name
    champion = registry.champion(name)
    records = labeled_records(store, process)
    seen = None if champion is None else registry.training_keys(name, champion)
    fresh = [i for i, key in enumerate(records.keys) if seen is None or key not in seen]
    if champion is not None and len(fresh) < spec.min_new_labels:
        return RetrainOutcome(
            skipped=True,
            reason=(
                f"skipped: {len(fresh)} labeled records since {name} v{champion} was trained, "
                f"fewer than model.retrain.min_new_labels ({spec.min_new_labels})"
            ),
            new_labels=len(fresh),
        )
    split = time_split(spec.evidence_share)
    train, evidence = split(registry, name, champion, records, process.model.selection.seed)
    cutoff = None
    if len(evidence.keys):
        kept = set(train.keys)
        cutoff = max(
            (records.captured_at[i] for i, key in enumerate(records.keys) if key in kept),
            default=None,
        )
    # While the inputs drift, evidence from before the change must not promote on its own.
    pattern = drifted_pattern(store, process.name, name, registry, process.monitoring.min_rows)
    training = train_from_store(
        store, process, registry_dir, run_id=run_id, split=split, pattern=pattern
    )
    shadow = None
    if process.model.shadow.enabled and training.trained and not training.promoted:
        shadow = training.version
        registry.set_challenger(
            name, shadow, reason=f"retrain run {run_id or '-'}: {training.message}"
        )
    return RetrainOutcome(
        skipped=False,
        reason=training.message,
        new_labels=len(fresh),
        cutoff=cutoff,
        training=training,
        shadow_challenger=shadow,
    )


__all__ = ["RetrainOutcome", "retrain_from_store", "time_split"]
