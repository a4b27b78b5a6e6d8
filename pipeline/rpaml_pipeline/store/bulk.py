"""Bulk writes: many rows in one statement the database itself unpacks.

A driver's ``executemany`` binds every value from Python and steps the statement once per
row; on SQLite that costs more than writing the row. For the store's hot writes (a
batch's control rows, a batch's state changes) the rows travel as one JSON document
instead, which the database turns into a row set in C: SQLite's ``json_each``, PostgreSQL's
``json_to_recordset``. Same SQL semantics, same transaction, one round trip.

* :func:`insert_rows`: ``INSERT INTO t (cols) SELECT ... FROM <rows>``.
* :func:`update_rows`: ``UPDATE t SET col = <row value> ... FROM <rows> WHERE t.key =
  <row key> AND <guard> RETURNING t.key``, so the caller learns which rows the guard let
  through (the others changed under it).
* :func:`id_select`: a parameter holding many ids, for ``key IN (...)`` guards of set-based
  updates that give every row the same values.

Values go through each column type's bind processor first (UTC datetimes, JSON), exactly
as SQLAlchemy would bind them; :func:`executemany` remains for the statements SQLAlchemy
compiles (and for binary values, which JSON cannot carry).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import JSON as JSON_TYPE
from sqlalchemy import Select, String, Table, bindparam, cast, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Delete, Insert, Update
from sqlalchemy.types import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    TypeDecorator,
    TypeEngine,
)

from rpaml_pipeline.canonical import REPLACEMENT, dump_json


def executemany(
    conn: Connection, statement: Insert | Update | Delete, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Execute ``statement`` once per row of ``rows`` (all rows have the same keys).

    The statement is compiled once and each value passes through its column type's bind
    processor (what SQLAlchemy's general machinery does at several times the cost).
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
    fixed = {
        name: processors[name](defaults.get(name)) if name in processors else defaults.get(name)
        for name in names
        if name not in given
    }

    def values(row: Mapping[str, Any]) -> list[Any]:
        out = []
        for name in names:
            if name not in given:
                out.append(fixed[name])
                continue
            value = row[name]
            process = processors.get(name)
            out.append(process(value) if process is not None else value)
        return out

    converted: list[Any]
    if compiled.positional:
        converted = [tuple(values(row)) for row in rows]
    else:
        converted = [dict(zip(names, values(row), strict=True)) for row in rows]
    conn.exec_driver_sql(compiled.string, converted)


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (one value per column of ``columns``, in order) into ``table``."""
    names = ", ".join(columns)
    for part, literal in _parts(conn, rows):
        source, params = _row_source(conn, table, columns, part, literal=literal)
        conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {source}", params
        )


def upsert_rows(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    key: str,
    update: Sequence[str],
    only_if: str | None = None,
) -> None:
    """Insert ``rows``, or update ``update`` columns of the row with the same ``key``
    (only when the stored ``only_if`` column is at most the new one, when given)."""
    names = ", ".join(columns)
    sets = ", ".join(f"{name} = excluded.{name}" for name in update)
    condition = f" WHERE {table.name}.{only_if} <= excluded.{only_if}" if only_if else ""
    for part, literal in _parts(conn, rows):
        source, params = _row_source(conn, table, columns, part, literal=literal)
        # ``WHERE true``: SQLite needs it to tell the upsert clause from a join's ON.
        conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {source} WHERE true "
            f"ON CONFLICT ({key}) DO UPDATE SET {sets}{condition}",
            params,
        )


def update_rows(
    conn: Connection,
    table: Table,
    key: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    fixed: Mapping[str, Any] | None = None,
    guard: str = "",
    guard_params: Mapping[str, Any] | None = None,
    returning: Sequence[str] = (),
) -> dict[Any, tuple[Any, ...]]:
    """Set ``columns`` of the rows whose ``key`` is each row's first value; return, for each
    row changed, its key and the (new) values of ``returning``.

    Each row of ``rows`` is ``(key, value of columns[0], value of columns[1], ...)``.
    ``fixed`` sets the same value on every changed row; ``guard`` is an SQL condition on
    the table's current row (``"state = %(from_state)s"``, with ``guard_params``), and a row
    it excludes is left as it is and not returned.
    """
    changed: dict[Any, tuple[Any, ...]] = {}
    for part, literal in _parts(conn, rows):
        changed.update(
            _update_part(
                conn,
                table,
                key,
                columns,
                part,
                literal,
                dict(fixed or {}),
                guard,
                guard_params,
                returning,
            )
        )
    return changed


