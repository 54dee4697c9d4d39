"""A restart of the server keeps every device's state: policy key and SyncKeys stay
valid, nothing is sent twice and nothing is lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocols.activesync.wbxml import make
from tests.conftest import start_server
from tests.interop.imap_server import module_database_url
from tests.protocols.activesync.support import (
    FAST_AUTH,
    LISTENERS,
    PASSWORDS,
    Eas,
    Filler,
    base_url,
    make_message,
)


def test_sync_state_survives_a_restart(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = module_database_url(request, tmp_path)
    server = start_server(tmp_path, url, listeners=LISTENERS, extra_config=FAST_AUTH)
    try:
        server.cli("user", "add", "alice@example.test", "--name", "Alice",
                   "--password-stdin", input=PASSWORDS["alice"] + "\n")
        filler = Filler(server)
        filler.deliver("alice", [make_message(f"before {i}") for i in range(5)])
        c = Eas(base_url(server), "alice@example.test", PASSWORDS["alice"], "restart1")
        c.provision()
        inbox = c.folder_of_type(2)
        key = c.sync(inbox, "0").findtext("AirSync:SyncKey")
        col = c.sync(inbox, key, make("AirSync:WindowSize", text="3"))
        key = col.findtext("AirSync:SyncKey")
        first = [a.find("AirSync:ApplicationData").findtext("Email:Subject")
                 for a in col.find("AirSync:Commands").findall("AirSync:Add")]
        assert len(first) == 3 and col.find("AirSync:MoreAvailable") is not None
    finally:
        server.stop()
    (tmp_path / "ready.json").unlink()
    server = start_server(tmp_path, url, listeners=LISTENERS, extra_config=FAST_AUTH)
    try:
        filler = Filler(server)
        filler.deliver("alice", [make_message("after")])
        c.url = base_url(server)
        subjects = list(first)
        while True:
            col = c.sync(inbox, key)
            assert col.findtext("AirSync:Status") == "1"
            key = col.findtext("AirSync:SyncKey")
            cmds = col.find("AirSync:Commands")
            if cmds is not None:
                subjects += [a.find("AirSync:ApplicationData").findtext("Email:Subject")
                             for a in cmds.findall("AirSync:Add")]
            if col.find("AirSync:MoreAvailable") is None:
                break
        assert sorted(subjects) == sorted([f"before {i}" for i in range(5)] + ["after"])
        filler.close()
    finally:
        server.stop()


def test_a_changed_policy_makes_devices_provision_again(request: pytest.FixtureRequest,
                                                        tmp_path: Path) -> None:
    url = module_database_url(request, tmp_path)
    server = start_server(tmp_path, url, listeners=LISTENERS, extra_config=FAST_AUTH)
    try:
        server.cli("user", "add", "alice@example.test", "--name", "Alice",
                   "--password-stdin", input=PASSWORDS["alice"] + "\n")
        c = Eas(base_url(server), "alice@example.test", PASSWORDS["alice"], "policy1")
        c.provision()
        assert c.folders()
    finally:
        server.stop()
    (tmp_path / "ready.json").unlink()
    stricter = FAST_AUTH + "\n[activesync]\npolicy_min_password_length = 8\n" \
        "policy_device_password_enabled = true\n"
    server = start_server(tmp_path, url, listeners=LISTENERS, extra_config=stricter)
    try:
        c.url = base_url(server)
        tree = c.call("FolderSync", make("FolderHierarchy:FolderSync",
                                         make("FolderHierarchy:SyncKey", text="0")))
        assert tree.findtext("FolderHierarchy:Status") == "143"
        first = c.call("Provision", make("Provision:Provision", make(
            "Provision:Policies", make("Provision:Policy", make(
                "Provision:PolicyType", text="MS-EAS-Provisioning-WBXML")))))
        doc = first.find("Provision:Policies").find("Provision:Policy").find(
            "Provision:Data").find("Provision:EASProvisionDoc")
        assert doc.findtext("Provision:MinDevicePasswordLength") == "8"
        assert doc.findtext("Provision:DevicePasswordEnabled") == "1"
        c.provision()
        assert c.folders()
    finally:
        server.stop()
