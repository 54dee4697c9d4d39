"""The mail store port on the real message store, in process (SQL directory, real
database, sql and maildir backends): what IMAP clients set is what Outlook and
ActiveSync read and the other way round, several processes stay consistent through
the change log, a maildir-backed Inbox agrees with its file names, messages made
through MAPI get a stable MIME form, quotas and the new-mail event."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from directory.model import Recipient
from groupware.clock import Clock
from groupware.config import load_config
from groupware.convert._tags import KEYWORDS
from groupware.errors import QuotaExceeded
from groupware.handlers.delivery import Envelope, EnvelopeRecipient, SessionInfo
from groupware.handlers.mail import flags as fl
from groupware.handlers.mail.mapistore_port import MapiMailStore
from groupware.handlers.mail.port import FlagChange
from groupware.notifier import Event, store_channel
from groupware.server import GroupwareServer
from storage.mapistore import tags
from storage.mapistore.model import MessageContent
from tests.conftest import GROUPWARE, write_config

FAST = "\n[auth]\nargon2_time_cost = 1\nargon2_memory_cost = 1024\nargon2_parallelism = 1\n"


def make_server(tmp_path: Path, database_url: str, extra: str = "",
                add: tuple[str, ...] = ()) -> GroupwareServer:
    config = tmp_path / "groupware.toml"
    write_config(config, tmp_path / "var", database_url, [], FAST + extra)

    def cli(*args: str) -> None:
        subprocess.run([GROUPWARE, "--config", str(config), *args], check=True,
                       capture_output=True, input="pw-123456\n", text=True, timeout=120)

    cli("init", "--admin-password", "admin-secret")
    cli("user", "add", "alice@example.test", "--password-stdin", *add)
    return GroupwareServer(load_config(config, env={}), Clock())


def run(server: GroupwareServer, body: Callable[[], Coroutine[Any, Any, None]]) -> None:
    async def go() -> None:
        try:
            await body()
        finally:
            await server.get_directory().close()

    try:
        asyncio.run(go())
    finally:
        server.close()


async def alice(server: GroupwareServer) -> Recipient:
    found = await server.get_directory().find_address("alice@example.test")
    assert found is not None
    return found


def mime(subject: str, body: str = "Hello.\r\n") -> bytes:
    return (f"From: Bob <bob@example.org>\r\nTo: alice@example.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@example.org>\r\n\r\n{body}").encode()


def test_imap_flags_are_mapi_properties_both_ways(tmp_path: Path, database_url: str) -> None:
    server = make_server(tmp_path, database_url)
    port = server.get_mail_store()
    store = server.get_mapistore()

    async def body() -> None:
        box = await port.open_mailbox(await alice(server))
        inbox = await port.role_folder(box, "inbox")
        first = await port.append(box, inbox, mime("one"), (), None)
        second = await port.append(box, inbox, mime("two"), ("\\seen",), None)
        assert second.flags == {"\\Seen"}
        keywords = await port.store.get_ids_from_names(
            box.store_id, [_named(KEYWORDS)])
        kw_tag = (keywords[0] << 16) | 0x101F
        mids = {r.uid: r.mid for r in (await store.read_rows(box.store_id, inbox)).rows}

        # IMAP -> MAPI: what Outlook and ActiveSync read.
        result = await port.store_flags(box, inbox, [first.uid], FlagChange(add=frozenset(
            {"\\Flagged", "\\Answered", "\\Draft", "\\Deleted", "\\Seen", "$label1"})), None)
        (state,) = result.changed
        assert state.modseq > first.modseq
        props = await store.get_properties(box.store_id, mids[first.uid])
        assert props[fl.FLAG_STATUS] == 2 and props[fl.LAST_VERB_EXECUTED] == 102
        assert props[fl.ICON_INDEX] == 0x105
        assert props[fl.MESSAGE_FLAGS] & (fl.MSGFLAG_UNSENT | tags.MSGFLAG_READ) == 9
        assert props[fl.MESSAGE_STATUS] & fl.MSGSTATUS_DELMARKED
        assert props[kw_tag] == ("$label1",)
        assert (await store.get_message_info(box.store_id, mids[first.uid])).read

        # MAPI -> IMAP: Outlook flags, forwards and categorises the second message.
        before = (await port.snapshot(box, inbox)).highest_modseq
        await store.set_properties(box.store_id, mids[second.uid], {
            fl.FLAG_STATUS: 2, fl.LAST_VERB_EXECUTED: 104, kw_tag: ("Red Category", "todo")})
        changes = await port.changes_since(box, inbox, before)
        (seen,) = changes.changed
        assert seen.uid == second.uid and seen.modseq > before
        assert seen.flags == {"\\Seen", "\\Flagged", "$Forwarded", "todo"}

        # Replacing the flags keeps the category IMAP cannot show.
        await port.store_flags(box, inbox, [second.uid],
                               FlagChange(replace=frozenset({"\\Seen"})), None)
        props = await store.get_properties(box.store_id, mids[second.uid])
        assert props[kw_tag] == ("Red Category",)
        assert fl.FLAG_STATUS not in props and fl.LAST_VERB_EXECUTED not in props
        snap = await port.snapshot(box, inbox)
        assert [s.flags for s in snap.messages][1] == {"\\Seen"}

        # APPEND keeps the categories of the message's own Keywords header.
        tagged = await port.append(box, inbox, b"Keywords: Project-X, Red Category\r\n"
                                   + mime("three"), ("\\Flagged",), None)
        assert tagged.flags == {"\\Flagged", "Project-X"}
        rows = (await store.read_rows(box.store_id, inbox, [kw_tag])).rows
        assert set(rows[-1].props[kw_tag]) == {"Project-X", "Red Category"}

        # CONDSTORE: a change after the given MODSEQ wins over this STORE.
        stale = await port.store_flags(box, inbox, [first.uid, second.uid],
                                       FlagChange(remove=frozenset({"\\Seen"})), before)
        assert stale.conflicts == (second.uid,)
        assert [s.uid for s in stale.changed] == [first.uid]
        # The MIME original is untouched by all of it.
        assert await port.read_mime(box, inbox, first.uid) == await store.read_mime(
            box.store_id, mids[first.uid])

    run(server, body)


def _named(prop: Any) -> Any:
    from storage.mapistore.info import NamedProperty

    return NamedProperty(prop.guid, name=prop.name)


def test_two_processes_see_each_others_changes(tmp_path: Path, database_url: str) -> None:
    server = make_server(tmp_path, database_url)
    here = server.get_mail_store()
    there = MapiMailStore(server.get_mapistore())  # another node: its own caches

    async def body() -> None:
        user = await alice(server)
        a, b = await here.open_mailbox(user), await there.open_mailbox(user)
        inbox = await here.role_folder(a, "inbox")
        for i in range(4):
            await here.append(a, inbox, mime(f"m{i}"), (), None)
        snap = await here.snapshot(a, inbox)
        assert (await there.snapshot(b, inbox)) == snap
        uids = [m.uid for m in snap.messages]
        await there.store_flags(b, inbox, uids[:2], FlagChange(add=frozenset({"\\Flagged"})),
                                None)
        assert await there.expunge(b, inbox, [uids[3]]) == [uids[3]]
        new = await there.append(b, inbox, mime("m4"), ("\\Seen",), None)
        changes = await here.changes_since(a, inbox, snap.highest_modseq)
        assert changes.vanished == (uids[3],)
        assert sorted((s.uid, s.flags) for s in changes.changed) == [
            (uids[0], {"\\Flagged"}), (uids[1], {"\\Flagged"}), (new.uid, {"\\Seen"})]
        assert await here.snapshot(a, inbox) == await there.snapshot(b, inbox)
        info = await here.message_info(a, inbox, [new.uid])
        assert info[new.uid].size == len(await here.read_mime(a, inbox, new.uid))
        # A STORE works on the current state, not on what this process read last.
        await there.store_flags(b, inbox, [uids[1]], FlagChange(add=frozenset(
            {"\\Answered"})), None)
        await here.store_flags(a, inbox, [uids[1]], FlagChange(remove=frozenset(
            {"\\Answered", "\\Flagged"})), None)
        final = {s.uid: s.flags for s in (await there.snapshot(b, inbox)).messages}
        assert final[uids[1]] == frozenset()

    run(server, body)


def test_maildir_inbox_and_imap_agree(tmp_path: Path, database_url: str) -> None:
    mail = tmp_path / "mail"
    extra = (f'\n[mapistore.roles]\nfallback = "sql:"\ninbox = "maildir://{mail}/{{user}}"\n'
             "[mapistore.backend_options.maildir]\nfsync = false\n")
    server = make_server(tmp_path, database_url, extra)
    port = server.get_mail_store()

    def names() -> dict[str, str]:
        """Subject -> info flags of the message files of alice's maildir Inbox."""
        out = {}
        for sub in ("new", "cur"):
            for path in (mail / "alice" / sub).iterdir():
                subject = path.read_bytes().split(b"Subject: ")[1].split(b"\r\n")[0]
                out[subject.decode()] = path.name.partition(":2,")[2]
        return out

    async def body() -> None:
        box = await port.open_mailbox(await alice(server))
        inbox = await port.role_folder(box, "inbox")
        a = await port.append(box, inbox, mime("a"), (), None)
        b = await port.append(box, inbox, mime("b"), (), None)
        await port.store_flags(box, inbox, [a.uid], FlagChange(add=frozenset(
            {"\\Flagged", "\\Answered", "\\Seen", "\\Draft"})), None)
        await port.store_flags(box, inbox, [b.uid], FlagChange(add=frozenset({"$Forwarded"})),
                               None)
        assert names() == {"a": "DFRS", "b": "P"}
        # Another program (mutt, Dovecot) changes the file names: the next SELECT shows it.
        for path in (mail / "alice" / "cur").iterdir():
            base, _, flags = path.name.partition(":2,")
            new = "S" if flags == "P" else flags.replace("F", "").replace("R", "")
            path.rename(path.with_name(f"{base}:2,{new}"))
        await asyncio.sleep(1.05)  # past the rescan interval
        snap = await port.snapshot(box, inbox)
        assert {s.uid: s.flags for s in snap.messages} == {
            a.uid: {"\\Seen", "\\Draft"}, b.uid: {"\\Seen"}}
        assert snap.highest_modseq > max(a.modseq, b.modseq)

    run(server, body)


