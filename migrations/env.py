"""Alembic environment: runs revisions on the connection ``storage.db.schema`` hands in.

There is no alembic.ini: ``groupware db upgrade|current|history`` builds the Alembic
configuration in code, so the one TOML file stays the only configuration.
"""

from __future__ import annotations

from alembic import context

from storage.db.tables import metadata

config = context.config
connection = config.attributes.get("connection")

if connection is None:  # pragma: no cover - only reached by a bare `alembic` call
    raise RuntimeError("run migrations through `groupware db upgrade`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
