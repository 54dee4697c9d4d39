"""impacket's NSPI and RFR clients (``impacket.dcerpc.v5.nspi`` / ``oxabref``) against a
running server: NTLM at packet privacy inside DCE/RPC, over ``ncacn_ip_tcp`` and over
RPC over HTTP v2 with Basic or NTLM on the HTTP layer — the way impacket's
``exchanger.py`` talks to Exchange.

Expectations come from the directory's own listing (``groupware ... list --json``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from impacket.dcerpc.v5 import nspi, oxabref, rpcrt, transport
from impacket.dcerpc.v5.dtypes import DWORD
from impacket.http import AUTH_BASIC, AUTH_NTLM

from tests.protocols.nspi.running import (
    GROUP,
    HIDDEN,
    PASSWORD,
    REPORTS_TO_ALICE,
    AddressBook,
    fold,
    module_book,
)

pytestmark = pytest.mark.interop

PR_DISPLAY_NAME_W = 0x3001001F
PR_SMTP_ADDRESS_W = 0x39FE001F
PR_INSTANCE_KEY = 0x0FF60102
PR_ENTRYID = 0x0FFF0102
PR_EMAIL_ADDRESS_W = 0x3003001F
PR_OBJECT_TYPE = 0x0FFE0003
PR_DISPLAY_TYPE = 0x39000003
PR_CONTAINER_ID = 0xFFFD0003
PR_GIVEN_NAME_W = 0x3A06001F
PR_TITLE_W = 0x3A17001F
PR_DISPLAY_NAME_A = 0x3001001E
TRANSPORTS = ["tcp", "http-basic", "http-ntlm"]


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory,
         request: pytest.FixtureRequest) -> Iterator[AddressBook]:
    book = module_book(tmp_path_factory, request)
    yield book
    book.server.stop()


def connect(book: AddressBook, kind: str, interface: bytes = nspi.MSRPC_UUID_NSPI, *,
            user: str = "alice", password: str = PASSWORD,
            level: int = rpcrt.RPC_C_AUTHN_LEVEL_PKT_PRIVACY) -> Any:
    if kind == "tcp":
        rpc_transport = transport.DCERPCTransportFactory(
            f"ncacn_ip_tcp:127.0.0.1[{book.rpc_port}]")
        rpc_transport.set_credentials(user, password, "EXAMPLE")
    else:
        rpc_transport = transport.DCERPCTransportFactory("ncacn_http:localhost[6004]")
        # impacket keeps two credential sets: before the proxy URL for DCE/RPC NTLM,
        # after it for the HTTP layer.
        rpc_transport.set_credentials(user, password, "EXAMPLE")
        rpc_transport.set_rpc_proxy_url(f"http://127.0.0.1:{book.http_port}/rpc/rpcproxy.dll")
        rpc_transport.set_credentials(user, password, "EXAMPLE")
        rpc_transport.set_auth_type(AUTH_BASIC if kind == "http-basic" else AUTH_NTLM)
    rpc_transport.set_connect_timeout(10)
    dce = rpc_transport.get_dce_rpc()
    dce.set_auth_type(rpcrt.RPC_C_AUTHN_WINNT)
    dce.set_auth_level(level)
    dce.connect()
    dce.bind(interface)
    return dce


def _stat(container: int = 0) -> Any:
    stat = nspi.STAT()
    stat["CodePage"] = nspi.CP_TELETEX
    stat["ContainerID"] = container
    return stat


def _mids(array: Any) -> list[int]:
    return [int(m["Data"]) for m in array["aulPropTag"]]


def _walk(dce: Any, handle: Any, container: int, count: int,
          tags: list[int]) -> list[dict[int, Any]]:
    """QueryRows from the beginning to MID_END_OF_TABLE; asserts page sizes on the way."""
    stat = _stat(container)
    rows: list[dict[int, Any]] = []
    for _ in range(1000):
        resp = nspi.hNspiQueryRows(dce, handle, pStat=stat, Count=count, pPropTags=tags)
        page = nspi.simplifyPropertyRowSet(resp["ppRows"])
        assert len(page) <= count, "never more rows than asked"
        rows.extend(page)
        stat = resp["pStat"]
        if stat["CurrentRec"] == nspi.MID_END_OF_TABLE:
            assert stat["NumPos"] == stat["TotalRecs"] == len(rows)
            return rows
        assert page, "an empty page before the end of the table"
    raise AssertionError("the walk never reached the end")


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_bind_walk_resolve_unbind(book: AddressBook, kind: str) -> None:
    dce = connect(book, kind)
    try:
        resp = nspi.hNspiBind(dce, _stat())
        assert resp["ErrorCode"] == 0
        handle = resp["contextHandle"]
        assert not handle.isNull()

        visible = book.visible
        resp = nspi.hNspiUpdateStat(dce, handle, _stat())
        assert resp["ErrorCode"] == 0
        assert resp["pStat"]["TotalRecs"] == len(visible)
        first_mid = resp["pStat"]["CurrentRec"]
        assert first_mid not in (0, 1, 2)

        columns = _mids(nspi.hNspiQueryColumns(dce, handle)["ppColumns"])
        assert {PR_DISPLAY_NAME_W, PR_SMTP_ADDRESS_W, PR_ENTRYID} <= set(columns)

        rows = _walk(dce, handle, 0, 3, [PR_DISPLAY_NAME_W, PR_SMTP_ADDRESS_W, PR_INSTANCE_KEY])
        assert [r[PR_DISPLAY_NAME_W] for r in rows] == [e.display_name for e in visible]
        assert [r[PR_SMTP_ADDRESS_W] for r in rows] == [e.address for e in visible]
        assert HIDDEN + "@example.test" not in {r[PR_SMTP_ADDRESS_W] for r in rows}
        # impacket's simplifyPropertyRow already unpacks PR_INSTANCE_KEY into an int.
        instance = {r[PR_SMTP_ADDRESS_W]: r[PR_INSTANCE_KEY] for r in rows}
        assert instance[visible[0].address] == first_mid

        bob = book.by_address("bob@example.test")
        resp = nspi.hNspiDNToMId(dce, handle, [bob.legacy_dn, "/o=nowhere/cn=nobody"])
        mids = _mids(resp["ppOutMIds"])
        assert mids == [instance["bob@example.test"], 0]

        resp = _get_props(dce, handle, mids[0], [PR_DISPLAY_NAME_W, PR_EMAIL_ADDRESS_W,
                                                 PR_GIVEN_NAME_W, PR_TITLE_W])
        assert resp["ErrorCode"] == 0
        props = nspi.simplifyPropertyRow(resp["ppRows"])
        assert props[PR_DISPLAY_NAME_W] == "Bob Builder"
        assert props[PR_EMAIL_ADDRESS_W] == bob.legacy_dn
        assert props[PR_TITLE_W] == "Engineer"
        resp = _get_props(dce, handle, instance["dave@example.test"], [PR_TITLE_W])
        assert resp["ErrorCode"] == 0x00040380  # ErrorsReturned: dave has no title
        assert resp["ppRows"]["lpProps"][0]["ulPropTag"] == (PR_TITLE_W & 0xFFFF0000) | 0xA

        names = ["bob", "nobody-at-all", "Ève Émile", "Grace"]
        resp = nspi.hNspiResolveNamesW(dce, handle, pPropTags=[PR_DISPLAY_NAME_W,
                                                               PR_SMTP_ADDRESS_W],
                                       paStr=names)
        resolved = _mids(resp["ppMIds"])
        assert resolved == [instance["bob@example.test"], nspi.MID_UNRESOLVED,
                            instance["eve@example.test"], instance["grace@example.test"]]
        got = nspi.simplifyPropertyRowSet(resp["ppRows"])
        assert [r[PR_SMTP_ADDRESS_W] for r in got] == [
            "bob@example.test", "eve@example.test", "grace@example.test"]

        resp = nspi.hNspiUnbind(dce, handle)
        assert resp["ErrorCode"] == 1  # UnbindSuccess
    finally:
        dce.disconnect()


def _get_props(dce: Any, handle: Any, mid: int, tags: list[int]) -> Any:
    """NspiGetProps as impacket marshals it (pStat as a unique pointer), without raising on
    ErrorsReturned."""
    request = nspi.NspiGetProps()
    request["hRpc"] = handle
    request["dwFlags"] = 0
    request["pStat"]["CurrentRec"] = mid
    request["pStat"]["CodePage"] = nspi.CP_TELETEX
    for tag in tags:
        item = DWORD()
        item["Data"] = tag
        request["pPropTags"]["aulPropTag"].append(item)
    request["pPropTags"]["cValues"] = len(tags)
    return dce.request(request, checkError=False)


@pytest.mark.parametrize("kind", ["tcp", "http-ntlm"])
def test_hierarchy_and_containers(book: AddressBook, kind: str) -> None:
    """exchanger.py's list-tables: GetSpecialTable, then UpdateStat of every container."""
    dce = connect(book, kind)
    try:
        handle = nspi.hNspiBind(dce, _stat())["contextHandle"]
        resp = nspi.hNspiGetSpecialTable(dce, handle)
        table = nspi.simplifyPropertyRowSet(resp["ppRows"])
        by_name = {row[PR_DISPLAY_NAME_W]: row[PR_CONTAINER_ID] for row in table}
        assert by_name["Global Address List"] == 0
        assert {"All Users (example.test)", "All Users (other.test)", "All Groups",
                "All Rooms"} <= set(by_name)
        assert len(set(by_name.values())) == len(by_name)
        for row in table:
            assert row[0x36000003] & 1  # AB_RECIPIENTS
            entry = row[PR_ENTRYID]
            assert isinstance(entry, nspi.PermanentEntryID)
            assert entry["DisplayType"] == nspi.DT_CONTAINER

        visible = book.visible
        expected = {
            "All Users (example.test)": [e for e in visible if e.kind != "contact"
                                         and e.address.endswith("@example.test")],
            "All Users (other.test)": [e for e in visible if e.address.endswith("@other.test")],
            "All Groups": [e for e in visible if e.kind == "group"],
            "All Rooms": [e for e in visible if e.kind == "room"],
        }
        for name, entries in expected.items():
            stat = nspi.hNspiUpdateStat(dce, handle, _stat(by_name[name]))["pStat"]
            assert stat["TotalRecs"] == len(entries), name
            rows = _walk(dce, handle, by_name[name], 2, [PR_SMTP_ADDRESS_W, PR_DISPLAY_TYPE])
            assert [r[PR_SMTP_ADDRESS_W] for r in rows] == [e.address for e in entries]
        groups = _walk(dce, handle, by_name["All Groups"], 10, [PR_OBJECT_TYPE, PR_DISPLAY_TYPE])
        assert groups == [{PR_OBJECT_TYPE: 8, PR_DISPLAY_TYPE: nspi.DT_DISTLIST}]

        # exchanger.py then dumps rows through an explicit table of instance keys.
        keys = _walk(dce, handle, 0, 50, [PR_INSTANCE_KEY])
        mids = [k[PR_INSTANCE_KEY] for k in keys]
        resp = nspi.hNspiQueryRows(dce, handle, ContainerID=0, Count=50,
                                   pPropTags=[PR_SMTP_ADDRESS_W, PR_DISPLAY_NAME_A],
                                   lpETable=mids[:7])
        got = nspi.simplifyPropertyRowSet(resp["ppRows"])
        assert [r[PR_SMTP_ADDRESS_W] for r in got] == [e.address for e in visible[:7]]
        # PtypString8 in CP_TELETEX: ASCII with '?' for the rest.
        assert [r[PR_DISPLAY_NAME_A] for r in got] == [
            e.display_name.encode("ascii", "replace").decode() for e in visible[:7]]
        nspi.hNspiUnbind(dce, handle)
    finally:
        dce.disconnect()


