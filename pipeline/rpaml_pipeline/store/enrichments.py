"""Enrichments: data a robot looked up for a record in another application.

Kept beside the record, never merged into its raw payload (whose hash stays the hash of
what the collecting robot saw); a process whose file declares ``enrichment`` merges the
newest enrichment's fields into the raw fields before cleaning.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import insert, select

from rpaml_pipeline.canonical import to_jsonable
from rpaml_pipeline.errors import RecordNotFoundError, StoreError
from rpaml_pipeline.store.bulk import id_select
from rpaml_pipeline.store.context import StoreContext, ordered_id
from rpaml_pipeline.store.events import record_event
from rpaml_pipeline.store.hashing import raw_hash
from rpaml_pipeline.store.records import Enrichment
from rpaml_pipeline.store.schema import enrichments, record_events, records


class Enrichments:
    """The ``enrichments`` table."""

    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx

    def add(
        self,
        record_id: str,
        *,
        source: str,
        location: str | None,
        search_term: str | None,
        payload: Mapping[str, Any],
        run_id: str | None,
        captured_at: dt.datetime | None = None,
    ) -> str:
        """Store data a robot looked up for ``record_id`` elsewhere; return its id.

        The record itself is not changed; an ``enrich`` lineage event names the
        enrichment, its source and hash. A naive ``captured_at`` is taken to be UTC.
        """
        if not source:
            raise StoreError("an enrichment needs a source (e.g. 'robot:enrich_policies')")
        if not isinstance(payload, Mapping):
            raise StoreError(f"an enrichment payload is a mapping, not {type(payload).__name__}")
        now = self._ctx.now()
        at = captured_at or now
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        body = to_jsonable(dict(payload))
        r_hash = raw_hash(body)
        with self._ctx.write() as conn:
            process = conn.execute(
                select(records.c.process).where(records.c.record_id == record_id)
            ).scalar()
            if process is None:
                raise RecordNotFoundError(f"no record with id {record_id!r}")
            enrichment_id = ordered_id()
            conn.execute(
                insert(enrichments).values(
                    enrichment_id=enrichment_id,
                    record_id=record_id,
                    process=process,
                    source=source,
                    location=location,
                    search_term=search_term,
                    payload=body,
                    raw_hash=r_hash,
                    run_id=run_id,
                    captured_at=at,
                )
            )
            detail = {
                "enrichment_id": enrichment_id,
                "source": source,
                "location": location,
                "search_term": search_term,
                "captured_at": at.isoformat(),
                "raw_hash": r_hash,
                "fields": sorted(body),
            }
            conn.execute(
                insert(record_events).values(
                    record_event(record_id, run_id, "enrich", None, None, now, detail)
                )
            )
        return enrichment_id

    def of(self, record_id: str) -> list[Enrichment]:
        """Every enrichment of ``record_id``, oldest first (the last one is the newest)."""
        with self._ctx.read() as conn:
            exists = conn.execute(
                select(records.c.record_id).where(records.c.record_id == record_id)
            ).first()
            if exists is None:
                raise RecordNotFoundError(f"no record with id {record_id!r}")
            rows = conn.execute(
                select(enrichments)
                .where(enrichments.c.record_id == record_id)
                .order_by(enrichments.c.captured_at, enrichments.c.enrichment_id)
            ).mappings()
            return [Enrichment.from_row(row) for row in rows]

    def latest(self, record_ids: Iterable[str]) -> dict[str, Enrichment]:
        """The newest enrichment of each of ``record_ids`` that has one."""
        wanted = sorted(set(record_ids))
        if not wanted:
            return {}
        found: dict[str, Enrichment] = {}
        with self._ctx.read() as conn:
            query = (
                select(enrichments)
                .where(enrichments.c.record_id.in_(id_select(conn, wanted)))
                .order_by(enrichments.c.captured_at, enrichments.c.enrichment_id)
            )
            for row in conn.execute(query).mappings():
                found[row["record_id"]] = Enrichment.from_row(row)  # newest wins
        return found
