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