@pytest.mark.parametrize("kind", ["tcp", "http-basic"])
def test_rfr(book: AddressBook, kind: str) -> None:
    dce = connect(book, kind, oxabref.MSRPC_UUID_OXABREF)
    try:
        alice = book.by_address("alice@example.test")
        resp = oxabref.hRfrGetNewDSA(dce, pUserDN=alice.legacy_dn)
        assert resp["ppszServer"] == "localhost"
        server_dn = ("/o=First Organization/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
                     "/cn=Configuration/cn=Servers/cn=x@example.test")
        resp = oxabref.hRfrGetFQDNFromServerDN(dce, server_dn)
        assert resp["ppszServerFQDN"] == "localhost"
    finally:
        dce.disconnect()


def test_wrong_password_is_refused(book: AddressBook) -> None:
    dce = connect(book, "tcp", password="not-the-password")
    try:
        with pytest.raises(rpcrt.DCERPCException) as excinfo:
            nspi.hNspiBind(dce, _stat())
        assert "access_denied" in str(excinfo.value).lower()
    finally:
        dce.disconnect()


@pytest.mark.parametrize("level", [rpcrt.RPC_C_AUTHN_LEVEL_CONNECT,
                                   rpcrt.RPC_C_AUTHN_LEVEL_PKT_INTEGRITY])
