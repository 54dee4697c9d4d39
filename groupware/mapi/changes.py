"""Change keys and predecessor change lists (MS-OXCFXICS 2.2.2.2-2.2.2.3).

Every version of an object carries a change key (PidTagChangeKey): an XID naming
the replica that made the change and the change number there. Its predecessor
change list (PidTagPredecessorChangeList, PCL) holds, per replica, the newest
change that version already includes. Comparing two PCLs tells whether one version
supersedes the other or whether they conflict (MS-OXCFXICS 3.1.5.6, "conflict
detection"): A includes B when, for every replica B knows, A knows a change at
least as new.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from groupware.mapi.buffer import Reader, Writer
from groupware.mapi.errors import MapiFormatError
from groupware.mapi.ids import globcnt_to_bytes

MAX_PCL_ENTRIES = 4096
"""A PCL names one entry per replica that touched the object; far fewer in practice."""


@dataclass(frozen=True)
class Xid:
    """XID (MS-OXCFXICS 2.2.2.2): NamespaceGuid (16 bytes) + LocalId (1-8 bytes).

    LocalId is big-endian (for change keys it is the 6-byte GLOBCNT of the CN).
    """

    namespace: uuid.UUID
    local_id: bytes

    def __post_init__(self) -> None:
        if not 1 <= len(self.local_id) <= 8:
            raise MapiFormatError(f"XID LocalId must be 1-8 bytes, not {len(self.local_id)}")

    @property
    def counter(self) -> int:
        return int.from_bytes(self.local_id, "big")

    def to_bytes(self) -> bytes:
        return self.namespace.bytes_le + self.local_id

    @classmethod
    def from_bytes(cls, raw: bytes) -> Xid:
        if not 17 <= len(raw) <= 24:
            raise MapiFormatError(f"an XID is 17-24 bytes, not {len(raw)}")
        return cls(uuid.UUID(bytes_le=raw[:16]), raw[16:])


def change_key(replica_guid: uuid.UUID, cn_globcnt: int) -> Xid:
    """The 22-byte change key for change ``cn_globcnt`` made on ``replica_guid``."""
    return Xid(replica_guid, globcnt_to_bytes(cn_globcnt))


class Relation(enum.Enum):
    """How one version relates to another, by their PCLs."""

    EQUAL = "equal"
    NEWER = "newer"  # the first includes the second and more
    OLDER = "older"  # the second includes the first and more
    CONFLICT = "conflict"  # each has changes the other lacks


class PredecessorChangeList:
    """A PCL: per namespace GUID, the newest LocalId (MS-OXCFXICS 2.2.2.3).

    Immutable; :meth:`merge` and :meth:`with_change` return new lists.
    """

    __slots__ = ("_entries",)

    def __init__(self, xids: Iterable[Xid] = ()) -> None:
        entries: dict[uuid.UUID, Xid] = {}
        for xid in xids:
            have = entries.get(xid.namespace)
            if have is None or xid.counter > have.counter:
                entries[xid.namespace] = xid
        self._entries: Mapping[uuid.UUID, Xid] = entries

    def __iter__(self) -> Iterator[Xid]:
        return iter(sorted(self._entries.values(), key=lambda x: x.namespace.bytes_le))

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PredecessorChangeList):
            return NotImplemented
        return {k: v.counter for k, v in self._entries.items()} == {
            k: v.counter for k, v in other._entries.items()
        }

    def __hash__(self) -> int:
        return hash(frozenset((k, v.counter) for k, v in self._entries.items()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{x.namespace}:{x.counter}" for x in self)
        return f"PredecessorChangeList({inner})"

    def get(self, namespace: uuid.UUID) -> Xid | None:
        return self._entries.get(namespace)

    def includes(self, other: PredecessorChangeList | Xid) -> bool:
        """True when every change ``other`` knows is known here too."""
        xids = [other] if isinstance(other, Xid) else list(other._entries.values())
        for xid in xids:
            mine = self._entries.get(xid.namespace)
            if mine is None or mine.counter < xid.counter:
                return False
        return True

    def compare(self, other: PredecessorChangeList) -> Relation:
        mine, theirs = self.includes(other), other.includes(self)
        if mine and theirs:
            return Relation.EQUAL
        if mine:
            return Relation.NEWER
        if theirs:
            return Relation.OLDER
        return Relation.CONFLICT

    def merge(self, other: PredecessorChangeList) -> PredecessorChangeList:
        """The union, keeping the newest change per namespace (conflict resolution)."""
        return PredecessorChangeList([*self._entries.values(), *other._entries.values()])

    def with_change(self, xid: Xid) -> PredecessorChangeList:
        """This list after a new change ``xid`` (the object's new change key)."""
        return PredecessorChangeList([*self._entries.values(), xid])

    def to_bytes(self) -> bytes:
        """Serialized as SizedXid entries (XidSize byte + XID), ordered by GUID bytes."""
        w = Writer()
        for xid in self:
            raw = xid.to_bytes()
            w.u8(len(raw), "XidSize")
            w.raw(raw)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, limit: int = MAX_PCL_ENTRIES) -> PredecessorChangeList:
        r = Reader(data)
        xids: list[Xid] = []
        while not r.at_end():
            if len(xids) >= limit:
                raise MapiFormatError(f"PCL has more than {limit} entries")
            size = r.u8("XidSize")
            xids.append(Xid.from_bytes(r.take(size, "XID")))
        return cls(xids)
