"""Sources besides robots, declared in the process file's ``sources:`` section.

An inbox folder (CSV, Excel, JSON lines, PDF text through RPA.PDF), a SQL query against any
SQLAlchemy URL and an HTTP JSON endpoint. Each produces records with the same lineage fields
as robot records, through :meth:`rpaml_pipeline.store.Store.ingest`; run them with
:class:`rpaml_pipeline.stages.IngestStage` (``rpaml ingest``).
"""

from rpaml_pipeline.incoming_rows import snake_case
from rpaml_pipeline.sources.inbox import FileOutcome, inbox_files, take_inbox
from rpaml_pipeline.sources.ingest import (
    SourceReport,
    declared_sources,
    ingest_source,
    source_location,
)
from rpaml_pipeline.sources.rows import SourceRow

__all__ = [
    "FileOutcome",
    "SourceReport",
    "SourceRow",
    "declared_sources",
    "inbox_files",
    "ingest_source",
    "snake_case",
    "source_location",
    "take_inbox",
]
