"""WBXML 1.3 wire constants (WAP-192-WBXML section 7) and the multi-byte integer.

Only what ActiveSync needs is *accepted* by the codec, but every global token is named
here so the decoder can say precisely which unsupported construct it met.
"""

from __future__ import annotations

# Global tokens, WBXML 1.3 section 7.1 (same values in every code page).
SWITCH_PAGE = 0x00
END = 0x01
ENTITY = 0x02
STR_I = 0x03
LITERAL = 0x04
EXT_I_0 = 0x40
EXT_I_1 = 0x41
EXT_I_2 = 0x42
PI = 0x43
LITERAL_C = 0x44
EXT_T_0 = 0x80
EXT_T_1 = 0x81
EXT_T_2 = 0x82
STR_T = 0x83
LITERAL_A = 0x84
EXT_0 = 0xC0
EXT_1 = 0xC1
EXT_2 = 0xC2
OPAQUE = 0xC3
LITERAL_AC = 0xC4

LITERALS = frozenset({LITERAL, LITERAL_C, LITERAL_A, LITERAL_AC})
EXTENSIONS = frozenset({EXT_I_0, EXT_I_1, EXT_I_2, EXT_T_0, EXT_T_1, EXT_T_2, EXT_0, EXT_1, EXT_2})

# Tag byte layout, WBXML 1.3 section 5.8.2: bit 7 attributes follow, bit 6 content follows.
TAG_HAS_ATTRIBUTES = 0x80
TAG_HAS_CONTENT = 0x40
TAG_TOKEN_MASK = 0x3F

# The header ActiveSync sends (MS-ASWBXML 2.1.1): version 1.3, public id 1 ("unknown"),
# charset 106 (UTF-8, IANA MIBenum), empty string table.
WBXML_VERSION_1_3 = 0x03
PUBLIC_ID_UNKNOWN = 0x01
CHARSET_UTF8 = 106
EAS_HEADER = bytes([WBXML_VERSION_1_3, PUBLIC_ID_UNKNOWN, CHARSET_UTF8, 0x00])

MB_UINT32_MAX_BYTES = 5
"""A mb_u_int32 (WBXML 1.3 section 5.1) carries 32 bits, 7 per byte: at most 5 bytes."""
UINT32_MAX = 0xFFFF_FFFF


def encode_mb_uint32(value: int) -> bytes:
    """Encode ``value`` as a WBXML multi-byte unsigned integer, most significant group first."""
    if not 0 <= value <= UINT32_MAX:
        raise ValueError(f"mb_u_int32 out of range: {value}")
    groups = [value & 0x7F]
    value >>= 7
    while value:
        groups.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(groups))
