"""Local delivery: from an accepted envelope to messages in mailboxes.

One pipeline for the three ways mail arrives (inbound SMTP, LMTP, submission to a
local user, and the queue's retries): recipient resolution in the directory
(addresses and aliases, groups expanded, an optional catch-all per domain), the
receive quota, MIME -> MAPI properties (once per message, whatever the number of
mailboxes), the message store's ``deliver`` into the Inbox with the byte-exact
original (it publishes ``new_mail`` on the notifier, so IMAP IDLE and ActiveSync Ping
wake up), and duplicate suppression: a second copy of the same Message-ID to the
same mailbox within ``[delivery] duplicate_window`` is accepted and dropped.

The duplicate check and the store write are one step: the check runs inside the
store's delivery transaction once the mailbox is locked, and the Message-ID is
remembered in that same transaction. Two copies racing (two MX connections, a retry
after a lost 250) cannot both be stored, and a delivery that fails leaves no memory
of the Message-ID behind. A message answered with 250 is committed (MIME original
fsynced, index and content committed) before the answer.

Protocol adapters hand in plain values (:class:`SessionInfo`, :class:`Envelope`) and
get :class:`groupware.errors.GroupwareError` subclasses back; they translate those
into their status codes.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa

from directory.model import Recipient, RecipientKind
from groupware.convert.model import Message
from groupware.errors import (
    GroupwareError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    Unavailable,
)
from groupware.handlers.mail.port import MailboxRef
from groupware.types import Feature, FolderRole
from storage.db.tables_queue import delivery_duplicates

if TYPE_CHECKING:
    from groupware.handlers.mail.mapistore_port import MapiMailStore, TxnGuard
    from groupware.handlers.queue import QueueHandler
    from groupware.server import GroupwareServer

logger = logging.getLogger(__name__)

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


class RelayDenied(PermissionDenied):
    """The recipient's domain is not ours and this session may not relay."""


class GroupTooBig(InvalidInput):
    """A group expands to more members than ``[delivery] max_group_members``."""


@dataclass
class SessionInfo:
    """Who is talking to us, for the Received header, logs and policy."""

    protocol: str
    """smtp, submission or lmtp (queue retries use ``queue``)."""
    peer: str
    session_id: str
    helo: str | None = None
    tls: bool = False
    user: Recipient | None = None

    def with_keyword(self, utf8: bool = False) -> str:
        """RFC 3848 / RFC 6531 "with" protocol of the Received header."""
        base = "LMTP" if self.protocol == "lmtp" else "ESMTP"
        if utf8:
            base = "UTF8" + ("LMTP" if self.protocol == "lmtp" else "SMTP")
        return base + ("S" if self.tls else "") + ("A" if self.user is not None else "")


@dataclass(frozen=True)
class EnvelopeRecipient:
    address: str
    notify: frozenset[str] | None = None
    """DSN NOTIFY (RFC 3461); None = not given (failures and delays are reported)."""
    orcpt: str | None = None


@dataclass(frozen=True)
class Envelope:
    sender: str
    """Reverse-path; "" is the null sender of bounces."""
    recipients: tuple[EnvelopeRecipient, ...] = ()
    ret: str | None = None
    envid: str | None = None
    smtputf8: bool = False
    body: str | None = None


@dataclass(frozen=True)
class LocalTarget:
    """What one recipient address resolves to."""

    rcpt: EnvelopeRecipient
    mailboxes: tuple[Recipient, ...]
    """Users and resources to store into (a group gives several)."""
    external: tuple[str, ...] = ()
    """Addresses outside our domains reached through a group (forwarded by the queue)."""


@dataclass
class Delivered:
    """One mailbox's copy: stored (``message_id`` set) or dropped as a duplicate."""

    user: Recipient
    duplicate: bool = False
    message_id: int | None = None


class _Duplicate(Exception):
    """Raised inside a delivery transaction: this Message-ID was delivered recently."""


@dataclass
class _Prepared:
    data: bytes
    message_id: str | None
    digest: str | None
    converted: Message | None = None
    delivered: dict[int, Delivered | GroupwareError] = field(default_factory=dict)


def message_id_of(data: bytes) -> str | None:
    """The Message-ID header's value (unfolded), or None."""
    m = _HEADER_END.search(data)
    head = data[: m.start()] if m else data[:65536]
    found = _MESSAGE_ID.search(head)
    if not found:
        return None
    value = re.sub(rb"\r?\n[ \t]+", b" ", found.group(1)).strip()
    return value.decode("utf-8", errors="replace") or None


