"""The Parquet data lake: ``<root>/process=<name>/date=<YYYY-MM-DD>/part-<run>.parquet``.

Hive-style partition folders, so DuckDB, polars or Spark read the lake as one table
(``read_parquet('<root>/**/*.parquet', hive_partitioning = true)``). Each part is written
to a hidden ``.tmp`` file in the partition folder, flushed to disk, then renamed: a rename
within a folder is atomic, so a reader sees the whole file or none of it, never half.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from rpaml_pipeline.delivery.columns import Column, ColumnKind

_POLARS_TYPES: dict[ColumnKind, pl.DataType] = {
    "string": pl.String(),
    "integer": pl.Int64(),
    "float": pl.Float64(),
    "boolean": pl.Boolean(),
    "date": pl.Date(),
    "timestamp": pl.Datetime("us", "UTC"),
}


def lake_schema(columns: Sequence[Column]) -> pl.Schema:
    """The (polars, hence Arrow and Parquet) schema of the delivered columns."""
    return pl.Schema({column.name: _POLARS_TYPES[column.kind] for column in columns})


def partition_dir(root: Path, process: str, day: dt.date) -> Path:
    """The partition folder of ``process`` on ``day``."""
    return root / f"process={process}" / f"date={day.isoformat()}"


def write_part(frame: pl.DataFrame, folder: Path, name: str) -> Path:
    """Write ``frame`` as ``folder/<name>.parquet`` atomically (temp file, fsync, rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{name}.parquet"
    temp = folder / f".{name}.parquet.tmp"
    try:
        frame.write_parquet(temp, compression="zstd")
        with temp.open("rb") as handle:
            os.fsync(handle.fileno())
        temp.replace(final)
    finally:
        temp.unlink(missing_ok=True)
    return final
