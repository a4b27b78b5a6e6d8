"""Run-level lineage (OpenLineage run events). Record-level lineage lives in the store."""

from rpaml_pipeline.lineage.openlineage import (
    NAMESPACE,
    SCHEMA_URL,
    Dataset,
    OpenLineageEmitter,
    rpaml_run_facet,
    run_uuid,
    schema_facet,
)

__all__ = [
    "NAMESPACE",
    "SCHEMA_URL",
    "Dataset",
    "OpenLineageEmitter",
    "rpaml_run_facet",
    "run_uuid",
    "schema_facet",
]
