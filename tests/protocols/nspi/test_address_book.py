"""NSPI semantics of the address-book handler (MS-OXNSPI 3.1.4), on the SQL directory and
on a real slapd with the same content: table positioning, explicit tables, seeking,
restrictions with PR_ANR, links (members, manager, reports, member-of), ANR, code
pages, properties, writes and the refusals the spec requires."""

from __future__ import annotations

from typing import Any

import pytest

from groupware.handlers.addressbook import (
    CP_WINUNICODE,
    MID_AMBIGUOUS,
    MID_CURRENT,
    MID_END_OF_TABLE,
    MID_UNRESOLVED,
    AddressBookHandler,
    NspiError,
    Stat,
)
from groupware.mapi import tags as T
from groupware.mapi.codes import ErrorCode
from groupware.mapi.entryids import AddressBookEntryId, DisplayType
from groupware.mapi.restrictions import (
    AndRestriction,
    ContentRestriction,
    ExistRestriction,
    FuzzyLevelHigh,
    FuzzyLevelLow,
    PropertyRestriction,
    RelOp,
)
from groupware.mapi.values import TaggedPropertyValue
from groupware.types import PropTag
from tests.directory import dataset
from tests.protocols.nspi.conftest import CP_1252, bound, make_handler, run

NAME = 0x3001001F
NAME_A = 0x3001001E
SMTP = 0x39FE001F
TITLE = 0x3A17001F
PHOTO = 0x8C9E0102
ENTRY = 0x0FFF0102
ERROR = 0x000A
ANR = int(T.PidTagAnr)


def expected_gal() -> list[str]:
    """Visible entries of the dataset, in the display-name order NSPI walks them."""
    from tests.protocols.nspi.running import fold

    entries = [(u.display, u.address) for u in dataset.USERS if not u.hidden]
    entries += [(display, address) for address, (display, _) in dataset.GROUPS.items()]
    entries += [(c[1], c[0]) for c in dataset.CONTACTS]
    return [a for _, a in sorted(entries, key=lambda e: (fold(e[0]), e[1].lower()))]


def smtp(row: list[tuple[int, Any]]) -> str:
    return str(dict(row)[SMTP])


async def _walk(h: AddressBookHandler, session: Any, container: int = 0,
                count: int = 4) -> list[str]:
    stat = Stat(container_id=container, code_page=CP_1252)
    out: list[str] = []
    while True:
        stat, rows = await h.query_rows(session, stat, explicit=None, count=count, tags=[SMTP])
        assert len(rows) <= count
        out += [smtp(r) for r in rows]
        if stat.current_rec == MID_END_OF_TABLE:
            assert stat.num_pos == stat.total_recs == len(out)
            return out


def test_gal_walk_is_sorted_and_hides_hidden(directory: Any) -> None:
    async def go() -> None:
        h = make_handler(directory)
        session = await bound(h)
        walked = await _walk(h, session)
        assert walked == expected_gal()
        assert "svc-backup@example.test" not in walked
        stat, _ = await h.update_stat(session, Stat(code_page=CP_1252), True)
        assert stat.total_recs == len(walked)

    run(go())


def test_positioning(directory: Any) -> None:
    """MS-OXNSPI 3.1.4.5: absolute (MId), fractional (NumPos/TotalRecs), Delta, ends."""
    async def go() -> None:
        h = make_handler(directory)
        s = await bound(h)
        gal = expected_gal()
        total = len(gal)
        stat, delta = await h.update_stat(s, Stat(code_page=CP_1252, delta=3), True)
        assert (stat.num_pos, delta, stat.delta) == (3, 3, 0)
        third = stat.current_rec
        _, rows = await h.query_rows(s, Stat(code_page=CP_1252, current_rec=third),
                                     explicit=None, count=1, tags=[SMTP])
        assert smtp(rows[0]) == gal[3]
        stat, delta = await h.update_stat(
            s, Stat(code_page=CP_1252, current_rec=third, delta=-10), True)
        assert (stat.num_pos, delta) == (0, -3)
        stat, delta = await h.update_stat(s, Stat(code_page=CP_1252, delta=1000), True)
        assert (stat.current_rec, stat.num_pos, delta) == (MID_END_OF_TABLE, total, total)
        stat, _ = await h.update_stat(
            s, Stat(code_page=CP_1252, current_rec=MID_END_OF_TABLE, delta=-1), False)
        assert stat.num_pos == total - 1
        # Fractional: half way through the table.
        stat, _ = await h.update_stat(
            s, Stat(code_page=CP_1252, current_rec=MID_CURRENT, num_pos=1, total_recs=2),
            False)
        assert stat.num_pos == total // 2
        # A MId that left the table: NumPos is used as the hint.
        stat, _ = await h.update_stat(
            s, Stat(code_page=CP_1252, current_rec=0x7FFFFFF0, num_pos=2), False)
        assert stat.num_pos == 2
        with pytest.raises(NspiError) as excinfo:
            await h.update_stat(s, Stat(code_page=CP_1252, container_id=0x7FFFFFF0), False)
        assert excinfo.value.status == ErrorCode.ecInvalidBookmark

    run(go())


