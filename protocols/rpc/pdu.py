"""Connection-oriented DCE/RPC PDUs: C706 section 12.6 with the MS-RPCE 2.2.2 extensions.

Pure codec: :func:`decode_pdu` turns one complete PDU (``frag_length`` bytes) into
a :class:`Pdu`, :func:`encode_pdu` does the reverse. Signing and sealing work on the
raw bytes and live in :mod:`protocols.rpc.security`; framing a byte stream and the
server state machine live in :mod:`protocols.rpc.server`.

Only the little-endian/ASCII/IEEE data representation (``drep`` 0x10) is accepted;
every Microsoft client uses it and NDR in :mod:`protocols.rpc.ndr` assumes it.
"""

from __future__ import annotations

import enum
import struct
import uuid
from dataclasses import dataclass, field

from protocols.rpc.errors import PduError

COMMON_HEADER_SIZE = 16
"""C706 12.6.3.1: rpc_vers .. call_id."""
SEC_TRAILER_SIZE = 8
"""MS-RPCE 2.2.2.11: auth_type, auth_level, auth_pad_length, reserved, auth_context_id."""
DREP_LITTLE_ENDIAN = b"\x10\x00\x00\x00"
"""C706 14.1: little-endian integers, ASCII characters, IEEE floats."""
MAX_FRAG_LENGTH = 0xFFFF
MUST_RECV_FRAG_SIZE = 1432
"""C706 12.6.3.1: every implementation accepts fragments at least this large."""
STUB_PAD_ALIGNMENT = 16
"""Stub data is padded to this multiple before a sec_trailer (MS-RPCE 2.2.2.11)."""


class PType(enum.IntEnum):
    """PDU types (C706 12.6.3.1 and MS-RPCH 2.2.3.6.1 for RTS)."""

    REQUEST = 0
    PING = 1
    RESPONSE = 2
    FAULT = 3
    WORKING = 4
    NOCALL = 5
    REJECT = 6
    ACK = 7
    CL_CANCEL = 8
    FACK = 9
    CANCEL_ACK = 10
    BIND = 11
    BIND_ACK = 12
    BIND_NAK = 13
    ALTER_CONTEXT = 14
    ALTER_CONTEXT_RESP = 15
    AUTH3 = 16
    SHUTDOWN = 17
    CO_CANCEL = 18
    ORPHANED = 19
    RTS = 20


class PfcFlags(enum.IntFlag):
    """pfc_flags (C706 12.6.3.1, MS-RPCE 2.2.2.3)."""

    FIRST_FRAG = 0x01
    LAST_FRAG = 0x02
    PENDING_CANCEL = 0x04
    """For bind/bind_ack/alter_context(_resp) the same bit is SUPPORT_HEADER_SIGN."""
    SUPPORT_HEADER_SIGN = 0x04
    RESERVED_1 = 0x08
    CONC_MPX = 0x10
    DID_NOT_EXECUTE = 0x20
    MAYBE = 0x40
    OBJECT_UUID = 0x80


class AuthType(enum.IntEnum):
    """Security provider identifiers (MS-RPCE 2.2.1.1.7)."""

    NONE = 0x00
    GSS_NEGOTIATE = 0x09
    WINNT = 0x0A
    GSS_SCHANNEL = 0x0E
    GSS_KERBEROS = 0x10
    NETLOGON = 0x44
    DEFAULT = 0xFF


class AuthLevel(enum.IntEnum):
    """Authentication levels (MS-RPCE 2.2.1.1.8)."""

    DEFAULT = 0
    NONE = 1
    CONNECT = 2
    CALL = 3
    PKT = 4
    PKT_INTEGRITY = 5
    PKT_PRIVACY = 6


class ContextResult(enum.IntEnum):
    """p_cont_def_result_t (C706 12.6.3.1) plus negotiate_ack (MS-RPCE 2.2.2.4)."""

    ACCEPTANCE = 0
    USER_REJECTION = 1
    PROVIDER_REJECTION = 2
    NEGOTIATE_ACK = 3


