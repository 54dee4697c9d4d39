"""Typed IMAP commands (RFC 9051 6, RFC 3501 6 and the extensions we serve).

One frozen dataclass per command; ``name`` is the upper-case command as it appears on
the wire (``"UID FETCH"``), handy for logging and for the tagged completion text.
Mailbox names are already decoded (mUTF-7 or UTF-8) and ``INBOX`` in any case is
spelled ``"INBOX"``; credentials, search strings and quota roots stay bytes.
"""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass, field
from typing import ClassVar

from .fetch_items import FetchItem
from .search_keys import SearchKey
from .sequence import SequenceSet

__all__ = [
    "Append",
    "AppendMessage",
    "Authenticate",
    "Capability",
    "Check",
    "Close",
    "Command",
    "Compress",
    "Copy",
    "Create",
    "Delete",
    "Enable",
    "Examine",
    "Expunge",
    "Fetch",
    "GetQuota",
    "GetQuotaRoot",
    "Id",
    "Idle",
    "List",
    "Login",
    "Logout",
    "Lsub",
    "Move",
    "Namespace",
    "Noop",
    "QResync",
    "Rename",
    "Search",
    "Select",
    "SetQuota",
    "Sort",
    "SortCriterion",
    "StartTLS",
    "Status",
    "Store",
    "StoreMode",
    "Subscribe",
    "Thread",
    "Unselect",
    "Unsubscribe",
]


@dataclass(frozen=True, slots=True)
class Command:
    """Base of every command: the client's tag, echoed in the tagged completion."""

    tag: bytes
    command: ClassVar[str] = ""

    @property
    def name(self) -> str:
        return self.command


@dataclass(frozen=True, slots=True)
class _UidCommand(Command):
    """Commands that have a ``UID`` variant answer in UIDs instead of sequence numbers."""

    uid: bool = False

    @property
    def name(self) -> str:
        return f"UID {self.command}" if self.uid else self.command


# --- any state -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Capability(Command):
    command: ClassVar[str] = "CAPABILITY"


@dataclass(frozen=True, slots=True)
class Noop(Command):
    command: ClassVar[str] = "NOOP"


@dataclass(frozen=True, slots=True)
class Logout(Command):
    command: ClassVar[str] = "LOGOUT"


@dataclass(frozen=True, slots=True)
class Id(Command):
    """RFC 2971: ``ID NIL`` (``params is None``) or field/value pairs; values may be NIL."""

    command: ClassVar[str] = "ID"
    params: tuple[tuple[str, str | None], ...] | None = None


@dataclass(frozen=True, slots=True)
class Enable(Command):
    """RFC 5161; capability names upper-cased."""

    command: ClassVar[str] = "ENABLE"
    capabilities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Compress(Command):
    """RFC 4978 ``COMPRESS DEFLATE``; the mechanism upper-cased."""

    command: ClassVar[str] = "COMPRESS"
    mechanism: str = "DEFLATE"


# --- not authenticated -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartTLS(Command):
    command: ClassVar[str] = "STARTTLS"


@dataclass(frozen=True, slots=True)
class Authenticate(Command):
    """``AUTHENTICATE mech [initial-response]`` (RFC 4959 SASL-IR).

    ``initial_response`` is the decoded bytes, ``b""`` for ``=``, ``None`` when absent.
    """

    command: ClassVar[str] = "AUTHENTICATE"
    mechanism: str = ""
    initial_response: bytes | None = None


@dataclass(frozen=True, slots=True)
class Login(Command):
    command: ClassVar[str] = "LOGIN"
    username: bytes = b""
    password: bytes = field(default=b"", repr=False)


# --- authenticated ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QResync:
    """The ``QRESYNC (...)`` SELECT parameter (RFC 7162 3.2.5)."""

    uidvalidity: int
    modseq: int
    known_uids: SequenceSet | None = None
    known_sequence_set: SequenceSet | None = None
    known_uid_set: SequenceSet | None = None