def test_query_rows_rules(directory: Any) -> None:
    async def go() -> None:
        h = make_handler(directory)
        s = await bound(h)
        with pytest.raises(NspiError) as excinfo:
            await h.query_rows(s, Stat(code_page=CP_1252), explicit=None, count=0, tags=[SMTP])
        assert excinfo.value.status == ErrorCode.ecInvalidParam
        with pytest.raises(NspiError) as excinfo:
            await h.query_rows(s, Stat(code_page=CP_1252), explicit=None, count=5,
                               tags=[SMTP] * 101)
        assert excinfo.value.status == ErrorCode.ecTableTooBig
        _, rows = await h.query_rows(s, Stat(code_page=CP_1252), explicit=None, count=2,
                                     tags=None)
        assert [t for t, _ in rows[0]][:3] == [T.PidTagAddressBookContainerId,
                                               T.PidTagObjectType, T.PidTagDisplayType]
        mids = await h.dn_to_mid(s, [await _dn(h, "bob@example.test"), "/o=x/cn=nobody"])
        assert mids[1] == 0
        _, rows = await h.query_rows(s, Stat(code_page=CP_1252),
                                     explicit=[mids[0], 0x7FFFFFF0], count=1, tags=[SMTP, TITLE])
        assert smtp(rows[0]) == "bob@example.test"
        assert rows[1] == [((SMTP & 0xFFFF0000) | ERROR, ErrorCode.ecNotFound),
                           ((TITLE & 0xFFFF0000) | ERROR, ErrorCode.ecNotFound)]

    run(go())


async def _dn(h: AddressBookHandler, address: str) -> str:
    found = await h._directory.find_address(address)
    assert found is not None
    return str(found.legacy_dn)


def test_containers(directory: Any) -> None:
    async def go() -> None:
        h = make_handler(directory)
        s = await bound(h)
        _, rows = await h.get_special_table(s, 0x4, Stat(code_page=CP_1252), 0)
        names = {dict(r)[NAME]: dict(r)[T.PidTagAddressBookContainerId] for r in rows}
        assert names["Global Address List"] == 0
        for row in rows:
            entry = AddressBookEntryId.from_bytes(dict(row)[ENTRY])
            assert entry.display_type == DisplayType.CONTAINER
        test_users = await _walk(h, s, names["All Users (example.test)"])
        assert "dave@example.org" not in test_users and "alice@example.test" in test_users
        assert "erin@partner.example" not in test_users
        assert await _walk(h, s, names["All Users (example.org)"]) == [
            "alice@example.org", "dave@example.org"]
        assert await _walk(h, s, names["All Groups"]) == [
            "devs@example.test", "all@example.test", "team@example.test"]
        assert await _walk(h, s, names["All Rooms"]) == ["boardroom@example.test"]
        # String8 display names when NspiUnicodeStrings is not asked for.
        _, rows = await h.get_special_table(s, 0, Stat(code_page=CP_1252), 0)
        assert dict(rows[0])[NAME_A] == b"Global Address List"
        _, creation = await h.get_special_table(s, 0x2, Stat(code_page=CP_1252), 0)
        assert creation == []

    run(go())


def test_seek_entries(directory: Any) -> None:
    async def go() -> None:
        h = make_handler(directory)
        s = await bound(h)
        gal = expected_gal()
        stat, rows = await h.seek_entries(s, Stat(code_page=CP_1252), (NAME_A, b"c"),
                                          None, [SMTP])
        assert rows is not None and smtp(rows[0]) == "carol@example.test"
        assert stat.num_pos == gal.index("carol@example.test")
        stat, rows = await h.seek_entries(s, Stat(code_page=CP_1252), (NAME, "zzz"), None, [SMTP])
        assert stat.current_rec == MID_END_OF_TABLE and rows == []
        for bad in (Stat(code_page=CP_1252, sort_type=1000),):
            with pytest.raises(NspiError) as excinfo:
                await h.seek_entries(s, bad, (NAME, "a"), None, None)
            assert excinfo.value.status == ErrorCode.ecError
        with pytest.raises(NspiError):
            await h.seek_entries(s, Stat(code_page=CP_1252), (SMTP, "a"), None, None)

    run(go())