class ProviderReason(enum.IntEnum):
    """p_provider_reason_t for a rejected presentation context (C706 12.6.3.1)."""

    NOT_SPECIFIED = 0
    ABSTRACT_SYNTAX_NOT_SUPPORTED = 1
    PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED = 2
    LOCAL_LIMIT_EXCEEDED = 3


class BindNakReason(enum.IntEnum):
    """p_reject_reason_t (C706 12.6.3.1; MS-RPCE 2.2.2.5 adds 8 and 9)."""

    NOT_SPECIFIED = 0
    TEMPORARY_CONGESTION = 1
    LOCAL_LIMIT_EXCEEDED = 2
    CALLED_PADDR_UNKNOWN = 3
    PROTOCOL_VERSION_NOT_SUPPORTED = 4
    DEFAULT_CONTEXT_NOT_SUPPORTED = 5
    USER_DATA_NOT_READABLE = 6
    NO_PSAP_AVAILABLE = 7
    AUTHENTICATION_TYPE_NOT_RECOGNIZED = 8
    INVALID_CHECKSUM = 9


class FaultStatus(enum.IntEnum):
    """Fault PDU status codes (C706 appendix E, MS-RPCE 2.2.2.12 and 3.1.1.5.5)."""

    ACCESS_DENIED = 0x00000005
    CANT_PERFORM = 0x000006D8
    BAD_STUB_DATA = 0x000006F7
    SEC_PKG_ERROR = 0x00000721
    OP_RNG_ERROR = 0x1C010002
    UNK_IF = 0x1C010003
    PROTO_ERROR = 0x1C01000B
    OUT_ARGS_TOO_BIG = 0x1C010013
    SERVER_TOO_BUSY = 0x1C010014
    UNSUPPORTED_TYPE = 0x1C010017
    FAULT_CANCEL = 0x1C00000D
    FAULT_UNSPEC = 0x1C000012
    CONTEXT_MISMATCH = 0x1C00001A
    REMOTE_NO_MEMORY = 0x1C00001B
    INVALID_PRES_CONTEXT_ID = 0x1C00001C
    UNSUPPORTED_AUTHN_LEVEL = 0x1C00001D
    INVALID_CHECKSUM = 0x1C00001F


@dataclass(frozen=True)
class SyntaxId:
    """p_syntax_id_t (C706 12.6.3.1): interface or transfer syntax UUID + version.

    ``version`` is the 32-bit wire value: major in the low 16 bits, minor in the high.
    """

    uuid: uuid.UUID
    version: int

    SIZE = 20

    @classmethod
    def of(cls, uuid_text: str, major: int, minor: int = 0) -> SyntaxId:
        return cls(uuid.UUID(uuid_text), (minor << 16) | major)

    @property
    def major(self) -> int:
        return self.version & 0xFFFF

    @property
    def minor(self) -> int:
        return self.version >> 16

    def encode(self) -> bytes:
        return self.uuid.bytes_le + struct.pack("<I", self.version)

    @classmethod
    def decode(cls, data: bytes, offset: int = 0) -> SyntaxId:
        chunk = _slice(data, offset, cls.SIZE, "syntax id")
        return cls(uuid.UUID(bytes_le=chunk[:16]), struct.unpack("<I", chunk[16:])[0])

    def __str__(self) -> str:
        return f"{self.uuid} v{self.major}.{self.minor}"


NDR20 = SyntaxId.of("8a885d04-1ceb-11c9-9fe8-08002b104860", 2)
"""NDR 2.0 transfer syntax (C706 appendix I)."""
NDR64 = SyntaxId.of("71710533-beba-4937-8319-b5dbef9ccc36", 1)
"""NDR64 (MS-RPCE 2.2.5): refused politely, we only speak NDR20."""
NULL_SYNTAX = SyntaxId(uuid.UUID(int=0), 0)
BIND_TIME_FEATURE_PREFIX = bytes.fromhex("2c1cb76c12984045")
"""First 8 bytes (little-endian GUID layout) of 6CB71C2C-9812-4540-xxxx (MS-RPCE 3.3.1.5.3)."""


class BindTimeFeature(enum.IntFlag):
    """BindTimeFeatureNegotiationBitmask (MS-RPCE 2.2.2.14)."""

    SECURITY_CONTEXT_MULTIPLEXING = 0x01
    KEEP_CONNECTION_ON_ORPHAN = 0x02


