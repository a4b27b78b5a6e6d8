"""Run the store's Alembic migrations programmatically (no alembic.ini at runtime)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

from rpaml_pipeline.errors import MigrationError

SCRIPT_LOCATION = Path(__file__).with_name("alembic")

# Arbitrary constant key for PostgreSQL's advisory lock: two processes connecting to a
# fresh database at once must not both create the tables.
_PG_MIGRATION_LOCK = 0x7270616D6C  # "rpaml"


def alembic_config() -> Config:
    """An Alembic configuration pointing at the migrations shipped in this package."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Migrate the database behind ``engine`` to the newest revision.

    Runs in one transaction: on SQLite that is ``BEGIN IMMEDIATE`` (the write lock
    serialises concurrent first connections), on PostgreSQL an advisory transaction lock.
    """
    config = alembic_config()
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
                )
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except MigrationError:
        raise
    except Exception as exc:
        raise MigrationError(
            f"could not migrate the staging store to the current schema: {exc}"
        ) from exc