class DeliveryHandler:
    """Resolves local recipients and stores messages into their mailboxes."""

    def __init__(self, server: GroupwareServer) -> None:
        self._server = server
        self.config = server.config.delivery
        self.hostname = server.config.server.hostname
        self._directory = server.get_directory()
        self._db = server.get_database()
        self._clock = server.clock
        self._domains: tuple[float, frozenset[str]] | None = None
        self._purged_at = 0.0
        self.store = DeliveryStore(server)

    @property
    def queue(self) -> QueueHandler:
        return self._server.get_queue()

    # -- recipients ---------------------------------------------------------------------

    async def local_domains(self) -> frozenset[str]:
        """Our mail domains, re-read at most every 30 seconds."""
        now = self._clock.monotonic()
        if self._domains is None or self._domains[0] < now:
            domains = frozenset(d.lower() for d in await self._directory.domains())
            self._domains = (now + 30.0, domains)
        return self._domains[1]

    async def is_local(self, address: str) -> bool:
        domain = address.rpartition("@")[2].lower()
        return domain in await self.local_domains()

    async def resolve(self, rcpt: EnvelopeRecipient) -> LocalTarget:
        """The mailboxes ``rcpt`` reaches; RelayDenied for other domains, NotFound for
        unknown local addresses, QuotaExceeded for full mailboxes."""
        address = rcpt.address
        local, _, domain = address.rpartition("@")
        domain = domain.lower()
        if domain not in await self.local_domains():
            raise RelayDenied(f"Relay access denied for <{address}>")
        found = await self._directory.find_address(address)
        if found is None and "+" in local:  # sub-addressing: user+tag@domain
            found = await self._directory.find_address(f"{local.split('+', 1)[0]}@{domain}")
        if found is None:
            catch_all = self.config.catch_all.get(domain)
            if catch_all:
                found = await self._directory.find_address(catch_all)
        if found is None:
            raise NotFound(f"<{address}>: Recipient address rejected: user unknown")
        target = await self._target(rcpt, found)
        for user in target.mailboxes:
            await self._check_quota(user)
        return target

    async def _target(self, rcpt: EnvelopeRecipient, found: Recipient) -> LocalTarget:
        if found.kind is RecipientKind.GROUP:
            members = await self._directory.expand_group(found.id)
            if len(members) > self.config.max_group_members:
                raise GroupTooBig(f"<{rcpt.address}>: group too big")
            boxes = tuple(m for m in members if m.is_mailbox and m.enabled)
            external = tuple(m.address for m in members
                             if m.kind is RecipientKind.CONTACT and m.address)
            if not boxes and not external:
                raise NotFound(f"<{rcpt.address}>: group has no members")
            return LocalTarget(rcpt, boxes, external)
        if found.kind is RecipientKind.CONTACT:
            if not found.address:
                raise NotFound(f"<{rcpt.address}>: Recipient address rejected: user unknown")
            return LocalTarget(rcpt, (), (found.address,))
        if not found.enabled or found.user_id is None:
            raise NotFound(f"<{rcpt.address}>: Recipient address rejected: user unknown")
        return LocalTarget(rcpt, (found,))

    async def _check_quota(self, user: Recipient) -> None:
        try:
            await self.store.check_receive_quota(user)
        except QuotaExceeded as exc:
            err = QuotaExceeded(f"<{user.address}>: Mailbox full")
            err.transient = self.config.quota_tempfail  # type: ignore[attr-defined]
            raise err from exc

    # -- delivery -----------------------------------------------------------------------

    def received_header(self, session: SessionInfo, envelope: Envelope, *,
                        for_rcpt: str | None) -> bytes:
        """RFC 5321 4.4 trace header, folded, CRLF-terminated."""
        helo = session.helo or "unknown"
        date = email.utils.format_datetime(datetime.datetime.fromtimestamp(
            self._clock.time(), datetime.UTC))
        parts = [f"Received: from {helo} ([{session.peer}])"]
        if session.user is not None:
            parts.append(f"\t(Authenticated sender: {session.user.address})")
        parts.append(f"\tby {self.hostname} (groupware) with "
                     f"{session.with_keyword(envelope.smtputf8)} id {session.session_id}")
        parts.append(f"\t{'for <' + for_rcpt + '>' if for_rcpt else ''}; {date}".replace(
            "\t; ", "\t; "))
        return ("\r\n".join(parts) + "\r\n").encode("utf-8")

    async def deliver(self, session: SessionInfo, envelope: Envelope,
                      targets: Sequence[LocalTarget], data: bytes, *,
                      add_received: bool = True) -> list[GroupwareError | None]:
        """Store ``data`` for every target; one outcome per target (None = delivered).

        A mailbox reached through several targets (an alias and a group) gets one
        copy. Group members outside our domains are handed to the queue.
        """
        if add_received and self._server.config.smtp.received_header:
            only = targets[0].rcpt.address if len(targets) == 1 else None
            data = self.received_header(session, envelope, for_rcpt=only) + data
        prepared = await self._prepare(data)
        outcomes: list[GroupwareError | None] = []
        for target in targets:
            error: GroupwareError | None = None
            for user in target.mailboxes:
                result = await self._deliver_one(prepared, user)
                if isinstance(result, GroupwareError) and error is None:
                    error = result
            if target.external:
                try:
                    await self.queue.enqueue(envelope.sender, [
                        EnvelopeRecipient(a, target.rcpt.notify) for a in target.external],
                        data, origin="group", envid=envelope.envid, ret=envelope.ret,
                        smtputf8=envelope.smtputf8)
                except GroupwareError as exc:
                    error = error or exc
            outcomes.append(error)
        self._maybe_purge()
        return outcomes

    async def _prepare(self, data: bytes) -> _Prepared:
        mid = message_id_of(data)
        digest = hashlib.sha256(mid.encode("utf-8")).hexdigest() if mid else None
        return _Prepared(data, mid, digest)

    def _dedup_guard(self, user_id: int, digest: str) -> TxnGuard:
        """Runs in the store's delivery transaction (the mailbox is locked): refuse a
        Message-ID seen within the window, else remember it with the message."""
        now = self._clock.time()
        horizon = now - self.config.duplicate_window

        def guard(conn: sa.Connection) -> None:
            row = conn.execute(sa.select(delivery_duplicates.c.delivered_at).where(
                delivery_duplicates.c.user_id == user_id,
                delivery_duplicates.c.digest == digest)).first()
            if row is not None and float(row.delivered_at) >= horizon:
                raise _Duplicate(digest)
            if row is not None:
                conn.execute(sa.update(delivery_duplicates).where(
                    delivery_duplicates.c.user_id == user_id,
                    delivery_duplicates.c.digest == digest).values(delivered_at=now))
            else:
                conn.execute(sa.insert(delivery_duplicates).values(
                    user_id=user_id, digest=digest, delivered_at=now))

        return guard

    async def _deliver_one(self, prepared: _Prepared,
                           user: Recipient) -> Delivered | GroupwareError:
        assert user.user_id is not None
        key = int(user.user_id)
        done = prepared.delivered.get(key)
        if done is not None:
            return done
        result: Delivered | GroupwareError
        guard = None
        if prepared.digest and self.config.duplicate_window > 0:
            guard = self._dedup_guard(key, prepared.digest)
        try:
            if prepared.converted is None:
                prepared.converted = await self.store.port.convert(prepared.data)
            uid = await self.store.deliver(user, prepared.data, role=FolderRole.INBOX,
                                           guard=guard, converted=prepared.converted)
            logger.info("delivered: to=%s size=%d message-id=%s", user.address,
                        len(prepared.data), prepared.message_id)
            result = Delivered(user, message_id=uid)
        except _Duplicate:
            logger.info("delivery: duplicate %s to %s dropped", prepared.message_id,
                        user.address)
            result = Delivered(user, duplicate=True)
        except QuotaExceeded as exc:
            logger.info("delivery to %s refused: %s", user.address, exc.message)
            err = QuotaExceeded(f"<{user.address}>: Mailbox full")
            err.transient = self.config.quota_tempfail  # type: ignore[attr-defined]
            result = err
        except GroupwareError as exc:
            logger.warning("delivery to %s failed: %s", user.address, exc)
            result = exc
        except Exception as exc:
            logger.exception("delivery to %s failed", user.address)
            result = Unavailable(f"delivery failed: {type(exc).__name__}")
        prepared.delivered[key] = result
        return result

    def _maybe_purge(self) -> None:
        now = self._clock.time()
        if now - self._purged_at < 600:
            return
        self._purged_at = now
        horizon = now - max(self.config.duplicate_window, 60.0)

        def txn(conn: sa.Connection) -> int:
            return int(conn.execute(sa.delete(delivery_duplicates).where(
                delivery_duplicates.c.delivered_at < horizon)).rowcount or 0)

        async def purge() -> None:
            try:
                n = await self._db.run_interaction("delivery_purge", txn)
                if n:
                    logger.debug("purged %d duplicate-suppression entries", n)
            except Exception as exc:
                logger.warning("duplicate-suppression purge failed: %s", exc)

        asyncio.ensure_future(purge())  # noqa: RUF006 - fire and forget, logged

    # -- the inbound MX ---------------------------------------------------------------

    async def accept(self, session: SessionInfo, envelope: Envelope,
                     targets: Sequence[LocalTarget], data: bytes) -> None:
        """Inbound SMTP: one answer for all recipients. Delivers now; a recipient that
        fails temporarily is queued for a local retry, one that fails permanently is
        bounced. Raises only when nothing was accepted (the client keeps the message)."""
        received = self.received_header(
            session, envelope, for_rcpt=targets[0].rcpt.address if len(targets) == 1 else None)
        full = received + data if self._server.config.smtp.received_header else data
        outcomes = await self.deliver(session, envelope, targets, full, add_received=False)
        failed = [(t, e) for t, e in zip(targets, outcomes, strict=True) if e is not None]
        if not failed:
            return
        if len(failed) == len(targets) and len({type(e) for _, e in failed}) == 1:
            err = failed[0][1]
            assert err is not None
            raise err
        retry = [t.rcpt for t, e in failed if e is not None and _transient(e)]
        bounce = [(t.rcpt, e) for t, e in failed if e is not None and not _transient(e)]
        if retry:
            await self.queue.enqueue(envelope.sender, retry, full, origin="local",
                                     envid=envelope.envid, ret=envelope.ret,
                                     smtputf8=envelope.smtputf8, local=True)
        if bounce:
            await self.queue.bounce_now(envelope, full, [(r, str(e)) for r, e in bounce])

    async def check_feature(self, user: Recipient, feature: Feature) -> bool:
        return feature in user.features


