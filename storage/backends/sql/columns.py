"""Which properties the sql backend copies into indexed columns, and in what form.

Strings become *sort keys*: casefolded (Exchange sorts and compares case-insensitively)
and cut to :data:`KEY_LENGTH` characters, so they fit any index. Times are FILETIME
integers, flags and importance integers. The full values always stay in the packed
``props`` column; the key columns only serve WHERE and ORDER BY.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from groupware.types import PropTag
from storage.mapistore import tags

KEY_LENGTH = 255


def sort_key_string(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return value.casefold()[:KEY_LENGTH]


def _int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
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
