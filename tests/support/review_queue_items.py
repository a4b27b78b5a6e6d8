"""Escalated claims in the review queue, for the review tests and any folder that needs them.

Claims are staged and enriched as the robots do (``staged_claims``), processed by the real
pipeline, and decided through the real scoring stage (``score_validated``): the decisions
come from the process's real cost policy (:func:`rpaml_pipeline.model_spec.decision_policy`)
on a fixed score formula, because training a model for every review test would cost more
than the tests. The service's own scoring is covered in tests/loop and tests/service.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from rpaml_pipeline.model_spec import decision_policy
from rpaml_pipeline.process import ProcessDefinition, load_process
from rpaml_pipeline.scoring import ScoreResult
from rpaml_pipeline.scoring_stage import score_validated
from rpaml_pipeline.store import RecordState, Store
from rpaml_sandbox.portal.generator import generate_claims
from staged_claims import PROCESS_FILE, process_all, stage

REVIEW_SECTION = """
review:
  action: escalate
  sla_hours: 24
  lease_minutes: 10
  link: "/claims/{natural_key}"
  choices:
    approve: {key: a, action: approve, outcome: legitimate}
    reject: {key: r, action: reject, outcome: fraud}
"""


def without_review(text: str) -> str:
    """A process file's text with its review section cut out (comments go with it), for
    tests that give it a review section of their own."""
    data = yaml.safe_load(text)
    data.pop("review", None)
    plain: str = yaml.safe_dump(data, sort_keys=False)
    return plain


def review_process(folder: Path) -> ProcessDefinition:
    """The claims process with the review section above, loaded (and so validated) from a
    file in ``folder``."""
    path = folder / "claims_triage_review.yaml"
    text = without_review(PROCESS_FILE.read_text(encoding="utf-8")) + REVIEW_SECTION
    path.write_text(text, encoding="utf-8")
    return load_process(path)


class PolicyScorer:
    """What the scoring stage asks of the service, answered with the process's policy.

    The score rises with the amount and the prior claims, so mid-sized claims land in the
    escalation band of the cost table; each result carries one model-style reason (the
    feature that pushed the score), as the service's explained answers do.
    """

    def __init__(self, process: ProcessDefinition) -> None:
        self._policy = decision_policy(process)

    def score(
        self, model: str, items: Sequence[tuple[str, Mapping[str, object]]]
    ) -> list[ScoreResult]:
        scores = [_score(features) for _, features in items]
        decisions = self._policy.decide(scores, [features for _, features in items])
        return [
            ScoreResult(
                id=record_id,
                score=score,
                decision=decision.action,
                reasons=(
                    *decision.reasons,
                    f"amount={features.get('amount')} raises the score by {score - 0.1:.2f}",
                ),
                model_version="1",
                policy_version=self._policy.version,
                expected_costs=decision.expected_costs,
            )
            for (record_id, features), score, decision in zip(items, scores, decisions, strict=True)
        ]


def _score(features: Mapping[str, object]) -> float:
    amount = float(features.get("amount") or 0.0)  # type: ignore[arg-type]
    prior = float(features.get("prior_claims") or 0.0)  # type: ignore[arg-type]
    return round(min(0.9, 0.1 + amount / 40_000 + 0.03 * prior), 4)


def queue_claims(store: Store, process: ProcessDefinition, count: int, seed: int = 5) -> list[str]:
    """Stage ``count`` open claims, process and score them; return the ids of the records
    that wait for review, in the queue's order."""
    claims = generate_claims(seed, open_claims=count, closed_claims=0)
    stage(store, process.name, claims, "collect_claims")
    process_all(store, process)
    run_id = store.start_run(process.name, "score")
    summary = score_validated(store, process, PolicyScorer(process), run_id=run_id)  # type: ignore[arg-type]
    store.finish_run(run_id, "succeeded", summary.as_dict())
    waiting = [
        record.record_id
        for chunk in store.iter_records(process.name, RecordState.REVIEW)
        for record in chunk
    ]
    order = [item.record_id for item in store.review.listing(process.name, limit=len(waiting) or 1)]
    assert sorted(order) == sorted(waiting)
    return order