def _update_part(
    conn: Connection,
    table: Table,
    key: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    literal: bool,
    fixed: dict[str, Any],
    guard: str,
    guard_params: Mapping[str, Any] | None,
    returning: Sequence[str],
) -> dict[Any, tuple[Any, ...]]:
    source, params = _row_source(conn, table, [key, *columns], rows, alias="_v", literal=literal)
    assignments = [f"{name} = _v.{name}" for name in columns]
    for index, (name, value) in enumerate(fixed.items()):
        params[f"_fixed{index}"] = _bound(conn, table, name, value)
        assignments.append(f"{name} = {_placeholder(conn, f'_fixed{index}')}")
    where = f"{table.name}.{key} = _v.{key}"
    if guard:
        where += f" AND ({_native_guard(conn, guard)})"
        params.update(dict(guard_params or {}))
    back = ", ".join(f"{table.name}.{name}" for name in (key, *returning))
    sql = (
        f"UPDATE {table.name} SET {', '.join(assignments)} FROM {source} "
        f"WHERE {where} RETURNING {back}"
    )
    return {row[0]: tuple(row[1:]) for row in conn.exec_driver_sql(sql, params)}


def id_select(conn: Connection, ids: Sequence[Any]) -> Select[Any] | list[Any]:
    """A select of ``ids`` (one parameter whatever their number), for ``column.in_(...)``;
    on SQLite, ids holding a NUL character are bound one by one instead (its JSON
    functions cut text there)."""
    if conn.dialect.name == "sqlite" and _has_nul(ids):
        return list(ids)
    if conn.dialect.name != "sqlite":
        ids = [pg_text(value) for value in ids]
    payload = bindparam(None, orjson.dumps(list(ids)).decode(), type_=String)
    if conn.dialect.name == "sqlite":
        values = func.json_each(payload).table_valued("value")
    else:
        values = func.json_array_elements_text(cast(payload, JSON_TYPE)).table_valued("value")
    return select(values.c.value)


def guard_sql(conn: Connection, guard: str) -> str:
    """``guard`` (written with ``%(name)s`` placeholders) in the connection's style."""
    return _native_guard(conn, guard)


_VALUES_ROWS = 500
"""Rows per ``VALUES`` statement (SQLite allows 32,766 parameters in one)."""


def _parts(conn: Connection, rows: Sequence[Sequence[Any]]) -> list[tuple[Sequence[Any], bool]]:
    """``rows`` split into what travels as JSON and, on SQLite, the rows holding text with
    a NUL character (SQLite's JSON functions cut text at the first one): those go as bound
    parameters of a ``VALUES`` list, a few hundred rows a statement."""
    if not rows:
        return []
    if conn.dialect.name != "sqlite":
        return [(rows, False)]
    clean = [row for row in rows if not _has_nul(row)]
    nul = [row for row in rows if _has_nul(row)]
    parts: list[tuple[Sequence[Any], bool]] = [(clean, False)] if clean else []
    parts += [(nul[i : i + _VALUES_ROWS], True) for i in range(0, len(nul), _VALUES_ROWS)]
    return parts


def pg_text(value: Any) -> Any:
    """``value`` as PostgreSQL can hold it: its text types cannot contain NUL, so each NUL
    character becomes U+FFFD, as text that is not valid Unicode does everywhere in rpaml
    (:func:`rpaml_pipeline.canonical.readable`)."""
    return value.replace("\x00", REPLACEMENT) if isinstance(value, str) else value


def _has_nul(row: Sequence[Any]) -> bool:
    return any(isinstance(value, str) and "\x00" in value for value in row)


