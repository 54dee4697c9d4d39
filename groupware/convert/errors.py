"""The errors converters raise on input they cannot turn into a message.

Everything is an :class:`groupware.errors.InvalidInput`, so a protocol maps it like
any other bad input. Converters degrade before they raise: a broken charset, a
missing boundary or a bad date still gives a message; only input past a hard limit
(size, nesting that cannot be represented) or not of the format at all raises.
"""

from __future__ import annotations

from groupware.errors import InvalidInput


class ConversionError(InvalidInput):
    """Input cannot be converted (not the format, or beyond a configured limit)."""


class LimitExceeded(ConversionError):
    """Input is larger or deeper than the converter's limits allow."""
