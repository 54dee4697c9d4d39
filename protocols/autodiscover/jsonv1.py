"""Autodiscover JSON v1.0 (``/autodiscover/autodiscover.json/v1.0/<address>?Protocol=``).

Newer Outlook builds ask this first; the answer only redirects to the protocol's URL
(for ``AutodiscoverV1`` the POX endpoint). Unknown protocols get HTTP 400 with an
ErrorCode/ErrorMessage object, as Exchange answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

SUPPORTED = {"autodiscoverv1": "AutodiscoverV1", "activesync": "ActiveSync", "ews": "Ews"}
MAX_ADDRESS = 320


@dataclass(frozen=True)
class JsonAnswer:
    status: int
    body: bytes


def answer(address: str, protocol: str | None, *, base_url: str) -> JsonAnswer:
    """Build the JSON answer for ``address`` and the requested ``protocol``."""
    if not address or len(address) > MAX_ADDRESS or "@" not in address:
        return _error(400, "InvalidUser", f"The given SMTP address {address[:64]!r} is invalid.")
    key = (protocol or "").lower()
    if key not in SUPPORTED:
        supported = ",".join(SUPPORTED.values())
        return _error(400, "InvalidProtocol",
                      f"The given protocol value '{(protocol or '')[:64]}' is invalid. "
                      f"Supported values are '{supported}'")
    name = SUPPORTED[key]
    path = {
        "AutodiscoverV1": "/autodiscover/autodiscover.xml",
        "ActiveSync": "/Microsoft-Server-ActiveSync",
        "Ews": "/EWS/Exchange.asmx",
    }[name]
    body = json.dumps({"Protocol": name, "Url": base_url.rstrip("/") + path})
    return JsonAnswer(200, body.encode())


def _error(status: int, code: str, message: str) -> JsonAnswer:
    return JsonAnswer(status, json.dumps({"ErrorCode": code, "ErrorMessage": message}).encode())
