"""Alembic environment and revisions; the target metadata is ``storage.db.tables``."""
