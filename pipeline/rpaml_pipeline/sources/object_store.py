"""An S3-compatible bucket (s3fs over fsspec): objects under a prefix, read as the inbox
reads files.

An object is taken once by key and ETag: its id in the store is ``<key>@<etag>``, recorded
in the transaction that stages its records (:meth:`SourcePositions.stage_messages`), a
batch of ``batch_objects`` objects per transaction. A crash anywhere leaves each object
either wholly staged and recorded or not at all, so the next run resumes with the rest.
A changed object has a new ETag: it is read again and its changed rows become new
revisions (its unchanged rows are recognised by content). An object that cannot be read
is recorded ``dead`` with its reason (``rpaml status``) and not read again until it
changes; the bucket itself is never written.

Objects are read in key order; the listing is one paginated ``ListObjectsV2`` walk, and
the taken ones are recognised with one store query per 500 ids, so a run over a bucket
already taken reads no object.
"""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from rpaml_pipeline.errors import BrokerUnavailableError, SourceError
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.process.placeholders import expand
from rpaml_pipeline.process.sources import ObjectStoreSource
from rpaml_pipeline.sources.readers import read_file
from rpaml_pipeline.sources.rows import to_incoming
from rpaml_pipeline.store import Store
from rpaml_pipeline.store.source_positions import Failure, TakenMessage


@dataclass(frozen=True)
class BucketObject:
    """One listed object: key (within the bucket), ETag and size."""

    key: str
    etag: str
    size: int

    @property
    def message_id(self) -> str:
        """Its id in the store: a changed object (new ETag) is a new one."""
        return f"{self.key}@{self.etag}"


@dataclass
class BucketCounts:
    """What one run over the bucket did."""

    objects: int = 0
    taken_before: int = 0
    new: int = 0
    revised: int = 0
    unchanged: int = 0
    failed: int = 0
    failures: list[str] | None = None


def filesystem(
    spec: ObjectStoreSource, *, data_dir: Path, variables: Mapping[str, str], where: str
) -> Any:
    """The s3fs filesystem of ``spec``, its placeholders expanded (never stored)."""
    import s3fs

    def value(text: str | None, name: str) -> str | None:
        if text is None:
            return None
        return expand(text, data_dir=data_dir, variables=variables, where=f"{where}: {name}")

    client: dict[str, Any] = {}
    endpoint = value(spec.endpoint_url, "endpoint_url")
    if endpoint:
        client["endpoint_url"] = endpoint
    region = value(spec.region, "region")
    if region:
        client["region_name"] = region
    return s3fs.S3FileSystem(
        key=value(spec.access_key, "access_key"),
        secret=value(spec.secret_key, "secret_key"),
        client_kwargs=client,
        use_listings_cache=False,
        skip_instance_cache=True,
    )


def list_objects(fs: Any, spec: ObjectStoreSource) -> list[BucketObject]:
    """The objects under the prefix whose names match the patterns, in key order."""
    root = f"{spec.bucket}/{spec.prefix}".rstrip("/")
    try:
        found: dict[str, dict[str, Any]] = fs.find(root, detail=True)
    except FileNotFoundError as exc:
        raise SourceError(f"bucket {spec.bucket!r} does not exist ({exc})") from exc
    except (OSError, ConnectionError) as exc:
        raise BrokerUnavailableError(f"s3://{root} did not answer ({exc})") from exc
    objects = []
    for path, info in found.items():
        if info.get("type") != "file":
            continue
        key = path.removeprefix(f"{spec.bucket}/")
        name = PurePosixPath(key).name
        if name.startswith(".") or not any(fnmatch.fnmatch(name, p) for p in spec.patterns):
            continue
        etag = str(info.get("ETag") or info.get("etag") or "").strip('"')
        objects.append(BucketObject(key, etag, int(info.get("size") or 0)))
    return sorted(objects, key=lambda item: item.key)


def _read_all(fs: Any, paths: Sequence[str]) -> dict[str, bytes | BaseException]:
    """Every object's bytes (or why not), read concurrently: one GET each, no HEAD
    (fsspec's async API; ``fs.cat`` of a list would stat each path first)."""
    from fsspec.asyn import sync

    async def read() -> list[Any]:
        return await asyncio.gather(*(fs._cat_file(path) for path in paths), return_exceptions=True)

    try:
        found = sync(fs.loop, read)
    except (OSError, ConnectionError) as exc:
        raise BrokerUnavailableError(f"the bucket did not answer ({exc})") from exc
    return dict(zip(paths, found, strict=True))


def take_bucket(
    store: Store,
    process: ProcessDefinition,
    spec: ObjectStoreSource,
    run_id: str,
    *,
    data_dir: Path,
    variables: Mapping[str, str],
) -> BucketCounts:
    """Take every object of the bucket not taken before (see the module docstring)."""
    where = f"process {process.name}, source {spec.name}"
    fs = filesystem(spec, data_dir=data_dir, variables=variables, where=where)
    source = f"object_store:{spec.name}"
    objects = list_objects(fs, spec)
    counts = BucketCounts(objects=len(objects), failures=[])
    ids = [item.message_id for item in objects]
    # A dead object (unreadable) is not read again until it changes (a new ETag).
    taken = store.positions.taken(process.name, source, ids, dead_too=True)
    waiting = [item for item in objects if item.message_id not in taken]
    counts.taken_before = len(objects) - len(waiting)
    for start in range(0, len(waiting), spec.batch_objects):
        _take_batch(
            store, process, spec, fs, waiting[start : start + spec.batch_objects], run_id, counts
        )
    return counts


def _take_batch(
    store: Store,
    process: ProcessDefinition,
    spec: ObjectStoreSource,
    fs: Any,
    batch: Sequence[BucketObject],
    run_id: str,
    counts: BucketCounts,
) -> None:
    source = f"object_store:{spec.name}"
    captured_at = store.now()
    paths = [f"{spec.bucket}/{item.key}" for item in batch]
    contents = _read_all(fs, paths)
    good: list[TakenMessage] = []
    bad: list[Failure] = []
    for item, path in zip(batch, paths, strict=True):
        location = f"s3://{path}@etag:{item.etag}"
        data = contents.get(path)
        try:
            if not isinstance(data, bytes):
                raise SourceError(f"cannot read the object ({data!r})")
            rows = read_file(PurePosixPath(item.key), data, spec, location)
            records, problems = to_incoming(
                rows,
                mapping=spec.fields,
                key_fields=process.contract.natural_key,
                source=source,
                captured_at=captured_at,
            )
            if problems:
                raise SourceError("; ".join(problems[:20]))
            if not records:
                raise SourceError("no records in the object")
        except Exception as error:  # a bad object never stops the others: recorded, go on
            reason = str(error) if isinstance(error, SourceError) else repr(error)
            bad.append(Failure(item.message_id, reason, location))
            continue
        good.append(TakenMessage(item.message_id, records, location))
    if good:
        result = store.positions.stage_messages(process.name, source, good, run_id=run_id)
        counts.new += result.new
        counts.revised += result.revised
        counts.unchanged += result.unchanged
        counts.taken_before += result.duplicates
    if bad:
        store.positions.record_failures(process.name, source, bad, run_id=run_id, max_deliveries=1)
        counts.failed += len(bad)
        assert counts.failures is not None
        counts.failures.extend(
            f"{f.message_id}: {f.reason}" for f in bad[: 20 - len(counts.failures)]
        )
