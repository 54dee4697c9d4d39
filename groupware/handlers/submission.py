"""Message submission (RFC 6409): authenticated users sending mail.

The user logs in with the ``smtp`` feature; the envelope sender must be one of the
user's own addresses (``[smtp] check_sender``); local recipients must exist, any other
address is accepted (the user may relay). An accepted message gets a Received header
(and Date / Message-ID when the client left them out, RFC 6409 8), is committed to
the queue before the 250, and a copy goes to the sender's Sent Items
(``[smtp] copy_to_sent``).
"""

from __future__ import annotations

import datetime
import email.utils
import logging
import re
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING

from directory.model import Recipient
from groupware.errors import GroupwareError, PermissionDenied
from groupware.handlers.delivery import (
    Envelope,
    EnvelopeRecipient,
    LocalTarget,
    SessionInfo,
)
from groupware.types import Feature

if TYPE_CHECKING:
    from groupware.server import GroupwareServer

logger = logging.getLogger(__name__)

_HEADER_END = re.compile(rb"\r?\n\r?\n")


def _has_header(head: bytes, name: bytes) -> bool:
    return re.search(rb"(?im)^" + re.escape(name) + rb"[ \t]*:", head) is not None


class SubmissionHandler:
    """Policy and hand-off of the submission listeners (587 STARTTLS, 465 TLS)."""

    def __init__(self, server: GroupwareServer) -> None:
        self._server = server
        self.config = server.config.smtp
        self.hostname = server.config.server.hostname
        self._auth = server.get_auth()
        self._clock = server.clock

    async def authenticate(self, login: str, password: str, *, peer: str | None) -> Recipient:
        result = await self._auth.authenticate(login, password, service=Feature.SMTP, peer=peer)
        return result.user

    async def check_sender(self, session: SessionInfo, address: str) -> None:
        user = session.user
        if user is None:
            raise PermissionDenied("authentication required")
        if not self.config.check_sender or not address:
            return
        if address.lower() not in {a.lower() for a in user.addresses}:
            logger.info("submission: sender <%s> refused for %s", address, user.address)
            raise PermissionDenied(f"<{address}>: Sender address rejected: not owned by "
                                   f"user {user.address}")

    async def resolve(self, session: SessionInfo, rcpt: EnvelopeRecipient) -> LocalTarget:
        delivery = self._server.get_delivery()
        if await delivery.is_local(rcpt.address):
            return await delivery.resolve(rcpt)
        return LocalTarget(rcpt, (), (rcpt.address,))

    def complete_headers(self, data: bytes, user: Recipient) -> bytes:
        """Add Date and Message-ID when missing (RFC 6409 8.2, 8.3)."""
        m = _HEADER_END.search(data)
        head = data[: m.start()] if m else data
        extra = b""
        if not _has_header(head, b"date"):
            now = datetime.datetime.fromtimestamp(self._clock.time(), datetime.UTC)
            extra += f"Date: {email.utils.format_datetime(now)}\r\n".encode()
        if not _has_header(head, b"message-id"):
            domain = (user.address or self.hostname).rpartition("@")[2] or self.hostname
            extra += f"Message-ID: <{secrets.token_hex(16)}@{domain}>\r\n".encode()
        return extra + data

    async def accept(self, session: SessionInfo, envelope: Envelope,
                     targets: Sequence[LocalTarget], data: bytes) -> None:
        user = session.user
        assert user is not None
        delivery = self._server.get_delivery()
        data = self.complete_headers(data, user)
        if self.config.received_header:
            only = targets[0].rcpt.address if len(targets) == 1 else None
            data = delivery.received_header(session, envelope, for_rcpt=only) + data
        await self._server.get_queue().enqueue(
            envelope.sender, [t.rcpt for t in targets], data, origin="submission",
            envid=envelope.envid, ret=envelope.ret, smtputf8=envelope.smtputf8,
            user_id=int(user.user_id) if user.user_id is not None else None)
        if self.config.copy_to_sent:
            try:
                await delivery.store.save_sent(user, data)
            except GroupwareError as exc:
                logger.warning("submission: copy to Sent Items of %s failed: %s",
                               user.address, exc)
            except Exception:
                logger.exception("submission: copy to Sent Items of %s failed", user.address)
