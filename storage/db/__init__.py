"""SQL database: table metadata, engine set-up and the transaction runner."""

from storage.db.database import Database, InteractionFailed
from storage.db.tables import metadata

__all__ = ["Database", "InteractionFailed", "metadata"]
