"""The address book behind NSPI (MS-OXNSPI) and RFR, whatever the transport.

Both DCE/RPC (``ncacn_ip_tcp``, RPC over HTTP) and MAPI over HTTP decode their
requests into the calls of :class:`AddressBookHandler` and encode what it returns;
nothing here knows a wire format. What it owns:

* **Minimal Entry IDs.** One process-wide, append-only table maps each address-book
  object to a 32-bit MId (containers included), so an MId never changes meaning
  during a session (MS-OXNSPI 3.1.4.2: MIds are valid for the session only; ours are
  valid for the process lifetime). 0, 1 and 2 are the positioning constants and the
  GAL is container 0 (MS-OXNSPI 2.2.1.8).
* **Containers.** The GAL (every visible recipient), one container per mail domain,
  "All Groups" and, when rooms exist, "All Rooms" — the hierarchy table of
  NspiGetSpecialTable.
* **Tables and STAT.** Positioning (absolute by MId, fractional by NumPos/TotalRecs,
  Delta), explicit tables, restrictions including PR_ANR (MS-OXNSPI 3.1.4.5-3.1.4.7),
  and never more rows than the client asked for.
* **Properties** of recipients and containers (MS-OXOABK 2.2), converted to the
  property type the client asked for and to the session's code page for PtypString8.

The listing is read from the directory in full and kept for ``cache_ttl`` seconds
(stale-while-revalidate), because table walks need stable positions and a 10,000
entry GAL must be paged in well under a second per hundred rows.
"""

from __future__ import annotations

import array
import asyncio
import bisect
import codecs
import logging
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from directory.interface import Directory
from directory.model import Recipient, RecipientKind
from groupware import exchange_identity as ex
from groupware.errors import GroupwareError
from groupware.mapi import tags as T
from groupware.mapi.codes import ErrorCode
from groupware.mapi.entryids import ADDRESS_BOOK_UID, AddressBookEntryId, DisplayType
from groupware.mapi.evaluate import Evaluator, UnsupportedRestriction
from groupware.mapi.restrictions import (
    AndRestriction,
    ContentRestriction,
    ExistRestriction,
    NotRestriction,
    OrRestriction,
    PropertyRestriction,
    Restriction,
)
from groupware.types import PropTag

if TYPE_CHECKING:
    from groupware.server import GroupwareServer

logger = logging.getLogger(__name__)

User = Recipient
"""The authenticated user, under a name the protocol layer may import (protocols never
import the directory package themselves)."""

# --- NSPI numbers the handler needs (MS-OXNSPI 2.2.1) ----------------------------------
MID_BEGINNING_OF_TABLE = 0
MID_CURRENT = 1
MID_END_OF_TABLE = 2
MID_UNRESOLVED = 0
MID_AMBIGUOUS = 1
CP_WINUNICODE = 1200
CP_TELETEX = 20261
SORT_TYPE_DISPLAY_NAME = 0
SORT_TYPE_PHONETIC_DISPLAY_NAME = 3
F_ANONYMOUS_LOGIN = 0x20
F_SKIP_OBJECTS = 0x1
F_EPH_ID = 0x2
NSPI_ADDRESS_CREATION_TEMPLATES = 0x2
NSPI_UNICODE_STRINGS = 0x4
NSPI_UNICODE_PROPTYPES = 0x80000000
NSPI_VERIFY_NAMES = 0x2
F_DELETE = 0x1
MAX_COLUMNS = 100
MAX_EXPLICIT = 100_000
YIELD_EVERY = 256
"""Rows built between two returns to the event loop (timers and other clients run)."""
SUCCESS = 0
ERRORS_RETURNED = ErrorCode.ecWarnWithErrors  # 0x00040380

PT_UNSPECIFIED = 0x0000
PT_NULL = 0x0001
PT_LONG = 0x0003
PT_ERROR = 0x000A
PT_BOOLEAN = 0x000B
PT_OBJECT = 0x000D
PT_STRING8 = 0x001E
PT_UNICODE = 0x001F
PT_BINARY = 0x0102
PT_MV_STRING8 = 0x101E
PT_MV_UNICODE = 0x101F
PT_MV_BINARY = 0x1102

# MAPI object types (PidTagObjectType) and container flags (PidTagContainerFlags).
MAPI_ABCONT = 4
MAPI_MAILUSER = 6
MAPI_DISTLIST = 8
AB_RECIPIENTS = 0x1
AB_SUBCONTAINERS = 0x2
AB_UNMODIFIABLE = 0x8
# PidTagDisplayTypeEx values for resources (MS-OXOABK 2.2.3.11).
DT_ROOM = 0x07
DT_EQUIPMENT = 0x08

PID_IS_MEMBER_OF_DL = 0x8008
PID_MAILBOX_GUID = 0x8C73
PID_SEND_RICH_INFO = 0x3A40
PS_MAPI = uuid.UUID("00020328-0000-0000-c000-000000000046")
"""PS_MAPI (MS-OXPROPS 1.3.2): the set that names ordinary property ids."""

GAL_KEY = "container:gal"
EPHEMERAL_ID_TYPE = 0x87

PropValue = tuple[int, Any]
Row = list[PropValue]


class NspiError(GroupwareError):
    """An NSPI return value other than Success; the transport puts ``status`` on the wire."""

    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message or f"NSPI error 0x{status:08X}")
        self.status = status


@dataclass
class Stat:
    """STAT (MS-OXNSPI 2.2.8): a position in a table and the session's locale."""

    sort_type: int = 0
    container_id: int = 0
    current_rec: int = 0
    delta: int = 0
    num_pos: int = 0
    total_recs: int = 0
    code_page: int = 0
    template_locale: int = 0
    sort_locale: int = 0

    @classmethod
    def from_tuple(cls, values: Sequence[int]) -> Stat:
        v = [int(x) for x in values]
        delta = v[3] - (1 << 32) if v[3] & 0x80000000 else v[3]
        return cls(v[0], v[1], v[2], delta, v[4], v[5], v[6], v[7], v[8])

    def as_tuple(self) -> tuple[int, int, int, int, int, int, int, int, int]:
        return (self.sort_type, self.container_id, self.current_rec, self.delta & 0xFFFFFFFF,
                self.num_pos, self.total_recs, self.code_page, self.template_locale,
                self.sort_locale)


# --- code pages --------------------------------------------------------------------------


def codec_for(code_page: int) -> str | None:
    """Python codec for a Windows code page; None for CP_WINUNICODE; raises for unknown.

    CP_TELETEX (T.61) has no Python codec; its ASCII subset is what address books
    contain, so it is treated as ASCII with ``?`` for anything else.
    """
    if code_page == CP_WINUNICODE:
        return None
    if code_page in (CP_TELETEX, 20127):
        return "ascii"
    if code_page == 65001:
        return "utf-8"
    if 28591 <= code_page <= 28606:
        name = f"iso8859_{code_page - 28590}"
    elif code_page in (20932, 51932):
        name = "euc_jp"
    elif code_page == 20866:
        name = "koi8_r"
    elif code_page == 936:
        name = "gbk"
    elif code_page == 50220:
        name = "iso2022_jp"
    else:
        name = f"cp{code_page}"
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise NspiError(ErrorCode.ecUnknownCodepage, f"code page {code_page}") from None


def encode8(text: str, code_page: int) -> bytes:
    codec = codec_for(code_page) or "utf-8"
    return text.encode(codec, errors="replace")


def decode8(raw: bytes, code_page: int) -> str:
    codec = codec_for(code_page) or "utf-8"
    return raw.decode(codec, errors="replace")


