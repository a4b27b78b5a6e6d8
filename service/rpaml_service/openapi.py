"""The OpenAPI document: FastAPI's, plus the scoring bodies and the served models.

Two additions to what FastAPI generates from the routes:

* the request bodies of the scoring routes, which parse their raw body themselves (the
  hot path), so FastAPI does not know them
  (:func:`~rpaml_service.schemas.request_body_components`);
* the models being served: the ``{name}`` path parameter lists their names as
  examples, and each scoring route carries, per served model, a request body whose
  features fit that model's schema. A client ("Try it out" in ``/docs``) or a
  property-based test (schemathesis mixes declared examples into what it generates)
  then reaches the real models instead of guessing names. Examples, not an ``enum``:
  an unknown name is a valid request (answered 404), and the served set changes when a
  champion is promoted, so the document is rebuilt from the store on every read.

The examples show each served model's feature names, so the document is served only
to key holders (:mod:`rpaml_service.routers.docs`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI

from rpaml_models import FeatureSchema, LoadedModel
from rpaml_service.model_store import ModelStore
from rpaml_service.schemas import request_body_components

_JSON = "application/json"
_NUMERIC_EXAMPLE = 0.0
_BOOLEAN_EXAMPLE = False
# A categorical feature without declared categories accepts any string (unseen ones
# are scored as unknown), so any placeholder fits its schema.
_CATEGORY_PLACEHOLDER = "unknown"


def install_openapi(app: FastAPI, store: ModelStore) -> None:
    """Make ``app.openapi()`` return FastAPI's document with the additions above."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        # FastAPI caches what it generated; the served models change, so each read
        # works on a copy (the document is read rarely: clients, docs, tests).
        document = copy.deepcopy(generate())
        document.setdefault("components", {}).setdefault("schemas", {}).update(
            request_body_components()
        )
        add_served_examples(document, store.models)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def example_features(schema: FeatureSchema) -> dict[str, Any]:
    """A feature row that passes ``schema``: a placeholder value of each feature's kind."""
    row: dict[str, Any] = {}
    for spec in schema.features:
        if spec.kind == "categorical":
            row[spec.name] = spec.categories[0] if spec.categories else _CATEGORY_PLACEHOLDER
        elif spec.kind == "boolean":
            row[spec.name] = _BOOLEAN_EXAMPLE
        else:
            row[spec.name] = _NUMERIC_EXAMPLE
    return row


def add_served_examples(document: dict[str, Any], models: Mapping[str, LoadedModel]) -> None:
    """Add the served models' names and valid bodies as examples of the ``{name}`` routes.

    Examples are named after the model on the path parameter and on the body alike, so
    a tool pairing examples by name (or by position: both are sorted) sends each model a
    body that fits its schema.
    """
    names = sorted(models)
    if not names:
        return
    for path, operations in document.get("paths", {}).items():
        if "{name}" not in path:
            continue
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter.get("name") == "name":
                    parameter["examples"] = {
                        name: {"summary": f"the served model {name}", "value": name}
                        for name in names
                    }
            body = operation.get("requestBody", {}).get("content", {}).get(_JSON)
            component = str((body or {}).get("schema", {}).get("$ref", "")).rsplit("/", 1)[-1]
            build = _BODY_EXAMPLES.get(component)
            if body is not None and build is not None:
                body["examples"] = {
                    name: {
                        "summary": f"one record for {name}, a placeholder value per feature",
                        "value": build(example_features(models[name].schema)),
                    }
                    for name in names
                }


def _records_body(row: dict[str, Any]) -> dict[str, Any]:
    return {"records": [{"id": "example-1", "features": row}]}


def _columns_body(row: dict[str, Any]) -> dict[str, Any]:
    return {"ids": ["example-1"], "columns": {feature: [value] for feature, value in row.items()}}


# The scoring bodies, by component name, built from one example feature row.
_BODY_EXAMPLES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "ScoreRequest": _records_body,
    "ColumnarScoreRequest": _columns_body,
}
