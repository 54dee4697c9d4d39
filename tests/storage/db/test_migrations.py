"""The Alembic head creates exactly the schema of the table metadata (no drift)."""

from __future__ import annotations

import itertools

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from storage.db import Database, metadata, schema


def test_alembic_head_matches_metadata(database: Database) -> None:
    # ``database`` was built by running every revision (SQLite or PostgreSQL).
    assert schema.current_revision(database) == schema.head_revision()
    with database.engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": _defaults_differ}
        )
        diff = compare_metadata(ctx, metadata)
    assert diff == [], f"migrations and storage/db/tables.py disagree: {diff}"


def _norm_default(text: str | None) -> str | None:
    """Reflected defaults come back quoted/cast differently per dialect: compare values."""
    if text is None:
        return None
    value = text.strip().strip("()").split("::")[0].strip("'\"").lower()
    return {"1": "true", "0": "false"}.get(value, value)


def _defaults_differ(_ctx, _insp_col, _meta_col, insp_default, _meta_default,  # type: ignore[no-untyped-def]
                     rendered_meta_default) -> bool:
    return _norm_default(insp_default) != _norm_default(rendered_meta_default)


def test_every_table_and_index_exists(database: Database) -> None:
    inspector = sa.inspect(database.engine)
    tables = set(inspector.get_table_names())
    assert set(metadata.tables) <= tables
    for table in metadata.sorted_tables:
        wanted = {ix.name for ix in table.indexes}
        have = {ix["name"] for ix in inspector.get_indexes(table.name)}
        assert wanted <= have, f"{table.name}: missing indexes {wanted - have}"


def test_history_is_linear_and_ends_at_head() -> None:
    revisions = schema.history()
    assert revisions, "no revisions"
    assert revisions[0][1] is None
    for (prev, _d, _m), (_rev, down, _m2) in itertools.pairwise(revisions):
        assert down == prev, "revisions must form one line"
    assert revisions[-1][0] == schema.head_revision()
    assert all(message for _r, _d, message in revisions), "every revision says what it does"


def test_upgrade_from_empty_is_idempotent(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{tmp_path / 'x.sqlite3'}", pool_size=1)
    try:
        assert schema.current_revision(db) is None
        before, after = schema.upgrade(db)
        assert (before, after) == (None, schema.head_revision())
        assert schema.upgrade(db) == (after, after)
    finally:
        db.close()


def test_fast_revision_chain_agrees_with_alembic() -> None:
    assert schema.revision_chain() == [rev for rev, _d, _m in schema.history()]
    assert schema.revision_chain()[-1] == schema.head_revision()