def _fold(text: str) -> str:
    """Sort/compare key: case-insensitive, accents ignored (Exchange's default collation)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _printable(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in folded if 32 <= ord(ch) < 127)


# --- objects, containers, MIds ---------------------------------------------------------


@dataclass(frozen=True)
class Container:
    """An address-book container (a row of the hierarchy table)."""

    key: str
    name: str
    guid: uuid.UUID
    members: Callable[[GalSnapshot], list[Recipient]]

    @property
    def dn(self) -> str:
        return "/" if self.key == GAL_KEY else f"/guid={self.guid.hex}"


AbObject = Recipient | Container


class MIdTable:
    """Process-wide, append-only mapping of object keys to Minimal Entry IDs."""

    FIRST = 0x00000100

    def __init__(self) -> None:
        self._by_key: dict[str, int] = {GAL_KEY: 0}
        self._by_mid: dict[int, str] = {0: GAL_KEY}
        self._next = self.FIRST

    def mid(self, key: str) -> int:
        found = self._by_key.get(key)
        if found is None:
            found = self._next
            self._next += 1
            self._by_key[key] = found
            self._by_mid[found] = key
        return found

    def key(self, mid: int) -> str | None:
        return self._by_mid.get(mid)

    def __len__(self) -> int:
        return len(self._by_key)


@dataclass
class GalSnapshot:
    """One read of the whole listing, sorted by display name (then address)."""

    loaded_at: float
    recipients: list[Recipient]
    by_id: dict[str, Recipient]
    reports: dict[str, list[str]]
    containers: list[Container]
    _tables: dict[str, list[Recipient]] = field(default_factory=dict)
    _positions: dict[str, dict[str, int]] = field(default_factory=dict)
    _anr_keys: tuple[str, ...] | None = None
    _anr_rows: array.array[int] = field(default_factory=lambda: array.array("I"))
    _by_dn: dict[str, Recipient] | None = None
    _by_guid: dict[uuid.UUID, Recipient] | None = None

    def table(self, container: Container) -> list[Recipient]:
        found = self._tables.get(container.key)
        if found is None:
            found = container.members(self)
            self._tables[container.key] = found
        return found

    def position_of(self, container: Container, recipient_id: str) -> int | None:
        positions = self._positions.get(container.key)
        if positions is None:
            positions = {r.id: i for i, r in enumerate(self.table(container))}
            self._positions[container.key] = positions
        return positions.get(recipient_id)

    def anr(self, prefix: str, limit: int) -> list[Recipient]:
        """Entries with a search key starting with ``prefix`` (lower-cased), in listing
        order. The keys are those the SQL directory indexes (whole display, given and
        surname, each of their words, every address), so a name resolves here without
        a database round trip; built on first use, about 0.1 s per 10,000 entries."""
        if self._anr_keys is None:
            pairs = sorted((key, row) for row, r in enumerate(self.recipients)
                           for key in _anr_keys(r))
            # A tuple of strings and an array: the collector stops visiting the one
            # after its first pass and never visits the other.
            self._anr_keys = tuple(k for k, _ in pairs)
            self._anr_rows = array.array("I", (row for _, row in pairs))
        start = bisect.bisect_left(self._anr_keys, prefix)
        stop = bisect.bisect_left(self._anr_keys, prefix + "\U0010ffff", lo=start)
        rows = sorted(set(self._anr_rows[start:stop]))[:limit]
        return [self.recipients[row] for row in rows]

    def by_dn(self, dn: str) -> Recipient | None:
        if self._by_dn is None:
            self._by_dn = {r.legacy_dn.lower(): r for r in self.recipients if r.legacy_dn}
        return self._by_dn.get(dn.lower())

    def by_guid(self, guid: uuid.UUID) -> Recipient | None:
        if self._by_guid is None:
            self._by_guid = {_object_guid(r): r for r in self.recipients}
        return self._by_guid.get(guid)


def _anr_keys(r: Recipient) -> set[str]:
    keys: set[str] = set()
    for value in (r.display_name, r.given_name, r.surname):
        text = (value or "").strip().lower()
        if text:
            keys.add(text)
            keys.update(text.split())
    keys.update(a.lower() for a in r.addresses)
    return keys


def _sort_key(r: Recipient) -> tuple[str, str]:
    return (_fold(r.display_name or r.address or ""), (r.address or "").lower())


def _domain_of(r: Recipient) -> str:
    return (r.address or "").rpartition("@")[2].lower()


def _build_containers(recipients: Sequence[Recipient], domains: Sequence[str]) -> list[Container]:
    def gal(s: GalSnapshot) -> list[Recipient]:
        return s.recipients

    out = [Container(GAL_KEY, "Global Address List", uuid.UUID(int=0), gal)]
    for domain in sorted(set(domains)):
        def in_domain(s: GalSnapshot, d: str = domain) -> list[Recipient]:
            return [r for r in s.recipients
                    if r.kind is not RecipientKind.CONTACT and _domain_of(r) == d]

        key = f"container:domain:{domain}"
        out.append(Container(key, f"All Users ({domain})",
                             uuid.uuid5(uuid.NAMESPACE_DNS, key), in_domain))

    def groups(s: GalSnapshot) -> list[Recipient]:
        return [r for r in s.recipients if r.kind is RecipientKind.GROUP]

    out.append(Container("container:groups", "All Groups",
                         uuid.uuid5(uuid.NAMESPACE_DNS, "container:groups"), groups))
    if any(r.kind is RecipientKind.ROOM for r in recipients):
        def rooms(s: GalSnapshot) -> list[Recipient]:
            return [r for r in s.recipients if r.kind is RecipientKind.ROOM]

        out.append(Container("container:rooms", "All Rooms",
                             uuid.uuid5(uuid.NAMESPACE_DNS, "container:rooms"), rooms))
    return out


# --- sessions ---------------------------------------------------------------------------


@dataclass
class AbSession:
    """One NSPI session (an RPC context handle or a MAPI/HTTP Bind)."""

    user: Recipient
    code_page: int
    template_locale: int
    sort_locale: int
    server_guid: uuid.UUID
    created_at: float
    last_used: float
    id: uuid.UUID = field(default_factory=uuid.uuid4)

    @property
    def unicode(self) -> bool:
        return self.code_page == CP_WINUNICODE


# --- the handler --------------------------------------------------------------------------


class AddressBookHandler:
    """NSPI operations over the directory; one instance per process."""

    def __init__(self, directory: Directory, *, organization: str, hostname: str,
                 base_url: str, server_facts: Callable[[], Any],
                 clock: Callable[[], float] = time.monotonic, cache_ttl: float = 30.0,
                 max_sessions: int = 10_000, session_idle: float = 3600.0) -> None:
        self._directory = directory
        self._organization = organization
        self._hostname = hostname
        self._base_url = base_url.rstrip("/")
        self._server_facts = server_facts
        self._clock = clock
        self.cache_ttl = cache_ttl
        self._max_sessions = max_sessions
        self._session_idle = session_idle
        self.mids = MIdTable()
        self._snapshot: GalSnapshot | None = None
        self._loading: asyncio.Task[GalSnapshot] | None = None
        self._sessions: dict[uuid.UUID, AbSession] = {}
        self._server_guid: uuid.UUID | None = None
        self._named: dict[tuple[uuid.UUID, int], int] = {}
        self._named_by_id: dict[int, tuple[uuid.UUID, int]] = {}

    @classmethod
    def from_server(cls, server: GroupwareServer) -> AddressBookHandler:
        from groupware.handlers.autodiscover import public_base_url

        cfg = server.config
        return cls(server.get_directory(), organization=cfg.server.organization,
                   hostname=cfg.server.hostname, base_url=public_base_url(cfg),
                   server_facts=server.server_facts, clock=server.clock.monotonic,
                   cache_ttl=cfg.outlook.address_book_cache_ttl)

    # -- listing -------------------------------------------------------------------------

    async def snapshot(self) -> GalSnapshot:
        """The current listing; reloaded in the background once older than cache_ttl."""
        current = self._snapshot
        now = self._clock()
        if current is not None and now - current.loaded_at < self.cache_ttl:
            return current
        if self._loading is None or self._loading.done():
            self._loading = asyncio.ensure_future(self._load())
        if current is not None:
            return current  # stale while the new one loads
        return await asyncio.shield(self._loading)

    def invalidate(self) -> None:
        """Forget the listing (after a change made through this process)."""
        if self._snapshot is not None:
            self._snapshot.loaded_at = float("-inf")

    async def _load(self) -> GalSnapshot:
        started = time.perf_counter()
        recipients: list[Recipient] = []
        offset = 0
        while True:
            page = await self._directory.list_recipients(offset=offset, limit=2000)
            recipients.extend(page.items)
            offset += len(page.items)
            if not page.items or offset >= page.total:
                break
        recipients.sort(key=_sort_key)
        by_id = {r.id: r for r in recipients}
        reports: dict[str, list[str]] = {}
        for r in recipients:
            if r.manager_id:
                reports.setdefault(r.manager_id, []).append(r.id)
        domains = await self._directory.domains()
        snap = GalSnapshot(self._clock(), recipients, by_id, reports,
                           _build_containers(recipients, domains))
        for r in recipients:
            self.mids.mid(r.id)
        for c in snap.containers:
            self.mids.mid(c.key)
        self._snapshot = snap
        logger.info("address book: %d entries loaded in %.0f ms", len(recipients),
                    (time.perf_counter() - started) * 1000)
        return snap

    async def server_guid(self) -> uuid.UUID:
        if self._server_guid is None:
            facts = await self._server_facts()
            self._server_guid = uuid.uuid5(uuid.UUID(facts["deployment_id"]), "nspi")
        return self._server_guid

    # -- sessions ------------------------------------------------------------------------

    async def bind(self, user: Recipient, flags: int, stat: Stat) -> AbSession:
        """NspiBind (MS-OXNSPI 3.1.4.1.1): a session for an authenticated user."""
        if flags & F_ANONYMOUS_LOGIN:
            raise NspiError(ErrorCode.ecFailOneProvider, "anonymous NSPI bind refused")
        if stat.code_page == CP_WINUNICODE:
            raise NspiError(ErrorCode.ecNoSupport, "CP_WINUNICODE is not a bind code page")
        codec_for(stat.code_page)
        self._expire_sessions()
        if len(self._sessions) >= self._max_sessions:
            raise NspiError(ErrorCode.ecTooManySessions, "too many NSPI sessions")
        now = self._clock()
        session = AbSession(user, stat.code_page, stat.template_locale, stat.sort_locale,
                            await self.server_guid(), now, now)
        self._sessions[session.id] = session
        await self.snapshot()
        logger.debug("nspi bind: %s (code page %d)", user.address, stat.code_page)
        return session

    def session(self, session_id: uuid.UUID, user: Recipient | None = None) -> AbSession:
        """The live session of a handle; its owner must be the caller."""
        found = self._sessions.get(session_id)
        if found is None or (user is not None and found.user.id != user.id):
            raise NspiError(ErrorCode.ecError, "unknown NSPI session")
        found.last_used = self._clock()
        return found

    def unbind(self, session_id: uuid.UUID) -> bool:
        return self._sessions.pop(session_id, None) is not None

    def _expire_sessions(self) -> None:
        limit = self._clock() - self._session_idle
        for sid in [s.id for s in self._sessions.values() if s.last_used < limit]:
            del self._sessions[sid]

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    # -- objects -------------------------------------------------------------------------

    async def _object(self, snap: GalSnapshot, mid: int) -> AbObject | None:
        key = self.mids.key(mid)
        if key is None:
            return None
        if key.startswith("container:"):
            return next((c for c in snap.containers if c.key == key), None)
        found = snap.by_id.get(key)
        if found is None:
            found = await self._directory.get(key)  # hidden entries keep working by MId
        return found

    async def _objects(self, snap: GalSnapshot, mids: Sequence[int]) -> list[AbObject | None]:
        out = []
        for index, mid in enumerate(mids):
            if index % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
            out.append(await self._object(snap, mid))
        return out

    def _container(self, snap: GalSnapshot, container_id: int) -> Container:
        key = self.mids.key(container_id)
        for c in snap.containers:
            if c.key == key:
                return c
        raise NspiError(ErrorCode.ecInvalidBookmark, f"no container {container_id}")

    # -- positioning (MS-OXNSPI 3.1.4.5) --------------------------------------------------

    def _start(self, snap: GalSnapshot, container: Container, stat: Stat) -> tuple[int, int]:
        """(row index, total) the STAT designates before Delta is applied."""
        table = snap.table(container)
        total = len(table)
        if stat.current_rec == MID_CURRENT:
            if stat.total_recs == 0:
                return 0, total
            row = int(total * stat.num_pos / stat.total_recs)
            return min(max(row, 0), total), total
        if stat.current_rec == MID_BEGINNING_OF_TABLE:
            return 0, total
        if stat.current_rec == MID_END_OF_TABLE:
            return total, total
        key = self.mids.key(stat.current_rec)
        pos = snap.position_of(container, key) if key is not None else None
        if pos is None:
            # The row vanished from a newer listing: NumPos is the best remaining hint.
            return min(stat.num_pos, total), total
        return pos, total

    def _settle(self, snap: GalSnapshot, container: Container, stat: Stat, row: int,
                total: int) -> None:
        if row >= total:
            stat.current_rec = MID_END_OF_TABLE
            row = total
        else:
            stat.current_rec = self.mids.mid(snap.table(container)[row].id)
        stat.delta = 0
        stat.num_pos = row
        stat.total_recs = total

    async def update_stat(self, session: AbSession, stat: Stat,
                          want_delta: bool) -> tuple[Stat, int | None]:
        """NspiUpdateStat (3.1.4.1.5): apply Delta, report the new position."""
        self._check_code_page(stat, session)
        snap = await self.snapshot()
        container = self._container(snap, stat.container_id)
        start, total = self._start(snap, container, stat)
        row = min(max(start + stat.delta, 0), total)
        self._settle(snap, container, stat, row, total)
        return stat, (row - start) if want_delta else None

    # -- rows ----------------------------------------------------------------------------

    async def query_rows(self, session: AbSession, stat: Stat, *, flags: int = 0,
                         explicit: Sequence[int] | None, count: int,
                         tags: Sequence[int] | None) -> tuple[Stat, list[Row]]:
        """NspiQueryRows (3.1.4.1.8): Count rows from the position, or an explicit table."""
        self._check_code_page(stat, session)
        columns = self._columns(tags, stat)
        snap = await self.snapshot()
        if explicit is not None:
            if len(explicit) > MAX_EXPLICIT:
                raise NspiError(ErrorCode.ecTableTooBig)
            objs = await self._objects(snap, explicit)
            rows = await self._rows(session, objs, list(explicit), columns, flags=flags,
                                    stat=stat)
            return stat, rows
        if count == 0:
            raise NspiError(ErrorCode.ecInvalidParam, "QueryRows of zero rows")
        container = self._container(snap, stat.container_id)
        start, total = self._start(snap, container, stat)
        begin = min(max(start + stat.delta, 0), total)
        end = min(begin + count, total)
        table = snap.table(container)[begin:end]
        mids = [self.mids.mid(r.id) for r in table]
        rows = await self._rows(session, list(table), mids, columns, flags=flags, stat=stat)
        self._settle(snap, container, stat, end, total)
        return stat, rows

    async def seek_entries(self, session: AbSession, stat: Stat, target: PropValue,
                           explicit: Sequence[int] | None,
                           tags: Sequence[int] | None) -> tuple[Stat, list[Row] | None]:
        """NspiSeekEntries (3.1.4.1.9): first row whose display name is >= the target."""
        self._check_code_page(stat, session)
        if stat.code_page == CP_WINUNICODE:
            raise NspiError(ErrorCode.ecNoSupport)
        if stat.sort_type not in (SORT_TYPE_DISPLAY_NAME, SORT_TYPE_PHONETIC_DISPLAY_NAME):
            raise NspiError(ErrorCode.ecError, f"sort type {stat.sort_type}")
        tag, value = target
        if tag >> 16 not in (0x3001, 0x8C92) or tag & 0xFFFF not in (PT_STRING8, PT_UNICODE):
            raise NspiError(ErrorCode.ecError, "SeekEntries needs PidTagDisplayName")
        text = value if isinstance(value, str) else decode8(bytes(value), stat.code_page)
        wanted = _fold(text)
        columns = self._columns(tags, stat) if tags is not None else None
        snap = await self.snapshot()
        if explicit is not None:
            objs = await self._objects(snap, explicit)
            hits = [(mid, o) for mid, o in zip(explicit, objs, strict=True)
                    if isinstance(o, Recipient) and _fold(o.display_name) >= wanted]
            stat.current_rec = hits[0][0] if hits else MID_END_OF_TABLE
            stat.num_pos = explicit.index(hits[0][0]) if hits else len(explicit)
            stat.total_recs = len(explicit)
            stat.delta = 0
            if columns is None:
                return stat, None
            return stat, await self._rows(session, [o for _, o in hits],
                                          [m for m, _ in hits], columns, flags=0, stat=stat)
        container = self._container(snap, stat.container_id)
        table = snap.table(container)
        row = next((i for i, r in enumerate(table) if _fold(r.display_name) >= wanted),
                   len(table))
        self._settle(snap, container, stat, row, len(table))
        if columns is None or row >= len(table):
            return stat, [] if columns is not None else None
        found = table[row]
        return stat, await self._rows(session, [found], [self.mids.mid(found.id)],
                                      columns, flags=0, stat=stat)

    async def get_props(self, session: AbSession, flags: int, stat: Stat,
                        tags: Sequence[int] | None) -> tuple[Row, int]:
        """NspiGetProps (3.1.4.1.7): the row of the object at stat.CurrentRec."""
        self._check_code_page(stat, session)
        snap = await self.snapshot()
        obj = await self._object(snap, stat.current_rec)
        if obj is None:
            raise NspiError(ErrorCode.ecError, f"no object with MId {stat.current_rec}")
        columns = list(tags) if tags is not None else self._default_props(obj, stat)
        if len(columns) > MAX_COLUMNS * 10:
            raise NspiError(ErrorCode.ecTableTooBig)
        rows = await self._rows(session, [obj], [stat.current_rec],
                                [self._typed(t, stat) for t in columns], flags=flags, stat=stat)
        row = rows[0]
        status = ERRORS_RETURNED if any(t & 0xFFFF == PT_ERROR for t, _ in row) else SUCCESS
        return row, status

    async def get_prop_list(self, session: AbSession, flags: int, mid: int,
                            code_page: int) -> list[int]:
        """NspiGetPropList (3.1.4.1.6): the tags the object has a value for."""
        snap = await self.snapshot()
        obj = await self._object(snap, mid)
        if obj is None:
            raise NspiError(ErrorCode.ecError, f"no object with MId {mid}")
        if isinstance(obj, Recipient):
            # A listing may omit what only a lookup reads (has_photo in LDAP).
            obj = await self._directory.get(obj.id) or obj
        unicode = code_page == CP_WINUNICODE
        out = []
        for tag in _ALL_TAGS:
            kind = tag & 0xFFFF
            if flags & F_SKIP_OBJECTS and kind == PT_OBJECT:
                continue
            native = self._value(obj, tag >> 16, mid, session, snap, kind=tag & 0xFFFF)
            if native is None:
                continue
            out.append(_narrow(tag) if not unicode else tag)
        return out

    async def query_columns(self, session: AbSession, flags: int) -> list[int]:
        """NspiQueryColumns (3.1.4.1.19): every column the server can return."""
        unicode = bool(flags & NSPI_UNICODE_PROPTYPES)
        out = []
        for tag in _ALL_TAGS:
            out.append(_narrow(tag) if not unicode else tag)
        return out

    async def compare_mids(self, session: AbSession, stat: Stat, mid1: int, mid2: int) -> int:
        """NspiCompareMIds (3.1.4.1.12): position of MId1 minus position of MId2."""
        self._check_code_page(stat, session)
        snap = await self.snapshot()
        container = self._container(snap, stat.container_id)
        positions = []
        for mid in (mid1, mid2):
            key = self.mids.key(mid)
            pos = snap.position_of(container, key) if key is not None else None
            if pos is None:
                raise NspiError(ErrorCode.ecError, f"MId {mid} is not in the table")
            positions.append(pos)
        return positions[0] - positions[1]

    async def dn_to_mid(self, session: AbSession, names: Sequence[str]) -> list[int]:
        """NspiDNToMId (3.1.4.1.13): legacyExchangeDN (or container DN) -> MId, else 0."""
        snap = await self.snapshot()
        out = []
        for dn in names:
            obj = await self._find_dn(snap, dn)
            out.append(self._mid_of(obj) if obj is not None else 0)
        return out

    async def _find_dn(self, snap: GalSnapshot, dn: str) -> AbObject | None:
        text = dn.strip()
        if not text.startswith("/"):
            return None
        for c in snap.containers:
            if c.dn.lower() == text.lower():
                return c
        lowered = text.lower()
        if lowered.startswith("/guid="):
            try:
                wanted = uuid.UUID(hex=lowered[6:])
            except ValueError:
                return None
            return snap.by_guid(wanted)
        found = snap.by_dn(lowered)
        if found is None:
            found = await self._directory.find_legacy_dn(text)
        return found

    def _mid_of(self, obj: AbObject) -> int:
        return self.mids.mid(obj.key if isinstance(obj, Container) else obj.id)

    # -- hierarchy ---------------------------------------------------------------------

    async def get_special_table(self, session: AbSession, flags: int, stat: Stat,
                                version: int) -> tuple[int, list[Row]]:
        """NspiGetSpecialTable (3.1.4.1.3): the hierarchy table (or the empty address
        creation table)."""
        snap = await self.snapshot()
        hierarchy_version = hash(tuple(c.key for c in snap.containers)) & 0x7FFFFFFF
        if flags & NSPI_ADDRESS_CREATION_TEMPLATES:
            return hierarchy_version, []
        unicode = bool(flags & NSPI_UNICODE_STRINGS)
        code_page = CP_WINUNICODE if unicode else (stat.code_page or session.code_page)
        if not unicode:
            codec_for(code_page)
        rows: list[Row] = []
        for c in snap.containers:
            entry = AddressBookEntryId(DisplayType.CONTAINER, c.dn).to_bytes()
            name = c.name
            display: PropValue = ((0x3001 << 16) | PT_UNICODE, name) if unicode else (
                (0x3001 << 16) | PT_STRING8, encode8(name, code_page))
            rows.append([
                (T.PidTagEntryId, entry),
                (T.PidTagContainerFlags, AB_RECIPIENTS | AB_UNMODIFIABLE),
                (T.PidTagDepth, 0),
                (T.PidTagAddressBookContainerId, self.mids.mid(c.key)),
                display,
                (T.PidTagAddressBookIsMaster, False),
            ])
        return hierarchy_version, rows

    async def get_template_info(self, session: AbSession, *, flags: int, kind: int,
                                dn: str | None, code_page: int, locale: int) -> Row:
        """NspiGetTemplateInfo (3.1.4.1.18): no display templates are kept here; Outlook
        then uses its built-in ones."""
        if code_page == CP_WINUNICODE:
            raise NspiError(ErrorCode.ecNoSupport)
        codec_for(code_page)
        raise NspiError(ErrorCode.ecNotFound, "no address book templates")

    # -- restrictions ------------------------------------------------------------------

    async def get_matches(self, session: AbSession, stat: Stat, *, reserved1: int = 0,
                          in_mids: Sequence[int] | None = None,
                          restriction: Restriction | None,
                          prop_name: tuple[uuid.UUID | None, int] | None = None,
                          requested: int, tags: Sequence[int] | None
                          ) -> tuple[Stat, list[int], list[Row] | None]:
        """NspiGetMatches (3.1.4.1.10): an explicit table from a restriction over a
        container, or from a link property (members, manager, reports, member-of) of
        the object at stat.CurrentRec when there is no restriction."""
        self._check_code_page(stat, session)
        columns = self._columns(tags, stat) if tags is not None else None
        snap = await self.snapshot()
        if restriction is None:
            found = await self._links(snap, stat.current_rec, reserved1)
        else:
            container = self._container(snap, stat.container_id)
            found = await self._restrict(snap, container, restriction, stat)
        if requested and len(found) > requested:
            raise NspiError(ErrorCode.ecTableTooBig,
                            f"{len(found)} matches, {requested} requested")
        mids = [self.mids.mid(r.id) for r in found]
        stat.current_rec = MID_BEGINNING_OF_TABLE
        stat.num_pos = 0
        stat.delta = 0
        stat.total_recs = len(mids)
        rows = None
        if columns is not None:
            rows = await self._rows(session, list(found), mids, columns, flags=0, stat=stat)
        return stat, mids, rows

    async def _links(self, snap: GalSnapshot, mid: int, tag: int) -> list[Recipient]:
        obj = await self._object(snap, mid)
        if not isinstance(obj, Recipient):
            raise NspiError(ErrorCode.ecError, f"no object with MId {mid}")
        pid = (tag >> 16) & 0xFFFF
        if pid == T.PidTagAddressBookMember >> 16:
            if obj.kind is not RecipientKind.GROUP:
                return []
            members = await self._directory.group_members(obj.id)
            return sorted((m for m in members if not m.hidden), key=_sort_key)
        if pid == T.PidTagAddressBookReports >> 16:
            return sorted((snap.by_id[i] for i in snap.reports.get(obj.id, ())
                           if i in snap.by_id), key=_sort_key)
        if pid == T.PidTagAddressBookManager >> 16:
            manager = snap.by_id.get(obj.manager_id or "")
            return [manager] if manager is not None else []
        if pid == PID_IS_MEMBER_OF_DL:
            return sorted((g for g in await self._directory.member_of(obj.id)
                           if not g.hidden), key=_sort_key)
        raise NspiError(ErrorCode.ecNotFound, f"property 0x{tag:08X} links to nothing")

    async def _restrict(self, snap: GalSnapshot, container: Container, node: Restriction,
                        stat: Stat) -> list[Recipient]:
        table = snap.table(container)
        anr_terms: list[str] = []
        rewritten = _rewrite_anr(node, anr_terms)
        anr_hits: list[set[str]] = []
        for term in anr_terms:
            anr_hits.append({r.id for r in await self._anr(snap, term)})
        candidates: Iterable[Recipient] = table
        required = _required_anr(rewritten)
        if required is not None:
            candidates = [r for r in table if r.id in anr_hits[required]]
        tags_used = sorted(_tags_in(rewritten))
        evaluator = Evaluator(rewritten)
        out = []
        for r in candidates:
            row: dict[int, Any] = {}
            for i, hits in enumerate(anr_hits):
                if r.id in hits:
                    row[_anr_tag(i)] = True
            for tag in tags_used:
                if tag >> 16 >= 0x7F00 and tag >> 16 < 0x7F00 + len(anr_terms):
                    continue
                value = self._mapi_value(r, tag, snap)
                if value is not None:
                    row[tag] = value
            try:
                if evaluator.matches(row):
                    out.append(r)
            except UnsupportedRestriction as exc:
                raise NspiError(ErrorCode.ecTooComplex, str(exc)) from None
        return out

    def _mapi_value(self, r: Recipient, tag: int, snap: GalSnapshot) -> Any:
        """A property in the Python form the MAPI evaluator compares (str, not bytes)."""
        native = self._value(r, tag >> 16, self.mids.mid(r.id), None, snap, kind=tag & 0xFFFF)
        if native is None:
            return None
        kind, value = native
        if kind in (PT_MV_UNICODE, PT_MV_BINARY):
            return tuple(value)
        return value

    async def resort_restriction(self, session: AbSession, stat: Stat,
                                 mids: Sequence[int]) -> tuple[Stat, list[int]]:
        """NspiResortRestriction (3.1.4.1.11): the explicit table sorted by display name."""
        self._check_code_page(stat, session)
        if len(mids) > MAX_EXPLICIT:
            raise NspiError(ErrorCode.ecTableTooBig)
        snap = await self.snapshot()
        known: list[tuple[tuple[str, str], int]] = []
        for mid in dict.fromkeys(mids):
            obj = await self._object(snap, mid)
            if isinstance(obj, Recipient):
                known.append((_sort_key(obj), mid))
        ordered = [mid for _, mid in sorted(known)]
        stat.total_recs = len(ordered)
        stat.num_pos = ordered.index(stat.current_rec) if stat.current_rec in ordered else 0
        stat.delta = 0
        return stat, ordered

    # -- ANR (MS-OXNSPI 3.1.4.7) ---------------------------------------------------------

    async def _anr(self, snap: GalSnapshot, text: str) -> list[Recipient]:
        query = text.strip()
        if not query:
            return []
        lowered = query.lower()
        if query.startswith("/"):
            obj = await self._find_dn(snap, query)
            return [obj] if isinstance(obj, Recipient) else []
        if lowered.startswith("smtp:"):
            found = await self._directory.find_address(query[5:])
            return [found] if found is not None else []
        exact = query.startswith("=")
        query = query.lstrip("=").strip()
        if not query:
            return []
        # The listing answers first; the directory only when it finds nothing (an entry
        # made since the listing was read, or a key only the directory knows).
        hits = snap.anr(query.lower(), 100) or await self._directory.anr(query, limit=100)
        if exact:
            wanted = _fold(query)
            hits = [r for r in hits if wanted in (_fold(r.display_name),
                                                  (r.address or "").lower().partition("@")[0],
                                                  (r.address or "").lower())]
        return hits

    async def resolve_names(self, session: AbSession, stat: Stat, tags: Sequence[int] | None,
                            names: Sequence[str]) -> tuple[list[int], list[Row]]:
        """NspiResolveNames[W] (3.1.4.1.16-17): one MId per name — the match,
        MID_AMBIGUOUS or MID_UNRESOLVED — and a row for each resolved name."""
        self._check_code_page(stat, session)
        columns = self._columns(tags, stat, resolve_names=True)
        snap = await self.snapshot()
        mids: list[int] = []
        found: list[Recipient] = []
        for name in names:
            hits = await self._anr(snap, name)
            if len(hits) > 1:
                wanted = _fold(name.lstrip("=").strip())
                exact = [r for r in hits if wanted in (
                    _fold(r.display_name), (r.address or "").lower(),
                    (r.address or "").lower().partition("@")[0])]
                hits = exact if len(exact) == 1 else hits
            if not hits:
                mids.append(MID_UNRESOLVED)
            elif len(hits) > 1:
                mids.append(MID_AMBIGUOUS)
            else:
                mids.append(self.mids.mid(hits[0].id))
                found.append(hits[0])
        rows = await self._rows(session, list(found), [self.mids.mid(r.id) for r in found],
                                columns, flags=0, stat=stat)
        return mids, rows

    # -- writes ------------------------------------------------------------------------

    async def mod_props(self, session: AbSession, stat: Stat, remove: Sequence[int] | None,
                        values: Sequence[PropValue]) -> None:
        """NspiModProps (3.1.4.1.14): the caller may change their own photo; certificates
        are refused until the directory can keep them."""
        snap = await self.snapshot()
        obj = await self._object(snap, stat.current_rec)
        if not isinstance(obj, Recipient):
            raise NspiError(ErrorCode.ecError, "no such object")
        if obj.id != session.user.id:
            raise NspiError(ErrorCode.ecAccessDenied, "only your own entry can be changed")
        photo_pid = T.PidTagThumbnailPhoto >> 16
        certificates = (T.PidTagUserX509Certificate >> 16,
                        T.PidTagAddressBookX509Certificate >> 16)
        photo: tuple[bytes | None] | None = None
        for tag in remove or ():
            if tag >> 16 == photo_pid:
                photo = (None,)
            elif tag >> 16 in certificates:
                raise NspiError(ErrorCode.ecNoSupport,
                                "certificates cannot be stored in this directory")
            else:
                raise NspiError(ErrorCode.ecAccessDenied, f"0x{tag:08X} is read-only")
        for tag, value in values:
            if tag >> 16 == photo_pid and tag & 0xFFFF == PT_BINARY:
                photo = (bytes(value),)
            elif tag >> 16 in certificates:
                raise NspiError(ErrorCode.ecNoSupport,
                                "certificates cannot be stored in this directory")
            else:
                raise NspiError(ErrorCode.ecAccessDenied, f"0x{tag:08X} is read-only")
        if photo is not None:
            await self._set_photo(obj, photo[0])
        self.invalidate()

    async def _set_photo(self, user: Recipient, data: bytes | None) -> None:
        if not self._directory.writable:
            raise NspiError(ErrorCode.ecNoSupport, "the directory is read-only")
        from directory.sql import SqlDirectory, set_photo_txn

        if not isinstance(self._directory, SqlDirectory):
            raise NspiError(ErrorCode.ecNoSupport, "photos are kept by the directory server")
        try:
            await self._directory.write("nspi_set_photo", set_photo_txn, user.id, data)
        except GroupwareError as exc:
            raise NspiError(ErrorCode.ecInvalidParam, str(exc)) from None

    async def mod_link_att(self, session: AbSession, flags: int, tag: int, mid: int,
                           entry_ids: Sequence[bytes]) -> None:
        """NspiModLinkAtt (3.1.4.1.15): administrators change group membership."""
        if tag >> 16 != T.PidTagAddressBookMember >> 16:
            raise NspiError(ErrorCode.ecNoSupport, f"links of 0x{tag:08X} are read-only")
        snap = await self.snapshot()
        group = await self._object(snap, mid)
        if not isinstance(group, Recipient) or group.kind is not RecipientKind.GROUP:
            raise NspiError(ErrorCode.ecNotFound, "not a group")
        if not session.user.is_admin:
            raise NspiError(ErrorCode.ecAccessDenied, "only administrators change groups")
        from directory.sql import SqlDirectory, add_member_txn, remove_member_txn

        if not isinstance(self._directory, SqlDirectory):
            raise NspiError(ErrorCode.ecNoSupport, "groups are kept by the directory server")
        for raw in entry_ids:
            member = await self._entry_id_object(snap, raw)
            if not isinstance(member, Recipient):
                raise NspiError(ErrorCode.ecNotFound, "unknown member entry id")
            fn = remove_member_txn if flags & F_DELETE else add_member_txn
            try:
                await self._directory.write("nspi_mod_link", fn, group.id, member.id)
            except GroupwareError as exc:
                raise NspiError(ErrorCode.ecInvalidParam, str(exc)) from None
        self.invalidate()

    async def _entry_id_object(self, snap: GalSnapshot, raw: bytes) -> AbObject | None:
        if len(raw) == 32 and raw[0] == EPHEMERAL_ID_TYPE:
            return await self._object(snap, int.from_bytes(raw[28:32], "little"))
        try:
            parsed = AddressBookEntryId.from_bytes(raw)
        except GroupwareError:
            return None
        return await self._find_dn(snap, parsed.x500_dn)

    # -- named properties ------------------------------------------------------------

    async def get_names_from_ids(self, session: AbSession, guid: uuid.UUID | None,
                                 tags: Sequence[int] | None
                                 ) -> tuple[list[int], list[tuple[uuid.UUID | None, int]]]:
        """NspiGetNamesFromIDs (3.1.4.1.16): ids below 0x8000 are PS_MAPI names."""
        if tags is None:
            pairs = [(pid, name) for pid, name in self._named_by_id.items()
                     if guid is None or name[0] == guid]
            return ([(pid << 16) for pid, _ in pairs],
                    [(g, lid) for _, (g, lid) in pairs])
        out_tags: list[int] = []
        names: list[tuple[uuid.UUID | None, int]] = []
        for tag in tags:
            pid = tag >> 16
            if pid < 0x8000:
                out_tags.append(tag)
                names.append((PS_MAPI, pid))
            elif pid in self._named_by_id:
                out_tags.append(tag)
                names.append(self._named_by_id[pid])
            else:
                out_tags.append((tag & 0xFFFF0000) | PT_ERROR)
                names.append((None, 0))
        return out_tags, names

    async def get_ids_from_names(self, session: AbSession, flags: int,
                                 names: Sequence[tuple[uuid.UUID | None, int]]) -> list[int]:
        """NspiGetIDsFromNames (3.1.4.1.17): new ids are assigned unless NspiVerifyNames."""
        out = []
        for guid, lid in names:
            if guid is None:
                out.append(PT_ERROR)
            elif guid == PS_MAPI and lid < 0x8000:
                out.append(lid << 16)
            elif (guid, lid) in self._named:
                out.append(self._named[(guid, lid)] << 16)
            elif flags & NSPI_VERIFY_NAMES or len(self._named) >= 0x7FFE:
                out.append(PT_ERROR)
            else:
                pid = 0x8000 + len(self._named)
                self._named[(guid, lid)] = pid
                self._named_by_id[pid] = (guid, lid)
                out.append(pid << 16)
        return out

    # -- URLs (MAPI/HTTP GetMailboxUrl / GetAddressBookUrl, RFR) -----------------------

    async def mailbox_url(self, user: Recipient, server_dn: str) -> str:
        """MS-OXCMAPIHTTP 2.2.5.18: the EMSMDB endpoint of the mailbox behind a server DN
        (``/o=../cn=Servers/cn=<guid>@<domain>``); the caller's own otherwise."""
        name = server_dn.rstrip("/").rpartition("/cn=")[2] if "/cn=" in server_dn.lower() \
            else ""
        mailbox_id = name if "@" in name else self._mailbox_id(user)
        return f"{self._base_url}/mapi/emsmdb/?MailboxId={mailbox_id}"

    async def address_book_url(self, user: Recipient) -> str:
        """MS-OXCMAPIHTTP 2.2.5.19: this endpoint, addressed by the caller's mailbox."""
        return f"{self._base_url}/mapi/nspi/?MailboxId={self._mailbox_id(user)}"

    def _mailbox_id(self, user: Recipient) -> str:
        return f"{_mailbox_guid(user)}@{_domain_of(user) or 'localhost'}"

    def nspi_server_fqdn(self) -> str:
        """RfrGetNewDSA / RfrGetFQDNFromServerDN: we are our own NSPI server."""
        return self._hostname

    async def mailbox_server_fqdn(self, server_dn: str) -> str:
        """RfrGetFQDNFromServerDN (MS-OXABREF 3.1.4.2): every mailbox is served here."""
        if not server_dn.startswith("/"):
            raise NspiError(ErrorCode.ecNotFound, "not a server DN")
        return self._hostname

    # -- row building --------------------------------------------------------------------

    def _check_code_page(self, stat: Stat, session: AbSession) -> None:
        """A STAT without a code page (0) uses the one given at bind time."""
        if stat.code_page == 0:
            stat.code_page = session.code_page
        if stat.code_page != CP_WINUNICODE:
            codec_for(stat.code_page)

    def _typed(self, tag: int, stat: Stat) -> int:
        """MS-OXNSPI 3.1.4.3: with CP_WINUNICODE, PtypString8 requests get PtypString."""
        if stat.code_page == CP_WINUNICODE:
            kind = tag & 0xFFFF
            if kind == PT_STRING8:
                return (tag & 0xFFFF0000) | PT_UNICODE
            if kind == PT_MV_STRING8:
                return (tag & 0xFFFF0000) | PT_MV_UNICODE
        return tag

    def _columns(self, tags: Sequence[int] | None, stat: Stat, *,
                 resolve_names: bool = False) -> list[int]:
        if tags is None:
            # MS-OXNSPI 3.1.4.1.8 rule 6.2: the default columns of a table.
            string8 = PT_UNICODE if stat.code_page == CP_WINUNICODE else PT_STRING8
            return [T.PidTagAddressBookContainerId, T.PidTagObjectType, T.PidTagDisplayType,
                    (0x3001 << 16) | string8, (0x3A1A << 16) | string8,
                    (0x3A18 << 16) | string8, (0x3A19 << 16) | string8]
        if len(tags) > MAX_COLUMNS:
            raise NspiError(ErrorCode.ecTableTooBig, f"{len(tags)} columns")
        return [self._typed(t, stat) for t in tags]

    def columns_for(self, tags: Sequence[int] | None, stat: Stat) -> list[int]:
        """The columns a table answer has for these requested tags (the default set
        when None), as transports that repeat the columns need them."""
        return self._columns(tags, stat)

    def _default_props(self, obj: AbObject, stat: Stat) -> list[int]:
        string8 = PT_UNICODE if stat.code_page == CP_WINUNICODE else PT_STRING8
        return [t if t & 0xFFFF != PT_UNICODE else (t & 0xFFFF0000) | string8
                for t in _ALL_TAGS if t & 0xFFFF != PT_OBJECT]

    async def _rows(self, session: AbSession, objs: Sequence[AbObject | None],
                    mids: Sequence[int], columns: Sequence[int], *, flags: int,
                    stat: Stat) -> list[Row]:
        snap = await self.snapshot()
        code_page = stat.code_page or session.code_page
        photo_pid = T.PidTagThumbnailPhoto >> 16
        want_photo = any(t >> 16 == photo_pid for t in columns)
        out: list[Row] = []
        for index, (obj, mid) in enumerate(zip(objs, mids, strict=True)):
            if index % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)  # long answers must not stall the reactor
            if obj is None:
                out.append([((t & 0xFFFF0000) | PT_ERROR, ErrorCode.ecNotFound)
                            for t in columns])
                continue
            photo: bytes | None = None
            if want_photo and isinstance(obj, Recipient) and obj.kind is not \
                    RecipientKind.GROUP:
                # Not every directory knows has_photo without reading the photo itself.
                photo = await self._directory.get_photo(obj.id)
            row: Row = []
            for tag in columns:
                if tag >> 16 == photo_pid and isinstance(obj, Recipient):
                    native: tuple[int, Any] | None = (PT_BINARY, photo) if photo else None
                else:
                    native = self._value(obj, tag >> 16, mid, session, snap, flags=flags,
                                         kind=tag & 0xFFFF)
                row.append(_convert(tag, native, code_page))
            out.append(row)
        return out

    def _entry_id(self, obj: AbObject, mid: int, session: AbSession | None,
                  flags: int) -> bytes:
        display = _display_type(obj)
        if flags & F_EPH_ID and session is not None:
            return (bytes([EPHEMERAL_ID_TYPE, 0, 0, 0]) + session.server_guid.bytes_le
                    + (1).to_bytes(4, "little") + display.to_bytes(4, "little")
                    + mid.to_bytes(4, "little"))
        dn = obj.dn if isinstance(obj, Container) else obj.legacy_dn
        return AddressBookEntryId(display, dn).to_bytes()

    def _value(self, obj: AbObject, pid: int, mid: int, session: AbSession | None,
               snap: GalSnapshot, *, flags: int = 0, kind: int = PT_UNSPECIFIED
               ) -> tuple[int, Any] | None:
        """(native type, value) of a property, or None when the object lacks it.

        ``kind`` is the requested type, which only matters where two properties share
        an id (the manager object and the manager's DN)."""
        if pid == 0x0FFF:
            return PT_BINARY, self._entry_id(obj, mid, session, flags)
        if pid in (0x0FF9, 0x3902):
            return PT_BINARY, self._entry_id(obj, mid, None, 0)
        if pid == 0x0FF6:
            return PT_BINARY, mid.to_bytes(4, "little")
        if pid == 0x0FF8:
            return PT_BINARY, (session.server_guid.bytes_le if session is not None
                               else ADDRESS_BOOK_UID)
        if pid == 0x3900:
            return PT_LONG, int(_display_type(obj))
        if pid == 0x0FFE:
            if isinstance(obj, Container):
                return PT_LONG, MAPI_ABCONT
            return PT_LONG, MAPI_DISTLIST if obj.kind is RecipientKind.GROUP else MAPI_MAILUSER
        if pid == 0x3001:
            return PT_UNICODE, obj.name if isinstance(obj, Container) else (
                obj.display_name or obj.address or "")
        if isinstance(obj, Container):
            return self._container_value(obj, pid)
        return self._recipient_value(obj, pid, snap, kind)

    def _container_value(self, c: Container, pid: int) -> tuple[int, Any] | None:
        if pid == 0xFFFD:
            return PT_LONG, self.mids.mid(c.key)
        if pid == 0x3600:
            return PT_LONG, AB_RECIPIENTS | AB_UNMODIFIABLE
        if pid == 0x3005:
            return PT_LONG, 0
        if pid == 0xFFFB:
            return PT_BOOLEAN, False
        return None

    def _recipient_value(self, r: Recipient, pid: int, snap: GalSnapshot,
                         kind: int) -> tuple[int, Any] | None:
        text = _TEXT.get(pid)
        if text is not None:
            value = text(r)
            return (PT_UNICODE, value) if value else None
        address = r.address or ""
        if pid == 0x39FF:
            return PT_UNICODE, _printable(r.display_name or address) or address
        if pid == 0x300B:
            return PT_BINARY, b"EX:" + r.legacy_dn.upper().encode("ascii", "replace") + b"\0"
        if pid == 0x39FE:
            return (PT_UNICODE, address) if address else None
        if pid == 0x3A00:
            return (PT_UNICODE, address.partition("@")[0]) if address else None
        if pid == 0x800F:
            proxies = [f"SMTP:{address}"] if address else []
            proxies += [f"smtp:{a}" for a in r.aliases]
            if r.legacy_dn and r.kind is not RecipientKind.CONTACT:
                proxies.append(f"X500:{r.legacy_dn}")
            return (PT_MV_UNICODE, proxies) if proxies else None
        if pid == 0x8011 and r.kind is RecipientKind.CONTACT:
            return (PT_UNICODE, f"SMTP:{address}") if address else None
        if pid in (0x3905, 0x8C93):
            extra = {RecipientKind.ROOM: DT_ROOM, RecipientKind.EQUIPMENT: DT_EQUIPMENT}
            return PT_LONG, extra.get(r.kind, int(_display_type(r)))
        if pid == 0xFFFD:
            key = f"container:domain:{_domain_of(r)}"
            return PT_LONG, self.mids.mid(key if any(c.key == key for c in snap.containers)
                                          else GAL_KEY)
        if pid == 0x8C6D:
            return PT_BINARY, _object_guid(r).bytes_le
        if pid == PID_MAILBOX_GUID and r.is_mailbox:
            return PT_BINARY, _mailbox_guid(r).bytes_le
        if pid == 0x8006 and r.is_mailbox and address:
            server = ex.mailbox_server_name(_mailbox_guid(r), _domain_of(r))
            return PT_STRING8, ex.mdb_dn(self._organization, server)
        if pid == 0x8170 and r.is_mailbox:
            return PT_MV_UNICODE, [f"ncacn_ip_tcp:{self._hostname}",
                                   f"ncacn_http:{self._hostname}"]
        if pid == PID_SEND_RICH_INFO:
            return PT_BOOLEAN, True
        if pid == 0x0807 and r.kind is RecipientKind.ROOM and r.capacity is not None:
            return PT_LONG, int(r.capacity)
        if pid == 0x8C9E:
            return (PT_BINARY, b"") if r.has_photo else None  # GetPropList's answer
        if pid == 0x8005:
            manager = snap.by_id.get(r.manager_id or "")
            if manager is None:
                return None
            # PidTagAddressBookManager (object) and ...ManagerDistinguishedName (string)
            # share the id; the column's type picks one.
            return (PT_UNICODE, manager.legacy_dn) if kind in (PT_STRING8, PT_UNICODE) \
                else (PT_OBJECT, None)
        if pid == 0x800E:
            return (PT_OBJECT, None) if snap.reports.get(r.id) else None
        if pid == 0x8009:
            return (PT_OBJECT, None) if r.kind is RecipientKind.GROUP else None
        if pid == PID_IS_MEMBER_OF_DL:
            return PT_OBJECT, None
        return None

    def manager_dn(self, r: Recipient, snap: GalSnapshot) -> str | None:
        manager = snap.by_id.get(r.manager_id or "")
        return manager.legacy_dn if manager is not None else None


