"""Challenger against champion on the same evidence: a paired comparison of cost.

Both versions score the same labeled records, none of which either was trained on; each
record's realised cost under the policy is computed for both, and the paired bootstrap
interval of the difference says whether the challenger is cheaper. Two holdout figures
measured on different records are not evidence; this is.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from rpaml_models.evaluation import bootstrap_interval, paired_difference, realised_costs
from rpaml_models.policy import DecisionPolicy

FloatArray = npt.NDArray[np.float64]

BETTER, NOT_WORSE, WORSE = "better", "no better", "worse"


def compare_versions(
    policy: DecisionPolicy,
    y: npt.NDArray[np.int64],
    amounts: FloatArray,
    challenger: FloatArray,
    champion: FloatArray,
    *,
    records_hash: str,
    seed: int = 0,
    n_bootstrap: int = 2000,
) -> dict[str, Any]:
    """The comparison stored with a promotion.

    Parameters
    ----------
    policy : DecisionPolicy
        The cost table both are judged by.
    y : ndarray of int
        The records' labels.
    amounts : ndarray
        The records' amounts (the policy's ``amount_feature``).
    challenger, champion : ndarray
        Each version's probabilities for the same records, in the same order.
    records_hash : str
        Hash of the records compared on, so the evidence can be found again.

    Returns
    -------
    dict
        ``records``, ``records_hash``, each side's cost per record with its interval,
        ``difference`` (challenger minus champion, paired interval) and ``verdict``:
        ``better`` when the whole interval is below zero, ``worse`` when the mean
        difference is above zero, ``no better`` otherwise. Only ``better`` promotes.
    """
    if not len(y) == len(challenger) == len(champion) == len(amounts):
        raise ValueError("both versions must score the same records")
    challenger_costs = realised_costs(policy, policy.choose(challenger, amounts), y, amounts)
    champion_costs = realised_costs(policy, policy.choose(champion, amounts), y, amounts)
    difference = paired_difference(challenger_costs, champion_costs, seed=seed, n=n_bootstrap)
    if difference["high"] < 0:
        verdict = BETTER
    elif difference["mean"] > 0:
        verdict = WORSE
    else:
        verdict = NOT_WORSE
    return {
        "records": len(y),
        "positives": int(np.sum(y)),
        "records_hash": records_hash,
        "policy_version": policy.version,
        "challenger": bootstrap_interval(challenger_costs, seed=seed, n=n_bootstrap),
        "champion": bootstrap_interval(champion_costs, seed=seed, n=n_bootstrap),
        "difference": difference,
        "verdict": verdict,
    }
