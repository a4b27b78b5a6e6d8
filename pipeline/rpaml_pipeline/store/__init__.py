"""The staging store: records, their states, leases and lineage (SQLite or PostgreSQL).

``Store.connect(url)`` migrates the database to the current schema and returns a
:class:`Store`; its public methods are the API the robots, stages and CLI use.
"""

from rpaml_pipeline.errors import (
    InvalidTransitionError,
    LeaseLostError,
    MigrationError,
    RecordNotFoundError,
    StoreError,
)
from rpaml_pipeline.store.records import (
    Enrichment,
    IncomingRecord,
    IngestResult,
    RecordEvent,
    RecordLineage,
    RunInfo,
    StepEvent,
    StoredRecord,
    Transition,
    TransitionReport,
)
from rpaml_pipeline.store.states import RecordState
from rpaml_pipeline.store.store import Store, content_hash, raw_hash

__all__ = [
    "Enrichment",
    "IncomingRecord",
    "IngestResult",
    "InvalidTransitionError",
    "LeaseLostError",
    "MigrationError",
    "RecordEvent",
    "RecordLineage",
    "RecordNotFoundError",
    "RecordState",
    "RunInfo",
    "StepEvent",
    "Store",
    "StoreError",
    "StoredRecord",
    "Transition",
    "TransitionReport",
    "content_hash",
    "raw_hash",
]