# --- helpers ---------------------------------------------------------------------------


def _display_type(obj: AbObject) -> int:
    if isinstance(obj, Container):
        return DisplayType.CONTAINER
    if obj.kind is RecipientKind.GROUP:
        return DisplayType.DISTLIST
    if obj.kind is RecipientKind.CONTACT:
        return DisplayType.REMOTE_MAILUSER
    return DisplayType.MAILUSER


def _object_guid(r: Recipient) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"groupware:{r.id}")


def _mailbox_guid(r: Recipient) -> uuid.UUID:
    return r.mailbox_guid or uuid.uuid5(uuid.NAMESPACE_URL, f"mailbox:{r.id}")


_TEXT: dict[int, Callable[[Recipient], str]] = {
    0x3002: lambda r: "EX" if r.kind is not RecipientKind.CONTACT else "SMTP",
    0x3003: lambda r: r.legacy_dn if r.kind is not RecipientKind.CONTACT else (r.address or ""),
    0x3A20: lambda r: r.display_name,
    0x3A06: lambda r: r.given_name,
    0x3A11: lambda r: r.surname,
    0x3A17: lambda r: r.title,
    0x3A18: lambda r: r.department,
    0x3A19: lambda r: r.office,
    0x3A16: lambda r: r.company,
    0x3A08: lambda r: r.phone,
    0x3A1A: lambda r: r.phone,
    0x3A1C: lambda r: r.mobile,
    0x3004: lambda r: r.description,
}

