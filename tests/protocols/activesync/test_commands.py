"""ActiveSync against the running server with our own codec-based client: statuses,
provisioning and wipe, bad input, the classes pyactivesync lacks, retries and loops."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from protocols.activesync.request import EasRequest, encode_base64_query
from protocols.activesync.wbxml import decode, make
from tests.conftest import RunningServer
from tests.protocols.activesync.support import (
    PASSWORDS,
    Eas,
    Filler,
    b64,
    base_url,
    eas_server,
    make_message,
)

WBXML_HEADER = b"\x03\x01\x6a\x00"


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from eas_server(request, tmp_path_factory.mktemp("eascmd"))


@pytest.fixture(scope="module")
def filler(server: RunningServer) -> Iterator[Filler]:
    f = Filler(server)
    yield f
    f.close()


def eas(server: RunningServer, user: str = "alice", device: str | None = None,
        version: str = "16.1") -> Eas:
    return Eas(base_url(server), f"{user}@example.test", PASSWORDS[user],
               device_id=device or uuid.uuid4().hex[:12], version=version)


def test_options_lists_versions_and_commands(server: RunningServer) -> None:
    resp = requests.options(base_url(server), auth=("alice@example.test", PASSWORDS["alice"]),
                            timeout=10)
    assert resp.status_code == 200
    assert resp.headers["MS-ASProtocolVersions"] == "12.0,12.1,14.0,14.1,16.0,16.1"
    commands = resp.headers["MS-ASProtocolCommands"].split(",")
    assert {"Sync", "Ping", "Provision", "Find", "GetAttachment"} <= set(commands)
    assert requests.options(base_url(server), timeout=10).status_code == 401
    wrong = requests.options(base_url(server), auth=("alice@example.test", "nope"), timeout=10)
    assert wrong.status_code == 401


def test_policy_key_is_required(server: RunningServer) -> None:
    c = eas(server)
    tree = c.call("FolderSync", make("FolderHierarchy:FolderSync",
                                     make("FolderHierarchy:SyncKey", text="0")))
    assert tree.findtext("FolderHierarchy:Status") == "142"
    old = eas(server, version="12.1")
    resp = old.post("FolderSync", make("FolderHierarchy:FolderSync",
                                       make("FolderHierarchy:SyncKey", text="0")))
    assert resp.status_code == 449
    key = c.provision()
    assert c.folders()
    c.policy_key = str(int(key) ^ 0x55)
    tree = c.call("FolderSync", make("FolderHierarchy:FolderSync",
                                     make("FolderHierarchy:SyncKey", text="0")))
    assert tree.findtext("FolderHierarchy:Status") == "144"


def test_base64_query_form(server: RunningServer) -> None:
    c = eas(server)
    key = c.provision()
    query = encode_base64_query(EasRequest("FolderSync", user=c.user, device_id=c.device_id,
                                           device_type="TestPhone", version="14.1",
                                           policy_key=int(key)))
    body = WBXML_HEADER + bytes([0, 7, 0x56, 0x52, 3]) + b"0\x00" + bytes([1, 1])
    resp = requests.post(f"{c.url}?{query}", data=body, auth=(c.user, c.password),
                         headers={"Content-Type": "application/vnd.ms-sync.wbxml"}, timeout=10)
    assert resp.status_code == 200
    tree = decode(resp.content)
    assert tree.findtext("FolderHierarchy:Status") == "1"
    assert tree.findtext("FolderHierarchy:SyncKey").startswith("{")


def test_remote_wipe_through_provision(server: RunningServer) -> None:
    c = eas(server, "bob", device="wipeme")
    c.provision()
    c.folders()
    listed = json.loads(server.cli("device", "list", "bob", "--json").stdout)
    assert "wipeme" in [d["device_id"] for d in listed]
    server.cli("device", "wipe", "bob", "wipeme")
    tree = c.call("FolderSync", make("FolderHierarchy:FolderSync",
                                     make("FolderHierarchy:SyncKey", text="0")))
    assert tree.findtext("FolderHierarchy:Status") == "140"
    first = c.call("Provision", make("Provision:Provision", make("Provision:Policies", make(
        "Provision:Policy", make("Provision:PolicyType", text="MS-EAS-Provisioning-WBXML")))))
    assert first.find("Provision:RemoteWipe") is not None
    ack = c.call("Provision", make("Provision:Provision", make(
        "Provision:RemoteWipe", make("Provision:Status", text="1"))))
    assert ack.findtext("Provision:Status") == "1"
    shown = json.loads(server.cli("device", "show", "bob", "wipeme", "--json").stdout)
    assert shown["wipe"] == "wiped" and shown["wipe_acknowledged"]
    server.cli("device", "remove", "bob", "wipeme")
    assert server.cli("device", "show", "bob", "wipeme", check=False).returncode == 1


def test_account_only_wipe_for_16_1(server: RunningServer) -> None:
    c = eas(server, "bob", device="acctwipe")
    c.provision()
    server.cli("device", "wipe", "bob", "acctwipe", "--account-only")
    first = c.call("Provision", make("Provision:Provision", make("Provision:Policies", make(
        "Provision:Policy", make("Provision:PolicyType", text="MS-EAS-Provisioning-WBXML")))))
    assert first.find("Provision:AccountOnlyRemoteWipe") is not None


@pytest.mark.parametrize(("body", "what"), [
    (WBXML_HEADER + bytes([0, 7, 0x56, 0x52, 3]) + b"0", "truncated"),
    (WBXML_HEADER + bytes([0, 99, 0x45, 1]), "unknown code page"),
    (b"\x01\x02garbage", "not WBXML"),
])
def test_bad_wbxml_gets_status_102_and_loses_nothing(server: RunningServer, body: bytes,
                                                     what: str) -> None:
    c = eas(server)
    c.provision()
    c.folders()
    key = c.folder_key
    resp = c.post("FolderSync", body)
    assert resp.status_code == 200, what
    assert decode(resp.content).findtext("FolderHierarchy:Status") == "102"
    # The state the device had is still good.
    tree = c.call("FolderSync", make("FolderHierarchy:FolderSync",
                                     make("FolderHierarchy:SyncKey", text=key)))
    assert tree.findtext("FolderHierarchy:Status") == "1"
    old = eas(server, version="12.1")
    old.provision()
    assert old.post("FolderSync", body).status_code == 400


def test_unknown_sync_keys(server: RunningServer) -> None:
    c = eas(server)
    c.provision()
    bad = c.call("FolderSync", make("FolderHierarchy:FolderSync", make(
        "FolderHierarchy:SyncKey", text="{00000000-0000-0000-0000-000000000000}5")))
    assert bad.findtext("FolderHierarchy:Status") == "9"
    inbox = c.folder_of_type(2)
    col = c.sync(inbox, "{00000000-0000-0000-0000-000000000000}3")
    assert col.findtext("AirSync:Status") == "3"
    col = c.sync(inbox, "garbage")
    assert col.findtext("AirSync:Status") == "3"


def test_heartbeat_bounds(server: RunningServer) -> None:
    c = eas(server)
    c.provision()
    inbox = c.folder_of_type(2)
    for heartbeat, limit in (("5", "60"), ("4000", "3540")):
        tree = c.call("Ping", make("Ping:Ping", make("Ping:HeartbeatInterval", text=heartbeat),
                                   make("Ping:Folders", make("Ping:Folder", make(
                                       "Ping:Id", text=inbox), make("Ping:Class",
                                                                    text="Email")))))
        assert tree.findtext("Ping:Status") == "5"
        assert tree.findtext("Ping:HeartbeatInterval") == limit
    key = c.sync(inbox, "0").findtext("AirSync:SyncKey")
    tree = c.call("Sync", make("AirSync:Sync", make("AirSync:Collections", make(
        "AirSync:Collection", make("AirSync:SyncKey", text=key),
        make("AirSync:CollectionId", text=inbox))), make("AirSync:Wait", text="90")))
    assert tree.findtext("AirSync:Status") == "14"
    tree = c.call("Ping", make("Ping:Ping", make("Ping:HeartbeatInterval", text="60"),
                               make("Ping:Folders", make("Ping:Folder", make(
                                   "Ping:Id", text="999999"), make("Ping:Class",
                                                                   text="Email")))))
    assert tree.findtext("Ping:Status") == "7"


def _adds(col) -> dict[str, object]:
    cmds = col.find("AirSync:Commands")
    if cmds is None:
        return {}
    return {a.findtext("AirSync:ServerId"): a.find("AirSync:ApplicationData")
            for a in cmds.findall("AirSync:Add")}


def test_mime_body_truncation(server: RunningServer, filler: Filler) -> None:
    raw = make_message("mime truncation", "x" * 3000 + "\n", to="carol@example.test")
    filler.deliver("carol", [raw])
    server.cli("user", "features", "carol", "--enable", "mobile")
    try:
        c = eas(server, "carol")
        c.provision()
        inbox = c.folder_of_type(2)
        key = c.sync(inbox, "0").findtext("AirSync:SyncKey")
        col = c.sync(inbox, key, make("AirSync:Options", make("AirSync:MIMESupport", text="2"),
                                      make("AirSyncBase:BodyPreference", make(
                                          "AirSyncBase:Type", text="4"), make(
                                          "AirSyncBase:TruncationSize", text="500"))))
        app = next(iter(_adds(col).values()))
        body = app.find("AirSyncBase:Body")
        assert body.findtext("AirSyncBase:Type") == "4"
        assert body.findtext("AirSyncBase:Truncated") == "1"
        assert int(body.findtext("AirSyncBase:EstimatedDataSize")) == len(raw)
        data = body.findtext("AirSyncBase:Data").encode()
        assert data == raw[:500]
    finally:
        server.cli("user", "features", "carol", "--disable", "mobile")


def test_client_id_duplicates_and_retry_with_the_previous_key(server: RunningServer,
                                                              filler: Filler) -> None:
    c = eas(server)
    c.provision()
    contacts = c.folder_of_type(9)
    key = c.sync(contacts, "0").findtext("AirSync:SyncKey")
    add = make("AirSync:Commands", make("AirSync:Add", make("AirSync:ClientId", text="c-1"),
                                        make("AirSync:ApplicationData",
                                             make("Contacts:FirstName", text="Dora"),
                                             make("Contacts:LastName", text="Duplicate"))))
    first = c.sync(contacts, key, add)
    resp = first.find("AirSync:Responses").find("AirSync:Add")
    assert resp.findtext("AirSync:Status") == "1"
    server_id = resp.findtext("AirSync:ServerId")
    # The response was "lost": the device sends the same request with the same key.
    again = c.sync(contacts, key, add)
    resp2 = again.find("AirSync:Responses").find("AirSync:Add")
    assert resp2.findtext("AirSync:ServerId") == server_id
    other = eas(server, device=c.device_id + "x")
    other.provision()
    okey = other.sync(contacts, "0").findtext("AirSync:SyncKey")
    names = [a.findtext("Contacts:LastName") for a in _adds(other.sync(contacts, okey)).values()]
    assert names.count("Duplicate") == 1


def test_contacts_tasks_notes_calendar_round_trip(server: RunningServer, filler: Filler) -> None:
    c = eas(server, "bob")
    c.provision()
    folders = c.folders()
    by_type = {v[2]: k for k, v in folders.items()}
    items = {
        9: make("AirSync:ApplicationData", make("Contacts:Email1Address",
                                                text="zoe@example.org"),
                make("Contacts:FirstName", text="Zoe"), make("Contacts:LastName", text="Zed"),
                make("Contacts:MobilePhoneNumber", text="+49 170 1234567"),
                make("Contacts:CompanyName", text="Zed Ltd"),
                make("Contacts:Picture", text=b64(b"\xff\xd8\xff\xe0fake-jpeg"))),
        7: make("AirSync:ApplicationData", make("Tasks:Subject", text="Buy milk"),
                make("Tasks:UtcDueDate", text="2026-12-01T10:00:00.000Z"),
                make("Tasks:DueDate", text="2026-12-01T10:00:00.000Z"),
                make("Tasks:Complete", text="0")),
        10: make("AirSync:ApplicationData", make("Notes:Subject", text="A note"),
                 make("AirSyncBase:Body", make("AirSyncBase:Type", text="1"),
                      make("AirSyncBase:Data", text="remember this"))),
        8: make("AirSync:ApplicationData",
                make("Calendar:Timezone", text="xP///w==" + "A" * 224),
                make("Calendar:Subject", text="Team meeting"),
                make("Calendar:StartTime", text="20261201T090000Z"),
                make("Calendar:EndTime", text="20261201T100000Z"),
                make("Calendar:Location", text="Room 1"),
                make("Calendar:AllDayEvent", text="0"), make("Calendar:BusyStatus", text="2"),
                make("Calendar:Reminder", text="15"),
                make("Calendar:UID", text="team-meeting-1@example.test")),
    }
    for etype, app in items.items():
        folder = by_type[etype]
        key = c.sync(folder, "0").findtext("AirSync:SyncKey")
        col = c.sync(folder, key, make("AirSync:Commands", make(
            "AirSync:Add", make("AirSync:ClientId", text=f"new-{etype}"), app)))
        assert col.find("AirSync:Responses").find("AirSync:Add").findtext(
            "AirSync:Status") == "1"
    # A second device gets the same items back.
    d = eas(server, "bob")
    d.provision()
    got = {}
    for etype in items:
        folder = by_type[etype]
        key = d.sync(folder, "0").findtext("AirSync:SyncKey")
        adds = list(_adds(d.sync(folder, key)).values())
        assert len(adds) == 1, etype
        got[etype] = adds[0]
    assert got[9].findtext("Contacts:FirstName") == "Zoe"
    assert got[9].findtext("Contacts:Email1Address") == "zoe@example.org"
    assert got[9].findtext("Contacts:MobilePhoneNumber") == "+49 170 1234567"
    assert got[9].findtext("Contacts:Picture") == b64(b"\xff\xd8\xff\xe0fake-jpeg")
    assert got[7].findtext("Tasks:Subject") == "Buy milk"
    assert got[7].findtext("Tasks:UtcDueDate") == "2026-12-01T10:00:00.000Z"
    assert got[10].findtext("Notes:Subject") == "A note"
    assert got[10].find("AirSyncBase:Body").findtext("AirSyncBase:Data") == "remember this"
    cal = got[8]
    assert cal.findtext("Calendar:Subject") == "Team meeting"
    assert cal.findtext("Calendar:StartTime") == "20261201T090000Z"
    assert cal.findtext("Calendar:EndTime") == "20261201T100000Z"
    assert cal.findtext("Calendar:Location") == "Room 1"
    assert cal.findtext("Calendar:Reminder") == "15"
    assert cal.findtext("Calendar:UID") == "team-meeting-1@example.test"


def test_outlook_side_properties_show_up(server: RunningServer, filler: Filler) -> None:
    """An appointment written as MAPI properties (what Outlook stores) syncs to a phone."""
    import datetime as dt

    from groupware.convert import _tags as ct
    from groupware.convert.model import Message
    from groupware.mapi.values import datetime_to_filetime

    start = datetime_to_filetime(dt.datetime(2026, 12, 3, 14, 0, tzinfo=dt.UTC))
    end = datetime_to_filetime(dt.datetime(2026, 12, 3, 15, 30, tzinfo=dt.UTC))
    model = Message({ct.MESSAGE_CLASS: "IPM.Appointment", ct.SUBJECT: "From Outlook",
                     ct.APPT_START_WHOLE: start, ct.APPT_END_WHOLE: end,
                     ct.LOCATION: "Board room", ct.BUSY_STATUS: 1,
                     ct.APPT_SUB_TYPE: False})

    async def put() -> None:
        from groupware.handlers.activesync.mapping import NameMap

        store = filler.server.get_mapistore()
        sid = await filler.store_id("bob")
        folder = await store.folder_by_role(sid, "calendar")
        content = await NameMap(store, sid).to_content(model)
        await store.create_message(sid, folder.fid, content)

    filler.run(put())
    c = eas(server, "bob")
    c.provision()
    cal = c.folder_of_type(8)
    key = c.sync(cal, "0").findtext("AirSync:SyncKey")
    apps = [a for a in _adds(c.sync(cal, key)).values()
            if a.findtext("Calendar:Subject") == "From Outlook"]
    assert len(apps) == 1
    assert apps[0].findtext("Calendar:StartTime") == "20261203T140000Z"
    assert apps[0].findtext("Calendar:EndTime") == "20261203T153000Z"
    assert apps[0].findtext("Calendar:BusyStatus") == "1"
    assert apps[0].findtext("Calendar:Location") == "Board room"


def test_loop_detection_shrinks_the_window_then_skips(server: RunningServer,
                                                      filler: Filler) -> None:
    c = eas(server, "alice")
    c.provision()
    c.folders()
    folder_key_name = f"loop-{uuid.uuid4().hex[:6]}"
    create = c.call("FolderCreate", make(
        "FolderHierarchy:FolderCreate", make("FolderHierarchy:SyncKey", text=c.folder_key),
        make("FolderHierarchy:ParentId", text="0"),
        make("FolderHierarchy:DisplayName", text=folder_key_name),
        make("FolderHierarchy:Type", text="12")))
    assert create.findtext("FolderHierarchy:Status") == "1"
    folder = create.findtext("FolderHierarchy:ServerId")
    fid = int(folder)
    from storage.mapistore.ids import fid_of

    async def fill() -> None:
        from groupware.handlers.activesync.handler import ActiveSyncHandler
        from groupware.handlers.activesync.mapping import content_from_mime

        store = filler.server.get_mapistore()
        sid = await filler.store_id("alice")
        user = await filler.server.get_directory().find_address("alice@example.test")
        _sid, names = await ActiveSyncHandler(filler.server).open_store(user)
        for i in range(6):
            raw = make_message(f"loop {i}")
            await store.deliver(sid, await content_from_mime(names, raw), mime=raw,
                                fid=fid_of(fid))

    filler.run(fill())
    key = c.sync(folder, "0").findtext("AirSync:SyncKey")
    window = make("AirSync:WindowSize", text="4")
    sizes = []
    for _ in range(7):
        col = c.sync(folder, key, window)
        sizes.append(len(_adds(col)))
    # The device never acknowledges (always resends `key`): the window halves, then the
    # first item is skipped and logged.
    assert sizes[:3] == [4, 2, 1]
    col = c.sync(folder, key, window)
    first_ids = set(_adds(col))
    assert first_ids
    assert "keeps failing on item" in server.log()


def test_settings_user_information_oof_and_device_information(server: RunningServer) -> None:
    c = eas(server, "alice")
    c.provision()
    tree = c.call("Settings", make("Settings:Settings", make(
        "Settings:UserInformation", make("Settings:Get"))))
    addresses = [e.text for e in tree.iter() if e.tag.name == "SMTPAddress"]
    assert "alice@example.test" in addresses
    c.call("Settings", make("Settings:Settings", make("Settings:Oof", make(
        "Settings:Set", make("Settings:OofState", text="1"), make(
            "Settings:OofMessage", make("Settings:AppliesToInternal"),
            make("Settings:Enabled", text="1"),
            make("Settings:ReplyMessage", text="Away until Monday"),
            make("Settings:BodyType", text="Text"))))))
    other = eas(server, "alice")
    other.provision()
    got = other.call("Settings", make("Settings:Settings", make("Settings:Oof", make(
        "Settings:Get", make("Settings:BodyType", text="Text")))))
    texts = [e.text for e in got.iter() if e.tag.name == "ReplyMessage"]
    assert texts == ["Away until Monday"]
    assert [e.text for e in got.iter() if e.tag.name == "OofState"] == ["1"]
    tree = c.call("Settings", make("Settings:Settings", make(
        "Settings:DeviceInformation", make("Settings:Set", make("Settings:Model", text="X1"),
                                           make("Settings:OS", text="TestOS 1")))))
    assert tree.findtext("Settings:Status") == "1"
    shown = json.loads(server.cli("device", "show", "alice", c.device_id, "--json").stdout)
    assert shown["model"] == "X1" and shown["os"] == "TestOS 1"


def test_get_item_estimate_and_hanging_sync(server: RunningServer, filler: Filler) -> None:
    c = eas(server, "bob")
    c.provision()
    sent = c.folder_of_type(5)
    key = c.sync(sent, "0").findtext("AirSync:SyncKey")
    filler.deliver("bob", [make_message(f"est {i}") for i in range(3)], role="sent")
    tree = c.call("GetItemEstimate", make("GetItemEstimate:GetItemEstimate", make(
        "GetItemEstimate:Collections", make("GetItemEstimate:Collection", make(
            "AirSync:SyncKey", text=key), make("GetItemEstimate:CollectionId", text=sent)))))
    assert tree.find("GetItemEstimate:Response").find("GetItemEstimate:Collection").findtext(
        "GetItemEstimate:Estimate") == "3"
    col = c.sync(sent, key)
    key = col.findtext("AirSync:SyncKey")
    assert len(_adds(col)) == 3
    import threading

    started = time.monotonic()
    box: dict[str, object] = {}

    def hang() -> None:
        box["resp"] = c.post("Sync", make("AirSync:Sync", make("AirSync:Collections", make(
            "AirSync:Collection", make("AirSync:SyncKey", text=key),
            make("AirSync:CollectionId", text=sent))), make("AirSync:HeartbeatInterval",
                                                             text="60")), timeout=90)
        box["at"] = time.monotonic()

    thread = threading.Thread(target=hang)
    thread.start()
    time.sleep(1.0)
    assert thread.is_alive()
    # A newer Sync of the same device ends the waiting one early (with no changes: empty).
    c.sync(sent, key)
    thread.join(10)
    resp = box["resp"]
    assert isinstance(resp, requests.Response) and resp.status_code == 200
    assert resp.content == b""
    assert float(box["at"]) - started < 5  # type: ignore[arg-type]


def _imap_find(server: RunningServer, user: str, subject: str) -> bytes | None:
    import imaplib

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        imap = imaplib.IMAP4("127.0.0.1", server.port("imap", "starttls"), timeout=10)
        imap.login(f"{user}@example.test", PASSWORDS[user])
        imap.select("INBOX")
        typ, data = imap.search(None, "SUBJECT", f'"{subject}"')
        if typ == "OK" and data[0].split():
            num = data[0].split()[-1]
            typ, fetched = imap.fetch(num, "(RFC822)")
            imap.logout()
            return fetched[0][1]
        imap.logout()
        time.sleep(0.2)
    return None


def test_smart_forward_carries_the_original_attachments(server: RunningServer,
                                                        filler: Filler) -> None:
    import email

    payload = bytes(range(256)) * 40
    filler.deliver("alice", [make_message("original with file",
                                          attachment=("report.bin", payload))])
    c = eas(server, "alice")
    c.provision()
    inbox = c.folder_of_type(2)
    key = c.sync(inbox, "0").findtext("AirSync:SyncKey")
    adds = _adds(c.sync(inbox, key, make("AirSync:WindowSize", text="500")))
    sid = next(k for k, v in adds.items() if v.findtext("Email:Subject") == "original with file")
    subject = f"Fw: original {uuid.uuid4().hex[:6]}"
    mime = (f"From: alice@example.test\r\nTo: bob@example.test\r\nSubject: {subject}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nSee below.\r\n").encode()
    resp = c.post("SmartForward", make("ComposeMail:SmartForward",
                                       make("ComposeMail:ClientId", text=uuid.uuid4().hex),
                                       make("ComposeMail:Source", make(
                                           "ComposeMail:FolderId", text=inbox),
                                           make("ComposeMail:ItemId", text=sid)),
                                       make("ComposeMail:Mime", opaque=mime)))
    assert resp.status_code == 200 and resp.content == b""
    raw = _imap_find(server, "bob", subject)
    assert raw is not None
    msg = email.message_from_bytes(raw)
    parts = {p.get_filename(): p.get_payload(decode=True) for p in msg.walk()
             if p.get_filename()}
    assert parts == {"report.bin": payload}


def test_meeting_response_accept(server: RunningServer, filler: Filler) -> None:
    uid = f"meeting-{uuid.uuid4().hex[:8]}@example.test"
    ical = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:REQUEST\r\n"
            f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261120T100000Z\r\n"
            "DTSTART:20261204T100000Z\r\nDTEND:20261204T110000Z\r\nSUMMARY:Planning\r\n"
            "ORGANIZER;CN=Bob:mailto:bob@example.test\r\n"
            "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:alice@example.test\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n")
    raw = ("From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: Planning\r\n"
           f"Message-ID: <{uuid.uuid4().hex}@example.test>\r\n"
           "Date: Fri, 20 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/calendar; method=REQUEST; charset=utf-8\r\n\r\n"
           + ical).encode()
    filler.deliver("alice", [raw])
    c = eas(server, "alice")
    c.provision()
    inbox = c.folder_of_type(2)
    cal = c.folder_of_type(8)
    ckey = c.sync(cal, "0").findtext("AirSync:SyncKey")
    ckey = c.sync(cal, ckey).findtext("AirSync:SyncKey")
    key = c.sync(inbox, "0").findtext("AirSync:SyncKey")
    adds = _adds(c.sync(inbox, key, make("AirSync:WindowSize", text="500")))
    sid = next(k for k, v in adds.items() if v.findtext("Email:Subject") == "Planning")
    tree = c.call("MeetingResponse", make("MeetingResponse:MeetingResponse", make(
        "MeetingResponse:Request", make("MeetingResponse:UserResponse", text="1"),
        make("MeetingResponse:CollectionId", text=inbox),
        make("MeetingResponse:RequestId", text=sid))))
    result = tree.find("MeetingResponse:Result")
    assert result.findtext("MeetingResponse:Status") == "1"
    cal_id = result.findtext("MeetingResponse:CalendarId")
    assert cal_id and cal_id.startswith(cal + ":")
    items = _adds(c.sync(cal, ckey))
    assert items[cal_id].findtext("Calendar:Subject") == "Planning"
    assert items[cal_id].findtext("Calendar:UID") == uid
    assert items[cal_id].findtext("Calendar:StartTime") == "20261204T100000Z"
    reply = _imap_find(server, "bob", "Accepted: Planning")
    assert reply is not None and b"PARTSTAT=ACCEPTED" in reply


def test_multipart_item_operations_and_12x_get_attachment(server: RunningServer,
                                                          filler: Filler) -> None:
    import struct

    payload = bytes(range(256)) * 300
    filler.deliver("bob", [make_message("multipart att", attachment=("data.bin", payload))])
    c = eas(server, "bob")
    c.provision()
    inbox = c.folder_of_type(2)
    key = c.sync(inbox, "0").findtext("AirSync:SyncKey")
    adds = _adds(c.sync(inbox, key, make("AirSync:WindowSize", text="500")))
    app = next(v for v in adds.values() if v.findtext("Email:Subject") == "multipart att")
    ref = app.find("AirSyncBase:Attachments").find("AirSyncBase:Attachment").findtext(
        "AirSyncBase:FileReference")
    resp = c.post("ItemOperations", make("ItemOperations:ItemOperations", make(
        "ItemOperations:Fetch", make("ItemOperations:Store", text="Mailbox"),
        make("AirSyncBase:FileReference", text=ref))), headers={"MS-ASAcceptMultiPart": "T"})
    assert resp.headers["Content-Type"] == "application/vnd.ms-sync.multipart"
    body = resp.content
    count = struct.unpack_from("<i", body, 0)[0]
    assert count == 2
    parts = [struct.unpack_from("<ii", body, 4 + 8 * i) for i in range(count)]
    tree = decode(body[parts[0][0]:parts[0][0] + parts[0][1]])
    fetch = tree.find("ItemOperations:Response").find("ItemOperations:Fetch")
    assert fetch.find("ItemOperations:Properties").findtext("ItemOperations:Part") == "1"
    assert body[parts[1][0]:parts[1][0] + parts[1][1]] == payload
    old = eas(server, "bob", version="12.1")
    old.provision()
    raw = old.post("GetAttachment", None, params={"AttachmentName": ref})
    assert raw.status_code == 200 and raw.content == payload


def test_empty_and_partial_sync_reuse_the_last_request(server: RunningServer,
                                                       filler: Filler) -> None:
    c = eas(server, "bob")
    c.provision()
    notes = c.folder_of_type(10)
    key = c.sync(notes, "0").findtext("AirSync:SyncKey")
    fresh = eas(server, "bob")
    fresh.provision()
    # No earlier request of this device: the full request is asked for.
    assert decode(fresh.post("Sync", b"").content).findtext("AirSync:Status") == "13"
    first = c.sync(notes, key, make("AirSync:WindowSize", text="5"))
    key = first.findtext("AirSync:SyncKey")
    add = make("AirSync:Commands", make("AirSync:Add", make("AirSync:ClientId", text="n1"),
                                        make("AirSync:ApplicationData", make(
                                            "Notes:Subject", text="partial note"))))
    other = eas(server, "bob")
    other.provision()
    okey = other.sync(notes, "0").findtext("AirSync:SyncKey")
    okey = other.sync(notes, okey).findtext("AirSync:SyncKey")
    other.sync(notes, okey, add)
    # An empty body repeats the last Sync with the newest key: the new note arrives.
    resp = c.post("Sync", b"")
    col = decode(resp.content).find("AirSync:Collections").find("AirSync:Collection")
    assert [a.findtext("Notes:Subject") for a in _adds(col).values()] == ["partial note"]
    # A Partial Sync changes only what it names.
    tree = c.call("Sync", make("AirSync:Sync", make("AirSync:Collections", make(
        "AirSync:Collection", make("AirSync:SyncKey", text=col.findtext("AirSync:SyncKey")),
        make("AirSync:CollectionId", text=notes))), make("AirSync:Partial")))
    col = tree.find("AirSync:Collections").find("AirSync:Collection")
    assert col.findtext("AirSync:Status") == "1"


def test_bulk_changes_of_one_change_number_page_through_windows(server: RunningServer,
                                                                filler: Filler) -> None:
    """A bulk move and a bulk read-flag change each take one change number; small
    windows still bring every item exactly once."""
    c = eas(server, "bob")
    c.provision()
    folders = c.folders()
    name = f"bulk-{uuid.uuid4().hex[:6]}"
    created = c.call("FolderCreate", make(
        "FolderHierarchy:FolderCreate", make("FolderHierarchy:SyncKey", text=c.folder_key),
        make("FolderHierarchy:ParentId", text="0"),
        make("FolderHierarchy:DisplayName", text=name), make("FolderHierarchy:Type",
                                                            text="12")))
    target = created.findtext("FolderHierarchy:ServerId")
    assert folders
    mids = filler.deliver("bob", [make_message(f"bulk {i}") for i in range(300)],
                          role="junk")
    key = c.sync(target, "0").findtext("AirSync:SyncKey")
    key = c.sync(target, key).findtext("AirSync:SyncKey")
    from storage.mapistore.ids import fid_of

    moved = filler.store_call("move_messages", "bob", mids, fid_of(int(target)))
    new_mids = list(moved.values())
    seen: list[str] = []
    window = make("AirSync:WindowSize", text="7")
    while True:
        col = c.sync(target, key, window)
        key = col.findtext("AirSync:SyncKey")
        seen += list(_adds(col))
        if col.find("AirSync:MoreAvailable") is None:
            break
    assert len(seen) == 300 and len(set(seen)) == 300
    filler.store_call("set_read", "bob", new_mids, True)
    changed: list[str] = []
    window = make("AirSync:WindowSize", text="50")
    while True:
        col = c.sync(target, key, window)
        key = col.findtext("AirSync:SyncKey")
        cmds = col.find("AirSync:Commands")
        if cmds is not None:
            for ch in cmds.findall("AirSync:Change"):
                assert ch.find("AirSync:ApplicationData").findtext("Email:Read") == "1"
                changed.append(ch.findtext("AirSync:ServerId"))
        if col.find("AirSync:MoreAvailable") is None:
            break
    assert sorted(changed) == sorted(seen)


def test_resolve_recipients_free_busy(server: RunningServer, filler: Filler) -> None:
    """Bob's appointment 10:00-11:00 (busy) shows in alice's lookup of bob."""
    c = eas(server, "bob")
    c.provision()
    cal = c.folder_of_type(8)
    key = c.sync(cal, "0").findtext("AirSync:SyncKey")
    c.sync(cal, key, make("AirSync:Commands", make("AirSync:Add", make(
        "AirSync:ClientId", text="fb1"), make(
        "AirSync:ApplicationData", make("Calendar:Subject", text="Busy hour"),
        make("Calendar:StartTime", text="20261207T100000Z"),
        make("Calendar:EndTime", text="20261207T110000Z"),
        make("Calendar:BusyStatus", text="2")))))
    a = eas(server, "alice")
    a.provision()
    tree = a.call("ResolveRecipients", make(
        "ResolveRecipients:ResolveRecipients", make("ResolveRecipients:To",
                                                    text="bob@example.test"),
        make("ResolveRecipients:Options", make("ResolveRecipients:Availability", make(
            "ResolveRecipients:StartTime", text="2026-12-07T09:00:00.000Z"), make(
            "ResolveRecipients:EndTime", text="2026-12-07T12:00:00.000Z")))))
    avail = tree.find("ResolveRecipients:Response").find("ResolveRecipients:Recipient").find(
        "ResolveRecipients:Availability")
    assert avail.findtext("ResolveRecipients:Status") == "1"
    assert avail.findtext("ResolveRecipients:MergedFreeBusy") == "002200"


def _tiny_png() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def test_gal_search_with_photos(server: RunningServer, tmp_path) -> None:
    photo = _tiny_png()
    path = tmp_path / "bob.png"
    path.write_bytes(photo)
    server.cli("user", "set", "bob", "--photo", str(path))
    c = eas(server, "alice")
    c.provision()
    tree = c.call("Search", make("Search:Search", make("Search:Store", make(
        "Search:Name", text="GAL"), make("Search:Query", text="bob"), make(
        "Search:Options", make("Search:Range", text="0-9"), make(
            "Search:Picture", make("Search:MaxSize", text="10000"))))))
    store = tree.find("Search:Response").find("Search:Store")
    assert store.findtext("Search:Status") == "1"
    result = store.find("Search:Result").find("Search:Properties")
    assert result.findtext("Gal:EmailAddress") == "bob@example.test"
    picture = result.find("Gal:Picture")
    assert picture.findtext("Gal:Status") == "1"
    assert picture.find("Gal:Data").opaque == photo
    assert store.findtext("Search:Total") == "1"


def test_a_newer_ping_ends_the_older_one(server: RunningServer) -> None:
    import threading

    c = eas(server, "alice")
    c.provision()
    inbox = c.folder_of_type(2)
    key = c.sync(inbox, "0").findtext("AirSync:SyncKey")
    col = c.sync(inbox, key, make("AirSync:WindowSize", text="512"))
    while col.find("AirSync:MoreAvailable") is not None:
        col = c.sync(inbox, col.findtext("AirSync:SyncKey"),
                     make("AirSync:WindowSize", text="512"))
    ping = make("Ping:Ping", make("Ping:HeartbeatInterval", text="300"), make(
        "Ping:Folders", make("Ping:Folder", make("Ping:Id", text=inbox),
                             make("Ping:Class", text="Email"))))
    box: dict[str, object] = {}

    def first() -> None:
        box["tree"] = c.call("Ping", ping, timeout=60)
        box["at"] = time.monotonic()

    thread = threading.Thread(target=first)
    thread.start()
    time.sleep(1.0)
    assert thread.is_alive()
    started = time.monotonic()
    # The same device pings again (with an empty body: the last Ping's parameters); the
    # first long-poll ends at once with "no changes".
    result: dict[str, object] = {}

    def second() -> None:
        result["resp"] = c.post("Ping", b"", timeout=60)

    thread2 = threading.Thread(target=second, daemon=True)
    thread2.start()
    thread.join(10)
    assert not thread.is_alive()
    assert box["tree"].findtext("Ping:Status") == "1"  # type: ignore[union-attr]
    assert float(box["at"]) - started < 5  # type: ignore[arg-type]
    # End the second one too: a Sync of the device supersedes it.
    c.sync(inbox, col.findtext("AirSync:SyncKey"))
    thread2.join(10)
    assert not thread2.is_alive()


def test_recurring_appointment_from_icalendar(server: RunningServer, filler: Filler) -> None:
    """A weekly series with a cancelled occurrence, stored as MAPI properties (the
    iCalendar converter's PidLidAppointmentRecur), reaches the phone as Recurrence."""
    from groupware.convert.ical import ical_to_messages

    ical = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
            b"UID:weekly-1@example.test\r\nDTSTAMP:20261101T000000Z\r\n"
            b"DTSTART:20261102T090000Z\r\nDTEND:20261102T093000Z\r\nSUMMARY:Standup\r\n"
            b"RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10\r\nEXDATE:20261104T090000Z\r\n"
            b"END:VEVENT\r\nEND:VCALENDAR\r\n")
    model = next(m for m in ical_to_messages(ical) if m.get_str(0x001A001F) ==
                 "IPM.Appointment")

    async def put() -> None:
        from groupware.handlers.activesync.mapping import NameMap

        store = filler.server.get_mapistore()
        sid = await filler.store_id("carol")
        folder = await store.folder_by_role(sid, "calendar")
        await store.create_message(sid, folder.fid, await NameMap(store, sid).to_content(model))

    filler.deliver("carol", [])
    filler.run(put())
    server.cli("user", "features", "carol", "--enable", "mobile")
    try:
        c = eas(server, "carol")
        c.provision()
        cal = c.folder_of_type(8)
        key = c.sync(cal, "0").findtext("AirSync:SyncKey")
        app = next(a for a in _adds(c.sync(cal, key)).values()
                   if a.findtext("Calendar:Subject") == "Standup")
    finally:
        server.cli("user", "features", "carol", "--disable", "mobile")
    rec = app.find("Calendar:Recurrence")
    assert rec is not None
    assert rec.findtext("Calendar:Type") == "1"
    assert rec.findtext("Calendar:Interval") == "1"
    assert rec.findtext("Calendar:Occurrences") == "10"
    assert rec.findtext("Calendar:DayOfWeek") == str(2 | 8)  # Monday, Wednesday
    exc = app.find("Calendar:Exceptions").find("Calendar:Exception")
    assert exc.findtext("Calendar:Deleted") == "1"
    assert exc.findtext("Calendar:ExceptionStartTime") == "20261104T090000Z"


