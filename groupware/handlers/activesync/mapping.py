"""Between the converters' message model and the store's property bags.

:mod:`groupware.convert` keys named properties by (property set, name) while the store
keys every property by a 32-bit tag, named ones by per-store ids 0x8000+. This module
maps both ways, with a per-store cache of the name <-> id table, so ActiveSync can
hand converted MIME, iCalendar and vCard content to the store and read it back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from groupware.convert import mime_to_mapi
from groupware.convert.model import Attachment, Message, NamedProp, Props, Recipient
from groupware.mapi.proptypes import PropType
from groupware.types import PropTag, StoreId
from storage.mapistore.info import NamedProperty
from storage.mapistore.model import AttachmentContent, MessageContent
from storage.mapistore.store import MapiStore

FIRST_NAMED = 0x8000


class NameMap:
    """Named property <-> tag for one store, cached (the mapping never changes)."""

    def __init__(self, store: MapiStore, store_id: StoreId) -> None:
        self._store = store
        self._store_id = store_id
        self._ids: dict[tuple[Any, int | str], int] = {}
        self._names: dict[int, NamedProperty] = {}
        self._lock = asyncio.Lock()

    async def ids_for(self, names: Iterable[NamedProp], *, create: bool = True
                      ) -> dict[NamedProp, int | None]:
        wanted = [n for n in set(names) if (n.guid, n.name) not in self._ids]
        if wanted:
            async with self._lock:
                wanted = [n for n in wanted if (n.guid, n.name) not in self._ids]
                if wanted:
                    found = await self._store.get_ids_from_names(
                        self._store_id, [_named(n) for n in wanted], create=create)
                    for name, pid in zip(wanted, found, strict=True):
                        if pid is not None:
                            self._ids[(name.guid, name.name)] = pid
                            self._names[pid] = _named(name)
        return {n: self._ids.get((n.guid, n.name)) for n in names}

    async def tag(self, name: NamedProp, *, create: bool = False) -> PropTag | None:
        pid = (await self.ids_for([name], create=create))[name]
        return None if pid is None else PropTag((pid << 16) | int(name.kind))

    async def names_for(self, ids: Iterable[int]) -> dict[int, NamedProperty | None]:
        missing = sorted({i for i in ids if i >= FIRST_NAMED and i not in self._names})
        if missing:
            found = await self._store.get_names_from_ids(self._store_id, missing)
            for pid, named in zip(missing, found, strict=True):
                if named is not None:
                    self._names[pid] = named
                    ident: int | str = named.lid if named.lid is not None else str(named.name)
                    self._ids[(named.guid, ident)] = pid
        return {i: self._names.get(i) for i in ids}

    # --- whole messages --------------------------------------------------------------

    async def to_content(self, msg: Message) -> MessageContent:
        """Converter model -> store content (named properties get ids, created)."""
        names = _collect_names(msg)
        ids = await self.ids_for(names) if names else {}
        return _content(msg, ids)

    async def to_props(self, props: Props) -> dict[PropTag, Any]:
        names = [k for k in props if isinstance(k, NamedProp)]
        ids = await self.ids_for(names) if names else {}
        return _props(props, ids)

    async def to_message(self, content: MessageContent) -> Message:
        """Store content -> converter model (ids 0x8000+ become named properties)."""
        ids: set[int] = set()
        _collect_ids(content, ids)
        names = await self.names_for(ids) if ids else {}
        return _message(content, names)


def _named(n: NamedProp) -> NamedProperty:
    if isinstance(n.name, int):
        return NamedProperty(n.guid, lid=n.name)
    return NamedProperty(n.guid, name=n.name)


def _collect_names(msg: Message) -> set[NamedProp]:
    out = {k for k in msg.props if isinstance(k, NamedProp)}
    for r in msg.recipients:
        out.update(k for k in r.props if isinstance(k, NamedProp))
    for a in msg.attachments:
        out.update(k for k in a.props if isinstance(k, NamedProp))
        if a.embedded is not None:
            out |= _collect_names(a.embedded)
    return out


def _props(props: Props, ids: dict[NamedProp, int | None]) -> dict[PropTag, Any]:
    out: dict[PropTag, Any] = {}
    for key, value in props.items():
        if isinstance(key, NamedProp):
            pid = ids.get(key)
            if pid is None or value is None:
                continue
            out[PropTag((pid << 16) | int(key.kind))] = value
        elif value is not None:
            out[PropTag(key)] = value
    return out


def _content(msg: Message, ids: dict[NamedProp, int | None]) -> MessageContent:
    return MessageContent(
        _props(msg.props, ids),
        [_props(r.props, ids) for r in msg.recipients],
        [AttachmentContent(_props(a.props, ids),
                           None if a.embedded is None else _content(a.embedded, ids))
         for a in msg.attachments])


def _collect_ids(content: MessageContent, out: set[int]) -> None:
    for bag in (content.props, *content.recipients):
        out.update(int(t) >> 16 for t in bag if int(t) >> 16 >= FIRST_NAMED)
    for att in content.attachments:
        out.update(int(t) >> 16 for t in att.props if int(t) >> 16 >= FIRST_NAMED)
        if att.embedded is not None:
            _collect_ids(att.embedded, out)


def _unprops(bag: dict[PropTag, Any], names: dict[int, NamedProperty | None]) -> Props:
    out: Props = {}
    for tag, value in bag.items():
        pid = int(tag) >> 16
        if pid >= FIRST_NAMED:
            named = names.get(pid)
            if named is None:
                continue
            key: Any = NamedProp(named.guid, named.lid if named.lid is not None else
                                 str(named.name), PropType(int(tag) & 0xFFFF))
            out[key] = value
        else:
            out[PropTag(tag)] = value
    return out


def _message(content: MessageContent, names: dict[int, NamedProperty | None]) -> Message:
    return Message(
        _unprops(content.props, names),
        [Recipient(_unprops(r, names)) for r in content.recipients],
        [Attachment(_unprops(a.props, names),
                    None if a.embedded is None else _message(a.embedded, names))
         for a in content.attachments])


async def content_from_mime(names: NameMap, raw: bytes) -> MessageContent:
    """An RFC 5322 message as store content (the original kept by the caller)."""
    msg = await asyncio.to_thread(mime_to_mapi, raw)
    return await names.to_content(msg)
