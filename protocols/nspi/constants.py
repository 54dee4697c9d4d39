"""Numbers of the NSPI and RFR interfaces (MS-OXNSPI 2.2.1, 2.2.2; MS-OXABREF 2.1).

Kept free of any codec so both transports (DCE/RPC and MAPI/HTTP) and the tests
share one source for opnums, flags and the reserved Minimal Entry IDs.
"""

from __future__ import annotations

import enum

from protocols.rpc.pdu import SyntaxId

NSPI_SYNTAX = SyntaxId.of("f5cc5a18-4264-101a-8c59-08002b2f8426", 56, 0)
"""MS-OXNSPI 2.1: the NSPI interface, version 56.0."""
RFR_SYNTAX = SyntaxId.of("1544f5e0-613c-11d1-93df-00c04fd7bd09", 1, 0)
"""MS-OXABREF 2.1: the address book referral (RFR) interface, version 1.0."""


class NspiOpnum(enum.IntEnum):
    """MS-OXNSPI 3.1.4.1: methods in opnum order (15 is not used on the wire)."""

    BIND = 0
    UNBIND = 1
    UPDATE_STAT = 2
    QUERY_ROWS = 3
    SEEK_ENTRIES = 4
    GET_MATCHES = 5
    RESORT_RESTRICTION = 6
    DN_TO_MID = 7
    GET_PROP_LIST = 8
    GET_PROPS = 9
    COMPARE_MIDS = 10
    MOD_PROPS = 11
    GET_SPECIAL_TABLE = 12
    GET_TEMPLATE_INFO = 13
    MOD_LINK_ATT = 14
    QUERY_COLUMNS = 16
    GET_NAMES_FROM_IDS = 17
    GET_IDS_FROM_NAMES = 18
    RESOLVE_NAMES = 19
    RESOLVE_NAMES_W = 20


class RfrOpnum(enum.IntEnum):
    """MS-OXABREF 3.1.4."""

    GET_NEW_DSA = 0
    GET_FQDN_FROM_SERVER_DN = 1


# MS-OXNSPI 2.2.1.8 positioning Minimal Entry IDs; 2.2.1.9 ANR results.
MID_BEGINNING_OF_TABLE = 0x00000000
MID_CURRENT = 0x00000001
MID_END_OF_TABLE = 0x00000002
MID_UNRESOLVED = 0x00000000
MID_AMBIGUOUS = 0x00000001
MID_RESOLVED = 0x00000002

# MS-OXNSPI 2.2.1.3 code pages the server must handle.
CP_TELETEX = 20261
CP_WINUNICODE = 1200

# MS-OXNSPI 2.2.1.10 sort orders.
SORT_TYPE_DISPLAY_NAME = 0
SORT_TYPE_PHONETIC_DISPLAY_NAME = 3
SORT_TYPE_DISPLAY_NAME_RO = 1000
SORT_TYPE_DISPLAY_NAME_W = 1001

# Flags: NspiBind (2.2.1.4), retrieve (2.2.1.5), special table (2.2.1.6), QueryColumns
# (2.2.1.7), GetIDsFromNames (2.2.1.8), GetTemplateInfo (2.2.1.9), ModLinkAtt (2.2.1.10).
F_ANONYMOUS_LOGIN = 0x00000020
F_SKIP_OBJECTS = 0x00000001
F_EPH_ID = 0x00000002
NSPI_ADDRESS_CREATION_TEMPLATES = 0x00000002
NSPI_UNICODE_STRINGS = 0x00000004
NSPI_UNICODE_PROPTYPES = 0x80000000
NSPI_VERIFY_NAMES = 0x00000002
TI_TEMPLATE = 0x00000001
TI_SCRIPT = 0x00000004
TI_EMT = 0x00000010
TI_HELPFILE_NAME = 0x00000020
TI_HELPFILE_CONTENTS = 0x00000040
F_DELETE = 0x00000001

# Return values (MS-OXNSPI 2.2.1.2) that are not MAPI error codes of MS-OXCDATA.
UNBIND_SUCCESS = 0x00000001
UNBIND_FAILURE = 0x00000002

MAX_ROWS = 100_000
"""Every count the IDL bounds with range(0, 100000)."""
MAX_COLUMNS = 100
"""More requested columns than this are refused with TableTooBig, as Exchange does."""