def bind_time_features(syntax: SyntaxId) -> BindTimeFeature | None:
    """The feature bitmask if ``syntax`` is a bind time feature negotiation syntax."""
    raw = syntax.uuid.bytes_le
    if raw[:8] != BIND_TIME_FEATURE_PREFIX:
        return None
    return BindTimeFeature(raw[8] & 0x03)


def bind_time_feature_syntax(features: int) -> SyntaxId:
    """Build the transfer syntax a client proposes to negotiate ``features``, v1.0."""
    raw = BIND_TIME_FEATURE_PREFIX + bytes([features & 0xFF]) + b"\x00" * 7
    return SyntaxId(uuid.UUID(bytes_le=raw), 1)


@dataclass(frozen=True)
class ContextElement:
    """p_cont_elem_t (C706 12.6.3.1): one proposed presentation context."""

    context_id: int
    abstract_syntax: SyntaxId
    transfer_syntaxes: tuple[SyntaxId, ...]


@dataclass(frozen=True)
class Result:
    """p_result_t (C706 12.6.3.1): the server's answer to one context element."""

    result: ContextResult
    reason: int
    transfer_syntax: SyntaxId


@dataclass(frozen=True)
class AuthVerifier:
    """sec_trailer plus auth_value (C706 13.2.6.1, MS-RPCE 2.2.2.11).

    ``auth_pad_length`` is filled by the decoder; the encoder computes it.
    """

    auth_type: int
    auth_level: int
    auth_context_id: int
    auth_value: bytes
    auth_pad_length: int = 0


@dataclass(frozen=True)
class Bind:
    """rpcconn_bind_hdr_t / rpcconn_alter_context_hdr_t body (C706 12.6.4.3, 12.6.4.1)."""

    max_xmit_frag: int
    max_recv_frag: int
    assoc_group_id: int
    contexts: tuple[ContextElement, ...]


@dataclass(frozen=True)
class BindAck:
    """rpcconn_bind_ack_hdr_t / alter_context_resp body (C706 12.6.4.4, 12.6.4.2)."""

    max_xmit_frag: int
    max_recv_frag: int
    assoc_group_id: int
    secondary_address: bytes
    results: tuple[Result, ...]


@dataclass(frozen=True)
class BindNak:
    """rpcconn_bind_nak_hdr_t (C706 12.6.4.5): reason and the versions we speak."""

    reason: int
    versions: tuple[tuple[int, int], ...] = ((5, 0),)


@dataclass(frozen=True)
class Request:
    """rpcconn_request_hdr_t body (C706 12.6.4.9)."""

    alloc_hint: int
    context_id: int
    opnum: int
    stub: bytes
    object_uuid: uuid.UUID | None = None


@dataclass(frozen=True)
class Response:
    """rpcconn_response_hdr_t body (C706 12.6.4.10)."""

    alloc_hint: int
    context_id: int
    stub: bytes
    cancel_count: int = 0


@dataclass(frozen=True)
class Fault:
    """rpcconn_fault_hdr_t body (C706 12.6.4.7, MS-RPCE 2.2.2.9 adds reserved2)."""

    status: int
    context_id: int = 0
    alloc_hint: int = 0
    cancel_count: int = 0
    stub: bytes = b""


@dataclass(frozen=True)
class Auth3:
    """rpc_auth_3 (MS-RPCE 2.2.2.10): four pad octets then the verifier."""


@dataclass(frozen=True)
class Empty:
    """shutdown, co_cancel and orphaned carry only the header and optional verifier."""


PduBody = Bind | BindAck | BindNak | Request | Response | Fault | Auth3 | Empty

_BODY_TYPES: dict[PType, type] = {
    PType.BIND: Bind,
    PType.ALTER_CONTEXT: Bind,
    PType.BIND_ACK: BindAck,
    PType.ALTER_CONTEXT_RESP: BindAck,
    PType.BIND_NAK: BindNak,
    PType.REQUEST: Request,
    PType.RESPONSE: Response,
    PType.FAULT: Fault,
    PType.AUTH3: Auth3,
    PType.SHUTDOWN: Empty,
    PType.CO_CANCEL: Empty,
    PType.ORPHANED: Empty,
}