def test_messages_made_through_mapi_get_a_stable_mime_form(tmp_path: Path,
                                                            database_url: str) -> None:
    server = make_server(tmp_path, database_url)
    port = server.get_mail_store()
    store = server.get_mapistore()

    async def body() -> None:
        box = await port.open_mailbox(await alice(server))
        drafts = await port.role_folder(box, "drafts")
        await store.create_message(box.store_id, drafts, MessageContent({
            tags.MESSAGE_CLASS: "IPM.Note", tags.SUBJECT: "from Outlook",
            tags.BODY: "written in Outlook\r\n", fl.MESSAGE_FLAGS: fl.MSGFLAG_UNSENT}))
        snap = await port.snapshot(box, drafts)
        (state,) = snap.messages
        assert state.flags == {"\\Draft"}
        raw = await port.read_mime(box, drafts, state.uid)
        assert b"Subject: from Outlook" in raw and b"written in Outlook" in raw
        info = await port.message_info(box, drafts, [state.uid])
        assert info[state.uid].size == len(raw)
        other = MapiMailStore(store)  # another process generates the same bytes
        assert await other.read_mime(await other.open_mailbox(box.user), drafts,
                                     state.uid) == raw

    run(server, body)


def test_directory_quota_and_the_new_mail_event(tmp_path: Path, database_url: str) -> None:
    server = make_server(tmp_path, database_url, add=("--quota", "1"))
    port = server.get_mail_store()
    delivery = server.get_delivery()

    async def body() -> None:
        user = await alice(server)
        box = await port.open_mailbox(user)
        inbox = await port.role_folder(box, "inbox")
        quota = await port.quota(box)
        assert quota.limit == 1 << 20
        assert (await server.get_mapistore().quota_status(box.store_id)).receive == 1 << 20
        seen: list[Event] = []
        sub = server.get_notifier().subscribe(store_channel(box.store_id), seen.append)
        session = SessionInfo("lmtp", "127.0.0.1", "Q1", helo="mx")
        target = await delivery.resolve(EnvelopeRecipient("alice@example.test"))
        # ~360 KB of MIME; the store counts the original and the properties (the body
        # text again), so the mailbox holds ~720 KB of its 1 MiB after this delivery.
        big = mime("big", ("y" * 78 + "\r\n") * 4500)
        assert await delivery.deliver(session, Envelope("a@example.org"), [target],
                                      big) == [None]
        assert [(e.kind, e.folder) for e in seen if e.kind == "new_mail"] == [
            ("new_mail", inbox)]
        sub.close()
        with pytest.raises(QuotaExceeded):
            await port.append(box, inbox, big, (), None)
        outcome = await delivery.deliver(session, Envelope("a@example.org"), [target],
                                         mime("again", ("z" * 78 + "\r\n") * 4500))
        assert isinstance(outcome[0], QuotaExceeded)
        assert len((await port.snapshot(box, inbox)).messages) == 1
        assert 700_000 < (await port.quota(box)).used < 1 << 20

    run(server, body)