def test_recurring_appointment_from_the_phone_round_trips(server: RunningServer) -> None:
    c = eas(server, "alice")
    c.provision()
    cal = c.folder_of_type(8)
    key = c.sync(cal, "0").findtext("AirSync:SyncKey")
    col = c.sync(cal, key, make("AirSync:Commands", make("AirSync:Add", make(
        "AirSync:ClientId", text="rec1"), make(
        "AirSync:ApplicationData", make("Calendar:Subject", text="Monthly review"),
        make("Calendar:StartTime", text="20261203T140000Z"),
        make("Calendar:EndTime", text="20261203T150000Z"),
        make("Calendar:Recurrence", make("Calendar:Type", text="3"),
             make("Calendar:Occurrences", text="6"), make("Calendar:Interval", text="1"),
             make("Calendar:DayOfWeek", text="16"), make("Calendar:WeekOfMonth",
                                                          text="1")),
        make("Calendar:Exceptions", make("Calendar:Exception", make(
            "Calendar:Deleted", text="1"), make("Calendar:ExceptionStartTime",
                                                text="20270107T140000Z")))))))
    assert col.find("AirSync:Responses").find("AirSync:Add").findtext(
        "AirSync:Status") == "1"
    d = eas(server, "alice")
    d.provision()
    dkey = d.sync(cal, "0").findtext("AirSync:SyncKey")
    app = next(a for a in _adds(d.sync(cal, dkey, make("AirSync:WindowSize",
                                                       text="100"))).values()
               if a.findtext("Calendar:Subject") == "Monthly review")
    rec = app.find("Calendar:Recurrence")
    assert (rec.findtext("Calendar:Type"), rec.findtext("Calendar:Occurrences"),
            rec.findtext("Calendar:DayOfWeek"), rec.findtext("Calendar:WeekOfMonth")) == (
        "3", "6", "16", "1")
    exc = app.find("Calendar:Exceptions").find("Calendar:Exception")
    assert exc.findtext("Calendar:ExceptionStartTime") == "20270107T140000Z"


