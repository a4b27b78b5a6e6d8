"""Alembic environment of the staging store.

The connection is always handed in by :func:`rpaml_pipeline.store.migrations.upgrade_to_head`
(``config.attributes["connection"]``), already inside a transaction; offline (SQL script)
mode is not supported because the store migrates itself on connect.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from rpaml_pipeline.store.schema import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("rpaml migrations run through Store.connect(url), not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things; batch mode rebuilds tables when a migration needs it.
    render_as_batch=connection.dialect.name == "sqlite",
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
