"""Object ids: FID/MID/CN, GLOBCNT, Global Identifier and LongTermID (MS-OXCDATA 2.2.1).

On the wire a Folder ID or Message ID (MS-OXCDATA 2.2.1.1, 2.2.1.2) is 8 bytes:
ReplicaId (2 bytes, little-endian) then GlobalCounter (6 bytes, **big-endian**,
MS-OXCFXICS 2.2.2.5 GLOBCNT). Exchange (and this server) keep such an id as the
64-bit integer those 8 bytes make when read little-endian, so ``id_to_bytes`` is a
plain ``to_bytes(8, "little")``. A consequence worth knowing: numeric order of the
packed integers is *not* the order of their counters; compare
:func:`split_id` results (or GLOBCNTs) when order matters.

A change number (CN, MS-OXCFXICS 2.2.2.1) has the same layout with the store's
replica id. A Global Identifier (GID, 2.2.1.3) replaces the 2-byte replica id with
the 16-byte replica GUID (22 bytes); a LongTermID (2.2.1.3.1) is a GID plus two
zero bytes (24 bytes).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from groupware.mapi.buffer import Reader, Writer
from groupware.mapi.errors import MapiFormatError

GLOBCNT_MAX = (1 << 48) - 1
REPLID_MAX = 0xFFFF


def globcnt_to_bytes(globcnt: int) -> bytes:
    """GLOBCNT (MS-OXCFXICS 2.2.2.5): 6 bytes, most significant first."""
    if not 0 <= globcnt <= GLOBCNT_MAX:
        raise MapiFormatError(f"GLOBCNT {globcnt} outside 48 bits")
    return globcnt.to_bytes(6, "big")


def globcnt_from_bytes(raw: bytes) -> int:
    if len(raw) != 6:
        raise MapiFormatError(f"GLOBCNT must be 6 bytes, not {len(raw)}")
    return int.from_bytes(raw, "big")


def make_id(replid: int, globcnt: int) -> int:
    """Pack a replica id and a global counter into the 64-bit id Exchange uses."""
    if not 0 <= replid <= REPLID_MAX:
        raise MapiFormatError(f"replica id {replid} outside 16 bits")
    return int.from_bytes(replid.to_bytes(2, "little") + globcnt_to_bytes(globcnt), "little")


def split_id(value: int) -> tuple[int, int]:
    """(replica id, global counter) of a packed FID/MID/CN."""
    raw = id_to_bytes(value)
    return int.from_bytes(raw[:2], "little"), int.from_bytes(raw[2:], "big")


def id_to_bytes(value: int) -> bytes:
    """The 8 wire bytes of a packed id (MS-OXCDATA 2.2.1.1)."""
    if not 0 <= value < (1 << 64):
        raise MapiFormatError(f"id {value} outside 64 bits")
    return value.to_bytes(8, "little")


def id_from_bytes(raw: bytes) -> int:
    if len(raw) != 8:
        raise MapiFormatError(f"a FID/MID is 8 bytes, not {len(raw)}")
    return int.from_bytes(raw, "little")


def replid_of(value: int) -> int:
    return split_id(value)[0]


def globcnt_of(value: int) -> int:
    return split_id(value)[1]


@dataclass(frozen=True, order=True)
class GlobalId:
    """Global Identifier (MS-OXCDATA 2.2.1.3): DatabaseGuid (16) + GlobalCounter (6)."""

    guid: uuid.UUID
    globcnt: int

    SIZE = 22

    def __post_init__(self) -> None:
        if not 0 <= self.globcnt <= GLOBCNT_MAX:
            raise MapiFormatError(f"GLOBCNT {self.globcnt} outside 48 bits")

    def to_bytes(self) -> bytes:
        return self.guid.bytes_le + globcnt_to_bytes(self.globcnt)

    @classmethod
    def from_bytes(cls, raw: bytes) -> GlobalId:
        if len(raw) != cls.SIZE:
            raise MapiFormatError(f"a GID is {cls.SIZE} bytes, not {len(raw)}")
        return cls(uuid.UUID(bytes_le=raw[:16]), globcnt_from_bytes(raw[16:]))

    def encode(self, w: Writer) -> None:
        w.raw(self.to_bytes())

    @classmethod
    def decode(cls, r: Reader) -> GlobalId:
        return cls.from_bytes(r.take(cls.SIZE, "Global Identifier"))


@dataclass(frozen=True, order=True)
class LongTermId:
    """LongTermID (MS-OXCDATA 2.2.1.3.1): a GID plus a 2-byte zero Pad, 24 bytes."""

    guid: uuid.UUID
    globcnt: int

    SIZE = 24

    def __post_init__(self) -> None:
        if not 0 <= self.globcnt <= GLOBCNT_MAX:
            raise MapiFormatError(f"GLOBCNT {self.globcnt} outside 48 bits")

    @property
    def gid(self) -> GlobalId:
        return GlobalId(self.guid, self.globcnt)

    def to_bytes(self) -> bytes:
        return self.gid.to_bytes() + b"\x00\x00"

    @classmethod
    def from_bytes(cls, raw: bytes) -> LongTermId:
        """Parse 24 bytes; the Pad is ignored on input, as Exchange does."""
        if len(raw) != cls.SIZE:
            raise MapiFormatError(f"a LongTermID is {cls.SIZE} bytes, not {len(raw)}")
        gid = GlobalId.from_bytes(raw[:22])
        return cls(gid.guid, gid.globcnt)

    def encode(self, w: Writer) -> None:
        w.raw(self.to_bytes())

    @classmethod
    def decode(cls, r: Reader) -> LongTermId:
        return cls.from_bytes(r.take(cls.SIZE, "LongTermID"))


class ReplicaMap:
    """The per-store mapping between 16-bit replica ids and replica GUIDs.

    Replica id 1 is the store's own replica (MS-OXCSTOR 2.2.1.1.3 RopLogon returns
    it with the GUID); RopGetLocalReplicaIds and ICS add others. This class only
    holds the mapping; the index persists it.
    """

    def __init__(self, mapping: Mapping[int, uuid.UUID] | None = None) -> None:
        self._by_id: dict[int, uuid.UUID] = {}
        self._by_guid: dict[uuid.UUID, int] = {}
        for replid, guid in (mapping or {}).items():
            self.add(replid, guid)

    def add(self, replid: int, guid: uuid.UUID) -> None:
        if not 0 <= replid <= REPLID_MAX:
            raise MapiFormatError(f"replica id {replid} outside 16 bits")
        if self._by_id.get(replid, guid) != guid or self._by_guid.get(guid, replid) != replid:
            raise MapiFormatError(f"replica id {replid} / {guid} conflicts with the map")
        self._by_id[replid] = guid
        self._by_guid[guid] = replid

    def guid(self, replid: int) -> uuid.UUID:
        try:
            return self._by_id[replid]
        except KeyError:
            raise MapiFormatError(f"unknown replica id {replid}") from None

    def replid(self, guid: uuid.UUID) -> int:
        try:
            return self._by_guid[guid]
        except KeyError:
            raise MapiFormatError(f"unknown replica GUID {guid}") from None

    def to_long_term(self, value: int) -> LongTermId:
        """RopLongTermIdFromId (MS-OXCROPS 2.2.3.8) for a packed FID/MID."""
        replid, globcnt = split_id(value)
        return LongTermId(self.guid(replid), globcnt)

    def from_long_term(self, ltid: LongTermId | GlobalId) -> int:
        """RopIdFromLongTermId (MS-OXCROPS 2.2.3.9)."""
        return make_id(self.replid(ltid.guid), ltid.globcnt)

    def to_gid(self, value: int) -> GlobalId:
        replid, globcnt = split_id(value)
        return GlobalId(self.guid(replid), globcnt)
