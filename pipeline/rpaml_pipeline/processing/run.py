"""Processing: raw batches through clean -> validate -> label -> transform.

I/O stays at the edges: a processing run leases raw batches with collected records, reads
each whole, applies the pure steps to the whole batch, and writes in one transaction the
processed batch (cleaned data, features and each record's step details), the state changes
(set-based: one statement moves every record that validated; quarantined and labeled
records move with their own reason or label) and one lineage event for the batch. A
record a step cannot handle is quarantined with the reason; it never stops the run.

Enrichment: when the process file declares ``enrichment``, the newest enrichment of each
record is merged over its raw fields before cleaning (the raw record is never changed and
the clean step's detail names the enrichment). A record still waiting for a required
enrichment stays ``collected`` and its batch stays pending.

Contract drift (``quality: drift:``): each record is also compared with the profile of what
its source delivered in earlier runs. The profiles are read once when the run starts and
recorded in the run's details (so a replay applies the same baseline); the findings are
grouped into alerts recorded on the run, and the profiles are updated from the records
that ended valid when the run completes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rpaml_pipeline.process.definition import ProcessDefinition
from rpaml_pipeline.process.loader import process_hash
from rpaml_pipeline.processing.batch import BatchWork, process_batch
from rpaml_pipeline.processing.steps import PipelineSteps
from rpaml_pipeline.quality.drift import DriftFinding, alerts, empty_profile, merge_profiles
from rpaml_pipeline.quality.gate import BatchGate, merge_history
from rpaml_pipeline.store.store import Store


@dataclass(frozen=True)
class ProcessSummary:
    """What one processing run did."""

    run_id: str
    process: str
    processed: int = 0
    validated: int = 0
    labeled: int = 0
    quarantined: int = 0
    lost: int = 0
    """Records that changed under the run (another worker or robot took them)."""
    waiting: int = 0
    """Records left ``collected`` because their required enrichment is not there yet."""
    top_reasons: list[tuple[str, int]] = field(default_factory=list)
    """The most frequent quarantine reasons (``field: what is wrong``) and their counts."""
    drift_alerts: list[dict[str, Any]] = field(default_factory=list)
    """Contract drift found in this run, one alert per source, field and kind."""
    robot_runs: list[str] = field(default_factory=list)
    """The runs that collected the records processed."""
    held_batches: list[dict[str, Any]] = field(default_factory=list)
    """The batches the batch gate held, with its figures (alerts of the run)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for ``Store.finish_run`` summaries and reports)."""
        return {
            "processed": self.processed,
            "validated": self.validated,
            "labeled": self.labeled,
            "quarantined": self.quarantined,
            "lost": self.lost,
            "waiting": self.waiting,
            "top_reasons": [[reason, count] for reason, count in self.top_reasons],
            "drift_alerts": self.drift_alerts,
            "held_batches": self.held_batches,
        }


def process_collected(
    store: Store,
    process: ProcessDefinition,
    run_id: str,
    *,
    chunk_size: int = 50_000,
    owner: str | None = None,
    lease_seconds: float = 900,
    top: int = 5,
) -> ProcessSummary:
    """Process every claimable collected record of ``process``, batch by batch.

    Each record ends ``validated`` (cleaned data and features stored), ``labeled``
    (history rows with a known outcome) or ``quarantined`` (reason naming every failing
    field). A raw batch larger than ``chunk_size`` records is processed in slices of that
    size. Several runs may work on the same store: batches are leased. The stage runner
    (:mod:`rpaml_pipeline.stages`) owns the run and its lineage events.
    """
    owner = owner or f"pipeline:{run_id}"
    config_hash = process_hash(process)
    drift = process.quality.drift if process.quality is not None else None
    gate = process.quality.gate if process.quality is not None else None
    profiling = drift is not None or gate is not None
    baseline = store.source_profiles(process.name) if profiling else {}
    # The exact configuration (and drift baseline) this run used, so `rpaml pipeline
    # replay` can re-run it.
    store.annotate_run(
        run_id,
        {
            "process_definition": process.model_dump(mode="json"),
            "process_hash": config_hash,
            **({"drift_baseline": baseline} if profiling else {}),
        },
    )
    work = BatchWork(
        store=store,
        process=process,
        steps=PipelineSteps.of(process),
        run_id=run_id,
        owner=owner,
        baseline=baseline,
        chunk_size=chunk_size,
        gate=BatchGate(process, baseline) if gate is not None else None,
    )
    robot_runs: set[str] = set()
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    findings: list[tuple[str, DriftFinding]] = []
    profiled: dict[str, dict[str, Any]] = {}
    histories: dict[str, dict[str, Any]] = {}
    held_batches: list[dict[str, Any]] = []
    held: list[str] = []
    try:
        while True:
            claimed = store.batches.claim(
                process.name, "process", owner=owner, limit=1, lease_seconds=lease_seconds
            )
            if not claimed:
                break
            held.append(claimed[0].batch_id)
            done = process_batch(work, claimed[0])
            counts.update(done.counts)
            reasons.update(done.reasons)
            findings.extend(done.findings)
            robot_runs.add(claimed[0].run_id)
            for source, profile in done.profiles.items():
                profiled[source] = merge_profiles(profiled.get(source), profile)
            for source, history in done.histories.items():
                histories[source] = merge_history(histories.get(source), history)
            held_batches.extend(done.held)
    finally:
        for batch_id in held:
            store.batches.release(batch_id, owner)
    drift_alerts = alerts(findings)
    if profiling:
        # Merged into the profiles as stored now (not as this run found them), so what
        # runs working side by side learned is kept.
        learned = {
            src: {**profiled.get(src, empty_profile()), "gate": histories.get(src)}
            for src in set(profiled) | set(histories)
        }
        stored = store.source_profiles(process.name) if learned else {}
        store.save_source_profiles(
            process.name,
            {src: merge_profiles(stored.get(src), prof) for src, prof in learned.items()},
            run_id=run_id,
        )
        store.annotate_run(run_id, {"drift_alerts": drift_alerts, "held_batches": held_batches})
    return ProcessSummary(
        run_id=run_id,
        process=process.name,
        processed=counts["validated"] + counts["labeled"] + counts["quarantined"],
        validated=counts["validated"],
        labeled=counts["labeled"],
        quarantined=counts["quarantined"],
        lost=counts["lost"],
        waiting=counts["waiting"],
        top_reasons=reasons.most_common(top),
        drift_alerts=drift_alerts,
        robot_runs=sorted(robot_runs),
        held_batches=held_batches,
    )
