"""Which properties the sql backend copies into indexed columns, and in what form.

Strings become *sort keys*: casefolded (Exchange sorts and compares case-insensitively),
prefixed with ``\x01`` and cut to :data:`KEY_LENGTH` characters, so they fit any index.
Times are FILETIME integers, flags and importance integers. The full values always stay
in the packed ``props`` column; the key columns only serve WHERE and ORDER BY.

Absent properties are stored as values below every real one (:data:`ABSENT_KEY` = ``""``
before any ``\x01...`` key, :data:`ABSENT_INT` below any 32-bit value or FILETIME), not
as NULL: MAPI orders absent values first ascending and last descending, which is then
the plain column order, so one ordinary index serves both directions on SQLite and
PostgreSQL (whose NULL ordering differs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from groupware.types import PropTag
from storage.mapistore import tags

KEY_LENGTH = 255
PRESENT = "\x01"
ABSENT_KEY = ""
ABSENT_INT = -(1 << 62)


def sort_key_string(value: object) -> str:
    if not isinstance(value, str):
        return ABSENT_KEY
    return PRESENT + value.casefold()[:KEY_LENGTH - 1]


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return ABSENT_INT
    return value


HOT_COLUMNS: dict[PropTag, tuple[str, Any]] = {
    tags.SUBJECT: ("subject", sort_key_string),
    tags.SENDER_NAME: ("sender", sort_key_string),
    tags.MESSAGE_CLASS: ("message_class", sort_key_string),
    tags.MESSAGE_DELIVERY_TIME: ("received", _int),
    tags.CLIENT_SUBMIT_TIME: ("sent", _int),
    tags.LAST_MODIFICATION_TIME: ("modified", _int),
    tags.MESSAGE_FLAGS: ("flags", _int),
    tags.IMPORTANCE: ("importance", _int),
}


def hot_values(props: Mapping[PropTag, Any]) -> dict[str, Any]:
    """Column values for a property bag (None for absent properties)."""
    return {column: convert(props.get(tag)) for tag, (column, convert) in HOT_COLUMNS.items()}
