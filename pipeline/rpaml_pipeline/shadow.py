"""Shadow mode's measurement: the realised cost of the champion's and the challenger's
decisions on the same records, once their outcomes came back.

When the process file sets ``model.shadow.enabled``, the retrain job keeps a challenger
the evidence did not promote as the registry's challenger
(:mod:`rpaml_pipeline.retraining`), the scoring stage asks the service to score it beside
the champion and stores its decisions (:mod:`rpaml_pipeline.store.shadow`), and the robots
act on the champion's alone. An outcome label that judges a record then judges both: the
realised cost of an action is the process file's cost cell for that action and the outcome
that came true (fixed plus per unit of the amount). :func:`compare_shadow` sets the two
side by side on exactly those records, per challenger version, with a seeded paired
bootstrap interval of the difference, as promotion's evidence rule does
(:mod:`rpaml_models.comparison`): the challenger's decisions were never applied, so this
is what they would have cost, not a model's score on a replay. A record whose decision
exploration replaced (:mod:`rpaml_pipeline.exploration`) is left out and counted: what was
acted on there was not the champion's policy, so it would judge neither model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rpaml_models.comparison import BETTER, NOT_WORSE, WORSE
from rpaml_models.evaluation import bootstrap_interval, paired_difference, realised_costs
from rpaml_pipeline.errors import TrainingError
from rpaml_pipeline.exploration import EXPLORED
from rpaml_pipeline.model_spec import decision_policy
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.store import Store
from rpaml_pipeline.store.shadow import JudgedShadow

N_BOOTSTRAP = 2000


def compare_shadow(
    store: Store, process: ProcessDefinition, model_name: str, *, seed: int | None = None
) -> dict[str, Any]:
    """Realised cost of the champion's and each challenger's decisions on the records both
    decided and an outcome judged.

    Returns
    -------
    dict
        ``model``, ``process``, ``policy_version``, ``records`` (judged pairs in all),
        ``shadow_decisions`` (per challenger version, judged or not) and ``comparisons``:
        per challenger version its ``records``, ``positives``, ``differing`` (records the
        two decided differently), ``champion_versions``, each side's realised cost per
        record (``mean``, ``low``, ``high``) and ``total``, the paired ``difference``
        (challenger minus champion) and the ``verdict`` (``better`` when the whole interval
        is below zero). ``message`` says so when there are no such records.

    Raises
    ------
    TrainingError
        When the process's policy has no cost table, or a stored action is not one of it.
    """
    policy = decision_policy(process)
    if policy.kind != "costs":
        raise TrainingError(
            f"process {process.name!r} decides by thresholds: realised cost needs a cost "
            "table (policy.costs in the process file)"
        )
    seed = process.model.selection.seed if seed is None else seed
    counts = store.shadow.counts(process.name, model_name)
    judged = []
    explored = 0
    for pair in store.shadow.judged(process.name, model_name):
        if pair.champion_reasons and pair.champion_reasons[0].startswith(EXPLORED):
            explored += 1
        else:
            judged.append(pair)
    figures: dict[str, Any] = {
        "model": model_name,
        "process": process.name,
        "policy_version": policy.version,
        "records": len(judged),
        "explored": explored,
        "shadow_decisions": counts,
        "comparisons": [],
    }
    if not judged:
        figures["message"] = (
            f"no records of {process.name} have both a champion and a shadow decision of "
            f"{model_name} and an outcome label judging them yet "
            f"({sum(counts.values())} shadow decision(s) stored)"
        )
        return figures
    amounts = _amounts(store, policy.amount_feature, [pair.record_id for pair in judged])
    by_version: dict[str, list[JudgedShadow]] = {}
    for pair in judged:
        by_version.setdefault(pair.challenger_version, []).append(pair)
    for version in sorted(by_version, key=int):
        pairs = by_version[version]
        y = np.array([pair.label for pair in pairs], dtype=np.int64)
        money = np.array([amounts.get(pair.record_id, np.nan) for pair in pairs])
        champion = realised_costs(policy, _choices(policy.actions, pairs, False), y, money)
        challenger = realised_costs(policy, _choices(policy.actions, pairs, True), y, money)
        difference = paired_difference(challenger, champion, seed=seed, n=N_BOOTSTRAP)
        verdict = (
            BETTER if difference["high"] < 0 else WORSE if difference["mean"] > 0 else NOT_WORSE
        )
        figures["comparisons"].append(
            {
                "challenger_version": version,
                "champion_versions": sorted({pair.champion_version for pair in pairs}, key=int),
                "records": len(pairs),
                "positives": int(y.sum()),
                "differing": sum(
                    pair.champion_decision != pair.challenger_decision for pair in pairs
                ),
                "champion": {
                    **bootstrap_interval(champion, seed=seed, n=N_BOOTSTRAP),
                    "total": float(champion.sum()),
                },
                "challenger": {
                    **bootstrap_interval(challenger, seed=seed, n=N_BOOTSTRAP),
                    "total": float(challenger.sum()),
                },
                "difference": difference,
                "verdict": verdict,
            }
        )
    return figures


def _choices(
    actions: tuple[str, ...], pairs: list[JudgedShadow], challenger: bool
) -> np.ndarray[Any, np.dtype[np.int64]]:
    index = {action: i for i, action in enumerate(actions)}
    chosen = []
    for pair in pairs:
        action = pair.challenger_decision if challenger else pair.champion_decision
        if action not in index:
            raise TrainingError(
                f"record {pair.record_id} was decided {action!r}, not an action of the "
                f"process's policy ({', '.join(actions)})"
            )
        chosen.append(index[action])
    return np.array(chosen, dtype=np.int64)


def _amounts(store: Store, feature: str | None, record_ids: list[str]) -> dict[str, float]:
    """Each record's amount (the policy's amount feature, as it was scored)."""
    if feature is None:
        return {}
    found: dict[str, float] = {}
    for start in range(0, len(record_ids), 500):
        for record in store.reading.records(record_ids[start : start + 500]):
            value = (record.features or {}).get(feature)
            if isinstance(value, int | float) and not isinstance(value, bool):
                found[record.record_id] = float(value)
    return found
