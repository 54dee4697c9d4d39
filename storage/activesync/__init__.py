"""Persistence of ActiveSync: devices, policy keys, wipe requests, sync states, ClientIds.

:mod:`.state` keeps the device-side state in the tables of
:mod:`storage.db.tables_activesync`; :mod:`.mailbox` adds the two batched reads of
the message store that a fast Sync needs (paged change log, many messages at once).
"""