@dataclass(frozen=True)
class Header:
    """The 16-byte common header (C706 12.6.3.1)."""

    ptype: int
    flags: int
    frag_length: int
    auth_length: int
    call_id: int
    drep: bytes = DREP_LITTLE_ENDIAN
    version_minor: int = 0

    STRUCT = struct.Struct("<BBBB4sHHI")

    @classmethod
    def decode(cls, data: bytes) -> Header:
        if len(data) < COMMON_HEADER_SIZE:
            raise PduError("truncated PDU header")
        vers, minor, ptype, flags, drep, frag_length, auth_length, call_id = cls.STRUCT.unpack_from(
            data
        )
        if vers != 5 or minor > 1:
            raise PduError(f"unsupported RPC version {vers}.{minor}")
        if drep[0] & 0xF0 != 0x10 or drep[0] & 0x0F != 0 or drep[1] != 0:
            raise PduError(f"unsupported data representation {drep.hex()}")
        if frag_length < COMMON_HEADER_SIZE:
            raise PduError(f"frag_length {frag_length} shorter than the header")
        return cls(ptype, flags, frag_length, auth_length, call_id, drep, minor)

    def encode(self) -> bytes:
        return self.STRUCT.pack(
            5,
            self.version_minor,
            self.ptype,
            self.flags,
            self.drep,
            self.frag_length,
            self.auth_length,
            self.call_id,
        )


@dataclass(frozen=True)
class Pdu:
    """One connection-oriented PDU: header fields, typed body, optional verifier."""

    ptype: PType
    call_id: int
    body: PduBody
    flags: int = PfcFlags.FIRST_FRAG | PfcFlags.LAST_FRAG
    auth: AuthVerifier | None = None
    drep: bytes = field(default=DREP_LITTLE_ENDIAN)


def _slice(data: bytes, offset: int, size: int, what: str) -> bytes:
    if offset < 0 or offset + size > len(data):
        raise PduError(f"truncated {what}")
    return data[offset : offset + size]


def _u8(data: bytes, offset: int) -> int:
    return int(_slice(data, offset, 1, "field")[0])


def _u16(data: bytes, offset: int) -> int:
    return int(struct.unpack("<H", _slice(data, offset, 2, "field"))[0])


def _u32(data: bytes, offset: int) -> int:
    return int(struct.unpack("<I", _slice(data, offset, 4, "field"))[0])


def body_offset(ptype: int, flags: int) -> int:
    """Where the stub starts for request/response/fault (others: after the header)."""
    if ptype == PType.REQUEST:
        return 40 if flags & PfcFlags.OBJECT_UUID else 24
    if ptype == PType.RESPONSE:
        return 24
    if ptype == PType.FAULT:
        return 32
    return COMMON_HEADER_SIZE


def split_auth(data: bytes, header: Header) -> tuple[bytes, AuthVerifier | None]:
    """Separate body (without auth padding) and verifier of a complete PDU.

    ``data`` is exactly ``frag_length`` bytes. MS-RPCE 2.2.2.11: the sec_trailer sits
    ``auth_length + 8`` bytes before the end; padding precedes it.
    """
    if header.auth_length == 0:
        return data[COMMON_HEADER_SIZE:], None
    trailer_at = len(data) - header.auth_length - SEC_TRAILER_SIZE
    if trailer_at < COMMON_HEADER_SIZE:
        raise PduError(f"auth_length {header.auth_length} larger than the PDU")
    auth_type, auth_level, pad, _reserved, context_id = struct.unpack_from(
        "<BBBBI", data, trailer_at
    )
    body_end = trailer_at - pad
    if body_end < body_offset(header.ptype, header.flags):
        raise PduError(f"auth_pad_length {pad} reaches into the PDU header")
    verifier = AuthVerifier(
        auth_type, auth_level, context_id, bytes(data[trailer_at + SEC_TRAILER_SIZE :]), pad
    )
    return data[COMMON_HEADER_SIZE:body_end], verifier


