"""Bulk writes: one statement run for many rows, compiled once.

``Connection.execute(statement, rows)`` already sends one ``executemany`` to the driver,
but SQLAlchemy first builds each row's parameters through its general machinery (about
15 microseconds per row here, more than SQLite takes to write the row). For the store's
hot statements (ingest inserts, processing updates and their events) :func:`executemany`
compiles the statement once for the connection's dialect, passes each value through its
column type's bind processor (the same conversions SQLAlchemy applies: JSON, UTC
datetimes) and hands the rows to the driver. Same SQL, same values, same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.sql import Delete, Insert, Update


def executemany(
    conn: Connection, statement: Insert | Update | Delete, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Execute ``statement`` once per row of ``rows`` (all rows have the same keys).

    Bind parameters a row does not name keep the value given in the statement (for
    example ``updated_at=now`` in ``.values()``).
    """
    if not rows:
        return
    dialect = conn.dialect
    compiled = statement.compile(dialect=dialect, column_keys=list(rows[0]))
    defaults = compiled.params  # the values written in the statement itself
    processors: dict[str, Callable[[Any], Any]] = {}
    for name, bind in compiled.binds.items():
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            processors[name] = processor
    names = list(compiled.positiontup or ()) if compiled.positional else list(defaults)
    given = set(rows[0])
    # Values the statement fixes are converted once; a row value that is the very object
    # the row before had (the ``now`` of every event row) reuses its conversion too.
    fixed = {
        name: processors[name](defaults.get(name)) if name in processors else defaults.get(name)
        for name in names
        if name not in given
    }
    plan = [(index, name, processors.get(name)) for index, name in enumerate(names)]
    last_in: list[Any] = [object()] * len(names)
    last_out: list[Any] = [None] * len(names)

    def values(row: Mapping[str, Any]) -> list[Any]:
        out = []
        for index, name, process in plan:
            if name not in given:
                out.append(fixed[name])
                continue
            value = row[name]
            if process is not None:
                if value is last_in[index]:
                    value = last_out[index]
                else:
                    last_in[index], value = value, process(value)
                    last_out[index] = value
            out.append(value)
        return out

    converted: list[Any]
    if compiled.positional:
        converted = [tuple(values(row)) for row in rows]
    else:
        converted = [dict(zip(names, values(row), strict=True)) for row in rows]
    conn.exec_driver_sql(compiled.string, converted)
