"""One sink per target kind: what a delivery run hands batch after batch of rows to.

``send(rows)`` delivers a frame of rows (the delivered columns) and returns what became
visible at the target, as ``(record ids, location)`` pairs (the run records them);
``close()`` finishes (a report becomes visible only then) and ``abort()`` drops what is
unfinished. Batches keep memory bounded whatever the number of records.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

import httpx
import polars as pl
from sqlalchemy import Engine, create_engine

from rpaml_pipeline.delivery.columns import Column
from rpaml_pipeline.delivery.lake import partition_dir, write_part
from rpaml_pipeline.delivery.warehouse import upsert_frame, warehouse_table
from rpaml_pipeline.delivery.webhook import batches, post_batch
from rpaml_pipeline.errors import DeliveryError
from rpaml_pipeline.process.definition import (
    DeliveryTarget,
    ParquetTarget,
    ReportTarget,
    WarehouseTarget,
    WebhookTarget,
)
from rpaml_pipeline.process.placeholders import expand, shown
from rpaml_pipeline.sources.remote import masked

Delivered = list[tuple[list[str], str]]
"""``(record ids, location)`` pairs that became visible at the target."""


class PartialDeliveryError(DeliveryError):
    """A chunk was delivered in part (``delivered``) before the target failed."""

    def __init__(self, message: str, delivered: Delivered) -> None:
        super().__init__(message)
        self.delivered = delivered


class Sink(Protocol):
    """Where a target's rows go."""

    def send(self, rows: pl.DataFrame) -> Delivered: ...

    def close(self) -> Delivered: ...

    def abort(self) -> None: ...


def target_location(target: DeliveryTarget, data_dir: Path) -> str:
    """Where a target delivers, secrets masked and placeholders left as written."""
    if isinstance(target, ParquetTarget | ReportTarget):
        return str(data_dir / target.path)
    if isinstance(target, WarehouseTarget):
        return f"{shown(target.url, data_dir=data_dir, mask=masked)}#{target.table}"
    return shown(target.url, data_dir=data_dir, mask=masked)


def open_sink(
    target: DeliveryTarget,
    *,
    process: str,
    columns: Sequence[Column],
    run_id: str,
    data_dir: Path,
    variables: Mapping[str, str],
    now: dt.datetime,
    sleep: Callable[[float], None],
) -> Sink:
    """The sink for ``target`` in run ``run_id`` (``variables``: what ``${NAME}`` in its
    URL and headers stands for)."""
    where = f"process {process}, delivery target {target.name}"

    def expanded(value: str, key: str) -> str:
        return expand(value, data_dir=data_dir, variables=variables, where=f"{where}: {key}")

    if isinstance(target, ParquetTarget):
        return LakeSink(
            data_dir / target.path, process, columns, f"part-{now:%H%M%S}-{run_id}", now
        )
    if isinstance(target, WarehouseTarget):
        return WarehouseSink(expanded(target.url, "url"), target.table, columns)
    if isinstance(target, ReportTarget):
        name = f"{process}-{now:%Y%m%dT%H%M%S}-{run_id[:8]}"
        return ReportSink(data_dir / target.path, name, target.format, columns)
    assert isinstance(target, WebhookTarget)
    headers = {name: expanded(value, name) for name, value in target.headers.items()}
    url = expanded(target.url, "url")
    return WebhookSink(
        target, process, run_id, sleep, url, headers, target_location(target, data_dir)
    )


def _ids(rows: pl.DataFrame) -> list[str]:
    return [str(record_id) for record_id in rows.get_column("record_id").to_list()]


class LakeSink:
    """One Parquet part per chunk in the ``process``/delivery-date partition."""

    def __init__(
        self, root: Path, process: str, columns: Sequence[Column], name: str, now: dt.datetime
    ) -> None:
        self.root, self.process, self.columns = root, process, columns
        self.name, self.day, self.parts = name, now.date(), 0

    def send(self, rows: pl.DataFrame) -> Delivered:
        self.parts += 1
        folder = partition_dir(self.root, self.process, self.day)
        path = write_part(rows, folder, f"{self.name}-{self.parts:05d}")
        return [(_ids(rows), str(path))]

    def close(self) -> Delivered:
        return []

    def abort(self) -> None:
        """Parts already renamed are complete and recorded; nothing half-written exists."""


