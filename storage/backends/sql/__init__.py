"""The ``sql`` backend: message content in the index's own database (the default)."""
