"""The backend interface: where message content lives, behind one contract.

Who owns what
-------------
The **index** (always SQL, :mod:`storage.mapistore.index`) owns identity and sync
metadata of every object whatever its backend: folder and message ids, the folder
tree (parent, display name, container class, role), IMAP UIDs, change numbers,
read state, sizes, tombstones, folder properties, permissions and named-property
mappings. A **backend** stores message *content* only: properties, recipients,
attachments (embedded messages included) and the MIME original, and keeps per
folder whatever storage it needs (a maildir, a directory of .ics files, rows).

The store (:class:`storage.mapistore.store.MapiStore`) calls a backend only after it
has validated the input, assigned ids, UIDs and change numbers, and moved large
values to the blob store. A backend therefore never allocates ids, never checks
quotas, never publishes events, and never sees the properties the store computes
(:data:`storage.mapistore.tags.COMPUTED_MESSAGE_TAGS`).

Calling convention
------------------
Every method is **synchronous** and runs on the database thread pool **inside the
index transaction** of the operation (``ctx.conn``). Consequences for implementers:

* A backend that keeps its data in the same database (``sql``) writes through
  ``ctx.conn`` and is atomic with the index for free.
* A backend with data elsewhere (files) must make each write atomic on its own
  (write a temporary file, fsync, rename) and *idempotent*: the transaction may be
  retried (serialization failure) or rolled back after the backend call, leaving an
  object the index does not know. Such orphans are harmless: ``scan_folder`` reports
  them and ``groupware mailbox repair`` removes them. A backend must never destroy
  data the index still references before the transaction commits; deletions of
  files may happen in the call (the index row goes in the same transaction; if that
  rolls back, repair reports the missing object).
* Raise :class:`groupware.errors.NotFound` (or
  :class:`storage.mapistore.errors.ObjectNotFound`) for an object that is gone, and
  :class:`storage.mapistore.errors.BackendError` for I/O failures; anything else is
  treated as a bug.

Values
------
Property bags are :data:`storage.mapistore.model.Props`. Strings arrive as PtypString
(0x001F) only; a PtypBinary or PtypString value may arrive as a
:class:`~storage.mapistore.model.BlobValue` (already stored in ``ctx.blobs``), and
the backend must return it the same way (or as the plain value). ``content.mime``
is a blob reference to the byte-exact RFC 5322 original when there is one.

Loading
-------
Backends are found by URI scheme through :mod:`storage.mapistore.registry`
(built-ins: ``sql``, ``maildir``, ``vdir``; more from ``[mapistore] backend_modules``).
One instance per scheme serves every folder of that scheme; the folder's location
is ``folder.uri``. On load the registry instantiates the class (so every abstract
method must be implemented) and calls :meth:`Backend.check_uri` for every URI the
configuration names, so a broken setup fails at start-up, not at the first mail.

Defaults
--------
The base class implements everything except the six abstract methods with naive
but correct defaults (read the whole message, filter and sort in Python). A backend
replaces them with native versions when it can do better; the shared conformance
suite (``tests/storage/mapistore/conformance.py``) checks either.
"""

from __future__ import annotations

import abc
import heapq
import itertools
import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, ClassVar, Protocol, cast

import sqlalchemy as sa

from groupware.mapi.evaluate import Evaluator, Row, UnsupportedRestriction
from groupware.mapi.proptypes import PropType, tag_id, tag_type
from groupware.mapi.restrictions import (
    AndRestriction,
    BitmaskRestriction,
    CommentRestriction,
    ComparePropertiesRestriction,
    ContentRestriction,
    CountRestriction,
    ExistRestriction,
    NotRestriction,
    OrRestriction,
    PropertyRestriction,
    Restriction,
    SizeRestriction,
    SubObjectRestriction,
)
from groupware.mapi.sorting import sort_key_function
from groupware.types import MessageId, PropTag, StoreId, UserId
from storage.blobs import BlobRef, BlobStore
from storage.mapistore import tags
from storage.mapistore.errors import InvalidRestriction
from storage.mapistore.model import (
    BackendUri,
    BlobValue,
    Capability,
    FolderRef,
    IndexedMessage,
    MessageContent,
    MessageRef,
    Props,
    ScanEntry,
    TableQuery,
    TableRow,
    Value,
    WriteResult,
)

