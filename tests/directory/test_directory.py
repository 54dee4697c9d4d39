"""The directory contract, run against the SQL directory and against a real slapd."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from directory.model import RecipientKind
from groupware.errors import InvalidInput
from groupware.types import Feature
from tests.directory import dataset
from tests.directory.conftest import run


def addresses(recipients: list[Any]) -> list[str]:
    return [r.address for r in recipients]


@pytest.mark.parametrize("login", [
    "alice", "ALICE", "alice@example.test", "Alice@Example.TEST", "al@example.test",
    "A.Liddell@example.org", "EXAMPLE\\alice", "example\\ALICE", "  alice  ",
])
def test_login_names_resolve_to_the_same_user(directory: Any, login: str) -> None:
    user = run(directory.resolve_login(login))
    assert user is not None and user.address == "alice@example.test"
    assert user.kind is RecipientKind.USER and user.user_id is not None


def test_bare_login_prefers_default_domain_and_netbios_picks_the_other(directory: Any) -> None:
    assert run(directory.resolve_login("alice@example.org")).display_name == "Alice Other"
    assert run(directory.resolve_login("dave")).address == "dave@example.org"
    assert run(directory.resolve_login("nobody")) is None
    assert run(directory.resolve_login("alice@nowhere.example")) is None


@pytest.mark.parametrize("bad", ["", "a" * 400, "*", "alice)(uid=*", "al\x00ice", "a@b@c",
                                 "bob\nadmin", "(|(uid=*))"])
def test_garbage_login_names_are_invalid_or_unknown(directory: Any, bad: str) -> None:
    with contextlib.suppress(InvalidInput):
        assert run(directory.resolve_login(bad)) is None


def test_user_attributes(directory: Any) -> None:
    alice = run(directory.find_address("alice@example.test"))
    assert (alice.given_name, alice.surname, alice.title) == ("Alice", "Liddell", "Engineer")
    assert set(alice.aliases) == {"al@example.test", "a.liddell@example.org"}
    assert alice.legacy_dn.startswith(
        "/o=First Organization/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
        "/cn=Recipients/cn=")
    assert alice.mailbox_guid is not None and alice.enabled and alice.has_photo
    assert alice.features == frozenset(Feature)
    bob = run(directory.find_address("BOB@example.test"))
    assert bob.disabled_features == {Feature.IMAP} and Feature.POP3 in bob.features
    assert bob.manager_id == alice.id
    carol = run(directory.find_address("carol@example.test"))
    assert carol is not None and not carol.enabled
    room = run(directory.find_address("boardroom@example.test"))
    assert room.kind is RecipientKind.ROOM and room.capacity == 12
    assert run(directory.find_address("beamer@example.test")).kind is RecipientKind.EQUIPMENT


def test_ids_and_legacy_dns_are_stable_handles(directory: Any) -> None:
    for address in ("alice@example.test", "team@example.test", "erin@partner.example"):
        rec = run(directory.find_address(address))
        assert run(directory.get(rec.id)) == rec
        assert run(directory.find_legacy_dn(rec.legacy_dn)) == rec
        assert run(directory.find_legacy_dn(rec.legacy_dn.upper())) == rec
    alice = run(directory.find_address("alice@example.test"))
    assert run(directory.get_user(alice.user_id)) == alice
    assert run(directory.get("user:999999")) is None
    assert run(directory.get("nonsense")) is None
    assert run(directory.find_legacy_dn("/o=Other/cn=x")) is None


def test_alias_lookup_and_contacts(directory: Any) -> None:
    assert run(directory.find_address("al@EXAMPLE.test")).address == "alice@example.test"
    erin = run(directory.find_address("erin@partner.example"))
    assert erin.kind is RecipientKind.CONTACT and erin.display_name == "Erin External"
    group = run(directory.find_address("team@example.test"))
    assert group.kind is RecipientKind.GROUP and group.display_name == "Team"
    assert run(directory.find_address("not an address")) is None


def test_anr_prefix_on_every_name_field(directory: Any) -> None:
    assert addresses(run(directory.anr("ali"))) == ["alice@example.test", "alice@example.org"]
    assert addresses(run(directory.anr("liddell"))) == ["alice@example.test"]   # surname
    assert addresses(run(directory.anr("SMI"))) == ["dave@example.org"]        # word of name
    assert addresses(run(directory.anr("al@"))) == ["alice@example.test"]      # alias
    assert addresses(run(directory.anr("dave@ex"))) == ["dave@example.org"]    # address
    assert addresses(run(directory.anr("erin"))) == ["erin@partner.example"]   # contact
    assert addresses(run(directory.anr("dev"))) == ["devs@example.test"]       # group
    assert run(directory.anr("backup")) == []                                  # hidden
    assert addresses(run(directory.anr("b", kinds=[RecipientKind.ROOM,
                                                   RecipientKind.EQUIPMENT]))) == [
        "beamer@example.test", "boardroom@example.test"]
    assert len(run(directory.anr("a", limit=2))) == 2


@pytest.mark.parametrize(("query", "expected"), [
    ("*", []), ("x*", ["x*y@example.test"]), ("(te", ["x*y@example.test"]),
    (")(objectClass=*", []), ("\\2a", []), ("%", []), ("_", []), ("*)(|(mail=*", []),
])
def test_anr_special_characters_are_literal(directory: Any, query: str,
                                            expected: list[str]) -> None:
    assert addresses(run(directory.anr(query))) == expected


def test_sorted_paged_listing(directory: Any) -> None:
    first = run(directory.list_recipients(offset=0, limit=4))
    second = run(directory.list_recipients(offset=4, limit=100))
    names = [r.display_name for r in first.items + second.items]
    assert names == sorted(names, key=str.lower)
    visible = len(dataset.USERS) - 1 + len(dataset.GROUPS) + len(dataset.CONTACTS)
    assert first.total == second.total == visible and len(names) == visible
    assert "Backup Service" not in names
    everything = run(directory.list_recipients(limit=100, include_hidden=True))
    assert everything.total == visible + 1
    rooms = run(directory.list_recipients(kinds=[RecipientKind.ROOM]))
    assert addresses(list(rooms.items)) == ["boardroom@example.test"]


def test_group_members_expansion_and_member_of(directory: Any) -> None:
    team = run(directory.find_address("team@example.test"))
    assert addresses(run(directory.group_members(team.id))) == [
        "alice@example.test", "bob@example.test", "devs@example.test"]
    expanded = addresses(run(directory.expand_group(team.id)))
    assert sorted(expanded) == sorted(["alice@example.test", "bob@example.test",
                                       "carol@example.test", "dave@example.org",
                                       "erin@partner.example"])
    everyone = run(directory.find_address("all@example.test"))
    assert sorted(addresses(run(directory.expand_group(everyone.id)))) == sorted(expanded)
    alice = run(directory.find_address("alice@example.test"))
    assert addresses(run(directory.member_of(alice.id))) == ["team@example.test"]


def test_photos(directory: Any) -> None:
    alice = run(directory.find_address("alice@example.test"))
    assert run(directory.get_photo(alice.id)) == dataset.PHOTO
    bob = run(directory.find_address("bob@example.test"))
    assert run(directory.get_photo(bob.id)) is None


def test_domains(directory: Any) -> None:
    assert {"example.test", "example.org"} <= set(run(directory.domains()))
