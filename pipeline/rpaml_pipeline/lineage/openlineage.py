"""Run-level lineage as OpenLineage run events (spec 2-0-2), one JSON object per line.

Each stage run (``<process>.<stage>``, e.g. ``claims_triage.process``) emits a ``START``
event and then ``COMPLETE`` or ``FAIL``, with the datasets it read and wrote. The default
sink is ``<data_dir>/lineage/events.jsonl``; a lineage server can ingest that file as is.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import traceback
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rpaml_pipeline.errors import LineageError

NAMESPACE = "rpaml"
PRODUCER = "https://github.com/rpaml/rpaml/tree/main/pipeline/rpaml_pipeline"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
ERROR_FACET_SCHEMA = (
    "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
)
OUTPUT_STATISTICS_SCHEMA = (
    "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json"
    "#/$defs/OutputStatisticsOutputDatasetFacet"
)


@dataclass(frozen=True)
class Dataset:
    """A dataset a run reads or writes (``namespace`` is where it lives, e.g. the store)."""

    namespace: str
    name: str
    row_count: int | None = None
    """Written as the OutputStatistics facet on outputs when known."""
    facets: Mapping[str, Any] = field(default_factory=dict)


def run_uuid(run_id: str) -> str:
    """The OpenLineage run id (a UUID) for an rpaml run id (32 hex digits, or any text)."""
    try:
        return str(uuid.UUID(hex=run_id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"rpaml:run:{run_id}"))


class OpenLineageEmitter:
    """Appends OpenLineage run events to a JSON lines file.

    Each event is written with a single ``write`` on a file opened for appending, so
    concurrent processes interleave whole lines, never parts of lines.
    """

    def __init__(
        self, path: Path | str, *, namespace: str = NAMESPACE, producer: str = PRODUCER
    ) -> None:
        self.path = Path(path)
        self.namespace = namespace
        self.producer = producer

    @classmethod
    def for_data_dir(cls, data_dir: Path | str) -> OpenLineageEmitter:
        """The default emitter: ``<data_dir>/lineage/events.jsonl``."""
        return cls(Path(data_dir) / "lineage" / "events.jsonl")

    def start(
        self,
        run_id: str,
        job_name: str,
        *,
        inputs: Sequence[Dataset] = (),
        outputs: Sequence[Dataset] = (),
    ) -> dict[str, Any]:
        """Emit ``START`` for the run."""
        return self.emit("START", run_id, job_name, inputs=inputs, outputs=outputs)

    def complete(
        self,
        run_id: str,
        job_name: str,
        *,
        inputs: Sequence[Dataset] = (),
        outputs: Sequence[Dataset] = (),
    ) -> dict[str, Any]:
        """Emit ``COMPLETE`` for the run."""
        return self.emit("COMPLETE", run_id, job_name, inputs=inputs, outputs=outputs)

    def fail(
        self,
        run_id: str,
        job_name: str,
        error: BaseException | str,
        *,
        inputs: Sequence[Dataset] = (),
        outputs: Sequence[Dataset] = (),
    ) -> dict[str, Any]:
        """Emit ``FAIL`` with the error message facet."""
        if isinstance(error, BaseException):
            message = f"{type(error).__name__}: {error}"
            stack = "".join(traceback.format_exception(error))
        else:
            message, stack = error, None
        facet: dict[str, Any] = {
            "_producer": self.producer,
            "_schemaURL": ERROR_FACET_SCHEMA,
            "message": message,
            "programmingLanguage": "python",
        }
        if stack:
            facet["stackTrace"] = stack
        return self.emit(
            "FAIL",
            run_id,
            job_name,
            inputs=inputs,
            outputs=outputs,
            run_facets={"errorMessage": facet},
        )

    def emit(
        self,
        event_type: str,
        run_id: str,
        job_name: str,
        *,
        inputs: Sequence[Dataset] = (),
        outputs: Sequence[Dataset] = (),
        run_facets: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Build one run event, append it to the file and return it."""
        event: dict[str, Any] = {
            "eventTime": dt.datetime.now(dt.UTC).isoformat(),
            "eventType": event_type,
            "producer": self.producer,
            "schemaURL": SCHEMA_URL,
            "run": {"runId": run_uuid(run_id), "facets": dict(run_facets or {})},
            "job": {"namespace": self.namespace, "name": job_name, "facets": {}},
            "inputs": [self._dataset(item, output=False) for item in inputs],
            "outputs": [self._dataset(item, output=True) for item in outputs],
        }
        line = json.dumps(event, separators=(",", ":"), ensure_ascii=False) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise LineageError(f"cannot write lineage events to {self.path}: {exc}") from exc
        return event

    def _dataset(self, dataset: Dataset, *, output: bool) -> dict[str, Any]:
        item: dict[str, Any] = {
            "namespace": dataset.namespace,
            "name": dataset.name,
            "facets": dict(dataset.facets),
        }
        if output and dataset.row_count is not None:
            item["outputFacets"] = {
                "outputStatistics": {
                    "_producer": self.producer,
                    "_schemaURL": OUTPUT_STATISTICS_SCHEMA,
                    "rowCount": dataset.row_count,
                }
            }
        return item