def _decode_contexts(body: bytes, offset: int) -> tuple[ContextElement, ...]:
    count = _u8(body, offset)
    offset += 4
    contexts = []
    for _ in range(count):
        context_id = _u16(body, offset)
        n_transfer = _u8(body, offset + 2)
        abstract = SyntaxId.decode(body, offset + 4)
        offset += 24
        if n_transfer == 0:
            raise PduError(f"context {context_id} proposes no transfer syntax")
        transfers = tuple(
            SyntaxId.decode(body, offset + i * SyntaxId.SIZE) for i in range(n_transfer)
        )
        offset += n_transfer * SyntaxId.SIZE
        contexts.append(ContextElement(context_id, abstract, transfers))
    return tuple(contexts)


def _decode_bind(body: bytes) -> Bind:
    max_xmit, max_recv, assoc = struct.unpack("<HHI", _slice(body, 0, 8, "bind body"))
    return Bind(max_xmit, max_recv, assoc, _decode_contexts(body, 8))


def _decode_bind_ack(body: bytes) -> BindAck:
    max_xmit, max_recv, assoc = struct.unpack("<HHI", _slice(body, 0, 8, "bind_ack body"))
    addr_len = _u16(body, 8)
    address = _slice(body, 10, addr_len, "secondary address")
    offset = 10 + addr_len
    offset += -(offset + COMMON_HEADER_SIZE) % 4
    count = _u8(body, offset)
    offset += 4
    results = []
    for _ in range(count):
        result, reason = struct.unpack("<HH", _slice(body, offset, 4, "p_result"))
        try:
            result_enum = ContextResult(result)
        except ValueError:
            raise PduError(f"unknown presentation context result {result}") from None
        results.append(Result(result_enum, reason, SyntaxId.decode(body, offset + 4)))
        offset += 24
    return BindAck(max_xmit, max_recv, assoc, address, tuple(results))


def _decode_bind_nak(body: bytes) -> BindNak:
    reason = _u16(body, 0)
    if len(body) < 3:
        return BindNak(reason, ())
    count = _u8(body, 2)
    versions = tuple((_u8(body, 3 + 2 * i), _u8(body, 4 + 2 * i)) for i in range(count))
    return BindNak(reason, versions)


def _decode_body(ptype: PType, flags: int, body: bytes) -> PduBody:
    if ptype in (PType.BIND, PType.ALTER_CONTEXT):
        return _decode_bind(body)
    if ptype in (PType.BIND_ACK, PType.ALTER_CONTEXT_RESP):
        return _decode_bind_ack(body)
    if ptype == PType.BIND_NAK:
        return _decode_bind_nak(body)
    if ptype == PType.REQUEST:
        alloc_hint, context_id, opnum = struct.unpack("<IHH", _slice(body, 0, 8, "request body"))
        if flags & PfcFlags.OBJECT_UUID:
            obj = uuid.UUID(bytes_le=_slice(body, 8, 16, "object uuid"))
            return Request(alloc_hint, context_id, opnum, bytes(body[24:]), obj)
        return Request(alloc_hint, context_id, opnum, bytes(body[8:]))
    if ptype == PType.RESPONSE:
        alloc_hint, context_id, cancel = struct.unpack("<IHB", _slice(body, 0, 7, "response"))
        return Response(alloc_hint, context_id, bytes(body[8:]), cancel)
    if ptype == PType.FAULT:
        alloc_hint, context_id, cancel = struct.unpack("<IHB", _slice(body, 0, 7, "fault"))
        status = _u32(body, 8)
        return Fault(status, context_id, alloc_hint, cancel, bytes(body[16:]))
    if ptype == PType.AUTH3:
        return Auth3()
    return Empty()


def decode_pdu(data: bytes) -> Pdu:
    """Decode one complete connection-oriented PDU (not RTS: see :mod:`.rts`)."""
    header = Header.decode(data)
    if header.frag_length != len(data):
        raise PduError(f"frag_length {header.frag_length} but {len(data)} bytes given")
    try:
        ptype = PType(header.ptype)
    except ValueError:
        raise PduError(f"unknown PDU type {header.ptype}") from None
    if ptype not in _BODY_TYPES:
        raise PduError(f"{ptype.name} is not a connection-oriented PDU")
    body, auth = split_auth(data, header)
    return Pdu(
        ptype,
        header.call_id,
        _decode_body(ptype, header.flags, body),
        header.flags,
        auth,
        header.drep,
    )


