"""Content backends of the message store (see :mod:`storage.mapistore.backend`).

Each module implements :class:`storage.mapistore.backend.Backend` for one URI scheme:
``sql`` (default, :mod:`.sql`), ``maildir`` and ``vdir``. They are found through
:mod:`storage.mapistore.registry`, never imported directly by the store.
"""
