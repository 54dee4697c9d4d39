"""Persistence only: database, message store, blobs. Never imports ``protocols``."""
