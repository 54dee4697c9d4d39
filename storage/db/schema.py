"""Schema versioning with Alembic, driven from code (no alembic.ini).

The server refuses to start on a schema older than the code (:func:`check_schema`);
``groupware db upgrade`` brings it up to date.
"""

from __future__ import annotations

import io
from importlib import resources
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from groupware.errors import SchemaOutdated
from storage.db.database import Database


def _script_location() -> Path:
    return Path(str(resources.files("migrations")))


def alembic_config(connection: sa.Connection | None = None,
                   output: io.StringIO | None = None) -> AlembicConfig:
    cfg = AlembicConfig(stdout=output) if output is not None else AlembicConfig()
    cfg.set_main_option("script_location", str(_script_location()))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(db: Database) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database, target: str = "head") -> tuple[str | None, str | None]:
    """Apply pending revisions; returns (before, after)."""
    before = current_revision(db)
    with db.engine.begin() as conn:
        command.upgrade(alembic_config(conn), target)
    return before, current_revision(db)


def history() -> list[tuple[str, str | None, str]]:
    """(revision, down_revision, message) from oldest to newest."""
    script = ScriptDirectory.from_config(alembic_config())
    revs = list(script.walk_revisions())
    revs.reverse()
    out = []
    for rev in revs:
        down = rev.down_revision
        out.append((rev.revision, down if isinstance(down, str) or down is None else ",".join(down),
                    (rev.doc or "").strip()))
    return out


def check_schema(db: Database) -> None:
    """Raise :class:`SchemaOutdated` unless the database is at the code's head."""
    current = current_revision(db)
    head = head_revision()
    if current == head:
        return
    known = {rev for rev, _down, _msg in history()}
    if current is None:
        raise SchemaOutdated(
            "the database has no schema yet; run `groupware init` or `groupware db upgrade`"
        )
    if current not in known:
        raise SchemaOutdated(
            f"the database schema {current} is newer than this version of groupware "
            f"(head {head}); upgrade the software"
        )
    raise SchemaOutdated(
        f"the database schema is at {current}, the code needs {head}; "
        "run `groupware db upgrade`"
    )