logger = logging.getLogger(__name__)

NAIVE_BATCH = 256
"""Messages read per batch by the naive table implementation."""


class IndexView(Protocol):
    """What the index offers a backend during a call (``ctx.index``)."""

    def messages(self, folder: FolderRef, *, associated: bool,
                 soft_deleted: bool) -> Iterator[IndexedMessage]:
        """The folder's messages in creation (UID) order, streamed: memory stays flat."""
        ...

    def row(self, folder: FolderRef, message: IndexedMessage, props: Mapping[PropTag, Value],
            wanted: Collection[PropTag] | None = None) -> dict[PropTag, Value]:
        """``props`` (backend content) plus the properties the index computes
        (PidTagMid, PidTagFolderId, PidTagChangeNumber, PidTagMessageFlags with the
        read bit, PidTagMessageSize, PidTagAssociated, entry ids, source keys ...);
        with ``wanted``, only the computed properties among those tags."""
        ...


@dataclass
class BackendContext:
    """Everything a backend call may use.

    ``conn`` is the open index transaction (commit/rollback belong to the store).
    ``store``/``user_id``/``mailbox_guid``/``username`` identify the mailbox.
    """

    conn: sa.Connection
    store: StoreId
    user_id: UserId | None
    mailbox_guid: str
    username: str
    blobs: BlobStore
    index: IndexView