def test_get_matches_with_anr_and_properties(directory: Any) -> None:
    async def go() -> None:
        h = make_handler(directory)
        s = await bound(h)
        anr = PropertyRestriction(RelOp.EQ, PropTag(ANR), TaggedPropertyValue(PropTag(ANR), "ali"))
        _, mids, rows = await h.get_matches(s, Stat(code_page=CP_1252), restriction=anr,
                                            requested=10, tags=[SMTP])
        assert rows is not None
        assert sorted(smtp(r) for r in rows) == ["alice@example.org", "alice@example.test"]
        assert len(mids) == 2
        titled = AndRestriction((anr, ExistRestriction(PropTag(TITLE))))
        _, _, rows = await h.get_matches(s, Stat(code_page=CP_1252), restriction=titled,
                                         requested=10, tags=[SMTP])
        assert rows is not None and [smtp(r) for r in rows] == ["alice@example.test"]
        exact = PropertyRestriction(RelOp.EQ, PropTag(SMTP),
                                    TaggedPropertyValue(PropTag(SMTP), "BOB@example.test"))
        stat, mids, _ = await h.get_matches(s, Stat(code_page=CP_1252), restriction=exact,
                                            requested=5, tags=None)
        assert len(mids) == 1 and stat.total_recs == 1
        content = ContentRestriction(FuzzyLevelLow.SUBSTRING, FuzzyLevelHigh.IGNORECASE,
                                     PropTag(NAME), TaggedPropertyValue(PropTag(NAME), "TEAM"))
        _, _, rows = await h.get_matches(s, Stat(code_page=CP_1252), restriction=content,
                                         requested=5, tags=[SMTP])
        assert rows is not None and [smtp(r) for r in rows] == ["team@example.test"]
        with pytest.raises(NspiError) as excinfo:
            await h.get_matches(s, Stat(code_page=CP_1252), restriction=anr, requested=1,
                                tags=None)
        assert excinfo.value.status == ErrorCode.ecTableTooBig

    run(go())


def test_links_members_manager_reports_member_of(directory: Any) -> None:
    async def go() -> None:
        h = make_handler(directory)
        s = await bound(h)
        team, bob, alice = await h.dn_to_mid(s, [
            await _dn(h, "team@example.test"), await _dn(h, "bob@example.test"),
            await _dn(h, "alice@example.test")])

        async def linked(mid: int, tag: int) -> list[str]:
            _, _, rows = await h.get_matches(s, Stat(code_page=CP_1252, current_rec=mid),
                                             reserved1=tag, restriction=None, requested=0,
                                             tags=[SMTP])
            assert rows is not None
            return [smtp(r) for r in rows]

        assert await linked(team, T.PidTagAddressBookMember) == [
            "alice@example.test", "bob@example.test", "devs@example.test"]
        assert await linked(bob, T.PidTagAddressBookManager) == ["alice@example.test"]
        assert await linked(alice, T.PidTagAddressBookReports) == ["bob@example.test"]
        assert await linked(alice, 0x8008000D) == ["team@example.test"]
        with pytest.raises(NspiError):
            await linked(alice, T.PidTagDisplayName)
        row, _ = await h.get_props(s, 0, Stat(code_page=CP_1252, current_rec=bob),
                                   [0x8005000D, 0x8005001F, 0x800E000D])
        assert row[0] == (0x8005000D, None)
        assert row[1] == (0x8005001F, await _dn(h, "alice@example.test"))
        assert row[2][0] & 0xFFFF == ERROR  # bob has no reports

    run(go())


