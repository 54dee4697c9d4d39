"""MAPIStore: the one message store every protocol uses.

* :mod:`.backend` — the interface content backends implement (sql, maildir, vdir).
* :mod:`.model` — value objects passed to and from backends.
* :mod:`.registry` — backends loaded by URI scheme from the configuration.
* :mod:`.index` — ids, folder tree, UIDs, change numbers, tombstones (always SQL).
* :mod:`.store` — :class:`MapiStore`, the async public API (provisioning, folders,
  messages, tables, change log, quotas, notifier events).
"""
