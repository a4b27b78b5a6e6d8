"""Readers of the files an inbox or a bucket gives: CSV, Excel (.xlsx), JSON lines,
Parquet and PDF text.

Each returns :class:`SourceRow` objects whose location names the file and the row (CSV,
Excel, Parquet: data row number from 1, JSON lines: line number, PDF: page and match),
and raises
:class:`SourceError` with a message a person can act on when the file cannot be read.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from pathlib import Path, PurePath
from typing import Any

from rpaml_pipeline.errors import SourceError
from rpaml_pipeline.process.sources import FileFormats
from rpaml_pipeline.sources.rows import SourceRow

FILE_KINDS = {
    ".csv": "csv",
    ".xlsx": "excel",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pdf": "pdf",
}


def read_file(path: PurePath, data: bytes, spec: FileFormats, location: str) -> list[SourceRow]:
    """The rows of the file named ``path`` (a local file, or an object's key) whose bytes
    are ``data``; ``location`` prefixes every row's location."""
    kind = FILE_KINDS.get(path.suffix.lower())
    if kind == "csv":
        return _csv_rows(data, spec, location)
    if kind == "jsonl":
        return _jsonl_rows(data, spec, location)
    if kind == "excel":
        return _excel_rows(data, spec, location)
    if kind == "parquet":
        return _parquet_rows(data, location)
    if kind == "pdf":
        return _pdf_rows(data, spec, location)
    raise SourceError(f"cannot read {path.name}: expected one of {', '.join(sorted(FILE_KINDS))}")


def _text(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding).removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise SourceError(f"not {encoding} text at byte {exc.start}: {exc.reason}") from exc


def _csv_rows(data: bytes, spec: FileFormats, location: str) -> list[SourceRow]:
    reader = csv.reader(
        io.StringIO(_text(data, spec.encoding), newline=""), delimiter=spec.csv_delimiter
    )
    header = next(reader, None)
    if not header or not any(cell.strip() for cell in header):
        raise SourceError("no header row (the first line must name the columns)")
    rows: list[SourceRow] = []
    for number, cells in enumerate(reader, start=1):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            raise SourceError(
                f"row {number} has {len(cells)} cells but the header names {len(header)} columns"
            )
        values = dict(zip(header, cells, strict=False))
        rows.append(SourceRow(values, f"{location}#row={number}"))
    return rows


def _jsonl_rows(data: bytes, spec: FileFormats, location: str) -> list[SourceRow]:
    rows: list[SourceRow] = []
    for number, line in enumerate(_text(data, spec.encoding).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SourceError(
                f"line {number} is not JSON ({exc.msg} at column {exc.colno})"
            ) from exc
        if not isinstance(value, dict):
            raise SourceError(f"line {number} is a JSON {type(value).__name__}, not an object")
        rows.append(SourceRow(value, f"{location}#line={number}"))
    return rows


def _excel_rows(data: bytes, spec: FileFormats, location: str) -> list[SourceRow]:
    import openpyxl  # only inboxes that take Excel files need it

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError, ValueError... on junk
        raise SourceError(f"not an Excel workbook ({type(exc).__name__}: {exc})") from exc
    try:
        if spec.sheet is not None and spec.sheet not in workbook.sheetnames:
            raise SourceError(f"no worksheet {spec.sheet!r} (has {', '.join(workbook.sheetnames)})")
        sheet = workbook[spec.sheet] if spec.sheet is not None else workbook.worksheets[0]
        cells = sheet.iter_rows(values_only=True)
        header = [str(cell).strip() if cell is not None else "" for cell in next(cells, ())]
        if not any(header):
            raise SourceError(f"worksheet {sheet.title!r} has no header row")
        rows: list[SourceRow] = []
        for number, row in enumerate(cells, start=1):
            if all(cell is None or str(cell).strip() == "" for cell in row):
                continue
            values: dict[str, Any] = {
                name: cell for name, cell in zip(header, row, strict=False) if name
            }
            rows.append(SourceRow(values, f"{location}#sheet={sheet.title}&row={number}"))
        return rows
    finally:
        workbook.close()


def _parquet_rows(data: bytes, location: str) -> list[SourceRow]:
    import polars as pl

    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception as exc:  # polars raises ComputeError, OSError... on a damaged file
        raise SourceError(f"not a Parquet file ({type(exc).__name__}: {exc})") from exc
    return [
        SourceRow(row, f"{location}#row={number}")
        for number, row in enumerate(frame.iter_rows(named=True), start=1)
    ]


def _pdf_rows(data: bytes, spec: FileFormats, location: str) -> list[SourceRow]:
    if spec.pdf_record_pattern is None:
        raise SourceError(
            f"source {spec.name} has no pdf_record_pattern: it cannot tell records in a PDF"
        )
    from RPA.PDF import PDF  # rpaframework's PDF library (pdfminer underneath)

    pattern = re.compile(spec.pdf_record_pattern)
    library = PDF()
    # RPA.PDF reads files: the bytes already read (and hashed) are what it reads.
    with tempfile.TemporaryDirectory(prefix="rpaml-pdf-") as folder:
        path = Path(folder) / "file.pdf"
        path.write_bytes(data)
        try:
            pages: dict[int, str] = library.get_text_from_pdf(str(path))
        except Exception as exc:  # pdfminer raises its own errors on damaged files
            raise SourceError(f"cannot read the PDF's text ({type(exc).__name__}: {exc})") from exc
        finally:
            library.close_all_pdfs()
    rows: list[SourceRow] = []
    for page in sorted(pages):
        for number, match in enumerate(pattern.finditer(pages[page] or ""), start=1):
            values = dict(match.groupdict())
            rows.append(SourceRow(values, f"{location}#page={page}&match={number}"))
    if not rows:
        raise SourceError("no record found in the PDF's text (pdf_record_pattern matched nothing)")
    return rows
