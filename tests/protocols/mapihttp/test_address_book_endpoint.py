"""The address book over MAPI/HTTP with the project's own client, against a running
server: the same questions asked over DCE/RPC (impacket) give the same answers, the
transport's framing (meta-tags, cookies, X-ResponseCode) holds, and every refusal of
MS-OXCMAPIHTTP 2.2.3.3.3 this endpoint can produce is produced — with the session
still usable afterwards.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from typing import Any

import pytest
from impacket.dcerpc.v5 import nspi

from protocols.mapihttp.client import MapiHttpClient
from protocols.mapihttp.framing import ResponseCode
from protocols.nspi.client import NspiHttpClient, NspiHttpError, stat
from protocols.nspi.http_messages import REQUESTS, encode_fields
from tests.interop.test_impacket_nspi import connect
from tests.protocols.nspi.running import PASSWORD, PEOPLE, AddressBook, module_book

pytestmark = pytest.mark.interop

COLUMNS = [0x3001001F, 0x39FE001F, 0x3003001F, 0x0FFE0003, 0x39000003, 0x3A17001F,
           0x3A18001F, 0x3A08001F, 0x0FF60102, 0x3A00001F]
"""Ten columns: display name, SMTP, email address, object type, display type, title,
department, business phone, instance key, account."""


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory,
         request: pytest.FixtureRequest) -> Iterator[AddressBook]:
    book = module_book(tmp_path_factory, request)
    yield book
    book.server.stop()


def url(book: AddressBook) -> str:
    return f"http://127.0.0.1:{book.http_port}/mapi/nspi/?MailboxId=x@example.test"


@pytest.fixture
def client(book: AddressBook) -> Iterator[NspiHttpClient]:
    c = NspiHttpClient(url(book), "alice@example.test", PASSWORD)
    yield c
    c.close()


def _rpc_rows(resp: Any) -> list[list[tuple[int, Any]]]:
    """impacket rows as (tag, value) lists in our value forms."""
    out = []
    for row in resp["ppRows"]["aRow"]:
        cells = []
        for prop in row["lpProps"]:
            tag = int(prop["ulPropTag"])
            union = prop["Value"]
            arm = union.structure[0][0]
            field = union.fields[arm]
            kind = tag & 0xFFFF
            if kind == 0x001F:
                value: Any = field["Data"][:-1]
            elif kind == 0x0102:
                value = b"".join(field["lpb"])
            elif kind == 0x001E:
                value = field["Data"][:-1].encode("latin-1")
            else:
                value = int(field["Data"])
            cells.append((tag, value))
        out.append(cells)
    return out


def test_same_answers_over_both_transports(book: AddressBook, client: NspiHttpClient) -> None:
    dce = connect(book, "tcp")
    try:
        handle = nspi.hNspiBind(dce, _impacket_stat())["contextHandle"]
        bound = client.bind()
        assert bound["result"] == 0

        rpc_stat = nspi.hNspiUpdateStat(dce, handle, _impacket_stat())["pStat"]
        http_stat = client.update_stat(stat())["state"]
        assert (rpc_stat["CurrentRec"], rpc_stat["TotalRecs"]) == (http_stat[2], http_stat[5])

        rpc_table = nspi.simplifyPropertyRowSet(nspi.hNspiGetSpecialTable(dce, handle)["ppRows"])
        http_table = client.get_special_table()["rows"]
        assert [(r[0x3001001F], r[0xFFFD0003]) for r in rpc_table] == [
            (dict(r)[0x3001001F], dict(r)[0xFFFD0003]) for r in http_table]

        assert sorted(int(t["Data"]) for t in
                      nspi.hNspiQueryColumns(dce, handle)["ppColumns"]["aulPropTag"]) == \
            sorted(client.query_columns()["columns"])

        # The whole GAL, ten columns, pages of 4, on both: the same rows in the same order.
        rpc_rows, http_rows = [], []
        state: Any = _impacket_stat()
        while True:
            resp = nspi.hNspiQueryRows(dce, handle, pStat=state, Count=4, pPropTags=COLUMNS)
            rpc_rows += _rpc_rows(resp)
            state = resp["pStat"]
            if state["CurrentRec"] == nspi.MID_END_OF_TABLE:
                break
        http_state: Any = stat()
        while True:
            answer = client.query_rows(http_state, 4, COLUMNS)
            columns, rows = answer["rows"]
            assert columns == COLUMNS and len(rows) <= 4
            http_rows += rows
            http_state = answer["state"]
            if http_state[2] == nspi.MID_END_OF_TABLE:
                break
        assert rpc_rows == http_rows
        assert [dict(r)[0x39FE001F] for r in http_rows] == [e.address for e in book.visible]

        bob = book.by_address("bob@example.test")
        rpc_mid = int(nspi.hNspiDNToMId(dce, handle, [bob.legacy_dn])["ppOutMIds"]
                      ["aulPropTag"][0]["Data"])
        assert client.dn_to_mid([bob.legacy_dn])["mids"] == [rpc_mid]

        props = client.get_props(stat(current=rpc_mid), [0x3001001F, 0x3A17001F, 0x3A06001F])
        assert props["result"] == 0
        assert dict(props["values"])[0x3A17001F] == "Engineer"

        names = ["bob", "nobody-at-all", "Ève"]
        rpc_resolved = nspi.hNspiResolveNamesW(dce, handle, pPropTags=COLUMNS, paStr=names)
        http_resolved = client.resolve_names(names, COLUMNS)
        assert [int(m["Data"]) for m in rpc_resolved["ppMIds"]["aulPropTag"]] == \
            http_resolved["mids"]
        assert _rpc_rows(rpc_resolved) == http_resolved["rows"][1]

        assert client.unbind()["result"] == 1
        nspi.hNspiUnbind(dce, handle)
    finally:
        dce.disconnect()


def _impacket_stat() -> Any:
    s = nspi.STAT()
    s["CodePage"] = nspi.CP_TELETEX
    return s


def test_framing_and_cookies(book: AddressBook) -> None:
    http = MapiHttpClient(url(book), "alice@example.test", PASSWORD)
    try:
        answer = http.request("Bind", encode_fields({"flags": 0, "state": stat()},
                                                    REQUESTS["Bind"][0]))
        assert answer.status == 200 and answer.response_code == 0
        assert answer.headers["content-type"] == "application/mapi-http"
        assert answer.headers["transfer-encoding"] == "chunked"
        assert answer.headers["x-requesttype"] == "Bind"
        assert answer.headers["x-requestid"].endswith(":1")
        assert int(answer.headers["x-expirationinfo"]) > 0
        assert answer.headers["x-serverapplication"].startswith("Exchange/15.")
        assert answer.parsed is not None
        assert answer.parsed.meta[0] == "PROCESSING" and answer.parsed.meta[-1] == "DONE"
        assert {"X-ElapsedTime", "X-StartTime"} <= set(answer.parsed.headers)
        assert set(http.cookies) == {"MapiContext", "MapiSequence"}
        first_sequence = http.cookies["MapiSequence"]

        ping = http.request("PING")
        assert ping.response_code == 0 and ping.parsed is not None and ping.body == b""
        assert http.cookies["MapiSequence"] == first_sequence  # PING does not advance it

        body = encode_fields({"state": stat(), "delta_requested": 1}, REQUESTS["UpdateStat"][0])
        assert http.request("UpdateStat", body).response_code == 0
        assert http.cookies["MapiSequence"] != first_sequence

        # A replay with the old sequence cookie is refused; the session survives it.
        current = http.cookies["MapiSequence"]
        http.cookies["MapiSequence"] = first_sequence
        assert http.request("UpdateStat", body).response_code == ResponseCode.INVALID_SEQUENCE
        http.cookies["MapiSequence"] = current
        assert http.request("UpdateStat", body).response_code == 0

        unbind = http.request("Unbind", encode_fields({}, REQUESTS["Unbind"][0]))
        assert unbind.response_code == 0
        assert "MapiContext" not in http.cookies  # expired by the server
    finally:
        http.close()


def test_pending_meta_tags_while_a_request_is_worked_on(book: AddressBook,
                                                      client: NspiHttpClient) -> None:
    client.bind()
    # 40,000 rows of real entries, every one with its values, keep the server busy
    # several times longer than the 0.2 s pending period the fixture configures.
    mids = client.resolve_names([p[0] for p in PEOPLE], COLUMNS)["mids"]
    explicit = (mids * (40_000 // len(mids) + 1))[:40_000]
    answer = client.http.request("QueryRows", encode_fields(
        {"flags": 0, "state": stat(), "explicit": explicit,
         "row_count": 1, "columns": COLUMNS}, REQUESTS["QueryRows"][0]))
    assert answer.response_code == 0 and answer.parsed is not None
    assert "PENDING" in answer.parsed.meta
    assert answer.parsed.meta[0] == "PROCESSING" and answer.parsed.meta[-1] == "DONE"
    assert int(answer.headers["x-pendingperiod"]) == 200


def _raw(book: AddressBook, method: str, headers: dict[str, str],
         body: bytes = b"") -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", book.http_port, timeout=10)
    conn.request(method, "/mapi/nspi/", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def _headers(request_type: str = "QueryRows", **extra: str) -> dict[str, str]:
    import base64

    token = base64.b64encode(f"alice@example.test:{PASSWORD}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/mapi-http",
               "X-RequestType": request_type, "X-RequestId": "{AB}:1",
               "X-ClientInfo": "{AB}:1"}
    headers.update(extra)
    return {k: v for k, v in headers.items() if v}


@pytest.mark.parametrize(("method", "headers", "body", "expected"), [
    ("GET", {}, b"", ResponseCode.INVALID_VERB),
    ("POST", {"X-RequestType": "Frobnicate"}, b"", ResponseCode.INVALID_REQUEST_TYPE),
    ("POST", {"X-RequestId": ""}, b"", ResponseCode.MISSING_HEADER),
    ("POST", {"X-ClientInfo": ""}, b"", ResponseCode.MISSING_HEADER),
    ("POST", {"Content-Type": "text/plain"}, b"", ResponseCode.INVALID_HEADER),
    ("POST", {}, b"\x00" * 8, ResponseCode.MISSING_COOKIE),
    ("POST", {"Cookie": "MapiContext=nope; MapiSequence=x"}, b"",
     ResponseCode.INVALID_CONTEXT_COOKIE),
    ("POST", {"X-RequestType": "Bind"}, b"\x01\x02", ResponseCode.INVALID_REQUEST_BODY),
    ("POST", {"X-RequestType": "Bind"}, b"\x00" * (1100 * 1024), ResponseCode.TOO_LARGE),
])
def test_refusals(book: AddressBook, method: str, headers: dict[str, str], body: bytes,
                  expected: ResponseCode) -> None:
    response = _raw(book, method, {**_headers(), **headers}, body)
    assert response.status == 200
    assert response.getheader("X-ResponseCode") == str(int(expected))


def test_authentication_is_required(book: AddressBook) -> None:
    response = _raw(book, "POST", _headers(Authorization=""))
    assert response.status == 401
    assert "Basic" in (response.getheader("WWW-Authenticate") or "")
    wrong = MapiHttpClient(url(book), "alice@example.test", "wrong-password")
    try:
        assert wrong.request("Bind", b"").status == 401
    finally:
        wrong.close()


def test_bad_body_leaves_the_session_usable(book: AddressBook, client: NspiHttpClient) -> None:
    client.bind()
    garbage = client.http.request("QueryRows", b"\xff\xff")
    assert garbage.response_code == ResponseCode.INVALID_REQUEST_BODY
    answer = client.query_rows(stat(), 3, [0x3001001F])
    assert answer["result"] == 0 and len(answer["rows"][1]) == 3
    whole = encode_fields({"flags": 0, "state": stat(), "row_count": 3,
                           "columns": [0x3001001F]}, REQUESTS["QueryRows"][0])
    assert client.http.request("QueryRows", whole[:-3]).response_code == \
        ResponseCode.INVALID_REQUEST_BODY
    assert client.http.request("QueryRows", whole + b"\0").response_code == \
        ResponseCode.INVALID_REQUEST_BODY
    assert client.query_rows(stat(), 1, [0x3001001F])["result"] == 0
    client.http.cookies.clear()
    with pytest.raises(NspiHttpError) as excinfo:
        client.query_rows(stat(), 1, [0x3001001F])
    assert excinfo.value.code == ResponseCode.MISSING_COOKIE


def test_urls(book: AddressBook, client: NspiHttpClient) -> None:
    client.bind()
    alice = book.by_address("alice@example.test")
    own = client.get_address_book_url(alice.legacy_dn)["url"]
    assert own.startswith("https://localhost") and "/mapi/nspi/?MailboxId=" in own
    assert own.endswith("@example.test")
    server_dn = ("/o=First Organization/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
                 "/cn=Configuration/cn=Servers/cn=1234@example.test")
    assert client.get_mailbox_url(server_dn)["url"].endswith(
        "/mapi/emsmdb/?MailboxId=1234@example.test")
