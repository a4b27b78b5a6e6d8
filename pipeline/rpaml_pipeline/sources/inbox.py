"""An inbox folder: files dropped there are read, staged, and moved aside.

The order of work makes a file's records durable before the file leaves the inbox:

1. the file's bytes are read once and hashed; content already taken (under any name) is
   moved to ``done/`` as a duplicate, nothing staged;
2. every row is read and mapped; a file that cannot be read, or with a row that has no
   natural key, goes to ``failed/`` with ``<name>.reason.txt`` beside it (nothing staged
   from it) and the next file is taken;
3. the records are committed through :meth:`Store.ingest` (idempotent), then the file's
   hash is recorded as taken, then the file is moved to ``done/``.

A crash between 3's steps leaves the file in the inbox; the next run stages it again as
``unchanged`` records and moves it. Writers should drop files atomically (write elsewhere,
then rename into the inbox); names starting with ``.`` or ending in ``.tmp``/``.part`` are
never taken.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rpaml_pipeline.errors import SourceError
from rpaml_pipeline.process.sources import InboxSource
from rpaml_pipeline.sources.readers import read_file
from rpaml_pipeline.sources.rows import to_incoming
from rpaml_pipeline.sources.taken import mark_taken, taken_as
from rpaml_pipeline.store import Store

DONE = "done"
FAILED = "failed"
_IN_PROGRESS = (".tmp", ".part", ".crdownload")


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file: ``taken``, ``duplicate`` (its content was already taken)
    or ``failed`` (with ``reason``)."""

    name: str
    status: str
    content_hash: str
    moved_to: str
    records: int = 0
    new: int = 0
    revised: int = 0
    unchanged: int = 0
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


def inbox_files(folder: Path, patterns: Sequence[str]) -> list[Path]:
    """The files waiting in ``folder`` (not its sub-folders), oldest name first."""
    if not folder.is_dir():
        return []
    found = {path for pattern in patterns for path in folder.glob(pattern) if path.is_file()}
    waiting = [
        path
        for path in found
        if not path.name.startswith(".") and not path.name.lower().endswith(_IN_PROGRESS)
    ]
    return sorted(waiting, key=lambda path: path.name)


def take_inbox(
    store: Store,
    process: str,
    key_fields: Sequence[str],
    spec: InboxSource,
    *,
    folder: Path,
    run_id: str,
) -> list[FileOutcome]:
    """Take every waiting file of the inbox ``folder`` (see the module docstring)."""
    folder.mkdir(parents=True, exist_ok=True)
    source = f"inbox:{spec.name}"
    outcomes: list[FileOutcome] = []
    for path in inbox_files(folder, spec.patterns):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue  # taken away meanwhile (another worker, a person): nothing to do
        digest = hashlib.sha256(data).hexdigest()
        earlier = taken_as(store, process, source, digest)
        if earlier is not None:
            moved = _move(path, folder / DONE, digest)
            outcomes.append(
                FileOutcome(
                    path.name,
                    "duplicate",
                    digest,
                    str(moved),
                    reason=f"same content as {earlier}, already taken",
                )
            )
            continue
        captured_at = store.now()
        try:
            rows = read_file(path, data, spec, f"{path}@sha256:{digest[:16]}")
            records, problems = to_incoming(
                rows,
                mapping=spec.fields,
                key_fields=key_fields,
                source=source,
                captured_at=captured_at,
            )
            if problems:
                raise SourceError("; ".join(problems[:20]) + _more(len(problems) - 20))
            if not records:
                raise SourceError("no records in the file")
        except Exception as error:  # a bad file never stops the others: set aside, go on
            reason = str(error) if isinstance(error, SourceError) else repr(error)
            moved = _move(path, folder / FAILED, digest)
            _write_reason(moved, reason, digest, captured_at)
            outcomes.append(FileOutcome(path.name, "failed", digest, str(moved), reason=reason))
            continue
        result = store.ingest(process, records, run_id=run_id)
        first = mark_taken(
            store,
            process,
            source,
            digest,
            file_name=path.name,
            records=len(records),
            run_id=run_id,
            at=captured_at,
        )
        moved = _move(path, folder / DONE, digest)
        outcomes.append(
            FileOutcome(
                path.name,
                "taken" if first else "duplicate",
                digest,
                str(moved),
                records=len(records),
                new=result.new,
                revised=result.revised,
                unchanged=result.unchanged,
            )
        )
    return outcomes


def _more(count: int) -> str:
    return f"; and {count} more rows" if count > 0 else ""


def _move(path: Path, folder: Path, digest: str) -> Path:
    # The hash prefix keeps two different files dropped under the same name apart.
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{digest[:12]}-{path.name}"
    with contextlib.suppress(FileNotFoundError):  # another worker moved it first
        path.replace(target)
    return target


def _write_reason(moved: Path, reason: str, digest: str, at: dt.datetime) -> None:
    text = f"{moved.name} was not taken ({at:%Y-%m-%d %H:%M:%S} UTC, sha256 {digest}):\n{reason}\n"
    moved.with_name(moved.name + ".reason.txt").write_text(text, encoding="utf-8")
