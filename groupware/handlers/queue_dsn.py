"""Delivery status notifications (RFC 3464 multipart/report, RFC 3461 semantics).

Pure functions: the queue decides when a DSN is due and enqueues what this returns
with the null sender ``<>`` so that a DSN never causes another one.
"""

from __future__ import annotations

import datetime
import email.utils
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

_HEADER_END = re.compile(rb"\r?\n\r?\n")


@dataclass(frozen=True)
class RecipientStatus:
    address: str
    action: str
    """failed, delayed, delivered or relayed (RFC 3464 2.3.3)."""
    status: str
    """Enhanced status code, e.g. 5.1.1."""
    diagnostic: str = ""
    """The remote server's reply (``smtp; 550 5.1.1 ...``) or our reason."""
    orcpt: str | None = None
    remote_mta: str = ""
    last_attempt: float | None = None
    will_retry_until: float | None = None


_TITLES = {
    "failed": "Undelivered Mail Returned to Sender",
    "delayed": "Delayed Mail (still being retried)",
    "delivered": "Successful Mail Delivery Report",
    "relayed": "Successful Mail Delivery Report",
}

_EXPLANATIONS = {
    "failed": "Your message could not be delivered to one or more recipients. It has "
              "been returned with this notice.",
    "delayed": "Your message could not be delivered yet to one or more recipients. "
               "Delivery will be retried; you do not need to send it again.",
    "delivered": "Your message was delivered to the recipients below.",
    "relayed": "Your message was passed on to a system that does not report delivery, "
               "for the recipients below.",
}


def _date(ts: float) -> str:
    return email.utils.format_datetime(datetime.datetime.fromtimestamp(ts, datetime.UTC))


def status_of(reply: str, fallback: str) -> str:
    """The enhanced code in an SMTP reply text (``550 5.1.1 ...``) or ``fallback``."""
    m = re.search(r"\b([245]\.\d{1,3}\.\d{1,3})\b", reply)
    return m.group(1) if m else fallback


def build_dsn(*, hostname: str, original_sender: str, original: bytes, arrival: float,
              now: float, recipients: Sequence[RecipientStatus], envid: str | None,
              ret: str | None, message_id_domain: str | None = None) -> bytes:
    """The DSN message to ``original_sender`` about ``recipients`` (all one action)."""
    action = recipients[0].action
    boundary = f"dsn-{secrets.token_hex(12)}"
    domain = message_id_domain or hostname
    lines = [
        f"From: Mail Delivery System <MAILER-DAEMON@{hostname}>",
        f"To: <{original_sender}>",
        f"Subject: {_TITLES[action]}",
        f"Date: {_date(now)}",
        f"Message-ID: <{secrets.token_hex(16)}@{domain}>",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        "This is a MIME-encapsulated delivery status notification.",
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        f"This is the mail system at {hostname}.",
        "",
        _EXPLANATIONS[action],
        "",
    ]
    for r in recipients:
        reason = f": {r.diagnostic}" if r.diagnostic else ""
        lines.append(f"<{r.address}>{reason}")
    lines += ["", f"--{boundary}", "Content-Type: message/delivery-status", ""]
    lines.append(f"Reporting-MTA: dns; {hostname}")
    if envid:
        lines.append(f"Original-Envelope-Id: {envid}")
    lines.append(f"Arrival-Date: {_date(arrival)}")
    for r in recipients:
        lines.append("")
        if r.orcpt:
            lines.append(f"Original-Recipient: {r.orcpt}")
        lines.append(f"Final-Recipient: rfc822; {r.address}")
        lines.append(f"Action: {r.action}")
        lines.append(f"Status: {r.status}")
        if r.remote_mta:
            lines.append(f"Remote-MTA: dns; {r.remote_mta}")
        if r.diagnostic:
            lines.append(f"Diagnostic-Code: smtp; {r.diagnostic}")
        if r.last_attempt is not None:
            lines.append(f"Last-Attempt-Date: {_date(r.last_attempt)}")
        if r.will_retry_until is not None:
            lines.append(f"Will-Retry-Until: {_date(r.will_retry_until)}")
    lines.append("")
    head = "\r\n".join(lines).encode("utf-8") + b"\r\n"
    m = _HEADER_END.search(original)
    headers_only = ret == "HDRS" or action != "failed"
    if headers_only:
        part = (f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n").encode()
        part += (original[: m.start()] if m else original[:65536]) + b"\r\n"
    else:
        part = (f"--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n").encode() + original
        if not original.endswith(b"\r\n"):
            part += b"\r\n"
    return head + part + f"--{boundary}--\r\n".encode()


def xtext(value: str) -> str:
    """RFC 3461 4 xtext encoding for ENVID and ORCPT passed on to the next server."""
    out = []
    for b in value.encode("utf-8"):
        out.append(chr(b) if 33 <= b <= 126 and b not in (0x2B, 0x3D) else f"+{b:02X}")
    return "".join(out)