_ALL_TAGS: tuple[int, ...] = (
    T.PidTagEntryId, T.PidTagRecordKey, T.PidTagInstanceKey, T.PidTagMappingSignature,
    T.PidTagObjectType, T.PidTagDisplayType, T.PidTagDisplayTypeEx,
    T.PidTagAddressBookDisplayTypeExtended, T.PidTagDisplayName,
    T.PidTagAddressBookDisplayNamePrintable, T.PidTagTransmittableDisplayName,
    T.PidTagAddressType, T.PidTagEmailAddress, T.PidTagSmtpAddress, T.PidTagAccount,
    T.PidTagSearchKey, T.PidTagTemplateid, T.PidTagGivenName, T.PidTagSurname,
    T.PidTagTitle, T.PidTagDepartmentName, T.PidTagOfficeLocation, T.PidTagCompanyName,
    T.PidTagBusinessTelephoneNumber, T.PidTagPrimaryTelephoneNumber,
    T.PidTagMobileTelephoneNumber, T.PidTagComment, T.PidTagAddressBookProxyAddresses,
    T.PidTagAddressBookTargetAddress, T.PidTagAddressBookHomeMessageDatabase,
    T.PidTagAddressBookNetworkAddress, T.PidTagAddressBookObjectGuid,
    PropTag((PID_MAILBOX_GUID << 16) | PT_BINARY), T.PidTagAddressBookContainerId,
    T.PidTagAddressBookRoomCapacity, PropTag((PID_SEND_RICH_INFO << 16) | PT_BOOLEAN),
    T.PidTagThumbnailPhoto, T.PidTagAddressBookManager, T.PidTagAddressBookReports,
    T.PidTagAddressBookMember, PropTag((PID_IS_MEMBER_OF_DL << 16) | PT_OBJECT),
)
"""Every column QueryColumns reports, in the native (Unicode) types."""


