"""Records a dead robot left in ``acting``, and the runs it never finished.

A robot moves a record to ``acting`` just before it acts in the application and to
``acted`` once it holds the receipt. When the robot dies in between, the record stays
``acting``: nobody knows whether the action happened. It goes back to ``decided`` so the
next act robot takes it; that robot re-reads the claim in the application first, so an
action that did happen is recorded (``already_decided``), never repeated.

A record is only taken from its robot when that robot is known to be gone: its lease
has expired, or its owner (``robot-<host>-<pid>``) ran on this host and that process no
longer exists. The same holds for runs: a robot, processing or scoring run whose owner
(``robot-...`` or ``pipeline-...``, :mod:`rpaml_pipeline.owners`) is gone is closed as
failed, so a worker killed mid-stage leaves no run ``running`` for ever.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rpaml_pipeline.owners import owner_is_gone
from rpaml_pipeline.store import RecordState, StepEvent, Store, StoredRecord, Transition


@dataclass(frozen=True)
class StrandedReport:
    """What :func:`requeue_stranded` did."""

    requeued: list[str]
    """Ids of the records put back to ``decided``."""
    released: list[str]
    """Ids of ``decided`` records whose dead robot's lease was given back."""
    runs_closed: list[str]
    """Ids of runs (robot runs, processing and scoring runs) marked failed because the
    process that ran them died."""


def _is_stranded(record: StoredRecord, now: dt.datetime) -> str | None:
    expires = record.lease_expires_at
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.UTC)
    if expires is None or expires < now:
        return "lease expired"
    if owner_is_gone(record.lease_owner):
        return f"robot {record.lease_owner} is gone"
    return None


def requeue_stranded(store: Store, process: str, run_id: str | None = None) -> StrandedReport:
    """Put the ``acting`` records of dead robots back to ``decided``, give back their
    leases on ``decided`` records, and close the runs of dead robots and stages as failed."""
    now = store.now()
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    requeued: list[str] = []
    for chunk in store.iter_records(process, RecordState.ACTING):
        for record in chunk:
            why = _is_stranded(record, now)
            if why is None:
                continue
            report = store.transition_many(
                [
                    Transition(
                        record_id=record.record_id,
                        to_state=RecordState.DECIDED,
                        from_state=RecordState.ACTING,
                        events=[
                            StepEvent(
                                step="act.requeue",
                                detail={"previous_owner": record.lease_owner, "why": why},
                            )
                        ],
                    )
                ],
                run_id=run_id,
                owner=record.lease_owner,
            )
            if report.applied:
                requeued.append(record.record_id)
    # Records the dead robot had claimed but not started on keep its lease until the
    # lease expires; giving them back now lets this run take them.
    released: list[str] = []
    for chunk in store.iter_records(process, RecordState.DECIDED):
        for record in chunk:
            if record.lease_owner and _is_stranded(record, now) is not None:
                store.release(record.record_id, record.lease_owner)
                released.append(record.record_id)
    return StrandedReport(
        requeued=requeued, released=released, runs_closed=close_dead_runs(store, process)
    )


def close_dead_runs(store: Store, process: str) -> list[str]:
    """Close as failed the runs still ``running`` whose owner (on this host) is gone;
    return their ids. Every stage run names its owner, whoever started it."""
    closed: list[str] = []
    for run in store.list_runs(process, limit=200):
        owner = run.details.get("owner") if run.details else None
        if run.status == "running" and owner and owner_is_gone(str(owner)):
            store.finish_run(run.run_id, "failed", {"error": f"{owner} died before the run ended"})
            closed.append(run.run_id)
    return closed
