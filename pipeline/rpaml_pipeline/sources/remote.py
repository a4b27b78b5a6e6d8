"""Sources read over a connection: a SQL query (any SQLAlchemy URL) and an HTTP JSON endpoint."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from rpaml_pipeline.errors import SourceError
from rpaml_pipeline.process.definition import HttpSource, SqlSource
from rpaml_pipeline.sources.rows import SourceRow

_SPACES = re.compile(r"\s+")


def masked(url: str) -> str:
    """``url`` with any password hidden (locations and lineage never hold secrets)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a database URL: an HTTP one
        return re.sub(r"//[^/@]*@", "//***@", url)


def query_rows(spec: SqlSource, url: str) -> list[SourceRow]:
    """Run the source's query on ``url``; each row's location is ``<url> | <query> | row N``."""
    query = _SPACES.sub(" ", spec.query).strip()
    where = f"{masked(url)} | {query}"
    try:
        engine = create_engine(url)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise SourceError(f"source {spec.name}: bad database URL {masked(url)} ({exc})") from exc
    try:
        with engine.connect() as conn:
            result = conn.execute(text(spec.query))
            return [
                SourceRow(dict(row), f"{where} | row {number}")
                for number, row in enumerate(result.mappings(), start=1)
            ]
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0]
        raise SourceError(f"source {spec.name}: query failed on {masked(url)}: {first}") from exc
    finally:
        engine.dispose()


def fetch_rows(
    spec: HttpSource,
    client: httpx.Client | None = None,
    *,
    url: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> list[SourceRow]:
    """GET the endpoint; each record's location is ``<url>#/<records_path>/<index>``.

    ``url`` and ``headers`` are the spec's with their placeholders expanded (the spec's
    own when not given); header values are never logged or stored."""
    own = client is None
    http = client or httpx.Client(timeout=spec.timeout_seconds)
    url = url or spec.url
    where = masked(spec.url)  # as written: a token in the URL stays a placeholder
    try:
        response = http.get(url, headers={"Accept": "application/json", **(headers or {})})
    except httpx.HTTPError as exc:
        raise SourceError(f"source {spec.name}: {where} did not answer ({exc})") from exc
    finally:
        if own:
            http.close()
    if response.status_code >= 300:
        raise SourceError(f"source {spec.name}: {where} answered HTTP {response.status_code}")
    try:
        body: Any = response.json()
    except ValueError as exc:
        raise SourceError(f"source {spec.name}: {where} did not answer JSON ({exc})") from exc
    path = [part for part in (spec.records_path or "").split(".") if part]
    for part in path:
        if not isinstance(body, dict) or part not in body:
            raise SourceError(f"source {spec.name}: {where} has no {spec.records_path!r} list")
        body = body[part]
    if not isinstance(body, list):
        raise SourceError(
            f"source {spec.name}: expected a list of records at "
            f"{spec.records_path or 'the top'} of {where}, got {type(body).__name__}"
        )
    pointer = "/".join(path)
    rows: list[SourceRow] = []
    problems: list[str] = []
    for index, item in enumerate(body):
        location = f"{where}#/{pointer + '/' if pointer else ''}{index}"
        if isinstance(item, dict):
            rows.append(SourceRow(item, location))
        else:
            problems.append(f"{location}: a {type(item).__name__}, not an object")
    if problems:
        raise SourceError(f"source {spec.name}: " + "; ".join(problems[:20]))
    return rows