def _row_source(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    alias: str = "_r",
    *,
    literal: bool = False,
) -> tuple[str, dict[str, Any]]:
    """The row set of ``rows`` as SQL: a table function over one JSON parameter, or (for
    ``literal`` rows) a ``VALUES`` list of bound parameters."""
    converters = [_converter(conn, table.c[name].type) for name in columns]
    values = [
        [convert(value) for convert, value in zip(converters, row, strict=True)] for row in rows
    ]
    if literal:
        params = {
            f"_p{r}_{c}": value for r, row in enumerate(values) for c, value in enumerate(row)
        }
        tuples = ", ".join(
            "(" + ", ".join(f":_p{r}_{c}" for c in range(len(columns))) + ")"
            for r in range(len(values))
        )
        picks = ", ".join(f"column{c + 1} AS {name}" for c, name in enumerate(columns))
        return f"(SELECT {picks} FROM (VALUES {tuples})) AS {alias}", params
    payload = orjson.dumps(values).decode()
    if conn.dialect.name == "sqlite":
        picks = ", ".join(
            f"{alias}j.value ->> {index} AS {name}" for index, name in enumerate(columns)
        )
        return f"(SELECT {picks} FROM json_each(:_rows) AS {alias}j) AS {alias}", {"_rows": payload}
    picks = ", ".join(
        f"{_pg_cast(table, name, f'{alias}j.value ->> {index}')} AS {name}"
        for index, name in enumerate(columns)
    )
    return (
        f"(SELECT {picks} FROM json_array_elements(%(_rows)s::json) AS {alias}j) AS {alias}",
        {"_rows": payload},
    )


def _converter(conn: Connection, kind: TypeEngine[Any]) -> Callable[[Any], Any]:
    """What a value becomes in the JSON row set, for a column of type ``kind``."""
    if isinstance(kind, LargeBinary):
        raise TypeError("binary values cannot travel in a JSON row set; use executemany")
    if isinstance(kind, JSON):
        return lambda value: None if value is None else dump_json(value)
    impl = kind.dialect_impl(conn.dialect)
    process = impl.bind_processor(conn.dialect)
    if conn.dialect.name == "postgresql":
        # PostgreSQL reads the element as text and casts it: datetimes go as ISO text.
        def to_text(value: Any) -> Any:
            value = process(value) if process is not None else value
            if isinstance(value, dt.datetime | dt.date):
                return value.isoformat()
            return pg_text(value)

        return to_text
    if process is None:
        return lambda value: value
    return process


def _bound(conn: Connection, table: Table, name: str, value: Any) -> Any:
    kind = table.c[name].type
    if isinstance(kind, JSON):
        return None if value is None else dump_json(value)
    process = kind.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    bound = process(value) if process is not None else value
    return bound if conn.dialect.name == "sqlite" else pg_text(bound)


def _pg_type(table: Table, name: str) -> str:
    kind = table.c[name].type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, Boolean):
        return "boolean"
    if isinstance(kind, Integer):
        return "bigint"
    if isinstance(kind, Float):
        return "double precision"
    if isinstance(kind, JSON):
        return "json"
    if isinstance(kind, DateTime):
        return "timestamptz" if kind.timezone else "timestamp"
    if isinstance(kind, Date):
        return "date"
    return "text"


def _pg_cast(table: Table, name: str, expression: str) -> str:
    kind = _pg_type(table, name)
    return expression if kind == "text" else f"({expression})::{kind}"


def _placeholder(conn: Connection, name: str) -> str:
    return f":{name}" if conn.dialect.name == "sqlite" else f"%({name})s"


def _native_guard(conn: Connection, guard: str) -> str:
    if conn.dialect.name != "sqlite":
        return guard
    # The guards are written in the pyformat style; SQLite's driver takes :name.
    out, rest = [], guard
    while "%(" in rest:
        before, _, after = rest.partition("%(")
        name, _, rest = after.partition(")s")
        out.append(f"{before}:{name}")
    out.append(rest)
    return "".join(out)


__all__ = ["executemany", "guard_sql", "id_select", "insert_rows", "update_rows", "upsert_rows"]
