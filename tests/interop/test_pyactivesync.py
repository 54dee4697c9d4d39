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