def test_folder_changes_from_elsewhere_reach_imap_lookups_at_once(
        tmp_path: Path, database_url: str) -> None:
    """IMAP looks folders up in a cached tree; Outlook's (MAPI) folder changes and
    another process's subscription changes replace it through the notifier."""
    server = make_server(tmp_path, database_url)
    port = server.get_mail_store()
    store = server.get_mapistore()
    other = MapiMailStore(store, notifier=server.get_notifier())  # another process

    async def body() -> None:
        user = await alice(server)
        mail = await server.get_mail_handler().open(user)
        assert {f.name for f in await mail.list_folders()} >= {"INBOX", "Sent Items"}
        ipm = (await store.folder_by_role(mail.box.store_id, "ipm_subtree")).fid
        made = await store.create_folder(mail.box.store_id, ipm, "From Outlook",
                                         container_class="IPF.Note")
        assert (await mail.find("From Outlook")).fid == made.fid
        await store.set_folder_properties(mail.box.store_id, made.fid,
                                          {tags.DISPLAY_NAME: "Renamed"})
        assert (await mail.find("Renamed")).fid == made.fid
        with pytest.raises(Exception, match="does not exist"):
            await mail.find("From Outlook")
        assert (await mail.find("Renamed")).subscribed
        box = await other.open_mailbox(user)
        await other.set_subscribed(box, made.fid, False)
        assert not (await mail.find("Renamed")).subscribed
        await store.delete_folder(mail.box.store_id, made.fid)
        with pytest.raises(Exception, match="does not exist"):
            await mail.find("Renamed")
        assert port is server.get_mail_handler().store

    run(server, body)


