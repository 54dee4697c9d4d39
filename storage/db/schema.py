"""Schema versioning with Alembic, driven from code (no alembic.ini).

The server refuses to start on a schema older than the code (:func:`check_schema`);
``groupware db upgrade`` brings it up to date.
"""

from __future__ import annotations

import io
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from groupware.errors import SchemaOutdated
from storage.db.database import Database

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig


def _script_location() -> Path:
    return Path(str(resources.files("migrations")))


def alembic_config(connection: sa.Connection | None = None,
                   output: io.StringIO | None = None) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig(stdout=output) if output is not None else AlembicConfig()
    cfg.set_main_option("script_location", str(_script_location()))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest revision the code knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(db: Database) -> str | None:
    """The revision the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database, target: str = "head") -> tuple[str | None, str | None]:
    """Apply pending revisions; returns (before, after)."""
    from alembic import command

    before = current_revision(db)
    with db.engine.begin() as conn:
        command.upgrade(alembic_config(conn), target)
    return before, current_revision(db)


def history() -> list[tuple[str, str | None, str]]:
    """(revision, down_revision, message) from oldest to newest."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    revs = list(script.walk_revisions())
    revs.reverse()
    out = []
    for rev in revs:
        down = rev.down_revision
        out.append((rev.revision, down if isinstance(down, str) or down is None else ",".join(down),
                    (rev.doc or "").strip()))
    return out


_REVISION = re.compile(r'^revision\s*=\s*"([^"]+)"', re.M)
_DOWN = re.compile(r'^down_revision\s*=\s*(?:None|"([^"]+)")', re.M)


def revision_chain() -> list[str]:
    """Revision ids from oldest to newest, read from the files without importing Alembic.

    ``serve`` only needs to compare the database with the head, and importing Alembic
    costs a sixth of the start-up time; a test checks this agrees with Alembic.
    """
    down_of: dict[str, str | None] = {}
    for path in sorted((_script_location() / "versions").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        rev, down = _REVISION.search(text), _DOWN.search(text)
        if rev is not None and down is not None:
            down_of[rev.group(1)] = down.group(1)
    chain: list[str] = []
    current: str | None = next((r for r, d in down_of.items() if d is None), None)
    children = {d: r for r, d in down_of.items() if d is not None}
    while current is not None:
        chain.append(current)
        current = children.get(current)
    return chain


def _stored_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        value = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        return str(value) if value is not None else None


def check_schema(db: Database) -> None:
    """Raise :class:`SchemaOutdated` unless the database is at the code's head."""
    current = _stored_revision(db)
    chain = revision_chain()
    head = chain[-1]
    if current == head:
        return
    if current is None:
        raise SchemaOutdated(
            "the database has no schema yet; run `groupware init` or `groupware db upgrade`"
        )
    if current not in chain:
        raise SchemaOutdated(
            f"the database schema {current} is newer than this version of groupware "
            f"(head {head}); upgrade the software"
        )
    raise SchemaOutdated(
        f"the database schema is at {current}, the code needs {head}; "
        "run `groupware db upgrade`"
    )
