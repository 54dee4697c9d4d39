"""Run a prebuilt statement on the DB-API cursor directly, for the append hot path.

SQLAlchemy spends tens of microseconds per execution on cache keys, parameter and
result processing — several times what SQLite needs to run a small statement. The
few statements every append runs are compiled once per dialect here and executed on
the connection's own DB-API cursor, inside the transaction SQLAlchemy opened. Only for
statements whose parameters and results need no type processing (integers, text,
bytes, floats; booleans as the driver returns them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_compiled: dict[tuple[int, str], tuple[str, tuple[str, ...] | None]] = {}


class Row:
    """A result row with attribute access and ``_mapping``, like SQLAlchemy's."""

    __slots__ = ("_mapping",)

    def __init__(self, mapping: dict[str, Any]) -> None:
        self._mapping = mapping

    def __getattr__(self, name: str) -> Any:
        try:
            return self._mapping[name]
        except KeyError:
            raise AttributeError(name) from None


def _compile(conn: sa.Connection, stmt: ClauseElement,
             params: Mapping[str, Any]) -> tuple[str, tuple[str, ...] | None]:
    key = (id(stmt), conn.dialect.name)
    entry = _compiled.get(key)
    if entry is None:
        compiled = stmt.compile(dialect=conn.dialect, column_keys=list(params))
        assert isinstance(compiled, SQLCompiler)
        positions = tuple(compiled.positiontup) if compiled.positional and \
            compiled.positiontup is not None else None
        entry = (str(compiled), positions)
        _compiled[key] = entry
    return entry


def execute(conn: sa.Connection, stmt: ClauseElement, params: Mapping[str, Any]) -> list[Row]:
    """``conn.execute(stmt, params).all()`` without SQLAlchemy's per-call overhead."""
    sql, positions = _compile(conn, stmt, params)
    args: Any = (tuple(params[name] for name in positions) if positions is not None
                 else dict(params))
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, args)
        if cursor.description is None:
            return []
        names = [d[0] for d in cursor.description]
        return [Row(dict(zip(names, values, strict=True))) for values in cursor.fetchall()]
    finally:
        cursor.close()


def first(rows: list[Row]) -> Row | None:
    return rows[0] if rows else None
