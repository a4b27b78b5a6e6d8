"""Schedules from the process file, their next runs, and what happens to missed ticks.

Each entry of the process file's ``schedules:`` section (``job: cron``) becomes a DBOS
schedule named ``<process>.<job>`` that enqueues the job on its queue. Every worker of
the process runs the schedules, and DBOS gives each tick one workflow id
(``sched-<name>-<time>``), so a tick runs once however many workers fire it.

Missed ticks (the policy): ticks that fell while no worker ran are *coalesced*. When a
worker starts and the most recent tick of a schedule came after the schedule last fired,
that one tick is run, once; older missed ticks are dropped. Every job works on all the
pending records, so one run catches up with everything the missed ticks would have
done, and a worker that was down all weekend does not retrain three times on Monday. A
schedule that has never fired owes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from croniter import croniter

from rpaml_pipeline.orchestration.jobs import job_queue, job_stages
from rpaml_pipeline.process import ProcessDefinition


@dataclass(frozen=True)
class ScheduleEntry:
    """One schedule of a process: the job it runs, when, and on which queue."""

    name: str
    process: str
    job: str
    cron: str
    queue: str

    def next_runs(self, after: dt.datetime, count: int = 1) -> list[dt.datetime]:
        """The next ``count`` ticks strictly after ``after`` (UTC)."""
        ticks = croniter(self.cron, after.astimezone(dt.UTC))
        return [ticks.get_next(dt.datetime) for _ in range(count)]


def schedule_entries(process: ProcessDefinition) -> list[ScheduleEntry]:
    """The schedules the process file declares (an unknown job is an error)."""
    entries = []
    for job, cron in sorted(process.schedules.items()):
        job_stages(process, job)  # raises UnknownJobError, naming the known jobs
        entries.append(
            ScheduleEntry(
                name=f"{process.name}.{job}",
                process=process.name,
                job=job,
                cron=cron,
                queue=job_queue(process, job),
            )
        )
    return entries


def missed_tick(
    cron: str, last_fired_at: dt.datetime | None, now: dt.datetime
) -> dt.datetime | None:
    """The one tick to run on start-up under the coalescing policy, or None.

    It is the latest tick at or before ``now``, when that tick came after
    ``last_fired_at``; None when nothing was missed or the schedule never fired.
    """
    if last_fired_at is None:
        return None
    latest = croniter(cron, now.astimezone(dt.UTC) + dt.timedelta(microseconds=1)).get_prev(
        dt.datetime
    )
    return latest if latest > last_fired_at.astimezone(dt.UTC) else None
