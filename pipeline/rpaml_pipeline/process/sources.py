"""The sources a process file declares besides robots (its ``sources:`` section).

Paths are relative to the data folder. In URLs and headers, ``{data_dir}`` stands for it
and ``${NAME}`` for a variable from the environment or the secrets file (never write a
password or token here: :mod:`rpaml_pipeline.process.placeholders`).

Kinds: files dropped in an inbox folder, SQL queries (incremental with a cursor column),
HTTP JSON endpoints, event streams (Redis Streams, RabbitMQ, NATS JetStream) and
S3-compatible object storage. Every stream and object-store source is read at least once
and staged exactly once: what it took (message id, key and ETag, cursor) is recorded in
the same transaction as the records (:mod:`rpaml_pipeline.store.source_positions`).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# The same rules as the rest of the process file (rpaml_pipeline.process.definition).
_Name = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*$")]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _SourceBase(_Spec):
    name: _Name
    fields: dict[_Name, str] = Field(default_factory=dict)
    """Payload field <- source column. Unmapped columns keep their name in snake_case."""


class _FileFormats(_SourceBase):
    """How files are read, for the sources that take files (inbox, object store)."""

    patterns: list[str] = Field(
        default_factory=lambda: ["*.csv", "*.xlsx", "*.jsonl", "*.parquet", "*.pdf"], min_length=1
    )
    csv_delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: str = "utf-8"
    sheet: str | None = None
    """Excel worksheet to read (the first one when not given)."""
    pdf_record_pattern: str | None = None
    """Regular expression with named groups; each match in a PDF's text is one record."""

    @field_validator("pdf_record_pattern")
    @classmethod
    def _named_groups(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compiled = re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression ({exc})") from exc
            if not compiled.groupindex:
                raise ValueError("needs named groups, e.g. (?P<claim_id>CLM-\\d{6})")
        return value


class InboxSource(_FileFormats):
    """Files dropped into a folder: CSV, Excel (``.xlsx``), JSON lines, Parquet, PDF text.

    Each file is taken once (by content hash) and moved to ``done/`` once its records are
    committed, or to ``failed/`` with a ``.reason.txt`` beside it.
    """

    kind: Literal["inbox"]
    path: str = Field(min_length=1)


class ObjectStoreSource(_FileFormats):
    """Objects of an S3-compatible bucket under ``prefix`` whose names match ``patterns``.

    Each object is taken once by key and ETag: a changed object (new ETag) is read again
    and its changed rows become new revisions. ``endpoint_url`` and the keys are usually
    placeholders (``${S3_ENDPOINT}``, ``${S3_ACCESS_KEY}``); without keys the usual AWS
    environment variables and files apply.
    """

    kind: Literal["object_store"]
    bucket: str = Field(min_length=1)
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    batch_objects: int = Field(default=200, ge=1)
    """Objects staged per transaction (their keys and ETags are recorded with them)."""


class SqlSource(_SourceBase):
    """Rows of a SQL query against any SQLAlchemy URL.

    With ``cursor`` (a column the query returns that grows when a row is added or
    changed, such as ``updated_at`` or an id), each run reads only rows at or after the
    stored watermark: rows tied with the last cursor value are read again and recognised
    (by natural key and cursor value), so none is skipped and none staged twice.
    """

    kind: Literal["sql"]
    url: str = Field(min_length=1)
    query: str = Field(min_length=1)
    cursor: str | None = None
    batch_rows: int = Field(default=5_000, ge=1)
    """Rows per transaction for incremental reads (the watermark moves with each)."""


class HttpSource(_SourceBase):
    """Records from an HTTP endpoint answering JSON (a list, or a list under ``records_path``)."""

    kind: Literal["http"]
    url: str = Field(pattern=r"^https?://")
    records_path: str | None = None
    """Dotted path to the list of records in the JSON answer (``data.items``)."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra request headers, e.g. ``Authorization: "Bearer ${PARTNER_TOKEN}"``."""
    timeout_seconds: float = Field(default=30.0, gt=0)


class _StreamBase(_SourceBase):
    """What every stream source shares. Each message is one JSON object (one record)."""

    url: str = Field(min_length=1)
    max_deliveries: int = Field(default=5, ge=1)
    """A message that fails this many times goes to the dead-letter stream or queue."""
    batch_size: int = Field(default=500, ge=1)
    """Messages staged per transaction (and acknowledged together after it commits)."""
    wait_seconds: float = Field(default=0.05, gt=0)
    """How long a fetch waits to fill a batch before it stages what it has."""
    idle_seconds: float = Field(default=1.0, gt=0)
    """A bounded pull (``rpaml ingest --once``) ends after this long without a message."""
    max_backlog: int = Field(default=200_000, ge=1)
    """Backpressure: a worker's consumer pauses while the process has more records than
    this waiting to be processed (state ``collected``)."""


class RedisStreamSource(_StreamBase):
    """A Redis stream read through a consumer group; messages left pending by a consumer
    that died are reclaimed with ``XAUTOCLAIM`` once idle for ``claim_idle_ms``."""

    kind: Literal["redis_stream"]
    stream: str = Field(min_length=1)
    group: str = "rpaml"
    field: str = "data"
    """The message field holding the JSON record."""
    claim_idle_ms: int = Field(default=30_000, ge=1)
    dead_letter_stream: str | None = None
    """Default: ``<stream>.dead``."""


class RabbitMqSource(_StreamBase):
    """A durable RabbitMQ queue (declared if missing). The message id is the AMQP
    ``message_id`` property (the SHA-256 of the body when a publisher sets none)."""

    kind: Literal["rabbitmq"]
    queue: str = Field(min_length=1)
    dead_letter_queue: str | None = None
    """Default: ``<queue>.dead``."""


class NatsSource(_StreamBase):
    """A durable pull consumer of a NATS JetStream stream (both created if missing)."""

    kind: Literal["nats"]
    stream: str = Field(min_length=1)
    subject: str = Field(min_length=1)
    durable: str = "rpaml"
    ack_wait_seconds: float = Field(default=30.0, gt=0)
    """A message not acknowledged this long after delivery is delivered again."""
    dead_letter_subject: str | None = None
    """Default: ``rpaml.dead.<stream>`` (in the stream ``<stream>_DEAD``)."""


StreamSource = RedisStreamSource | RabbitMqSource | NatsSource
SourceSpec = Annotated[
    InboxSource
    | SqlSource
    | HttpSource
    | ObjectStoreSource
    | RedisStreamSource
    | RabbitMqSource
    | NatsSource,
    Field(discriminator="kind"),
]
FileFormats = _FileFormats
