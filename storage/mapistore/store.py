"""MapiStore: the message store's public, asyncio API.

One object serves every mailbox. Operations are grouped by subject in mixins —
folders (:mod:`.folders`), messages and tables (:mod:`.messages`), mailbox-wide
operations incl. provisioning, change log, named properties, receive folders,
permissions and quotas (:mod:`.mailbox`), maintenance (:mod:`.maintenance`) — over
the shared runner of :mod:`.base`. Ids at this API are packed 64-bit FIDs/MIDs;
change numbers are the plain per-store counters.

Built by ``GroupwareServer.get_mapistore()``::

    store = MapiStore(db, FilesystemBlobStore(data_dir / "blobs"), config.mapistore,
                      publish=notifier.publish)
    info = await store.provision_mailbox(user_id, mailbox_guid, "de", username="alice")
"""

from __future__ import annotations

from collections.abc import Iterable

from storage.mapistore.maintenance import MaintenanceOps


class MapiStore(MaintenanceOps):
    """The message store (see the module docstring and the mixins for operations)."""

    def check_backends(self, extra_uris: Iterable[str] = ()) -> None:
        """Load every backend the configuration names and let it check its URI (start-up)."""
        self.registry.check([*self.config.roles.values(), *extra_uris])

    def close(self) -> None:
        self.blob_writer.shutdown(wait=True)
        self.registry.close()
