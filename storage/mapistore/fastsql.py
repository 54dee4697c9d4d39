"""Run a prebuilt statement through the DB-API directly, for the append hot path.

SQLAlchemy spends ~100 µs per execution building cache keys and processing
parameters, several times what SQLite needs to run a small statement. The few
statements every append runs are compiled once per dialect here and executed with
``exec_driver_sql``. Only for statements whose parameters and results need no type
processing (integers, text, bytes, floats, booleans).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_compiled: dict[tuple[int, str], tuple[str, tuple[str, ...] | None]] = {}


def execute(conn: sa.Connection, stmt: ClauseElement, params: Mapping[str, Any]) -> Any:
    """``conn.execute(stmt, params)`` without per-call compilation overhead."""
    dialect = conn.dialect
    key = (id(stmt), dialect.name)
    entry = _compiled.get(key)
    if entry is None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(params))
        assert isinstance(compiled, SQLCompiler)
        positions = tuple(compiled.positiontup) if compiled.positional and \
            compiled.positiontup is not None else None
        entry = (str(compiled), positions)
        _compiled[key] = entry
    sql, positions = entry
    if positions is not None:
        return conn.exec_driver_sql(sql, tuple(params[name] for name in positions))
    return conn.exec_driver_sql(sql, dict(params))