def _narrow(tag: int) -> int:
    """The PtypString8 form of a PtypString / PtypMultipleString tag."""
    kind = tag & 0xFFFF
    if kind == PT_UNICODE:
        return (tag & 0xFFFF0000) | PT_STRING8
    if kind == PT_MV_UNICODE:
        return (tag & 0xFFFF0000) | PT_MV_STRING8
    return tag


def _convert(tag: int, native: tuple[int, Any] | None, code_page: int) -> PropValue:
    """A property in the type the column asks for (MS-OXNSPI 3.1.4.3)."""
    if native is None:
        return (tag & 0xFFFF0000) | PT_ERROR, ErrorCode.ecNotFound
    kind, value = native
    wanted = tag & 0xFFFF
    pid_tag = tag & 0xFFFF0000
    if wanted == PT_UNSPECIFIED:
        wanted = kind
        if kind == PT_UNICODE and code_page != CP_WINUNICODE:
            wanted = PT_STRING8
        elif kind == PT_MV_UNICODE and code_page != CP_WINUNICODE:
            wanted = PT_MV_STRING8
    if kind == PT_STRING8 and isinstance(value, str):
        kind = PT_UNICODE  # stored text is Unicode whatever its nominal type
    if wanted == kind:
        return pid_tag | kind, value
    if wanted == PT_STRING8 and kind == PT_UNICODE:
        return pid_tag | PT_STRING8, encode8(value, code_page)
    if wanted == PT_MV_STRING8 and kind == PT_MV_UNICODE:
        return pid_tag | PT_MV_STRING8, [encode8(v, code_page) for v in value]
    if wanted == PT_UNICODE and kind == PT_STRING8:
        return pid_tag | PT_UNICODE, str(value)
    return pid_tag | PT_ERROR, ErrorCode.ecNotFound


