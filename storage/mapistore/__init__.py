"""MAPIStore: the one message store every protocol uses.

* :mod:`.store` — :class:`~.store.MapiStore`, the async public API, assembled from
  :mod:`.folders` (tree, hierarchy, folder properties), :mod:`.messages` (content,
  read state, move/copy/delete, tables), :mod:`.mailbox` (provisioning, change log,
  named properties, receive folders, permissions, quotas) and :mod:`.maintenance`
  (repair, rescans, expiry, blob GC, moving folders between backends) over the shared
  runner of :mod:`.base`.
* :mod:`.backend` — the interface content backends implement (sql, maildir, vdir);
  :mod:`.model` the value objects passed to them; :mod:`.registry` loads them by URI
  scheme from the configuration.
* :mod:`.index` — ids, folder tree, UIDs, change numbers, tombstones (always SQL).
* :mod:`.special_folders` — the MS-OXOSFLD tree with localized names.
* :mod:`.validation`, :mod:`.propcodec`, :mod:`.ids`, :mod:`.tags`, :mod:`.errors` —
  input checks, the packed property format, id packing, the tags the store needs,
  and errors carrying MAPI codes.
"""
