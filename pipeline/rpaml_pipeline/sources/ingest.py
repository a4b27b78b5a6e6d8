"""Read the sources a process file declares: each source is one ``ingest`` stage run.

Records get the same lineage fields as robot records: ``source`` is ``<kind>:<name>``
(``inbox:claims_inbox``), ``source_location`` the file and row, URL and position, or
database and query and row; ``captured_at`` when they were read; the store computes the
raw hash. A source that fails (an endpoint down, a query error) fails its own run; the
others still run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rpaml_pipeline.errors import MissingVariableError, SourceError
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.process.placeholders import expand, shown
from rpaml_pipeline.process.sources import (
    HttpSource,
    InboxSource,
    NatsSource,
    ObjectStoreSource,
    RabbitMqSource,
    RedisStreamSource,
    SourceSpec,
    SqlSource,
)
from rpaml_pipeline.sources.inbox import FileOutcome, take_inbox
from rpaml_pipeline.sources.incremental_sql import take_incremental
from rpaml_pipeline.sources.object_store import take_bucket
from rpaml_pipeline.sources.remote import fetch_rows, masked, query_rows
from rpaml_pipeline.sources.rows import to_incoming
from rpaml_pipeline.sources.stream_ingest import ingest_stream, stream_location
from rpaml_pipeline.sources.streams import PullLimits
from rpaml_pipeline.store import Store


@dataclass
class SourceReport:
    """What one source's run did."""

    source: str
    kind: str
    run_id: str
    status: str = "succeeded"
    new: int = 0
    revised: int = 0
    unchanged: int = 0
    rejected: list[str] = field(default_factory=list)
    """Rows (SQL, HTTP) that could not be staged, each with why."""
    files: list[FileOutcome] = field(default_factory=list)
    error: str | None = None
    messages: int = 0
    """Messages (streams), objects (buckets) or rows (incremental SQL) read."""
    duplicates: int = 0
    """Of those, how many had been taken before (redelivered, listed or read again)."""
    failed: int = 0
    dead: int = 0
    dead_letters: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (also the run's summary)."""
        return {
            "source": self.source,
            "kind": self.kind,
            "run_id": self.run_id,
            "status": self.status,
            "new": self.new,
            "revised": self.revised,
            "unchanged": self.unchanged,
            "rejected": list(self.rejected),
            "files": [item.as_dict() for item in self.files],
            "error": self.error,
            "messages": self.messages,
            "duplicates": self.duplicates,
            "failed": self.failed,
            "dead": self.dead,
            "dead_letters": list(self.dead_letters),
        }


def source_location(spec: SourceSpec, data_dir: Path) -> str:
    """Where the source reads from, secrets masked (run details and lineage datasets).

    Placeholders stay as written (``${CLAIMS_DB_PASSWORD}``, never its value)."""
    if isinstance(spec, InboxSource):
        return str(data_dir / spec.path)
    if isinstance(spec, RedisStreamSource | RabbitMqSource | NatsSource):
        return stream_location(spec, data_dir)
    if isinstance(spec, ObjectStoreSource):
        return f"s3://{spec.bucket}/{spec.prefix}"
    return shown(spec.url, data_dir=data_dir, mask=masked)


def declared_sources(process: ProcessDefinition, names: Sequence[str] = ()) -> list[SourceSpec]:
    """The sources ``names`` (every declared one when empty), refusing unknown names."""
    declared = {spec.name: spec for spec in process.sources}
    if len(declared) != len(process.sources):
        raise SourceError(f"process {process.name}: two sources share a name; names must differ")
    unknown = [name for name in names if name not in declared]
    if unknown:
        known = ", ".join(declared) or "none"
        raise SourceError(
            f"process {process.name} declares no source {', '.join(unknown)} (declared: {known})"
        )
    return [declared[name] for name in names] if names else list(declared.values())


def ingest_source(
    store: Store,
    process: ProcessDefinition,
    spec: SourceSpec,
    run_id: str,
    *,
    data_dir: Path,
    variables: Mapping[str, str] | None = None,
    limits: PullLimits | None = None,
) -> SourceReport:
    """Read source ``spec`` into the store in ingest run ``run_id``.

    ``variables`` are what ``${NAME}`` in the source's URL or headers stands for
    (:meth:`RpamlSettings.variables`; see :mod:`rpaml_pipeline.process.placeholders`). A
    source that cannot be read (an endpoint down, a query error, a missing variable) is
    reported ``failed`` with why; anything else raises. ``limits`` bound a stream's pull
    (one bounded pull by default).
    """
    report = SourceReport(spec.name, spec.kind, run_id)
    try:
        _read_into(store, process, spec, data_dir, dict(variables or {}), report, limits)
    except (SourceError, MissingVariableError) as error:
        report.status, report.error = "failed", str(error)
    return report


def _read_into(
    store: Store,
    process: ProcessDefinition,
    spec: SourceSpec,
    data_dir: Path,
    variables: Mapping[str, str],
    report: SourceReport,
    limits: PullLimits | None,
) -> None:
    key_fields = process.contract.natural_key
    if isinstance(spec, RedisStreamSource | RabbitMqSource | NatsSource):
        counts = ingest_stream(
            store,
            process,
            spec,
            report.run_id,
            data_dir=data_dir,
            variables=variables,
            limits=limits or PullLimits(),
        )
        report.new, report.revised, report.unchanged = counts.new, counts.revised, counts.unchanged
        report.messages, report.duplicates = counts.messages, counts.duplicates
        report.failed, report.dead, report.dead_letters = (
            counts.failed,
            counts.dead,
            counts.dead_letters,
        )
        return
    if isinstance(spec, InboxSource):
        report.files = take_inbox(
            store, process.name, key_fields, spec, folder=data_dir / spec.path, run_id=report.run_id
        )
        for item in report.files:
            report.new += item.new
            report.revised += item.revised
            report.unchanged += item.unchanged
        return
    if isinstance(spec, ObjectStoreSource):
        taken = take_bucket(
            store, process, spec, report.run_id, data_dir=data_dir, variables=variables
        )
        report.new, report.revised, report.unchanged = taken.new, taken.revised, taken.unchanged
        report.messages, report.duplicates = taken.objects, taken.taken_before
        report.failed = report.dead = taken.failed
        report.rejected = list(taken.failures or [])
        return
    where = f"process {process.name}, source {spec.name}"
    if isinstance(spec, SqlSource):
        url = expand(spec.url, data_dir=data_dir, variables=variables, where=f"{where}: url")
        if spec.cursor is not None:
            done = take_incremental(store, process, spec, url, report.run_id)
            report.new, report.revised, report.unchanged = done.new, done.revised, done.unchanged
            report.messages, report.duplicates = done.rows, done.tied
            report.rejected = list(done.rejected or [])
            return
        rows = query_rows(spec, url)
    else:
        assert isinstance(spec, HttpSource)
        url = expand(spec.url, data_dir=data_dir, variables=variables, where=f"{where}: url")
        headers = {
            name: expand(value, data_dir=data_dir, variables=variables, where=f"{where}: {name}")
            for name, value in spec.headers.items()
        }
        rows = fetch_rows(spec, url=url, headers=headers)
    records, report.rejected = to_incoming(
        rows,
        mapping=spec.fields,
        key_fields=key_fields,
        source=f"{spec.kind}:{spec.name}",
        captured_at=store.now(),
    )
    if records:
        result = store.ingest(process.name, records, run_id=report.run_id)
        report.new, report.revised, report.unchanged = result.new, result.revised, result.unchanged