# --- PR_ANR inside restrictions ----------------------------------------------------------

_ANR_PID = T.PidTagAnr >> 16


def _anr_tag(index: int) -> int:
    return ((0x7F00 + index) << 16) | PT_BOOLEAN


def _rewrite_anr(node: Restriction, terms: list[str]) -> Restriction:
    """Replace each PR_ANR leaf by an Exist test of a synthetic per-term tag."""
    if isinstance(node, AndRestriction):
        return AndRestriction(tuple(_rewrite_anr(c, terms) for c in node.restrictions))
    if isinstance(node, OrRestriction):
        return OrRestriction(tuple(_rewrite_anr(c, terms) for c in node.restrictions))
    if isinstance(node, NotRestriction):
        return NotRestriction(_rewrite_anr(node.restriction, terms))
    if isinstance(node, PropertyRestriction | ContentRestriction) and node.tag >> 16 == _ANR_PID:
        value = node.value.value
        text = value if isinstance(value, str) else (
            value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value))
        terms.append(text)
        return ExistRestriction(PropTag(_anr_tag(len(terms) - 1)))
    return node


def _required_anr(node: Restriction) -> int | None:
    """Index of an ANR term every match must satisfy (top level or inside an And)."""
    if isinstance(node, ExistRestriction) and node.tag >> 16 >= 0x7F00:
        return (node.tag >> 16) - 0x7F00
    if isinstance(node, AndRestriction):
        for child in node.restrictions:
            found = _required_anr(child)
            if found is not None:
                return found
    return None


def _tags_in(node: Restriction) -> set[int]:
    out: set[int] = set()
    for name in ("tag", "tag1", "tag2"):
        value = getattr(node, name, None)
        if isinstance(value, int):
            out.add(value & ~0x2000)
    for child in getattr(node, "restrictions", ()) or ():
        out |= _tags_in(child)
    inner = getattr(node, "restriction", None)
    if isinstance(inner, Restriction):
        out |= _tags_in(inner)
    return out


__all__ = ["AbSession", "AddressBookHandler", "NspiError", "Stat", "codec_for", "decode8",
           "encode8"]
