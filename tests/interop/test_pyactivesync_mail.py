"""pyactivesync and the mail gateways on one mailbox: mail delivered over LMTP syncs to
the phone, flags/moves/deletes made over IMAP reach the next Sync and the phone's
reach IMAP, and a delivery wakes a waiting Ping within a second."""

from __future__ import annotations

import imaplib
import smtplib
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from pyactivesync import Client

from tests.conftest import RunningServer
from tests.protocols.activesync.support import PASSWORDS, base_url, eas_server, make_message

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from eas_server(request, tmp_path_factory.mktemp("easmail"))


def client(server: RunningServer, user: str, device: str) -> Client:
    c = Client("127.0.0.1", f"{user}@example.test", PASSWORDS[user], device_id=device,
               verify_ssl=False, timeout=30)
    c._transport.base_url = base_url(server)
    return c


def lmtp(server: RunningServer, user: str, raws: list[bytes]) -> None:
    with smtplib.LMTP("127.0.0.1", server.port("lmtp")) as conn:
        for raw in raws:
            conn.sendmail("sender@example.org", [f"{user}@example.test"], raw)


def imap(server: RunningServer, user: str) -> imaplib.IMAP4:
    conn = imaplib.IMAP4("127.0.0.1", server.port("imap", "starttls"), timeout=10)
    conn.login(f"{user}@example.test", PASSWORDS[user])
    return conn


def initial(c: Client, folder: str) -> tuple[str, dict[str, dict[str, str]]]:
    key = c.sync_folder(folder, "0").sync_key
    items: dict[str, dict[str, str]] = {}
    while True:
        result = c.sync_folder(folder, key, window_size=50)
        key = result.sync_key
        for item in result.added:
            items[item.server_id] = item.fields
        if not result.more_available:
            return key, items


def test_lmtp_delivered_mail_syncs_with_bodies(server: RunningServer) -> None:
    tag = uuid.uuid4().hex[:6]
    lmtp(server, "bob", [make_message(f"lmtp {tag} {i}", f"Body {tag} number {i}.\n",
                                      to="bob@example.test") for i in range(25)])
    with client(server, "bob", "lmtp1") as c:
        c.provision()
        inbox = next(f.id for f in c.list_folders() if int(f.type) == 2)
        _key, items = initial(c, inbox)
    mine = {v["Email.Subject"]: v for v in items.values()
            if v.get("Email.Subject", "").startswith(f"lmtp {tag}")}
    assert sorted(mine) == sorted(f"lmtp {tag} {i}" for i in range(25))
    assert f"Body {tag} number 13." in mine[f"lmtp {tag} 13"]["AirSyncBase.Data"]
    assert mine[f"lmtp {tag} 13"]["Email.From"] == "sender@example.org"


def test_imap_changes_reach_the_phone_and_back(server: RunningServer) -> None:
    from pyactivesync.models import EmailChange

    tag = uuid.uuid4().hex[:6]
    lmtp(server, "alice", [make_message(f"{tag} {name}") for name in
                           ("seen", "moved", "deleted", "phone-read", "phone-deleted")])
    with client(server, "alice", "imap1") as c:
        c.provision()
        folders = c.list_folders()
        inbox = next(f.id for f in folders if int(f.type) == 2)
        key, items = initial(c, inbox)
        by_subject = {v["Email.Subject"]: k for k, v in items.items()}
        box = imap(server, "alice")
        box.select("INBOX")

        def uid_of(subject: str) -> bytes:
            typ, data = box.uid("SEARCH", "SUBJECT", f'"{subject}"')
            assert typ == "OK" and data[0], subject
            return data[0].split()[-1]

        box.uid("STORE", uid_of(f"{tag} seen"), "+FLAGS", "(\\Seen)")
        box.create("Archive-" + tag)
        box.uid("MOVE", uid_of(f"{tag} moved"), "Archive-" + tag)
        box.uid("STORE", uid_of(f"{tag} deleted"), "+FLAGS", "(\\Deleted)")
        box.expunge()
        result = c.sync_folder(inbox, key)
        changed = {i.server_id: i.fields for i in result.changed}
        assert changed[by_subject[f"{tag} seen"]]["Email.Read"] == "1"
        assert set(result.deleted) == {by_subject[f"{tag} moved"],
                                       by_subject[f"{tag} deleted"]}
        # And back: the phone reads one and deletes another.
        back = c.apply_email_changes(inbox, result.sync_key, [
            EmailChange(by_subject[f"{tag} phone-read"], read=True),
            EmailChange(by_subject[f"{tag} phone-deleted"], delete=True)])
        assert set(back.statuses.values()) == {"1"}
        box.noop()
        typ, data = box.uid("FETCH", uid_of(f"{tag} phone-read"), "(FLAGS)")
        assert typ == "OK" and b"\\Seen" in data[0]
        typ, data = box.uid("SEARCH", "SUBJECT", f'"{tag} phone-deleted"')
        assert typ == "OK" and data[0] == b""
        box.logout()


def test_ping_wakes_within_a_second_of_an_lmtp_delivery(server: RunningServer) -> None:
    with client(server, "alice", "pinglmtp") as c:
        c.provision()
        inbox = next(f.id for f in c.list_folders() if int(f.type) == 2)
        initial(c, inbox)
        result: dict[str, object] = {}

        def run() -> None:
            res = c.ping(inbox, heartbeat=120, timeout=60)
            result["status"], result["at"] = res.status, time.monotonic()

        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(1.0)
        assert thread.is_alive()
        sent = time.monotonic()
        lmtp(server, "alice", [make_message("wake up")])
        thread.join(10)
    assert result["status"] == "2"
    assert float(result["at"]) - sent < 1.0  # type: ignore[arg-type]



