"""The plain-Python message model every converter produces and consumes.

The store layer persists exactly this: a property dict per object, recipients as
property dicts, attachments as property dicts with embedded messages nested as
:class:`Message`. Values use the Python forms of :mod:`groupware.mapi.values` so the
store can hand them to any frontend unchanged: integers for PtypInteger*/PtypTime
(FILETIME ticks, see :func:`groupware.mapi.values.datetime_to_filetime`), ``bool``,
``float``, ``str`` for PtypString, ``bytes`` for PtypBinary, :class:`uuid.UUID` and
tuples for the multi-valued types.

Named properties (MS-OXCDATA 2.6) are keyed by :class:`NamedProp` — the store maps
them to its per-store 0x8000+ ids; tagged properties by their 32-bit
:data:`~groupware.types.PropTag`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TypeAlias

from groupware.mapi.proptypes import PropType
from groupware.types import PropTag

PropValue: TypeAlias = (
    bool
    | int
    | float
    | str
    | bytes
    | uuid.UUID
    | tuple[int, ...]
    | tuple[float, ...]
    | tuple[str, ...]
    | tuple[bytes, ...]
    | None
)
"""The value forms this package produces (a subset of :mod:`groupware.mapi.values`)."""


@dataclass(frozen=True, order=False)
class NamedProp:
    """A named property: property set GUID plus a numeric LID or a string name.

    ``kind`` is the property type the value has; two named properties with the same
    set and name are the same property whatever type a caller asks for, so equality
    and hashing ignore it.
    """

    guid: uuid.UUID
    name: int | str
    kind: PropType = field(compare=False, hash=False)

    def __repr__(self) -> str:
        name = f"0x{self.name:04X}" if isinstance(self.name, int) else repr(self.name)
        return f"NamedProp({self.guid}, {name}, {self.kind.canonical_name})"


PropKey: TypeAlias = PropTag | NamedProp
Props: TypeAlias = dict[PropKey, PropValue]


@dataclass
class Recipient:
    """One row of the recipient table (MS-OXCMSG 2.2.1): its properties."""

    props: Props = field(default_factory=dict)


@dataclass
class Attachment:
    """One attachment (MS-OXCMSG 2.2.2).

    ``embedded`` is set for PidTagAttachMethod = afEmbeddedMessage (5); its data then
    lives there and not in PidTagAttachDataBinary.
    """

    props: Props = field(default_factory=dict)
    embedded: Message | None = None


@dataclass
class Message:
    """A message object: properties, recipient table, attachment table."""

    props: Props = field(default_factory=dict)
    recipients: list[Recipient] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)

    def get_str(self, key: PropKey, default: str | None = None) -> str | None:
        """A string property, or ``default`` when it is missing or not a string."""
        value = self.props.get(key)
        return value if isinstance(value, str) else default

    def get_int(self, key: PropKey, default: int | None = None) -> int | None:
        value = self.props.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else default

    def get_bytes(self, key: PropKey) -> bytes | None:
        value = self.props.get(key)
        return value if isinstance(value, bytes) else None