def test_get_props_types_code_pages_and_photos(directory: Any) -> None:
    async def go() -> None:
        h = make_handler(directory)
        s = await bound(h)
        (alice,) = await h.dn_to_mid(s, [await _dn(h, "alice@example.test")])
        row, status = await h.get_props(s, 0, Stat(code_page=CP_1252, current_rec=alice),
                                        [NAME, NAME_A, TITLE, PHOTO, 0x3A1C001F, ENTRY,
                                         0x0FFE0000])
        values = dict(row)
        assert values[NAME] == "Alice Liddell" and values[NAME_A] == b"Alice Liddell"
        assert values[PHOTO] == dataset.PHOTO
        assert values[0x0FFE0003] == 6  # PtypUnspecified column: native type (MAPI_MAILUSER)
        assert status == ErrorCode.ecWarnWithErrors  # no mobile phone
        entry = AddressBookEntryId.from_bytes(values[ENTRY])
        assert entry.x500_dn.lower() == (await _dn(h, "alice@example.test")).lower()
        row, _ = await h.get_props(s, 0x2, Stat(code_page=CP_1252, current_rec=alice), [ENTRY])
        ephemeral = row[0][1]
        assert ephemeral[0] == 0x87 and int.from_bytes(ephemeral[28:32], "little") == alice
        # CP_WINUNICODE: PtypString8 requests are answered as PtypString (3.1.4.3).
        row, _ = await h.get_props(s, 0, Stat(code_page=CP_WINUNICODE, current_rec=alice),
                                   [NAME_A])
        assert row == [(NAME, "Alice Liddell")]
        tags = await h.get_prop_list(s, 0x1, alice, CP_1252)
        assert NAME_A in tags and PHOTO in tags and 0x8005000D not in tags

    run(go())


def test_dn_to_mid_resolves_hidden_and_containers(directory: Any) -> None:
    async def go() -> None:
        h = make_handler(directory)
        s = await bound(h)
        hidden = await h._directory.find_address("svc-backup@example.test")
        assert hidden is not None and hidden.hidden
        mids = await h.dn_to_mid(s, [hidden.legacy_dn, "/", "not-a-dn"])
        assert mids[0] not in (0, 1, 2) and mids[1] == 0 and mids[2] == 0
        row, _ = await h.get_props(s, 0, Stat(code_page=CP_1252, current_rec=mids[0]), [SMTP])
        assert smtp(row) == "svc-backup@example.test"

    run(go())


def test_resolve_names(directory: Any) -> None:
    async def go() -> None:
        h = make_handler(directory)
        s = await bound(h)
        bob = (await h.dn_to_mid(s, [await _dn(h, "bob@example.test")]))[0]
        mids, rows = await h.resolve_names(
            s, Stat(code_page=CP_1252), [SMTP],
            ["bob", "alice", "no-such-person", "SMTP:dave@example.org", "=Board Room"])
        assert mids[0] == bob
        assert mids[1] == MID_AMBIGUOUS  # alice@example.test and alice@example.org
        assert mids[2] == MID_UNRESOLVED
        assert mids[3] not in (0, 1, 2) and mids[4] not in (0, 1, 2)
        assert [smtp(r) for r in rows] == ["bob@example.test", "dave@example.org",
                                           "boardroom@example.test"]

    run(go())


def test_resort_and_compare(directory: Any) -> None:
    async def go() -> None:
        h = make_handler(directory)
        s = await bound(h)
        mids = await h.dn_to_mid(s, [await _dn(h, a) for a in
                                     ("team@example.test", "bob@example.test",
                                      "alice@example.test")])
        stat, ordered = await h.resort_restriction(
            s, Stat(code_page=CP_1252, current_rec=mids[1]), [*mids, 0x7FFFFFF0])
        assert ordered == [mids[2], mids[1], mids[0]]  # Alice, Bob, Team
        assert stat.num_pos == 1 and stat.total_recs == 3
        assert await h.compare_mids(s, Stat(code_page=CP_1252), mids[2], mids[1]) < 0
        assert await h.compare_mids(s, Stat(code_page=CP_1252), mids[1], mids[1]) == 0
        with pytest.raises(NspiError):
            await h.compare_mids(s, Stat(code_page=CP_1252), mids[1], 0x7FFFFFF0)

    run(go())


def test_bind_rules(directory: Any) -> None:
    async def go() -> None:
        h = make_handler(directory)
        user = await directory.resolve_login("alice@example.test")
        for flags, code_page, status in ((0x20, CP_1252, ErrorCode.ecFailOneProvider),
                                         (0, 77777, ErrorCode.ecUnknownCodepage),
                                         (0, CP_WINUNICODE, ErrorCode.ecNoSupport)):
            with pytest.raises(NspiError) as excinfo:
                await h.bind(user, flags, Stat(code_page=code_page))
            assert excinfo.value.status == status
        s = await h.bind(user, 0, Stat(code_page=20261))
        assert h.session(s.id, user) is s
        with pytest.raises(NspiError):
            h.session(s.id, await directory.resolve_login("bob@example.test"))
        assert h.unbind(s.id) and not h.unbind(s.id)
        with pytest.raises(NspiError) as excinfo:
            await h.get_template_info(s, flags=1, kind=0, dn=None, code_page=CP_1252,
                                      locale=0x409)
        assert excinfo.value.status == ErrorCode.ecNotFound
        columns = await h.query_columns(s, 0x80000000)
        assert NAME in columns and SMTP in columns
        assert NAME_A in await h.query_columns(s, 0)

    run(go())


