"""Errors of the WBXML codec.

Everything the decoder rejects is a :class:`WbxmlError`, a subclass of
:class:`groupware.errors.InvalidInput`, so the ActiveSync command layer can answer with
the protocol's status (MS-ASCMD: Status 4 "protocol error" / HTTP 400) instead of a
traceback. Each error carries the byte offset where the input went wrong.
"""

from __future__ import annotations

from groupware.errors import Code, InvalidInput


class WbxmlError(InvalidInput):
    """The bytes are not a well-formed ActiveSync WBXML document."""

    def __init__(self, message: str, *, offset: int | None = None) -> None:
        where = f" at byte {offset}" if offset is not None else ""
        super().__init__(f"WBXML{where}: {message}")
        self.offset = offset


class WbxmlTruncated(WbxmlError):
    """The input ended inside the header, a token, a string or before the root closed."""


class WbxmlLimitExceeded(WbxmlError):
    """A configured limit (depth, string, opaque, element count ...) was exceeded."""

    code = Code.TOO_BIG


class WbxmlUnknownCodePage(WbxmlError):
    """SWITCH_PAGE named a code page ActiveSync does not define."""


class WbxmlUnknownTag(WbxmlError):
    """A tag token that the current code page does not define."""


class WbxmlUnsupported(WbxmlError):
    """Valid WBXML that ActiveSync does not use: attributes, literals, PIs, extensions."""


class WbxmlEncodeError(InvalidInput):
    """The encoder was asked for something WBXML or ActiveSync cannot express.

    Examples: an unknown element name, text containing NUL (STR_I is NUL-terminated),
    an opaque body shorter or longer than announced, END without an open element.
    """
