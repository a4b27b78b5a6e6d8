"""How the outcomes that teach the model are gathered: exploration and label maturity.

The outcomes of the decisions a policy takes are biased evidence about that policy. A case
the policy approves comes back quickly when all is well and slowly, or never, when it was
wrong (a fraud found weeks later); a case it sends to a person comes back with its truth
within days. Learning from every outcome as soon as it arrives therefore teaches the model
that what it approves is fine, and the more a pattern is new to it, the longer that stays
so. Two remedies, both declared by the process, neither knowing its domain:

* ``policy.exploration`` sends a small, seeded share of the records the policy would not
  send to ``action`` (the action whose outcome is learned quickly and without bias) there
  instead, and a larger share of the records that look like what drifted while the latest
  judged scoring run carries a drift alert (:mod:`rpaml_pipeline.drifted_pattern`): when
  the world changes, a person looks at the new pattern until a model that learned it from
  those outcomes takes over.
* ``model.retrain.maturity`` keeps the outcome of a decision taken with one of the named
  actions out of training and promotion evidence until the decision is that many days old
  on the source's own calendar, so the slow outcomes of the same cohort have arrived too.
"""

from __future__ import annotations

from pydantic import Field

from rpaml_pipeline.process.section_base import FieldName, Section


class ExplorationSpec(Section):
    """A seeded share of the other decisions sent to ``action`` for unbiased outcomes."""

    action: FieldName
    """The action whose outcomes are learned without bias (must be a policy action)."""
    share: float = Field(default=0.0, ge=0.0, le=0.5)
    """Share of the records the policy would not send to ``action`` sent there anyway."""
    share_on_drift: float = Field(default=0.0, ge=0.0, le=1.0)
    """The share for the records of the drifted pattern while the latest judged scoring
    run carries a drift alert (1.0: every such record)."""
    seed: int = 0
    """Which records are picked: a hash of the seed and the record's natural key."""


class MaturitySpec(Section):
    """When the outcome of a decision may teach and judge models (see the module)."""

    entered_on: FieldName
    """The contract date field on which a record entered the process (decided then)."""
    observed_on: FieldName
    """The contract date field on which a label was observed (the source's calendar)."""
    days: dict[FieldName, int] = Field(default_factory=dict)
    """Action -> days after ``entered_on`` before its decisions' outcomes are used."""


__all__ = ["ExplorationSpec", "MaturitySpec"]