class WarehouseSink:
    """Upserts each chunk in its own transaction."""

    def __init__(self, url: str, table: str, columns: Sequence[Column]) -> None:
        self.url, self.table = url, warehouse_table(table, columns)
        self.location = f"{masked(url)}#{table}"
        self._engine: Engine | None = None

    def send(self, rows: pl.DataFrame) -> Delivered:
        if self._engine is None:
            self._engine = create_engine(self.url)
        upsert_frame(self._engine, self.table, rows)
        return [(_ids(rows), self.location)]

    def close(self) -> Delivered:
        self.abort()
        return []

    def abort(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


class ReportSink:
    """A CSV or Excel file written row by row to a hidden temp file, renamed on close."""

    def __init__(self, folder: Path, name: str, file_format: str, columns: Sequence[Column]):
        self.final = folder / f"{name}.{file_format}"
        self.temp = folder / f".{name}.{file_format}.tmp"
        self.format, self.header = file_format, [column.name for column in columns]
        self.pending: list[str] = []
        self._csv: tuple[TextIO, Any] | None = None
        self._workbook: Any = None
        self._sheet: Any = None

    def send(self, frame: pl.DataFrame) -> Delivered:
        rows = frame.to_dicts()
        if self.format == "csv":
            if self._csv is None:
                self.temp.parent.mkdir(parents=True, exist_ok=True)
                handle = self.temp.open("w", encoding="utf-8", newline="")
                self._csv = (handle, csv.writer(handle))
                self._csv[1].writerow(self.header)
            for row in rows:
                self._csv[1].writerow([_cell(row.get(name), "") for name in self.header])
        else:
            if self._workbook is None:
                import openpyxl  # only Excel reports need it

                self._workbook = openpyxl.Workbook(write_only=True)
                self._sheet = self._workbook.create_sheet("records")
                self._sheet.append(self.header)
            for row in rows:
                self._sheet.append([_cell(row.get(name), None) for name in self.header])
        self.pending.extend(_ids(frame))
        return []

    def close(self) -> Delivered:
        if not self.pending:
            return []
        if self._csv is not None:
            handle = self._csv[0]
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            self._csv = None
        if self._workbook is not None:
            self.temp.parent.mkdir(parents=True, exist_ok=True)
            self._workbook.save(self.temp)
            self._workbook = None
        self.temp.replace(self.final)
        return [(self.pending, str(self.final))]

    def abort(self) -> None:
        if self._csv is not None:
            self._csv[0].close()
            self._csv = None
        self._workbook = None
        self.temp.unlink(missing_ok=True)


def _cell(value: Any, missing: Any) -> Any:
    # Reports have no time zones: timestamps are written as UTC text.
    if value is None:
        return missing
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class WebhookSink:
    """POSTs each batch of ``batch_size`` rows, retried with backoff."""

    def __init__(
        self,
        target: WebhookTarget,
        process: str,
        run_id: str,
        sleep: Callable[[float], None],
        url: str,
        headers: Mapping[str, str],
        shown_url: str,
    ) -> None:
        self.target, self.process, self.run_id, self.sleep = target, process, run_id, sleep
        self.url, self.headers = url, dict(headers)  # expanded: never logged or stored
        self.shown_url = shown_url  # as written: placeholders, not their values
        self._client: httpx.Client | None = None

    def send(self, frame: pl.DataFrame) -> Delivered:
        if self._client is None:
            self._client = httpx.Client(timeout=self.target.timeout_seconds)
        delivered: Delivered = []
        for part in batches(frame.to_dicts(), self.target.batch_size):
            body = {"process": self.process, "run_id": self.run_id, "records": list(part)}
            try:
                post_batch(
                    self._client,
                    self.url,
                    body,
                    headers=self.headers,
                    shown_url=self.shown_url,
                    retries=self.target.retries,
                    backoff_seconds=self.target.backoff_seconds,
                    sleep=self.sleep,
                )
            except DeliveryError as error:
                raise PartialDeliveryError(str(error), delivered) from error
            delivered.append(([str(row["record_id"]) for row in part], self.shown_url))
        return delivered

    def close(self) -> Delivered:
        self.abort()
        return []

    def abort(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