def test_sql_and_ldap_users_get_their_mailbox_on_first_use(directory: Any, database: Any,
                                                           tmp_path: Path) -> None:
    """Provisioning on first use is idempotent and keyed by the directory's user id and
    mailbox GUID, whichever directory the user comes from (``directory`` is the SQL
    directory and a real slapd in turn)."""
    from groupware.config.sections import MapiStoreConfig
    from storage.blobs import FilesystemBlobStore
    from storage.mapistore.store import MapiStore

    store = MapiStore(database, FilesystemBlobStore(tmp_path / "blobs", fsync=False),
                      MapiStoreConfig(blob_fsync=False))

    async def go() -> None:
        port = MapiMailStore(store)
        alice = await directory.find_address("alice@example.test")
        namesake = await directory.find_address("alice@example.org")
        assert alice.user_id is not None and namesake.user_id != alice.user_id
        box = await port.open_mailbox(alice)
        other = await port.open_mailbox(namesake)
        assert box.store_id != other.store_id
        assert (await MapiMailStore(store).open_mailbox(alice)).store_id == box.store_id
        info = await store.find_store(user_id=alice.user_id)
        assert info is not None and info.provisioned
        if alice.mailbox_guid is not None:
            assert info.mailbox_guid == alice.mailbox_guid
        inbox = await port.role_folder(box, "inbox")
        await port.append(box, inbox, mime("hello"), (), None)
        assert len((await port.snapshot(box, inbox)).messages) == 1
        assert (await port.snapshot(other, await port.role_folder(other, "inbox"))
                ).messages == ()

    try:
        asyncio.run(go())
    finally:
        store.close()


