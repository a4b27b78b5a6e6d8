"""Bulk writes: many rows in one statement.

For the store's hot writes (a batch's control rows, a batch's state changes) on PostgreSQL,
and for updates on SQLite, the rows travel as one JSON document, which the database turns
into a row set in C (SQLite's ``json_each``, PostgreSQL's ``json_array_elements``): same
SQL semantics, same transaction, one round trip. Inserts and upserts on SQLite go through
the driver's ``executemany`` instead: measured here, a JSON row set's ``->>`` reads cost
grow with the row's width (8 times slower for a 30-column warehouse row).

* :func:`insert_rows`: ``INSERT INTO t (cols) SELECT ... FROM <rows>``.
* :func:`update_rows`: ``UPDATE t SET col = <row value> ... FROM <rows> WHERE t.key =
  <row key> AND <guard> RETURNING t.key``, so the caller learns which rows the guard let
  through (the others changed under it).
* :func:`id_select`: a parameter holding many ids, for ``key IN (...)`` guards of set-based
  updates that give every row the same values.

Values go through each column type's bind processor first (UTC datetimes, JSON), exactly
as SQLAlchemy would bind them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import JSON as JSON_TYPE
from sqlalchemy import Select, String, Table, bindparam, cast, func, select
from sqlalchemy.engine import Connection
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


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (one value per column of ``columns``, in order) into ``table``."""
    names = ", ".join(columns)
    if conn.dialect.name == "sqlite":
        _insert_many(conn, table, columns, rows, "")
        return
    for source, params in _row_sources(conn, table, columns, rows):
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
    bound: bool = False,
) -> None:
    """Insert ``rows``, or update ``update`` columns of the row with the same ``key``
    (only when the stored ``only_if`` column is at most the new one, when given).

    ``bound``: on SQLite, the values are already as the driver takes them (dates and
    timestamps in SQLAlchemy's text forms: :data:`SQLITE_TIMESTAMP`), so no value passes
    through a Python bind processor."""
    names = ", ".join(columns)
    sets = ", ".join(f"{name} = excluded.{name}" for name in update)
    condition = f" WHERE {table.name}.{only_if} <= excluded.{only_if}" if only_if else ""
    if conn.dialect.name == "sqlite":
        clause = f" ON CONFLICT ({key}) DO UPDATE SET {sets}{condition}"
        _insert_many(conn, table, columns, rows, clause, bound=bound)
        return
    for source, params in _row_sources(conn, table, columns, rows):
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
    for source, params in _row_sources(conn, table, [key, *columns], rows, alias="_v"):
        changed.update(
            _update_part(
                conn, table, key, columns, source, params, dict(fixed or {}), guard,
                guard_params, returning,
            )
        )  # fmt: skip
    return changed


def _update_part(
    conn: Connection,
    table: Table,
    key: str,
    columns: Sequence[str],
    source: str,
    params: dict[str, Any],
    fixed: dict[str, Any],
    guard: str,
    guard_params: Mapping[str, Any] | None,
    returning: Sequence[str],
) -> dict[Any, tuple[Any, ...]]:
    params = dict(params)
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


def _insert_many(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    clause: str,
    *,
    bound: bool = False,
) -> None:
    """SQLite: one statement executed for every row (the DB-API's ``executemany``): faster
    there than a JSON row set, whose ``->>`` reads cost grow with the row's width, and
    text with NUL characters is bound as it is."""
    if not rows:
        return
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks}){clause}",
        [tuple(row) for row in (rows if bound else _converted(conn, table, columns, rows))],
    )


SQLITE_TIMESTAMP = "%Y-%m-%d %H:%M:%S%.6f"
"""How SQLAlchemy's SQLite dialect stores a timestamp (naive UTC), as a polars format."""
SQLITE_DATE = "%Y-%m-%d"


def guard_sql(conn: Connection, guard: str) -> str:
    """``guard`` (written with ``%(name)s`` placeholders) in the connection's style."""
    return _native_guard(conn, guard)


