"""Run-level lineage as OpenLineage run events (spec 2-0-2), one JSON object per line.

Each stage run (``<process>.<stage>``, e.g. ``claims_triage.process``) emits a ``START``
event and then ``COMPLETE`` or ``FAIL``, with the datasets it read and wrote. The default
sink is ``<data_dir>/lineage/events.jsonl``; a lineage server can ingest that file as is.
With ``http_url`` each event is also POSTed to that endpoint (e.g. Marquez's
``/api/v1/lineage``), retried with exponential backoff; the file stays the record of truth,
so a lineage server that is down never stops a pipeline run (the failure is logged and
``http_failures`` counts it).

Datasets carry the standard ``schema`` facet (:func:`schema_facet`); runs carry the custom
``rpaml`` facet (:func:`rpaml_run_facet`): the robot runs that produced the input, the
process file hash and the model version.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import traceback
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from rpaml_pipeline.errors import LineageError
from rpaml_pipeline.http_retries import send_with_retries

_log = logging.getLogger(__name__)

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

SCHEMA_FACET_SCHEMA = (
    "https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
)
RPAML_FACET_SCHEMA = (
    "https://github.com/rpaml/rpaml/tree/main/docs/lineage/RpamlRunFacet.json#/$defs/RpamlRunFacet"
)


def schema_facet(fields: Mapping[str, str], producer: str = PRODUCER) -> dict[str, Any]:
    """The OpenLineage ``schema`` dataset facet for ``{field name: type}``."""
    return {
        "_producer": producer,
        "_schemaURL": SCHEMA_FACET_SCHEMA,
        "fields": [
            {"name": name, "type": kind, "ordinal_position": position}
            for position, (name, kind) in enumerate(fields.items(), start=1)
        ],
    }


def rpaml_run_facet(
    *,
    process: str,
    process_file_hash: str | None,
    robot_runs: Sequence[str] = (),
    model_name: str | None = None,
    model_version: str | None = None,
    producer: str = PRODUCER,
) -> dict[str, Any]:
    """The custom ``rpaml`` run facet: what produced the input and which configuration ran."""
    return {
        "_producer": producer,
        "_schemaURL": RPAML_FACET_SCHEMA,
        "process": process,
        "processFileHash": process_file_hash,
        "robotRuns": sorted(set(robot_runs)),
        "modelName": model_name,
        "modelVersion": model_version,
    }


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
        self,
        path: Path | str,
        *,
        namespace: str = NAMESPACE,
        producer: str = PRODUCER,
        http_url: str | None = None,
        http_retries: int = 3,
        http_backoff_seconds: float = 0.5,
        http_timeout_seconds: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self.namespace = namespace
        self.producer = producer
        self.http_url = http_url
        self.http_retries = http_retries
        self.http_backoff_seconds = http_backoff_seconds
        self.http_timeout_seconds = http_timeout_seconds
        self.http_failures = 0

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
        run_facets: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Emit ``START`` for the run."""
        return self.emit(
            "START", run_id, job_name, inputs=inputs, outputs=outputs, run_facets=run_facets
        )

    def complete(
        self,
        run_id: str,
        job_name: str,
        *,
        inputs: Sequence[Dataset] = (),
        outputs: Sequence[Dataset] = (),
        run_facets: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Emit ``COMPLETE`` for the run."""
        return self.emit(
            "COMPLETE", run_id, job_name, inputs=inputs, outputs=outputs, run_facets=run_facets
        )

    def fail(
        self,
        run_id: str,
        job_name: str,
        error: BaseException | str,
        *,
        inputs: Sequence[Dataset] = (),
        outputs: Sequence[Dataset] = (),
        run_facets: Mapping[str, Any] | None = None,
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
            run_facets={**dict(run_facets or {}), "errorMessage": facet},
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
        if self.http_url is not None:
            self._post(line)
        return event

    def _post(self, body: str) -> None:
        assert self.http_url is not None
        url = self.http_url
        outcome = send_with_retries(
            lambda: httpx.post(
                url,
                content=body.encode("utf-8"),
                headers={"Content-Type": "application/json"},
                timeout=self.http_timeout_seconds,
            ),
            attempts=self.http_retries + 1,
            backoff=self.http_backoff_seconds,
        )
        if outcome.response is not None and outcome.response.status_code < 300:
            return
        # Refused (4xx) or never taken: the file stays the record of truth.
        self.http_failures += 1
        _log.warning("lineage endpoint %s did not take an event: %s", url, outcome.problem())

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
