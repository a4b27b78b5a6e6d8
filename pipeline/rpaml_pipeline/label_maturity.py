"""Label maturity: the outcome of a decision teaches only once its cohort's outcomes are in.

Outcomes of one action arrive at different speeds depending on what they say: an approved
claim that was legitimate is paid within days, an approved fraud is found weeks later or
never. A model retrained on the outcomes of last week's approvals sees their quick good
news and little of their slow bad news, and learns that what it approves is fine. The
process file's ``model.retrain.maturity`` names, per action, how many days after the record
entered the process its outcome may be used; until then that outcome is left out of
training and of the evidence a challenger is judged on (it joins later, as a record the
champion never saw). Days are counted on the source's own calendar: from the record's
``entered_on`` date to the newest ``observed_on`` date among the labeled records, the
last day the source has reported on, so a replay or a simulated calendar gives the same
answer as the wall clock would.

Labeled records that judge no decision of the process (history, or outcomes of actions
not named) are always used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from rpaml_pipeline.process.feedback_spec import MaturitySpec
from rpaml_pipeline.store.records import StoredRecord


def date_of(record: StoredRecord, name: str) -> dt.date | None:
    """The date in ``record``'s cleaned field ``name`` (None when missing or not a date)."""
    value = (record.data or {}).get(name)
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def is_mature(
    action: str | None, entered: dt.date | None, today: dt.date | None, spec: MaturitySpec
) -> bool:
    """Whether the outcome of a decision ``action`` on a record that entered the process
    on ``entered`` may be used on ``today`` (an outcome that cannot be aged waits)."""
    wait = None if action is None else spec.days.get(action)
    if wait is None:
        return True
    return today is not None and entered is not None and (today - entered).days >= wait


def as_of(records: Sequence[StoredRecord], spec: MaturitySpec) -> dt.date | None:
    """The last day the source reported on: the newest ``observed_on`` date."""
    dates = [found for record in records if (found := date_of(record, spec.observed_on))]
    return max(dates, default=None)


def mature_only(
    records: Sequence[StoredRecord], judged: Mapping[str, str], spec: MaturitySpec
) -> list[StoredRecord]:
    """``records`` without the outcomes of decisions not yet mature (see the module).

    ``judged`` maps a labeled record's id to the action of the decision it judges. An
    outcome whose ``entered_on`` date is missing cannot be aged: it waits (the safe side).
    """
    today = as_of(records, spec)
    return [
        record
        for record in records
        if is_mature(judged.get(record.record_id), date_of(record, spec.entered_on), today, spec)
    ]


__all__ = ["as_of", "date_of", "is_mature", "mature_only"]