_VALUES_ROWS = 500
"""Rows per ``VALUES`` statement (SQLite allows 32,766 parameters in one)."""


def _row_sources(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    alias: str = "_r",
) -> list[tuple[str, dict[str, Any]]]:
    """The row sets of ``rows``: one JSON row set, except that on SQLite the rows holding
    text with a NUL character (SQLite's JSON functions cut text at the first one) go as
    bound parameters of ``VALUES`` lists, a few hundred rows a statement."""
    if not rows:
        return []
    values = _converted(conn, table, columns, rows)
    payload = orjson.dumps(values).decode()
    # Serialised, a NUL is the escape ``\u0000``: one scan of the text finds whether any
    # row needs the slow path (a false alarm, a literal backslash-u0000, only costs speed).
    if conn.dialect.name != "sqlite" or "\\u0000" not in payload:
        return [_json_source(conn, table, columns, payload, alias)]
    clean = [row for row in values if not _has_nul(row)]
    nul = [row for row in values if _has_nul(row)]
    found = (
        [_json_source(conn, table, columns, orjson.dumps(clean).decode(), alias)] if clean else []
    )
    found += [
        _values_source(columns, nul[i : i + _VALUES_ROWS], alias)
        for i in range(0, len(nul), _VALUES_ROWS)
    ]
    return found


def pg_text(value: Any) -> Any:
    """``value`` as PostgreSQL can hold it: its text types cannot contain NUL, so each NUL
    character becomes U+FFFD, as text that is not valid Unicode does everywhere in rpaml
    (:func:`rpaml_pipeline.canonical.readable`)."""
    return value.replace("\x00", REPLACEMENT) if isinstance(value, str) else value


def _has_nul(row: Sequence[Any]) -> bool:
    return any(isinstance(value, str) and "\x00" in value for value in row)


def _converted(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[Sequence[Any]]:
    """``rows`` with each value as its column's bind processing makes it (columns that need
    none are left alone: most of them, and the bulk of the time)."""
    converters = [(i, _converter(conn, table.c[name].type)) for i, name in enumerate(columns)]
    needed = [(i, convert) for i, convert in converters if convert is not _identity]
    if not needed:
        return list(rows)
    # A batch repeats values (its run's timestamp, a state): each distinct one of a column
    # is converted once.
    caches: list[dict[Any, Any]] = [{} for _ in needed]
    out: list[Sequence[Any]] = []
    for row in rows:
        values = list(row)
        for (index, convert), cache in zip(needed, caches, strict=True):
            value = values[index]
            key = (type(value), value)  # 1, 1.0 and True are equal keys, not equal values
            try:
                values[index] = cache[key]
            except KeyError:
                values[index] = cache[key] = convert(value)
            except TypeError:  # unhashable (a JSON document)
                values[index] = convert(value)
        out.append(values)
    return out


def _values_source(
    columns: Sequence[str], values: Sequence[Sequence[Any]], alias: str = "_r"
) -> tuple[str, dict[str, Any]]:
    """A ``VALUES`` list of bound parameters (SQLite rows with NUL characters)."""
    params = {f"_p{r}_{c}": value for r, row in enumerate(values) for c, value in enumerate(row)}
    tuples = ", ".join(
        "(" + ", ".join(f":_p{r}_{c}" for c in range(len(columns))) + ")"
        for r in range(len(values))
    )
    picks = ", ".join(f"column{c + 1} AS {name}" for c, name in enumerate(columns))
    return f"(SELECT {picks} FROM (VALUES {tuples})) AS {alias}", params


def _json_source(
    conn: Connection, table: Table, columns: Sequence[str], payload: str, alias: str = "_r"
) -> tuple[str, dict[str, Any]]:
    """The row set of a JSON array of rows."""
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


def _identity(value: Any) -> Any:
    return value


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
        return _identity
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


__all__ = ["guard_sql", "id_select", "insert_rows", "update_rows", "upsert_rows"]