class Backend(abc.ABC):
    """Base class of every backend. Subclasses set :attr:`name` (the URI scheme)."""

    name: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    reads_blobs_on_write: ClassVar[bool] = True
    """False when :meth:`create_message` only records blob references without reading
    them (``sql``): the store then writes a new message's MIME original in parallel
    with the backend call. Backends that read the blob (maildir writes it out) keep
    True and always find it complete."""
    single_location: ClassVar[bool] = False
    """True when every URI of this scheme is the same storage (``sql:``): a folder
    cannot be moved between two URIs of such a backend."""

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        """``options`` is the backend's table from ``[mapistore.backend_options.<name>]``."""
        self.options: Mapping[str, Any] = dict(options or {})

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}:>"

    # --- set-up --------------------------------------------------------------------

    def check_uri(self, uri: BackendUri) -> None:
        """Raise :class:`storage.mapistore.errors.BackendNotAvailable` when ``uri``
        cannot work (wrong scheme, unwritable path, missing tool ...).

        Called on load for every configured URI (templates not yet expanded: a
        ``{user}`` placeholder may still be in the path) and before a folder is
        placed on a URI. The default accepts any URI of this backend's scheme.
        """
        if uri.scheme != self.name:
            from storage.mapistore.errors import BackendNotAvailable

            raise BackendNotAvailable("mapistore", f"{uri} is not a {self.name}: URI")

    # --- folders (the index owns the tree; backends keep storage per folder) -------

    @abc.abstractmethod
    def create_folder(self, ctx: BackendContext, folder: FolderRef) -> str:
        """Prepare storage for a new folder; return its key (``folder.key`` later).

        ``folder.key`` is ``""`` on this call. Idempotent: called again for the same
        folder (retry, repair) it must succeed and return the same key.
        """

    @abc.abstractmethod
    def delete_folder(self, ctx: BackendContext, folder: FolderRef) -> None:
        """Remove the folder's storage *including any content still in it*.

        On a normal folder deletion the store has already deleted every message
        through :meth:`delete_message`; after a folder moved to another backend
        (``groupware mailbox move-folder``) this call removes the old copy wholesale.
        A missing folder is not an error."""

    def move_folder(self, ctx: BackendContext, folder: FolderRef, new_parent: FolderRef,
                    new_name: str) -> str:
        """The folder got a new parent and/or name in the index; return its (new) key.

        Default: nothing to do, the key stays (the sql backend does not care about
        names; a maildir backend renames its directory here).
        """
        return folder.key

    # --- messages ---------------------------------------------------------------------

    @abc.abstractmethod
    def create_message(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef,
                       content: MessageContent) -> WriteResult:
        """Store a new message (``msg.key`` is ``""``); return its key and version."""

    @abc.abstractmethod
    def read_message(self, ctx: BackendContext, folder: FolderRef,
                     msg: MessageRef) -> MessageContent:
        """Everything stored for the message (properties, recipients, attachments with
        embedded messages, MIME reference). NotFound when it is gone."""

    @abc.abstractmethod
    def write_message(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef,
                      content: MessageContent) -> WriteResult:
        """Replace the stored message with ``content`` (MAPI SaveChangesMessage). The
        store passes the complete new content: properties, recipients, attachments and
        the MIME reference (None when the MAPI content changed and the original no
        longer matches)."""

    @abc.abstractmethod
    def delete_message(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef) -> None:
        """Remove the message's content for good (hard delete). Soft deletion is an
        index matter and never reaches the backend. A missing message is not an error.

        ``repair`` also calls it for orphans that ``scan_folder`` reported and the
        index does not know: then ``msg.mid`` is 0 and only ``msg.key`` identifies
        the object."""

    def read_properties(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef,
                        wanted: Sequence[PropTag] | None = None) -> Props:
        """The message's own properties (all of them when ``wanted`` is None; else at
        least the wanted ones it has — more is allowed). Default: ``read_message``."""
        props = self.read_message(ctx, folder, msg).props
        if wanted is None:
            return props
        return _select(props, wanted)

    def read_properties_many(self, ctx: BackendContext, folder: FolderRef,
                             msgs: Sequence[MessageRef],
                             wanted: Sequence[PropTag] | None,
                             ) -> Iterator[tuple[MessageRef, Props]]:
        """:meth:`read_properties` for a batch (tables read this way). Messages that
        vanished are skipped. Default: one call per message."""
        for msg in msgs:
            try:
                yield msg, self.read_properties(ctx, folder, msg, wanted)
            except LookupError:
                continue
            except Exception as exc:
                from groupware.errors import NotFound

                if isinstance(exc, NotFound):
                    continue
                raise

    def set_properties(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef,
                       props: Mapping[PropTag, Any], delete: Iterable[PropTag]) -> WriteResult:
        """Set and delete properties of the message itself (recipients and
        attachments unchanged). Default: read, change, :meth:`write_message`."""
        content = self.read_message(ctx, folder, msg)
        for tag in delete:
            content.props.pop(tag, None)
        content.props.update(props)
        return self.write_message(ctx, folder, msg, content)

    def move_message(self, ctx: BackendContext, source: FolderRef, target: FolderRef,
                     msg: MessageRef, new: MessageRef) -> WriteResult:
        """Move a message between two folders of this backend. ``new`` carries the
        message's new MID and UID in ``target`` (``new.key`` is ``""``). Default:
        read, create in ``target``, delete from ``source``."""
        content = self.read_message(ctx, source, msg)
        result = self.create_message(ctx, target, new, content)
        self.delete_message(ctx, source, msg)
        return result

    def copy_message(self, ctx: BackendContext, source: FolderRef, target: FolderRef,
                     msg: MessageRef, new: MessageRef) -> WriteResult:
        """Copy a message (``new`` is the copy's identity). Default: read + create."""
        return self.create_message(ctx, target, new, self.read_message(ctx, source, msg))

    def open_mime(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef) -> BinaryIO | None:
        """The byte-exact RFC 5322 original, or None when the message has none.
        Default: the blob of ``read_message(...).mime``."""
        ref = self.read_message(ctx, folder, msg).mime
        return None if ref is None else ctx.blobs.open(ref)

    def mime_sizes(self, ctx: BackendContext, folder: FolderRef,
                   msgs: Sequence[MessageRef]) -> Iterator[tuple[MessageRef, int | None]]:
        """The byte length of each message's MIME original (None: it has none), for
        IMAP's RFC822.SIZE without reading the messages. Messages that vanished are
        skipped. Default: open each original and seek to its end."""
        for msg in msgs:
            try:
                fh = self.open_mime(ctx, folder, msg)
            except LookupError:
                continue
            except Exception as exc:
                from groupware.errors import NotFound

                if isinstance(exc, NotFound):
                    continue
                raise
            if fh is None:
                yield msg, None
                continue
            with fh:
                yield msg, fh.seek(0, 2)

    def set_read_state(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef,
                       read: bool) -> WriteResult | None:
        """The owner's read state changed in the index (it stays authoritative).
        Backends that show read state (maildir ``S``) mirror it and return the new
        key/version; default: nothing to do (None)."""
        return None

    # --- tables --------------------------------------------------------------------

    def query_table(self, ctx: BackendContext, folder: FolderRef,
                    query: TableQuery) -> list[TableRow]:
        """The rows of a contents table window.

        Rows hold the index-computed properties merged in (``ctx.index.row``), are
        filtered by ``query.restriction``, ordered by ``query.sort`` then by creation
        order (the MID's global counter), and
        cut to ``query.offset``/``query.limit``. Default: stream every message of the
        folder, read the needed properties in batches, evaluate in Python and keep
        only ``offset + limit`` rows in a heap, so memory does not grow with the
        folder. Raises InvalidRestriction for restrictions it cannot evaluate.
        """
        selected = self._naive_rows(ctx, folder, query)
        window = _window(selected, query)
        return [TableRow(mid, project_row(row, query.columns)) for mid, row in window]

    def count_rows(self, ctx: BackendContext, folder: FolderRef, query: TableQuery) -> int:
        """Number of rows :meth:`query_table` would return without offset/limit."""
        return sum(1 for _ in self._naive_rows(ctx, folder, query))

    def _naive_rows(self, ctx: BackendContext, folder: FolderRef,
                    query: TableQuery) -> Iterator[tuple[MessageId, dict[PropTag, Value]]]:
        wanted = needed_tags(query)
        evaluator = Evaluator(query.restriction)
        messages = ctx.index.messages(folder, associated=query.associated,
                                      soft_deleted=query.soft_deleted)
        for batch in _batched(messages, NAIVE_BATCH):
            by_mid = {m.ref.mid: m for m in batch}
            refs = [m.ref for m in batch]
            backend_wanted = [t for t in wanted if t not in tags.COMPUTED_MESSAGE_TAGS]
            for ref, props in self.read_properties_many(ctx, folder, refs, backend_wanted):
                indexed = by_mid[ref.mid]
                row = ctx.index.row(folder, indexed, props, wanted)
                if query.restriction is not None:
                    evaluator.subobjects = self._subobjects(ctx, folder, ref)
                    try:
                        if not evaluator.matches(resolve_for_evaluation(ctx.blobs, row)):
                            continue
                    except UnsupportedRestriction as exc:
                        raise InvalidRestriction(str(exc)) from exc
                yield ref.mid, row

    def _subobjects(self, ctx: BackendContext, folder: FolderRef,
                    msg: MessageRef) -> Callable[[int], Iterable[Row]]:
        cache: dict[str, MessageContent] = {}

        def rows(subobject: int) -> Iterable[Row]:
            if "c" not in cache:
                cache["c"] = self.read_message(ctx, folder, msg)
            content = cache["c"]
            if subobject == tags.MESSAGE_RECIPIENTS:
                return [resolve_for_evaluation(ctx.blobs, r) for r in content.recipients]
            if subobject == tags.MESSAGE_ATTACHMENTS:
                return [resolve_for_evaluation(ctx.blobs, a.props) for a in content.attachments]
            return []

        return rows

    # --- synchronisation and repair -------------------------------------------------

    def scan_folder(self, ctx: BackendContext, folder: FolderRef) -> Iterator[ScanEntry]:
        """Every object the backend holds for the folder, with its current version.

        The store compares this with the index: unknown keys are new objects (made by
        another tool, or orphans of an interrupted write), known keys with another
        version were changed outside, keys missing here were deleted outside. Used by
        ``MapiStore.rescan_folder`` (for backends with
        :attr:`Capability.EXTERNAL_CHANGES`) and by ``repair`` for every backend.
        There is no default: the base raises NotImplementedError, which repair reports.
        """
        raise NotImplementedError(f"{self.name} backend cannot list its objects")

    def referenced_blobs(self, ctx: BackendContext, folder: FolderRef) -> Iterator[BlobRef]:
        """Every blob reference the folder's stored content holds (MIME originals,
        BlobValue properties, attachment data), for blob garbage collection. A
        backend that stores references MUST override this (else their blobs would be
        collected); the default is for backends that resolve blobs on write."""
        return iter(())

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release resources (file handles, connections) at shutdown."""


# --- helpers shared by the naive defaults and by backends ----------------------------


def _select(props: Props, wanted: Sequence[PropTag]) -> Props:
    out: Props = {}
    for tag in wanted:
        base = tag & ~0x2000
        if base in props:
            out[PropTag(base)] = props[PropTag(base)]
    return out


def _batched(items: Iterable[IndexedMessage], n: int) -> Iterator[list[IndexedMessage]]:
    it = iter(items)
    while batch := list(itertools.islice(it, n)):
        yield batch


def project_row(row: Mapping[PropTag, Value], columns: Sequence[PropTag]) -> dict[PropTag, Value]:
    out: dict[PropTag, Value] = {}
    for tag in columns:
        base = PropTag(tag & ~0x2000)
        if base in row:
            out[tag] = row[base]
        elif tag_type(base) == PropType.UNSPECIFIED:
            for have, value in row.items():
                if tag_id(have) == tag_id(base):
                    out[tag] = value
                    break
    return out


def _window(rows: Iterator[tuple[MessageId, dict[PropTag, Value]]],
            query: TableQuery) -> list[tuple[MessageId, dict[PropTag, Value]]]:
    """Sort and cut without holding more than ``offset + limit`` rows.

    ``rows`` come in creation (UID) order; both ``heapq.nsmallest`` and
    ``sorted`` are stable, so rows equal on every sort column stay in that order.
    """
    if not query.sort:
        stop = None if query.limit is None else query.offset + query.limit
        return list(itertools.islice(rows, query.offset, stop))
    key_of = sort_key_function(query.sort)

    def key(item: tuple[MessageId, dict[PropTag, Value]]) -> Any:
        return key_of(cast(Row, item[1]))

    if query.limit is not None:
        return heapq.nsmallest(query.offset + query.limit, rows, key=key)[query.offset:]
    return sorted(rows, key=key)[query.offset:]


def restriction_tags(node: Restriction | None) -> set[PropTag]:
    """Every property tag a restriction looks at (sub-object restrictions excluded)."""
    found: set[PropTag] = set()

    def walk(n: Restriction | None) -> None:
        if n is None:
            return
        if isinstance(n, AndRestriction | OrRestriction):
            for c in n.restrictions:
                walk(c)
        elif isinstance(n, NotRestriction | CountRestriction | CommentRestriction):
            walk(n.restriction)
        elif isinstance(n, ContentRestriction | PropertyRestriction | BitmaskRestriction
                        | SizeRestriction | ExistRestriction):
            found.add(PropTag(n.tag & ~0x2000))
        elif isinstance(n, ComparePropertiesRestriction):
            found.add(PropTag(n.tag1 & ~0x2000))
            found.add(PropTag(n.tag2 & ~0x2000))
        elif isinstance(n, SubObjectRestriction):
            pass

    walk(node)
    return found


def needed_tags(query: TableQuery) -> list[PropTag]:
    """Columns, restriction and sort tags of a query, de-duplicated, with String8
    tags also asked as String (the store keeps strings as PtypString)."""
    wanted: dict[PropTag, None] = {}
    for tag in (*query.columns, *restriction_tags(query.restriction),
                *(o.tag for o in query.sort)):
        base = PropTag(tag & ~0x2000)
        wanted[base] = None
        if tag_type(base) & 0x0FFF == PropType.STRING8:
            wanted[PropTag(base ^ PropType.STRING8 ^ PropType.STRING)] = None
    return list(wanted)


def resolve_for_evaluation(blobs: BlobStore, row: Mapping[PropTag, Any]) -> dict[int, Any]:
    """A row with blob-stored values read back, for restriction evaluation."""
    out: dict[int, Any] = {int(k): v for k, v in row.items()}
    for tag, value in row.items():
        if isinstance(value, BlobValue):
            out[tag] = resolve_blob_value(blobs, tag, value)
    return out


def resolve_blob_value(blobs: BlobStore, tag: int, value: BlobValue) -> str | bytes:
    """The real value of a :class:`BlobValue` stored under ``tag``."""
    data = blobs.get(value.ref)
    if tag_type(tag) in (PropType.STRING, PropType.STRING8):
        return data.decode("utf-8")
    return data
