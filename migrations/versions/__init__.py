"""Alembic revisions, one file each, applied in order by ``groupware db upgrade``."""