def test_folder_caches_trust_in_process_events(tmp_path: Path, database_url: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """With the in-process notifier every committed change is announced: a cache no
    event touched is current and needs no read; our own writes keep it exact when
    nothing came between; any other change (Outlook here) makes the next use read;
    a writer that sends no events (a CLI import) is seen within the trust window."""
    from groupware.handlers.mail import mapistore_port
    from groupware.notifier import InProcessNotifier
    from storage.blobs import FilesystemBlobStore
    from storage.mapistore.store import MapiStore

    monkeypatch.setattr(mapistore_port, "TRUST_WINDOW", 1.0)
    server = make_server(tmp_path, database_url)
    store = server.get_mapistore()
    notifier = server.get_notifier()
    assert isinstance(notifier, InProcessNotifier)
    port = MapiMailStore(store, notifier=notifier, trust_events=True)
    reads: list[int] = []
    real = store.read_rows

    async def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        return await real(*args, **kwargs)

    monkeypatch.setattr(store, "read_rows", counted)
    silent = MapiStore(store.db, FilesystemBlobStore(tmp_path / "var" / "blobs"),
                       store.config)  # publishes nothing, like another process

    async def body() -> None:
        box = await port.open_mailbox(await alice(server))
        inbox = await port.role_folder(box, "inbox")
        first = await port.append(box, inbox, mime("one"), (), None)
        snap = await port.snapshot(box, inbox)
        assert [m.uid for m in snap.messages] == [first.uid] and len(reads) == 1
        assert await port.snapshot(box, inbox) == snap and len(reads) == 1
        done = await port.store_flags(box, inbox, [first.uid],
                                      FlagChange(add=frozenset({"\\Flagged"})), None)
        changes = await port.changes_since(box, inbox, snap.highest_modseq)
        assert changes.changed == done.changed and len(reads) == 1  # our own write
        mid = (await store.message_by_uid(box.store_id, inbox, first.uid)).mid
        await store.set_read(box.store_id, [mid], True)  # Outlook, announced
        changes = await port.changes_since(box, inbox, snap.highest_modseq)
        assert changes.changed[0].flags == {"\\Flagged", "\\Seen"} and len(reads) == 2
        await silent.deliver(box.store_id, MessageContent({tags.SUBJECT: "quiet"}),
                             mime=mime("quiet"), fid=inbox)
        assert len((await port.snapshot(box, inbox)).messages) == 1  # not yet seen
        await asyncio.sleep(1.05)
        assert len((await port.snapshot(box, inbox)).messages) == 2
        assert len(reads) == 3

    try:
        run(server, body)
    finally:
        silent.close()
