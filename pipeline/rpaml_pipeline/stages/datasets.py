"""The OpenLineage datasets the stages read and write, named the same way everywhere."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rpaml_pipeline.lineage.openlineage import PRODUCER, Dataset, schema_facet
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.sources.remote import masked

MODEL_FACET_SCHEMA = (
    "https://github.com/rpaml/rpaml/tree/main/docs/lineage/RpamlModelDatasetFacet.json"
    "#/$defs/RpamlModelDatasetFacet"
)
COLUMN_LINEAGE_SCHEMA = (
    "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json"
    "#/$defs/ColumnLineageDatasetFacet"
)


def records(
    runtime: Runtime,
    state: str,
    *,
    rows: int | None = None,
    typed: bool = False,
    facets: Mapping[str, Any] | None = None,
) -> Dataset:
    """The process's records in ``state`` in the store (``typed``: cleaned field types)."""
    process = runtime.process
    fields: Mapping[str, str] = (
        {name: spec.type for name, spec in process.contract.fields.items()}
        if typed
        else dict.fromkeys(process.contract.fields, "raw")
    )
    return Dataset(
        masked(runtime.store.url),
        f"{process.name}.records.{state}",
        row_count=rows,
        facets={"schema": schema_facet(dict(fields)), **dict(facets or {})},
    )


def application(runtime: Runtime, role: str) -> Dataset:
    """The application a robot reads or acts in: the portal's URL, or the desktop window."""
    if role == "enrich":
        return Dataset("desktop", "Policy Administration")
    url = runtime.robot_env.get("RPAML_PORTAL_URL", "portal")
    return Dataset(url, f"{runtime.process.name}.portal")


def model(runtime: Runtime, version: str | None, facet: Mapping[str, Any] | None = None) -> Dataset:
    """A model version in the registry (its artifact hash and metrics in ``facet``)."""
    name = runtime.process.model.name
    facets: dict[str, Any] = {}
    if facet:
        facets["rpamlModel"] = {"_producer": PRODUCER, "_schemaURL": MODEL_FACET_SCHEMA, **facet}
    return Dataset(
        f"file://{runtime.registry_dir}", f"{name}@{version}" if version else name, facets=facets
    )


def column_lineage(runtime: Runtime, process: ProcessDefinition) -> dict[str, Any]:
    """The transform's column lineage: each feature from the contract fields it is
    derived from (``copy``: the field itself; ``days_between``: its two dates)."""
    source = records(runtime, "collected")
    fields: dict[str, Any] = {}
    for derivation in process.transform.features:
        if derivation.op == "copy":
            inputs, how = [derivation.source], "IDENTITY"
        else:
            inputs, how = [derivation.start, derivation.end], "TRANSFORMATION"
        fields[derivation.name] = {
            "inputFields": [
                {"namespace": source.namespace, "name": source.name, "field": name}
                for name in inputs
            ],
            "transformationType": how,
            "transformationDescription": derivation.op,
        }
    return {"_producer": PRODUCER, "_schemaURL": COLUMN_LINEAGE_SCHEMA, "fields": fields}