def test_named_properties(directory: Any) -> None:
    async def go() -> None:
        import uuid

        h = make_handler(directory)
        s = await bound(h)
        guid = uuid.UUID("00062004-0000-0000-c000-000000000046")
        assert await h.get_ids_from_names(s, 0x2, [(guid, 0x8001)]) == [ERROR]
        tags = await h.get_ids_from_names(s, 0, [(guid, 0x8001), (guid, 0x8002)])
        assert tags[0] >> 16 >= 0x8000 and tags[0] != tags[1]
        assert await h.get_ids_from_names(s, 0x2, [(guid, 0x8001)]) == [tags[0]]
        got, names = await h.get_names_from_ids(s, None, [tags[1], NAME, 0x9FFF0003])
        assert names[0] == (guid, 0x8002) and names[1][1] == 0x3001
        assert got[2] & 0xFFFF == ERROR

    run(go())


def test_writes(sql_directory: Any) -> None:
    """ModProps (own photo; certificates refused) and ModLinkAtt (administrators)."""
    async def go() -> None:
        h = make_handler(sql_directory)
        bob = await bound(h, "bob@example.test")
        (bob_mid, alice_mid, team) = await h.dn_to_mid(bob, [
            await _dn(h, "bob@example.test"), await _dn(h, "alice@example.test"),
            await _dn(h, "team@example.test")])
        picture = b"\xff\xd8\xff\xe0" + b"new-photo" + b"\xff\xd9"
        await h.mod_props(bob, Stat(code_page=CP_1252, current_rec=bob_mid), None,
                          [(PHOTO, picture)])
        assert await sql_directory.get_photo((await h._directory.find_address(
            "bob@example.test")).id) == picture
        for stat, values, status in (
                (Stat(code_page=CP_1252, current_rec=alice_mid), [(PHOTO, picture)],
                 ErrorCode.ecAccessDenied),
                (Stat(code_page=CP_1252, current_rec=bob_mid), [(0x3A701102, [b"cert"])],
                 ErrorCode.ecNoSupport),
                (Stat(code_page=CP_1252, current_rec=bob_mid), [(TITLE, "Boss")],
                 ErrorCode.ecAccessDenied)):
            with pytest.raises(NspiError) as excinfo:
                await h.mod_props(bob, stat, None, values)
            assert excinfo.value.status == status
        carol_entry = AddressBookEntryId(0, await _dn(h, "carol@example.test")).to_bytes()
        with pytest.raises(NspiError) as excinfo:
            await h.mod_link_att(bob, 0, T.PidTagAddressBookMember, team, [carol_entry])
        assert excinfo.value.status == ErrorCode.ecAccessDenied

    run(go())


def test_anr_over_the_listing_matches_the_directory(sql_directory: Any, database: Any) -> None:
    """ResolveNames and PR_ANR answer from the listing held in memory; it must find
    what the directory's own ANR finds, and fall back to the directory for entries
    made since the listing was read."""
    from directory import sql

    async def go() -> None:
        h = make_handler(sql_directory)
        s = await bound(h)
        snap = await h.snapshot()
        queries = {w[:n] for r in snap.recipients
                   for w in (r.display_name, r.given_name, r.surname, r.address or "",
                             *r.display_name.split())
                   for n in (1, 2, 4) if w}
        queries |= {"ALICE", "bob@example.test", "zz", "é", "Board R", "room"}
        assert len(queries) > 40
        found = 0
        for q in sorted(queries):
            mine = [r.id for r in snap.anr(q.lower(), 100)]
            theirs = [r.id for r in await sql_directory.anr(q, limit=100)]
            assert mine == theirs, q
            found += bool(mine)
        assert found > 40
        database.run_sync("late user", lambda conn: sql.add_user_txn(
            conn, sql.SqlSettings(), "zed@example.test", display_name="Zed Latecomer"))
        mids, rows = await h.resolve_names(s, Stat(code_page=CP_1252), [SMTP], ["zed"])
        assert mids[0] not in (MID_UNRESOLVED, MID_AMBIGUOUS)
        assert [smtp(r) for r in rows] == ["zed@example.test"]

    run(go())