def _encode_contexts(contexts: tuple[ContextElement, ...]) -> bytes:
    out = bytearray(struct.pack("<BBH", len(contexts), 0, 0))
    for element in contexts:
        out += struct.pack("<HBB", element.context_id, len(element.transfer_syntaxes), 0)
        out += element.abstract_syntax.encode()
        for syntax in element.transfer_syntaxes:
            out += syntax.encode()
    return bytes(out)


def _encode_body(body: PduBody, flags: int) -> bytes:
    if isinstance(body, Bind):
        if len(body.contexts) > 255:
            raise PduError("more than 255 presentation contexts")
        return struct.pack(
            "<HHI", body.max_xmit_frag, body.max_recv_frag, body.assoc_group_id
        ) + _encode_contexts(body.contexts)
    if isinstance(body, BindAck):
        out = bytearray(
            struct.pack(
                "<HHIH",
                body.max_xmit_frag,
                body.max_recv_frag,
                body.assoc_group_id,
                len(body.secondary_address),
            )
        )
        out += body.secondary_address
        out += b"\x00" * (-(len(out) + COMMON_HEADER_SIZE) % 4)
        out += struct.pack("<BBH", len(body.results), 0, 0)
        for result in body.results:
            out += (
                struct.pack("<HH", result.result, result.reason) + result.transfer_syntax.encode()
            )
        return bytes(out)
    if isinstance(body, BindNak):
        out = bytearray(struct.pack("<HB", body.reason, len(body.versions)))
        for major, minor in body.versions:
            out += bytes((major, minor))
        return bytes(out)
    if isinstance(body, Request):
        head = struct.pack("<IHH", body.alloc_hint, body.context_id, body.opnum)
        if flags & PfcFlags.OBJECT_UUID:
            if body.object_uuid is None:
                raise PduError("PFC_OBJECT_UUID set without an object uuid")
            head += body.object_uuid.bytes_le
        return head + body.stub
    if isinstance(body, Response):
        return (
            struct.pack("<IHBB", body.alloc_hint, body.context_id, body.cancel_count, 0) + body.stub
        )
    if isinstance(body, Fault):
        return (
            struct.pack(
                "<IHBBII", body.alloc_hint, body.context_id, body.cancel_count, 0, body.status, 0
            )
            + body.stub
        )
    if isinstance(body, Auth3):
        return b"\x00" * 4
    return b""


def auth_padding(ptype: int, body_length: int) -> int:
    """Padding before the sec_trailer: stub-bearing PDUs pad the stub to 16 bytes
    (as Windows does), the others only to the 4 bytes MS-RPCE 2.2.2.11 requires."""
    offset = body_offset(ptype, 0)
    if ptype in (PType.REQUEST, PType.RESPONSE, PType.FAULT):
        stub_length = body_length - (offset - COMMON_HEADER_SIZE)
        return -stub_length % STUB_PAD_ALIGNMENT
    return -(COMMON_HEADER_SIZE + body_length) % 4


def encode_pdu(pdu: Pdu) -> bytes:
    """Encode ``pdu``; with a verifier, pad the body and append sec_trailer + value."""
    flags = int(pdu.flags)
    if isinstance(pdu.body, Request) and pdu.body.object_uuid is not None:
        flags |= PfcFlags.OBJECT_UUID
    body = _encode_body(pdu.body, flags)
    auth_length = 0
    if pdu.auth is not None:
        pad = auth_padding(pdu.ptype, len(body))
        body += b"\x00" * pad
        body += struct.pack(
            "<BBBBI", pdu.auth.auth_type, pdu.auth.auth_level, pad, 0, pdu.auth.auth_context_id
        )
        body += pdu.auth.auth_value
        auth_length = len(pdu.auth.auth_value)
    frag_length = COMMON_HEADER_SIZE + len(body)
    if frag_length > MAX_FRAG_LENGTH:
        raise PduError(f"PDU of {frag_length} bytes does not fit frag_length")
    header = Header(pdu.ptype, flags, frag_length, auth_length, pdu.call_id, pdu.drep)
    return header.encode() + body