@dataclass(frozen=True, slots=True)
class Select(Command):
    command: ClassVar[str] = "SELECT"
    mailbox: str = ""
    condstore: bool = False
    qresync: QResync | None = None

    @property
    def read_only(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class Examine(Select):
    command: ClassVar[str] = "EXAMINE"

    @property
    def read_only(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class Create(Command):
    """``CREATE name [(USE (\\Drafts ...))]`` (RFC 6154 3)."""

    command: ClassVar[str] = "CREATE"
    mailbox: str = ""
    special_use: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Delete(Command):
    command: ClassVar[str] = "DELETE"
    mailbox: str = ""


@dataclass(frozen=True, slots=True)
class Rename(Command):
    command: ClassVar[str] = "RENAME"
    mailbox: str = ""
    new_name: str = ""


@dataclass(frozen=True, slots=True)
class Subscribe(Command):
    command: ClassVar[str] = "SUBSCRIBE"
    mailbox: str = ""


@dataclass(frozen=True, slots=True)
class Unsubscribe(Command):
    command: ClassVar[str] = "UNSUBSCRIBE"
    mailbox: str = ""


@dataclass(frozen=True, slots=True)
class List(Command):
    """LIST with RFC 5258 selection/return options, RFC 5819 STATUS and RFC 6154.

    ``extended`` tells whether the client used any extended syntax (then the server
    answers with extended data items such as CHILDINFO).  Option names are upper-cased.
    """

    command: ClassVar[str] = "LIST"
    reference: str = ""
    patterns: tuple[str, ...] = ()
    selection: tuple[str, ...] = ()
    return_options: tuple[str, ...] = ()
    return_status: tuple[str, ...] | None = None
    extended: bool = False


@dataclass(frozen=True, slots=True)
class Lsub(Command):
    command: ClassVar[str] = "LSUB"
    reference: str = ""
    pattern: str = ""


@dataclass(frozen=True, slots=True)
class Namespace(Command):
    command: ClassVar[str] = "NAMESPACE"


@dataclass(frozen=True, slots=True)
class Status(Command):
    """Items upper-cased: MESSAGES, UIDNEXT, SIZE, HIGHESTMODSEQ, APPENDLIMIT ..."""

    command: ClassVar[str] = "STATUS"
    mailbox: str = ""
    items: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AppendMessage:
    """One message of a (MULTI)APPEND; ``binary`` for ``~{n}``, ``utf8`` for ``UTF8 (...)``."""

    data: bytes = field(repr=False)
    flags: tuple[str, ...] = ()
    internal_date: datetime.datetime | None = None
    binary: bool = False
    utf8: bool = False


@dataclass(frozen=True, slots=True)
class Append(Command):
    command: ClassVar[str] = "APPEND"
    mailbox: str = ""
    messages: tuple[AppendMessage, ...] = ()


@dataclass(frozen=True, slots=True)
class GetQuota(Command):
    command: ClassVar[str] = "GETQUOTA"
    root: bytes = b""


@dataclass(frozen=True, slots=True)
class GetQuotaRoot(Command):
    command: ClassVar[str] = "GETQUOTAROOT"
    mailbox: str = ""


@dataclass(frozen=True, slots=True)
class SetQuota(Command):
    """``SETQUOTA root (STORAGE 512 MESSAGE 1000)``; resource names upper-cased."""

    command: ClassVar[str] = "SETQUOTA"
    root: bytes = b""
    limits: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Idle(Command):
    """RFC 2177: the server answers ``+ idling`` and calls ``expect_idle_done``."""

    command: ClassVar[str] = "IDLE"


# --- selected -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check(Command):
    command: ClassVar[str] = "CHECK"


@dataclass(frozen=True, slots=True)
class Close(Command):
    command: ClassVar[str] = "CLOSE"


@dataclass(frozen=True, slots=True)
class Unselect(Command):
    command: ClassVar[str] = "UNSELECT"


@dataclass(frozen=True, slots=True)
class Expunge(_UidCommand):
    """``EXPUNGE`` or ``UID EXPUNGE set`` (RFC 4315)."""

    command: ClassVar[str] = "EXPUNGE"
    uid_set: SequenceSet | None = None


@dataclass(frozen=True, slots=True)
class Search(_UidCommand):
    """``return_options`` is ``None`` without RETURN (classic ``* SEARCH`` answer);
    ``()`` for ``RETURN ()``, which means ESEARCH ``ALL`` (RFC 4731 3.1)."""

    command: ClassVar[str] = "SEARCH"
    criteria: SearchKey | None = None
    charset: str | None = None
    return_options: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Fetch(_UidCommand):
    """Macros (ALL/FAST/FULL) are expanded; UID FETCH answers include UID regardless."""

    command: ClassVar[str] = "FETCH"
    sequence: SequenceSet = field(default_factory=SequenceSet)
    items: tuple[FetchItem, ...] = ()
    changed_since: int | None = None
    vanished: bool = False


class StoreMode(enum.Enum):
    """``FLAGS``, ``+FLAGS`` or ``-FLAGS``."""

    REPLACE = ""
    ADD = "+"
    REMOVE = "-"


@dataclass(frozen=True, slots=True)
class Store(_UidCommand):
    command: ClassVar[str] = "STORE"
    sequence: SequenceSet = field(default_factory=SequenceSet)
    mode: StoreMode = StoreMode.REPLACE
    silent: bool = False
    flags: tuple[str, ...] = ()
    unchanged_since: int | None = None


@dataclass(frozen=True, slots=True)
class Copy(_UidCommand):
    command: ClassVar[str] = "COPY"
    sequence: SequenceSet = field(default_factory=SequenceSet)
    mailbox: str = ""


@dataclass(frozen=True, slots=True)
class Move(_UidCommand):
    command: ClassVar[str] = "MOVE"
    sequence: SequenceSet = field(default_factory=SequenceSet)
    mailbox: str = ""


@dataclass(frozen=True, slots=True)
class SortCriterion:
    """One RFC 5256 sort key (``ARRIVAL``, ``DATE``, ``DISPLAYFROM`` ...) and its direction."""

    key: str
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class Sort(_UidCommand):
    """RFC 5256 SORT; ``return_options`` as for SEARCH (RFC 5267 ESORT)."""

    command: ClassVar[str] = "SORT"
    criteria: tuple[SortCriterion, ...] = ()
    charset: str = "UTF-8"
    search: SearchKey | None = None
    return_options: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Thread(_UidCommand):
    """RFC 5256 THREAD; the algorithm upper-cased (``REFERENCES``, ``ORDEREDSUBJECT``)."""

    command: ClassVar[str] = "THREAD"
    algorithm: str = "REFERENCES"
    charset: str = "UTF-8"
    search: SearchKey | None = None