def test_items_leaving_the_filter_window_are_soft_deleted(server: RunningServer,
                                                          filler: Filler) -> None:
    import sqlalchemy as sa

    from storage.db.tables_mapistore import messages
    from storage.mapistore.ids import globcnt

    c = eas(server, "alice")
    c.provision()
    name = f"window-{uuid.uuid4().hex[:6]}"
    c.folders()
    created = c.call("FolderCreate", make(
        "FolderHierarchy:FolderCreate", make("FolderHierarchy:SyncKey", text=c.folder_key),
        make("FolderHierarchy:ParentId", text="0"),
        make("FolderHierarchy:DisplayName", text=name), make("FolderHierarchy:Type",
                                                            text="12")))
    folder = created.findtext("FolderHierarchy:ServerId")
    from storage.mapistore.ids import fid_of

    mids = []

    async def put() -> None:
        from groupware.handlers.activesync.handler import ActiveSyncHandler
        from groupware.handlers.activesync.mapping import content_from_mime

        store = filler.server.get_mapistore()
        user = await filler.server.get_directory().find_address("alice@example.test")
        sid, names = await ActiveSyncHandler(filler.server).open_store(user)
        for i in range(2):
            raw = make_message(f"window {i}")
            info = await store.deliver(sid, await content_from_mime(names, raw), mime=raw,
                                       fid=fid_of(int(folder)))
            mids.append(info.mid)

    filler.run(put())
    options = make("AirSync:Options", make("AirSync:FilterType", text="1"))
    key = c.sync(folder, "0", options).findtext("AirSync:SyncKey")
    col = c.sync(folder, key, options)
    key = col.findtext("AirSync:SyncKey")
    assert len(_adds(col)) == 2
    # One message is now just over a day old: it leaves the one-day window.
    time.sleep(0.3)
    db = filler.server.get_database()
    with db.engine.begin() as conn:
        conn.execute(sa.update(messages).where(messages.c.mid == globcnt(mids[0])).values(
            created_at=time.time() - 86400 - 0.1))
    col = c.sync(folder, key)
    soft = [s.findtext("AirSync:ServerId") for s in
            col.find("AirSync:Commands").findall("AirSync:SoftDelete")]
    assert soft == [f"{folder}:{globcnt(mids[0])}"]


