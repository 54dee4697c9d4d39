"""The POP3 maildrop: the user's Inbox through the mail store port.

The listing is taken once at login (RFC 1939: message numbers are fixed for the
session). UIDLs are the IMAP UID and UIDVALIDITY of the Inbox, so they stay the same
across sessions and match what IMAP shows. One session per user holds the maildrop
(RFC 1939 8: an exclusive lock); a second gets ``[IN-USE]``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from directory.model import Recipient
from groupware.errors import Conflict, NotFound
from groupware.handlers.mail.port import MailboxRef, MailStore
from groupware.types import Feature, FolderRole

if TYPE_CHECKING:
    from groupware.server import GroupwareServer

logger = logging.getLogger(__name__)


class MaildropLocked(Conflict):
    """Another POP3 session holds this user's maildrop."""


@dataclass(frozen=True)
class Entry:
    uid: int
    size: int
    uidl: str


@dataclass
class Maildrop:
    user: Recipient
    box: MailboxRef
    fid: int
    uidvalidity: int
    entries: list[Entry]


class Pop3Handler:
    """Login, listing, retrieval and the final expunge for POP3 sessions."""

    def __init__(self, server: GroupwareServer) -> None:
        self._server = server
        self._auth = server.get_auth()
        self._locked: set[str] = set()

    @property
    def store(self) -> MailStore:
        return self._server.get_mail_handler().store

    async def authenticate(self, login: str, password: str, *, peer: str | None) -> Recipient:
        result = await self._auth.authenticate(login, password, service=Feature.POP3, peer=peer)
        return result.user

    async def open(self, user: Recipient) -> Maildrop:
        """Lock and list the maildrop; MaildropLocked when another session has it."""
        if user.id in self._locked:
            raise MaildropLocked(f"maildrop of {user.address} is in use")
        self._locked.add(user.id)
        try:
            store = self.store
            box = await store.open_mailbox(user)
            inbox = next((f for f in await store.folders(box, fresh=False)
                          if f.role == FolderRole.INBOX.value), None)
            if inbox is None:
                raise NotFound(f"mailbox of {user.address} has no Inbox")
            snap = await store.snapshot(box, inbox.fid)
            uids = [m.uid for m in snap.messages if "\\Deleted" not in m.flags]
            infos = await store.message_info(box, inbox.fid, uids) if uids else {}
            entries = [Entry(uid, infos[uid].size, f"{uid:08x}{snap.uidvalidity:08x}")
                       for uid in uids if uid in infos]
            return Maildrop(user, box, inbox.fid, snap.uidvalidity, entries)
        except BaseException:
            self._locked.discard(user.id)
            raise

    def release(self, drop: Maildrop) -> None:
        self._locked.discard(drop.user.id)

    async def read(self, drop: Maildrop, uid: int) -> bytes | None:
        try:
            return await self.store.read_mime(drop.box, drop.fid, uid)
        except NotFound:
            return None

    async def expunge(self, drop: Maildrop, uids: Sequence[int]) -> int:
        removed = await self.store.expunge(drop.box, drop.fid, list(uids))
        logger.info("pop3: %d of %d deleted message(s) removed for %s", len(removed),
                    len(uids), drop.user.address)
        return len(removed)
