"""The ActiveSync HTTP request line and headers (MS-ASHTTP 2.2.1), sans-IO.

Two query forms exist: the plain one (``?Cmd=Sync&User=..&DeviceId=..&DeviceType=..``)
and the base64-encoded one (MS-ASHTTP 2.2.1.1.1.1) some clients use to save bytes.
Both become one :class:`EasRequest`.
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from groupware.errors import InvalidInput

VERSIONS = ("12.0", "12.1", "14.0", "14.1", "16.0", "16.1")
"""MS-ASProtocolVersions we speak (MS-ASHTTP 2.2.2.4)."""

COMMANDS = (
    "Sync", "SendMail", "SmartForward", "SmartReply", "GetAttachment", "FolderSync",
    "FolderCreate", "FolderDelete", "FolderUpdate", "MoveItems", "GetItemEstimate",
    "MeetingResponse", "Search", "Settings", "Ping", "ItemOperations", "Provision",
    "ResolveRecipients", "ValidateCert", "Find",
)
"""MS-ASProtocolCommands (MS-ASHTTP 2.2.2.3)."""

# MS-ASHTTP 2.2.1.1.1.1.2 command codes of the base64 form.
COMMAND_CODES = {
    0: "Sync", 1: "SendMail", 2: "SmartForward", 3: "SmartReply", 4: "GetAttachment",
    9: "FolderSync", 10: "FolderCreate", 11: "FolderDelete", 12: "FolderUpdate",
    13: "MoveItems", 14: "GetItemEstimate", 15: "MeetingResponse", 16: "Search",
    17: "Settings", 18: "Ping", 19: "ItemOperations", 20: "Provision",
    21: "ResolveRecipients", 22: "ValidateCert", 23: "Find",
}
# MS-ASHTTP 2.2.1.1.1.1.3 command parameter tags.
PARAM_TAGS = {0: "AttachmentName", 1: "CollectionId", 3: "ItemId", 4: "LongId",
              6: "Occurrence", 7: "Options", 8: "User"}

MAX_ID = 64


@dataclass
class EasRequest:
    command: str
    user: str = ""
    device_id: str = ""
    device_type: str = ""
    version: str = ""
    policy_key: int | None = None
    locale: int = 0
    params: dict[str, str] = field(default_factory=dict)
    save_in_sent: bool = False
    accept_multipart: bool = False
    user_agent: str = ""

    @property
    def version_number(self) -> float:
        try:
            return float(self.version)
        except ValueError:
            return 0.0


def parse_policy_key(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        key = int(value.strip())
    except ValueError:
        return -1
    return key if 0 <= key <= 0xFFFFFFFF else -1


def parse_request(query: str, headers: dict[str, str]) -> EasRequest:
    """Query string + lower-cased headers -> request; InvalidInput when malformed."""
    query = query.lstrip("?")
    plain = "cmd=" in query.lower() or not query
    req = _parse_plain(query) if plain else _parse_base64(query)
    if not req.version:
        req.version = headers.get("ms-asprotocolversion", "").strip()
    if req.policy_key is None:
        req.policy_key = parse_policy_key(headers.get("x-ms-policykey"))
    if headers.get("ms-asacceptmultipart", "").strip().upper() == "T":
        req.accept_multipart = True
    req.user_agent = headers.get("user-agent", "")[:256]
    if not req.device_id or len(req.device_id) > MAX_ID or not req.device_id.isprintable():
        raise InvalidInput("DeviceId is missing or invalid")
    if len(req.device_type) > MAX_ID:
        raise InvalidInput("DeviceType is too long")
    return req


def _parse_plain(query: str) -> EasRequest:
    pairs = parse_qsl(query, keep_blank_values=True)
    values: dict[str, str] = {}
    for key, value in pairs:
        values.setdefault(key.lower(), value)
    command = values.get("cmd", "")
    if not command:
        raise InvalidInput("no Cmd in the query")
    params = {k: v for k, v in pairs if k.lower() in (
        "collectionid", "itemid", "longid", "attachmentname", "occurrence")}
    params = {_canonical(k): v for k, v in params.items()}
    return EasRequest(command=command, user=values.get("user", ""),
                      device_id=values.get("deviceid", ""),
                      device_type=values.get("devicetype", ""), params=params,
                      save_in_sent=values.get("saveinsent", "").upper() == "T")


def _canonical(key: str) -> str:
    for name in ("CollectionId", "ItemId", "LongId", "AttachmentName", "Occurrence"):
        if name.lower() == key.lower():
            return name
    return key


def _parse_base64(query: str) -> EasRequest:
    """MS-ASHTTP 2.2.1.1.1.1: version, command, locale, device id, policy key, type,
    then tag/length/value command parameters."""
    try:
        raw = base64.b64decode(query.replace(" ", "+") + "=" * (-len(query) % 4),
                               validate=False)
    except (binascii.Error, ValueError):
        raise InvalidInput("the base64 query does not decode") from None
    try:
        pos = 0
        version, code = raw[0], raw[1]
        locale = struct.unpack_from("<H", raw, 2)[0]
        pos = 4
        n = raw[pos]
        device = raw[pos + 1:pos + 1 + n]
        pos += 1 + n
        n = raw[pos]
        if n not in (0, 4):
            raise InvalidInput("the policy key of a base64 query has 0 or 4 bytes")
        policy = struct.unpack_from("<I", raw, pos + 1)[0] if n == 4 else None
        pos += 1 + n
        n = raw[pos]
        device_type = raw[pos + 1:pos + 1 + n].decode("ascii", "replace")
        pos += 1 + n
        params: dict[str, str] = {}
        options = 0
        while pos < len(raw):
            tag, n = raw[pos], raw[pos + 1]
            value = raw[pos + 2:pos + 2 + n]
            if len(value) != n:
                raise IndexError
            pos += 2 + n
            name = PARAM_TAGS.get(tag)
            if name == "Options":
                options = value[0] if value else 0
            elif name is not None:
                params[name] = value.decode("utf-8", "replace")
    except (IndexError, struct.error):
        raise InvalidInput("the base64 query is truncated") from None
    command = COMMAND_CODES.get(code)
    if command is None:
        raise InvalidInput(f"unknown command code {code}")
    device_id = device.decode("ascii") if device.isascii() and device.decode(
        "ascii").isprintable() else device.hex()
    req = EasRequest(command=command, user=params.pop("User", ""), device_id=device_id,
                     device_type=device_type, version=f"{version // 10}.{version % 10}",
                     policy_key=policy, locale=locale, params=params,
                     save_in_sent=bool(options & 0x01),
                     accept_multipart=bool(options & 0x02))
    return req


def encode_base64_query(req: EasRequest) -> str:
    """The base64 form of a request (for tests and tools)."""
    code = {v: k for k, v in COMMAND_CODES.items()}[req.command]
    major, minor = req.version.split(".")
    out = bytearray([int(major) * 10 + int(minor), code])
    out += struct.pack("<H", req.locale)
    device = req.device_id.encode("ascii")
    out += bytes([len(device)]) + device
    if req.policy_key is None:
        out += b"\x00"
    else:
        out += b"\x04" + struct.pack("<I", req.policy_key)
    dtype = req.device_type.encode("ascii")
    out += bytes([len(dtype)]) + dtype
    tags = {v: k for k, v in PARAM_TAGS.items()}
    params = dict(req.params)
    if req.user:
        params["User"] = req.user
    for name, value in params.items():
        data = value.encode("utf-8")
        out += bytes([tags[name], len(data)]) + data
    options = (0x01 if req.save_in_sent else 0) | (0x02 if req.accept_multipart else 0)
    if options:
        out += bytes([tags["Options"], 1, options])
    return base64.b64encode(bytes(out)).decode("ascii")