def test_conflict_server_wins_and_empty_folder_contents(server: RunningServer,
                                                        filler: Filler) -> None:
    from storage.mapistore.ids import globcnt

    c = eas(server, "alice")
    c.provision()
    c.folders()
    created = c.call("FolderCreate", make(
        "FolderHierarchy:FolderCreate", make("FolderHierarchy:SyncKey", text=c.folder_key),
        make("FolderHierarchy:ParentId", text="0"),
        make("FolderHierarchy:DisplayName", text=f"conflict-{uuid.uuid4().hex[:6]}"),
        make("FolderHierarchy:Type", text="12")))
    folder = created.findtext("FolderHierarchy:ServerId")
    from storage.mapistore.ids import fid_of

    mids: list[int] = []

    async def put() -> None:
        from groupware.handlers.activesync.handler import ActiveSyncHandler
        from groupware.handlers.activesync.mapping import content_from_mime

        store = filler.server.get_mapistore()
        user = await filler.server.get_directory().find_address("alice@example.test")
        sid, names = await ActiveSyncHandler(filler.server).open_store(user)
        for i in range(3):
            raw = make_message(f"conflict {i}")
            info = await store.deliver(sid, await content_from_mime(names, raw), mime=raw,
                                       fid=fid_of(int(folder)))
            mids.append(info.mid)

    filler.run(put())
    key = c.sync(folder, "0").findtext("AirSync:SyncKey")
    col = c.sync(folder, key)
    key = col.findtext("AirSync:SyncKey")
    sid = f"{folder}:{globcnt(mids[0])}"
    # The server marks it read; the device, not knowing, marks it unread: server wins.
    filler.store_call("set_read", "alice", [mids[0]], True)
    col = c.sync(folder, key, make("AirSync:Commands", make("AirSync:Change", make(
        "AirSync:ServerId", text=sid), make("AirSync:ApplicationData", make(
            "Email:Read", text="0")))))
    assert filler.store_call("get_message_info", "alice", mids[0]).read is True
    changes = {ch.findtext("AirSync:ServerId"): ch for ch in
               col.find("AirSync:Commands").findall("AirSync:Change")}
    assert changes[sid].find("AirSync:ApplicationData").findtext("Email:Read") == "1"
    tree = c.call("ItemOperations", make("ItemOperations:ItemOperations", make(
        "ItemOperations:EmptyFolderContents", make("AirSync:CollectionId", text=folder))))
    result = tree.find("ItemOperations:Response").find("ItemOperations:EmptyFolderContents")
    assert result.findtext("ItemOperations:Status") == "1"
    col = c.sync(folder, col.findtext("AirSync:SyncKey"))
    deleted = [d.findtext("AirSync:ServerId") for d in
               col.find("AirSync:Commands").findall("AirSync:Delete")]
    assert len(deleted) == 3


