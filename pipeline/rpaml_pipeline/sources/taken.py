"""Which inbox files a source has taken, by content hash (the ``source_files`` table)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from rpaml_pipeline.store import Store
from rpaml_pipeline.store.schema import source_files


def taken_as(store: Store, process: str, source: str, content_hash: str) -> str | None:
    """The name under which a file with ``content_hash`` was taken, or None."""
    query = select(source_files.c.file_name, source_files.c.taken_at).where(
        source_files.c.process == process,
        source_files.c.source == source,
        source_files.c.content_hash == content_hash,
    )
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else f"{row[0]} ({row[1]:%Y-%m-%d %H:%M:%S} UTC)"


def mark_taken(
    store: Store,
    process: str,
    source: str,
    content_hash: str,
    *,
    file_name: str,
    records: int,
    run_id: str,
    at: dt.datetime,
) -> bool:
    """Record the file as taken; False when another run took the same content first."""
    try:
        with store.engine.begin() as conn:
            conn.execute(
                insert(source_files).values(
                    process=process,
                    source=source,
                    content_hash=content_hash,
                    file_name=file_name,
                    records=records,
                    run_id=run_id,
                    taken_at=at,
                )
            )
    except IntegrityError:
        return False
    return True