def test_lower_auth_levels(book: AddressBook, level: int) -> None:
    dce = connect(book, "tcp", level=level)
    try:
        handle = nspi.hNspiBind(dce, _stat())["contextHandle"]
        rows = _walk(dce, handle, 0, 100, [PR_DISPLAY_NAME_W])
        assert len(rows) == len(book.visible)
    finally:
        dce.disconnect()


def test_sort_order_is_display_name_then_address(book: AddressBook) -> None:
    keys = [(fold(e.display_name), e.address) for e in book.visible]
    assert keys == sorted(keys)
    assert len({e.address for e in book.visible}) == len(book.entries) - 1  # one hidden
    assert REPORTS_TO_ALICE and GROUP[2]


# --- bad input against the running server ------------------------------------------------


def _fault_name(status: int) -> str:
    """impacket reports a fault by the status's name."""
    return str(rpcrt.rpc_status_codes[status])


def test_faults_keep_the_authenticated_connection_usable(book: AddressBook) -> None:
    """Unknown opnums, undecodable stubs, oversized counts and foreign context handles
    each get a fault; the next call on the same connection works."""
    from protocols.nspi.constants import NspiOpnum
    from protocols.rpc.ndr import Writer

    dce = connect(book, "tcp")
    try:
        handle = nspi.hNspiBind(dce, _stat())["contextHandle"]
        attempts: list[tuple[int, bytes, int]] = [
            (15, b"", 0x1C010002),                              # nca_s_op_rng_error
            (99, b"\x00" * 8, 0x1C010002),
            (NspiOpnum.GET_PROPS, b"\x00\x01", 0x6F7),          # rpc_x_bad_stub_data
        ]
        w = Writer()
        w.raw(handle.getData())
        w.u32(0)
        for value in (0, 0, 0, 0, 0, 0, nspi.CP_TELETEX, 0, 0):
            w.u32(value)
        w.u32(0xFFFFFFF0)                                        # dwETableCount too big
        attempts.append((NspiOpnum.QUERY_ROWS, w.getvalue(), 0x6F7))
        foreign = Writer()
        foreign.raw(b"\x00\x00\x00\x00" + b"\x42" * 16)          # a handle never issued
        foreign.u32(0)
        for value in (0, 0, 0, 0, 0, 0, nspi.CP_TELETEX, 0, 0):
            foreign.u32(value)
        foreign.u32(0)
        attempts.append((NspiOpnum.UPDATE_STAT, foreign.getvalue(), 0x1C00001A))
        for opnum, stub, status in attempts:
            dce.call(opnum, stub)
            with pytest.raises(rpcrt.DCERPCException) as excinfo:
                dce.recv()
            assert str(excinfo.value.error_string) == _fault_name(status), hex(opnum)
            resp = nspi.hNspiUpdateStat(dce, handle, _stat())
            assert resp["pStat"]["TotalRecs"] == len(book.visible)
    finally:
        dce.disconnect()


