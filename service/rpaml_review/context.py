"""What every request of the review app works with, built once by the app factory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fastapi.templating import Jinja2Templates

from rpaml_pipeline.lineage.openlineage import OpenLineageEmitter
from rpaml_pipeline.process import ProcessDefinition, ReviewSpec
from rpaml_pipeline.store import Store
from rpaml_review.accounts import AccountBook
from rpaml_review.errors import ConfigurationError
from rpaml_review.sessions import SessionStore
from rpaml_review.settings import ReviewSettings

TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))


@dataclass
class ReviewContext:
    """The store, the process and its review section, accounts, sessions and the run the
    app's decisions belong to (opened by the lifespan)."""

    settings: ReviewSettings
    store: Store
    process: ProcessDefinition
    accounts: AccountBook
    sessions: SessionStore
    portal_url: str
    emitter: OpenLineageEmitter | None = None
    """Where the app's run emits its OpenLineage events (None: nowhere, in some tests)."""
    run_id: str = field(default="")

    @property
    def review(self) -> ReviewSpec:
        """The process's review section (the factory refuses a process without one)."""
        if self.process.review is None:
            raise ConfigurationError(f"process {self.process.name!r} has no review section")
        return self.process.review
