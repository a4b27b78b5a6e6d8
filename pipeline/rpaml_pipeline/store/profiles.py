"""Source profiles: what each source of a process delivered in earlier runs, the baseline
the contract-drift checks and the batch gate compare new records with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.exc import IntegrityError
from tenacity import retry, retry_if_exception_type, stop_after_attempt

from rpaml_pipeline.canonical import to_jsonable
from rpaml_pipeline.store.context import StoreContext
from rpaml_pipeline.store.schema import source_profiles


class Profiles:
    """The ``source_profiles`` table."""

    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx

    def of(self, process: str) -> dict[str, dict[str, Any]]:
        """``source -> profile`` of what each source of ``process`` delivered before."""
        query = select(source_profiles.c.source, source_profiles.c.profile).where(
            source_profiles.c.process == process
        )
        with self._ctx.read() as conn:
            return {source: dict(profile) for source, profile in conn.execute(query)}

    # Two runs saving a new source's first profile at once: the one that loses the insert
    # race retries, and then updates.
    @retry(retry=retry_if_exception_type(IntegrityError), stop=stop_after_attempt(5), reraise=True)
    def save(self, process: str, profiles: Mapping[str, Mapping[str, Any]], *, run_id: str) -> None:
        """Replace the profiles of these sources of ``process`` (one transaction)."""
        now = self._ctx.now()
        with self._ctx.write() as conn:
            for source, profile in profiles.items():
                key = and_(source_profiles.c.process == process, source_profiles.c.source == source)
                values = {
                    "records": int(profile.get("records", 0)),
                    "profile": to_jsonable(dict(profile)),
                    "run_id": run_id,
                    "updated_at": now,
                }
                if conn.execute(update(source_profiles).where(key).values(**values)).rowcount:
                    continue
                conn.execute(
                    insert(source_profiles).values(process=process, source=source, **values)
                )
