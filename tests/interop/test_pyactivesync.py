"""pyactivesync (an independent EAS 16.1 client) against the running server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyactivesync import Client

from tests.conftest import RunningServer
from tests.protocols.activesync.support import (
    PASSWORDS,
    Filler,
    base_url,
    eas_server,
    make_message,
)

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from eas_server(request, tmp_path_factory.mktemp("eas"))


@pytest.fixture(scope="module")
def filler(server: RunningServer) -> Iterator[Filler]:
    f = Filler(server)
    yield f
    f.close()


def client(server: RunningServer, user: str = "alice", device: str = "pyeas1") -> Client:
    c = Client("127.0.0.1", f"{user}@example.test", PASSWORDS[user], device_id=device,
               verify_ssl=False, timeout=30)
    c._transport.base_url = base_url(server)
    return c


def test_provision_twice_and_folder_sync(server: RunningServer) -> None:
    with client(server, device="prov1") as c:
        key = c.provision()
        assert key.isdigit() and int(key) > 0
        folders = c.list_folders()
    names = {f.name: int(f.type) for f in folders}
    assert names["Inbox"] == 2
    assert names["Sent Items"] == 5
    assert names["Calendar"] == 8
    assert names["Contacts"] == 9
    assert all(f.parent_id == "0" for f in folders if f.name in ("Inbox", "Drafts"))


def test_sync_of_a_filled_inbox(server: RunningServer, filler: Filler) -> None:
    raws = [make_message(f"hello {i}", f"Body number {i}.\n") for i in range(30)]
    filler.deliver("bob", raws)
    with client(server, "bob", "sync1") as c:
        c.provision()
        inbox = next(f.id for f in c.list_folders() if int(f.type) == 2)
        result = c.sync_folder(inbox, "0")
        key = result.sync_key
        seen = {}
        while True:
            result = c.sync_folder(inbox, key, window_size=7)
            key = result.sync_key
            for item in result.added:
                seen[item.server_id] = item.fields
            if not result.more_available:
                break
    subjects = sorted(f.get("Email.Subject") for f in seen.values())
    assert subjects == sorted(f"hello {i}" for i in range(30))
    body = next(f for f in seen.values() if f.get("Email.Subject") == "hello 7")
    assert "Body number 7." in str(body.get("AirSyncBase.Data"))


def _initial(c: Client, folder: str) -> tuple[str, dict[str, dict[str, str]]]:
    key = c.sync_folder(folder, "0").sync_key
    items: dict[str, dict[str, str]] = {}
    while True:
        result = c.sync_folder(folder, key, window_size=50)
        key = result.sync_key
        for item in result.added:
            items[item.server_id] = item.fields
        if not result.more_available:
            return key, items


def _mid(server_id: str) -> int:
    from storage.mapistore.ids import mid_of

    return int(mid_of(int(server_id.rpartition(":")[2])))


def test_read_flag_both_ways(server: RunningServer, filler: Filler) -> None:
    from pyactivesync.models import EmailChange

    filler.deliver("alice", [make_message("flag me"), make_message("leave me")])
    with client(server, "alice", "flags1") as c:
        c.provision()
        inbox = next(f.id for f in c.list_folders() if int(f.type) == 2)
        key, items = _initial(c, inbox)
        sid = next(k for k, v in items.items() if v.get("Email.Subject") == "flag me")
        assert items[sid]["Email.Read"] == "0"
        result = c.apply_email_changes(inbox, key, [EmailChange(sid, read=True)])
        assert result.statuses[sid] == "1"
        info = filler.store_call("get_message_info", "alice", _mid(sid))
        assert info.read is True
        # The client's own change is not echoed back.
        again = c.sync_folder(inbox, result.sync_key)
        assert sid not in {i.server_id for i in again.changed}
        # A change on the server side shows up in the next Sync.
        filler.store_call("set_read", "alice", [_mid(sid)], False)
        later = c.sync_folder(inbox, again.sync_key)
        changed = {i.server_id: i.fields for i in later.changed}
        assert changed[sid]["Email.Read"] == "0"


def test_server_moves_and_deletes_reach_the_device(server: RunningServer,
                                                   filler: Filler) -> None:
    mids = filler.deliver("alice", [make_message(f"move {i}") for i in range(3)])
    with client(server, "alice", "moves1") as c:
        c.provision()
        folders = c.list_folders()
        inbox = next(f.id for f in folders if int(f.type) == 2)
        junk = next(f.id for f in folders if f.name == "Junk E-mail")
        key, items = _initial(c, inbox)
        jkey, _ = _initial(c, junk)
        by_subject = {v["Email.Subject"]: k for k, v in items.items()}
        filler.store_call("move_messages", "alice", [mids[0]],
                          filler.folder_fid("alice", "junk"))
        filler.store_call("delete_messages", "alice", [mids[1]], hard=True)
        result = c.sync_folder(inbox, key)
        assert set(result.deleted) == {by_subject["move 0"], by_subject["move 1"]}
        moved = c.sync_folder(junk, jkey)
        assert [i.fields["Email.Subject"] for i in moved.added] == ["move 0"]


def test_client_delete_and_move(server: RunningServer, filler: Filler) -> None:
    from pyactivesync.models import EmailChange

    filler.deliver("alice", [make_message("delete me"), make_message("move me")])
    with client(server, "alice", "del1") as c:
        c.provision()
        folders = c.list_folders()
        inbox = next(f.id for f in folders if int(f.type) == 2)
        deleted = next(f.id for f in folders if int(f.type) == 4)
        drafts = next(f.id for f in folders if int(f.type) == 3)
        key, items = _initial(c, inbox)
        dkey, _ = _initial(c, deleted)
        rkey, _ = _initial(c, drafts)
        by_subject = {v["Email.Subject"]: k for k, v in items.items()}
        res = c.apply_email_changes(inbox, key, [EmailChange(by_subject["delete me"],
                                                             delete=True)])
        assert res.statuses[by_subject["delete me"]] == "1"
        # Deleted as a move: it shows up in Deleted Items.
        trash = c.sync_folder(deleted, dkey)
        assert "delete me" in [i.fields["Email.Subject"] for i in trash.added]
        new_id = c.move_item(by_subject["move me"], inbox, drafts)
        assert new_id.startswith(drafts + ":")
        # Neither side echoes the move back to the device that made it.
        moved = c.sync_folder(drafts, rkey)
        assert moved.added == []
        after = c.sync_folder(inbox, res.sync_key)
        assert by_subject["move me"] not in after.deleted


def test_attachment_fetch_is_byte_equal(server: RunningServer, filler: Filler) -> None:
    import os

    data = os.urandom(150_000) + b"\x00\xff" * 10
    filler.deliver("bob", [make_message("with attachment", attachment=("blob.bin", data))])
    with client(server, "bob", "att1") as c:
        c.provision()
        inbox = next(f.id for f in c.list_folders() if int(f.type) == 2)
        _key, items = _initial(c, inbox)
        sid = next(k for k, v in items.items() if v.get("Email.Subject") == "with attachment")
        fetched = c.fetch_item(inbox, sid)
        assert fetched.attachments, fetched
        att = fetched.attachments[0]
        assert att.display_name == "blob.bin"
        assert c.fetch_attachment(att.file_reference) == data


def test_gal_search_and_resolve_recipients(server: RunningServer) -> None:
    with client(server, "alice", "gal1") as c:
        c.provision()
        found = c.search_gal("bob")
        assert [e.email_address for e in found] == ["bob@example.test"]
        assert found[0].display_name == "Bob"
        resolved = c.resolve_recipients("bob@example.test")
        assert [r.email_address for r in resolved] == ["bob@example.test"]
        assert c.search_gal("nobody-here") == []


def test_sendmail_lands_in_sent_items_and_the_recipient_inbox(server: RunningServer) -> None:
    import email.message
    import imaplib
    import time
    import uuid

    subject = f"eas sendmail {uuid.uuid4().hex[:8]}"
    msg = email.message.EmailMessage()
    msg["From"] = "alice@example.test"
    msg["To"] = "bob@example.test"
    msg["Subject"] = subject
    msg.set_content("Sent from a phone.\n")
    with client(server, "alice", "send1") as c:
        c.provision()
        sent = next(f.id for f in c.list_folders() if int(f.type) == 5)
        key = c.sync_folder(sent, "0").sync_key
        c.send_mail(msg)
        result = c.sync_folder(sent, key)
        assert subject in [i.fields.get("Email.Subject") for i in result.added]
    # The recipient reads it over IMAP (the delivery pipeline's mailbox).
    deadline = time.monotonic() + 15
    found = False
    while time.monotonic() < deadline and not found:
        imap = imaplib.IMAP4("127.0.0.1", server.port("imap", "starttls"), timeout=10)
        imap.login("bob@example.test", PASSWORDS["bob"])
        imap.select("INBOX")
        typ, data = imap.search(None, "SUBJECT", f'"{subject}"')
        found = typ == "OK" and bool(data[0].split())
        imap.logout()
        if not found:
            time.sleep(0.2)
    assert found, "SendMail did not reach bob's Inbox"


def test_ping_answers_within_a_second_of_a_change(server: RunningServer,
                                                  filler: Filler) -> None:
    import threading
    import time

    filler.deliver("carol", [])  # nothing; carol may not sync (mobile disabled)
    with client(server, "alice", "ping1") as pinger, client(server, "alice", "ping2") as other:
        pinger.provision()
        other.provision()
        folders = pinger.list_folders()
        inbox = next(f.id for f in folders if int(f.type) == 2)
        drafts = next(f.id for f in folders if int(f.type) == 3)
        _initial(pinger, inbox)
        filler.deliver("alice", [make_message("to be moved")], role="drafts")
        _dkey, ditems = _initial(other, drafts)
        moving = next(k for k, v in ditems.items() if v["Email.Subject"] == "to be moved")
        result: dict[str, object] = {}

        def run() -> None:
            res = pinger.ping(inbox, heartbeat=120, timeout=60)
            result["status"] = res.status
            result["folders"] = res.changed_folder_ids
            result["at"] = time.monotonic()

        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(1.0)
        assert thread.is_alive(), result
        moved_at = time.monotonic()
        other.move_item(moving, drafts, inbox)
        thread.join(10)
        assert result["status"] == "2"
        assert result["folders"] == [inbox]
        assert float(result["at"]) - moved_at < 1.0  # type: ignore[arg-type]


def test_feature_disabled_user_is_refused(server: RunningServer) -> None:
    import requests

    with client(server, "carol", "refused1") as c, pytest.raises(requests.HTTPError) as info:
        c.provision()
    assert info.value.response.status_code == 401


def test_find_gal_and_mailbox(server: RunningServer, filler: Filler) -> None:
    filler.deliver("bob", [make_message("quarterly zanzibar report"),
                           make_message("something else")])
    with client(server, "bob", "find1") as c:
        c.provision()
        gal = c.find_gal("alice")
        assert [i.fields.get("GAL.EmailAddress") for i in gal.items] == ["alice@example.test"]
        inbox = next(f.id for f in c.list_folders() if int(f.type) == 2)
        found = c.find_mailbox("zanzibar", folder_id=inbox)
        assert [i.fields.get("Email.Subject") for i in found.items] == [
            "quarterly zanzibar report"]
        assert found.items[0].server_id.startswith(inbox + ":")


def test_out_of_office_set_and_get(server: RunningServer) -> None:
    from pyactivesync.models import OofState

    with client(server, "alice", "oof1") as c:
        c.provision()
        c.set_oof(OofState.ENABLED, reply_message="On holiday", applies_to=("Internal",))
    with client(server, "alice", "oof2") as other:
        other.provision()
        oof = other.get_oof()
    assert oof.state == OofState.ENABLED
    assert [(m.applies_to, m.enabled, m.reply_message) for m in oof.messages] == [
        ("Internal", True, "On holiday")]


def test_folder_create_rename_delete_and_mailbox_search(server: RunningServer,
                                                        filler: Filler) -> None:
    filler.deliver("bob", [make_message("searchable one"), make_message("searchable two")])
    with client(server, "bob", "folders1") as c:
        c.provision()
        folder = c.create_folder("Projects")
        assert any(f.id == folder.id and f.name == "Projects" for f in c.list_folders())
        c.update_folder(folder.id, "Projects 2026")
        assert any(f.id == folder.id and f.name == "Projects 2026" for f in c.list_folders())
        c.delete_folder(folder.id)
        assert all(f.id != folder.id for f in c.list_folders())
        inbox = next(f.id for f in c.list_folders() if int(f.type) == 2)
        hits = c.search_mailbox(inbox, date_received_after="2020-01-01T00:00:00.000Z",
                                max_results=100)
        subjects = {h.get("Email.Subject") for h in hits}
        assert {"searchable one", "searchable two"} <= subjects


def test_create_email_draft(server: RunningServer, filler: Filler) -> None:
    import email.message

    msg = email.message.EmailMessage()
    msg["From"] = "bob@example.test"
    msg["To"] = "alice@example.test"
    msg["Subject"] = "draft from the phone"
    msg.set_content("Not finished yet.\n")
    with client(server, "bob", "draft1") as c:
        c.provision()
        folders = c.list_folders()
        drafts = next(f.id for f in folders if int(f.type) == 3)
        inbox = next(f.id for f in folders if int(f.type) == 2)
        key = c.sync_folder(drafts, "0").sync_key
        result = c.create_email_draft(drafts, key, msg, client_id="draft-1")
        assert result.status == "1" and result.server_id
        info = filler.store_call("get_message_info", "bob", _mid(result.server_id))
        assert info.message_class == "IPM.Note"
        # Mail is added only as drafts: elsewhere the Add is refused (Status 6).
        ikey = c.sync_folder(inbox, "0").sync_key
        refused = c.create_email_draft(inbox, ikey, msg, client_id="draft-2")
        assert refused.status == "6"
    with client(server, "bob", "draft2") as other:
        other.provision()
        key = other.sync_folder(drafts, "0").sync_key
        items = other.sync_folder(drafts, key, window_size=100).added
        assert "draft from the phone" in [i.fields.get("Email.Subject") for i in items]