def test_smart_reply_validate_cert_and_device_password(server: RunningServer,
                                                       filler: Filler) -> None:
    filler.deliver("alice", [make_message("reply to me", "The original text.\n",
                                          sender="bob@example.test")])
    c = eas(server, "alice")
    c.provision()
    inbox = c.folder_of_type(2)
    key = c.sync(inbox, "0").findtext("AirSync:SyncKey")
    adds = _adds(c.sync(inbox, key, make("AirSync:WindowSize", text="500")))
    sid = next(k for k, v in adds.items() if v.findtext("Email:Subject") == "reply to me")
    subject = f"Re: reply to me {uuid.uuid4().hex[:6]}"
    mime = (f"From: alice@example.test\r\nTo: bob@example.test\r\nSubject: {subject}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nMy answer.\r\n").encode()
    resp = c.post("SmartReply", make("ComposeMail:SmartReply",
                                     make("ComposeMail:ClientId", text=uuid.uuid4().hex),
                                     make("ComposeMail:Source", make(
                                         "ComposeMail:ItemId", text=sid)),
                                     make("ComposeMail:Mime", opaque=mime)))
    assert resp.status_code == 200 and resp.content == b""
    raw = _imap_find(server, "bob", subject)
    assert raw is not None
    assert b"My answer." in raw and b"The original text." in raw
    tree = c.call("ValidateCert", make("ValidateCert:ValidateCert", make(
        "ValidateCert:Certificates", make("ValidateCert:Certificate", text=b64(b"garbage")))))
    assert tree.find("ValidateCert:Certificate").findtext("ValidateCert:Status") == "10"
    tree = c.call("Settings", make("Settings:Settings", make("Settings:DevicePassword", make(
        "Settings:Set", make("Settings:Password", text="recovery-1234")))))
    assert tree.find("Settings:DevicePassword").findtext("Settings:Status") == "1"