def _transient(exc: GroupwareError) -> bool:
    from groupware.errors import Code

    if exc.code is Code.QUOTA:
        return bool(getattr(exc, "transient", False))
    return exc.code in (Code.UNAVAILABLE, Code.CONFLICT, Code.INTERNAL, Code.THROTTLED)


class DeliveryStore:
    """Where delivered and sent mail goes: the message store as the IMAP and POP3
    gateways see it (:class:`~groupware.handlers.mail.mapistore_port.MapiMailStore`),
    so their sessions see a delivery at once (IDLE wakes on ``new_mail``)."""

    def __init__(self, server: GroupwareServer) -> None:
        self._server = server
        self._folders: dict[tuple[int, str], tuple[MailboxRef, int]] = {}

    @property
    def port(self) -> MapiMailStore:
        return self._server.get_mail_store()

    async def folder(self, user: Recipient, role: str) -> tuple[MailboxRef, int]:
        """The user's mailbox (provisioned on first use) and its folder of ``role``."""
        assert user.user_id is not None
        key = (int(user.user_id), role)
        box = await self.port.open_mailbox(user)  # keeps the quota current
        hit = self._folders.get(key)
        if hit is not None and hit[0].store_id == box.store_id:
            return box, hit[1]
        fid = await self.port.role_folder(box, role)
        if len(self._folders) > 10000:
            self._folders.clear()
        self._folders[key] = (box, fid)
        return box, fid

    async def check_receive_quota(self, user: Recipient) -> None:
        box, _ = await self.folder(user, FolderRole.INBOX.value)
        quota = await self.port.quota(box)
        if quota.limit is not None and quota.used >= quota.limit:
            raise QuotaExceeded(f"mailbox of {user.address} is full")

    async def deliver(self, user: Recipient, data: bytes, *,
                      role: FolderRole = FolderRole.INBOX, guard: TxnGuard | None = None,
                      converted: Message | None = None) -> int:
        """Store ``data`` unread in the folder of ``role``; returns its UID. ``guard``
        runs inside the store transaction (see :meth:`DeliveryHandler._dedup_guard`)."""
        box, fid = await self.folder(user, role.value)
        try:
            info = await self.port.deliver(box, fid, data, guard=guard, converted=converted)
        except NotFound:  # the folder was replaced: look it up once more
            assert user.user_id is not None
            self._folders.pop((int(user.user_id), role.value), None)
            box, fid = await self.folder(user, role.value)
            info = await self.port.deliver(box, fid, data, guard=guard, converted=converted)
        return info.uid

    async def save_sent(self, user: Recipient, data: bytes) -> int:
        """The sender's copy in Sent Items, marked read."""
        box, fid = await self.folder(user, FolderRole.SENT.value)
        state = await self.port.append(box, fid, data, ("\\Seen",), None)
        return state.uid
