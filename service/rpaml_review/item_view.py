"""What the item page shows a reviewer, gathered from the store in one place.

The page's facts (the record's fields, the enrichment, score, every action's expected
cost, the reasons, the model and policy versions) are hashed (:attr:`ItemView.shown_hash`)
and the hash travels with the decision form: a decision is accepted only when the facts
are still the ones shown, and the label keeps the hash as its record of what the person
saw.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rpaml_pipeline.canonical import sha256_hex, to_jsonable
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.store import Store
from rpaml_pipeline.store.review_queue import QueueItem

# The model's reasons as the scoring service words them (rpaml_models.explain).
_CONTRIBUTION = re.compile(
    r"^(?P<feature>[\w.]+)=(?P<value>.*) (?P<verb>raises|lowers) the score by (?P<effect>[-0-9.]+)$"
)


@dataclass(frozen=True)
class Contribution:
    """One feature that pushed the score (from the decision's reasons)."""

    feature: str
    value: str
    effect: float
    """Signed change of the score it caused."""


@dataclass(frozen=True)
class TrailStep:
    """One step of the record's lineage."""

    at: dt.datetime
    step: str
    states: str
    run_id: str | None


@dataclass(frozen=True)
class ItemView:
    """The item page's content."""

    item: QueueItem
    fields: Mapping[str, Any]
    enrichment: Mapping[str, Any]
    enrichment_source: str | None
    score: float | None
    model_action: str | None
    expected_costs: Mapping[str, float]
    reasons: list[str]
    contributions: list[Contribution]
    model: str
    policy_version: str | None
    trail: list[TrailStep]
    link: str | None
    shown_hash: str


def item_view(
    store: Store, process: ProcessDefinition, item: QueueItem, portal_url: str
) -> ItemView:
    """Gather the page of ``item`` (its record, enrichment and lineage)."""
    record = store.get_record(item.record_id)
    enrichment = store.latest_enrichments([item.record_id]).get(item.record_id)
    fields = dict(record.data or record.raw)
    payload = dict(enrichment.payload) if enrichment else {}
    reasons = [str(reason) for reason in record.reasons or []]
    costs = dict(record.expected_costs or {})
    model = f"{record.model_name or process.model.name} v{record.model_version or '?'}"
    facts = {
        "record_id": record.record_id,
        "revision": record.revision,
        "content_hash": record.content_hash,
        "fields": fields,
        "enrichment": payload,
        "score": record.score,
        "model_action": record.decision,
        "expected_costs": costs,
        "reasons": reasons,
        "model": model,
        "policy_version": record.policy_version,
    }
    trail = [
        TrailStep(
            at=event.at,
            step=event.step,
            states=f"{event.from_state or ''} → {event.to_state}" if event.to_state else "",
            run_id=event.run_id,
        )
        for event in store.record_events(item.record_id)
    ]
    return ItemView(
        item=item,
        fields=to_jsonable(fields),
        enrichment=to_jsonable(payload),
        enrichment_source=enrichment.source if enrichment else None,
        score=record.score,
        model_action=record.decision,
        expected_costs=costs,
        reasons=reasons,
        contributions=contributions(reasons),
        model=model,
        policy_version=record.policy_version,
        trail=trail,
        link=_link(process, portal_url, item.natural_key, fields),
        shown_hash=sha256_hex(facts),
    )


def contributions(reasons: list[str]) -> list[Contribution]:
    """The features the model's reasons name, strongest first."""
    found = []
    for reason in reasons:
        match = _CONTRIBUTION.match(reason)
        if match:
            effect = float(match["effect"]) * (1 if match["verb"] == "raises" else -1)
            found.append(Contribution(match["feature"], match["value"], effect))
    return sorted(found, key=lambda c: -abs(c.effect))


def _link(
    process: ProcessDefinition, portal_url: str, natural_key: str, fields: Mapping[str, Any]
) -> str | None:
    """The record in its source application (``review.link`` under the portal URL)."""
    template = process.review.link if process.review else ""
    if not template:
        return None
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    values = {name: str(fields.get(name, "")) for name in names if name != "natural_key"}
    try:
        path = template.format(natural_key=natural_key, **values)
    except (KeyError, IndexError, ValueError):
        return None
    return portal_url.rstrip("/") + path