def _raw_session(book: AddressBook) -> Any:
    import socket

    from protocols.nspi.constants import NSPI_SYNTAX
    from protocols.rpc.pdu import NDR20, Bind, ContextElement, Pdu, PType, encode_pdu

    sock = socket.create_connection(("127.0.0.1", book.rpc_port), timeout=10)
    sock.sendall(encode_pdu(Pdu(PType.BIND, 1, Bind(5840, 5840, 0, (
        ContextElement(0, NSPI_SYNTAX, (NDR20,)),)))))
    assert _read_pdu(sock)[2] == PType.BIND_ACK
    return sock


def _read_pdu(sock: Any) -> bytes:
    data = b""
    while len(data) < 16:
        chunk = sock.recv(16 - len(data))
        if not chunk:
            return data
        data += chunk
    length = int.from_bytes(data[8:10], "little")
    while len(data) < length:
        chunk = sock.recv(length - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _request(stub: bytes, *, call_id: int, context_id: int = 0, opnum: int = 0,
             first: bool = True, last: bool = True) -> bytes:
    from protocols.rpc.pdu import Pdu, PfcFlags, PType, Request, encode_pdu

    flags = (PfcFlags.FIRST_FRAG if first else 0) | (PfcFlags.LAST_FRAG if last else 0)
    return encode_pdu(Pdu(PType.REQUEST, call_id, Request(len(stub), context_id, opnum, stub),
                          PfcFlags(flags)))


def _bind_stub() -> bytes:
    from protocols.rpc.ndr import Writer

    w = Writer()
    w.u32(0)
    for value in (0, 0, 0, 0, 0, 0, 1252, 0x409, 0x409):
        w.u32(value)
    w.u32(0)  # pServerGuid NULL
    return w.getvalue()


def test_raw_pdus_wrong_context_and_unauthenticated_bind(book: AddressBook) -> None:
    from protocols.rpc.pdu import PType, decode_pdu

    sock = _raw_session(book)
    try:
        # A presentation context that was never negotiated: fault nca_unk_if, go on.
        sock.sendall(_request(b"\x00" * 4, call_id=2, context_id=7))
        fault = decode_pdu(_read_pdu(sock))
        assert fault.ptype == PType.FAULT and fault.body.status == 0x1C010003  # type: ignore[union-attr]
        # Unauthenticated NspiBind: answered, with LogonFailed and a null handle.
        sock.sendall(_request(_bind_stub(), call_id=3))
        answer = decode_pdu(_read_pdu(sock))
        assert answer.ptype == PType.RESPONSE
        stub = answer.body.stub  # type: ignore[union-attr]
        assert stub[-4:] == (0x80040111).to_bytes(4, "little") and stub[4:24] == b"\x00" * 20
    finally:
        sock.close()


def test_raw_pdus_out_of_order_fragment_and_garbage(book: AddressBook) -> None:
    from protocols.rpc.pdu import PType, decode_pdu

    sock = _raw_session(book)
    try:
        # A middle fragment of a call that never started: fault, then the server closes.
        sock.sendall(_request(b"\x00" * 8, call_id=5, first=False, last=False))
        fault = decode_pdu(_read_pdu(sock))
        assert fault.ptype == PType.FAULT and fault.body.status == 0x1C01000B  # type: ignore[union-attr]
        assert _read_pdu(sock) == b""
    finally:
        sock.close()
    sock = _raw_session(book)
    try:
        sock.sendall(b"\x05\x00\x00\x03\x10\x00\x00\x00\x08\x00" + b"\xff" * 30)
        reply = _read_pdu(sock)
        assert reply == b"" or reply[2] == PType.FAULT
    finally:
        sock.close()
    # The server is unharmed: a full authenticated session still works.
    dce = connect(book, "tcp")
    try:
        handle = nspi.hNspiBind(dce, _stat())["contextHandle"]
        assert nspi.hNspiUpdateStat(dce, handle, _stat())["pStat"]["TotalRecs"] == \
            len(book.visible)
    finally:
        dce.disconnect()


def _http(book: AddressBook, raw: bytes) -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", book.http_port), timeout=10) as sock:
        sock.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data


def test_rpc_proxy_refusals_and_the_site_beside_it(book: AddressBook) -> None:
    import base64

    head = _http(book, b"RPC_IN_DATA /rpc/rpcproxy.dll?localhost:6004 HTTP/1.1\r\n"
                       b"Host: x\r\nContent-Length: 0\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 401")
    assert b"WWW-Authenticate: NTLM" in head and b"WWW-Authenticate: Basic" in head
    token = base64.b64encode(f"alice@example.test:{PASSWORD}".encode())
    head = _http(book, b"RPC_OUT_DATA /elsewhere HTTP/1.1\r\nAuthorization: Basic " + token
                 + b"\r\nContent-Length: 76\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404")
    head = _http(book, b"RPC_IN_DATA /rpc/rpcproxy.dll HTTP/1.1\r\nAuthorization: NTLM !!\r\n"
                       b"Content-Length: 0\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 401")
    # Ordinary requests on the same listener still reach the web site.
    head = _http(book, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
