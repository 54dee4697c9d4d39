"""The ``ad`` preset against slapd loaded with an Active Directory look-alike schema
(tests/directory/ad.schema) and an AD-shaped tree (tests/directory/ad_dataset.py).

The shared directory suite and the auth tests that take the ``directory`` fixture run
here once more, unchanged, with ``preset = "ad"`` (the imports below); the tests after
them check what only AD has.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from ldap3 import SUBTREE, Connection, Server

from directory.ldap import LdapDirectory, LdapSettings
from directory.model import RecipientKind
from groupware.config.sections import LdapConfig
from storage.db import Database
from storage.db.tables import users
from tests.directory import ad_dataset, dataset
from tests.directory.ad_dataset import DOMAIN_DN, LAB, LAB_BY_SAM, STAFF, guid
from tests.directory.conftest import run
from tests.directory.slapd import SERVICE_DN, SERVICE_PW, Slapd
from tests.directory.test_directory import (  # noqa: F401  (collected again, preset ad)
    test_alias_lookup_and_contacts,
    test_anr_prefix_on_every_name_field,
    test_anr_special_characters_are_literal,
    test_bare_login_prefers_default_domain_and_netbios_picks_the_other,
    test_domains,
    test_garbage_login_names_are_invalid_or_unknown,
    test_group_members_expansion_and_member_of,
    test_ids_and_legacy_dns_are_stable_handles,
    test_login_names_resolve_to_the_same_user,
    test_photos,
    test_sorted_paged_listing,
    test_user_attributes,
)
from tests.handlers.test_auth import login as auth_login
from tests.handlers.test_auth import (  # noqa: F401
    make_auth,
    refused,
    test_disabled_feature_refuses_exactly_that_service,
    test_each_refusal_has_its_log_line,
    test_login_then_cache,
)

AD_SCHEMA = Path(__file__).with_name("ad.schema")


@pytest.fixture(scope="module")
def ad_slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    server = Slapd(tmp_path_factory.mktemp("slapd-ad"), schemas=(AD_SCHEMA,),
                   db_conf=ad_dataset.INDEXES)
    server.setup(ad_dataset.ldif())
    server.start()
    yield server
    server.stop()


def ad_directory(server: Slapd, db: Database, base_dn: str = DOMAIN_DN,
                 **overrides: Any) -> LdapDirectory:
    cfg = LdapConfig(uri=[server.uri], base_dn=base_dn, bind_dn=SERVICE_DN,
                     bind_password=SERVICE_PW, preset="ad", **overrides)
    return LdapDirectory(LdapSettings.from_config(cfg), db, default_domain="example.test")


@pytest.fixture(params=["ad"])
def directory(request: pytest.FixtureRequest, database: Database) -> Iterator[Any]:
    """The shared suite's fixture, here: the dataset in OU=Staff, read with the ad preset."""
    d = ad_directory(request.getfixturevalue("ad_slapd"), database, STAFF)
    yield d
    d.close_sync()


@pytest.fixture
def ad(ad_slapd: Slapd, database: Database) -> Iterator[LdapDirectory]:
    """The whole AD domain (Staff, Lab, referrals) with the ad preset."""
    d = ad_directory(ad_slapd, database)
    yield d
    d.close_sync()


# ---------------------------------------------------------------- addresses


def test_primary_and_aliases_come_from_proxy_addresses(ad: Any) -> None:
    alice = run(ad.find_address("alice@example.test"))
    # smtp: values lower-cased; X500: and SIP: are not mail addresses
    assert (alice.address, alice.aliases) == ("alice@example.test",
                                              ("a.liddell@example.org", "al@example.test"))
    frank = run(ad.find_address("frank@example.test"))
    # SMTP: is the primary even when mail is stale; the stale mail stays an alias;
    # an smtp: value that is no address is dropped
    assert (frank.address, frank.aliases) == ("frank@example.test",
                                              ("f.old@example.test", "fr@example.test"))
    judy = run(ad.find_address("judy@example.test"))   # no proxyAddresses: mail alone
    assert (judy.address, judy.aliases) == ("judy@example.test", ())
    for address, owner in [("FR@Example.Test", frank), ("f.old@example.test", frank),
                           ("A.LIDDELL@example.org", alice), ("Frank@EXAMPLE.test", frank)]:
        assert run(ad.find_address(address)) == owner, address
    assert run(ad.find_address("alice.sip@example.test")) is None   # SIP: only
    assert run(ad.find_address("not an address")) is None


def test_ids_are_object_guids(ad: Any, database: Database) -> None:
    """objectGUID (16 bytes, little-endian fields) reads as AD shows it."""
    team = run(ad.find_address("team@example.test"))
    assert team.id == f"group:{guid('team@example.test')}"
    erin = run(ad.find_address("erin@partner.example"))
    assert erin.id == f"contact:{guid('erin@partner.example')}"
    alice = run(ad.find_address("alice@example.test"))
    external = database.run_sync("external_id", lambda c: c.execute(
        sa.select(users.c.external_id).where(users.c.id == int(alice.user_id))).scalar())
    assert external == str(guid("alice"))
    assert run(ad.get(team.id)) == team and run(ad.get(alice.id)) == alice


def test_legacy_exchange_dn_of_a_migrated_mailbox(ad: Any) -> None:
    dave = run(ad.find_address("dave@example.org"))
    assert dave.legacy_dn == ad_dataset.DAVE_LEGACY_DN
    assert run(ad.find_legacy_dn(ad_dataset.DAVE_LEGACY_DN.upper())) == dave


# ---------------------------------------------------------------- logins


def test_upn_is_a_login_name_not_a_mail_address(ad: Any, database: Database) -> None:
    alice = run(ad.find_address("alice@example.test"))
    for login in (ad_dataset.ALICE_UPN, "alice.liddell@CORP.EXAMPLE.TEST"):
        assert run(ad.resolve_login(login)) == alice, login
    assert run(ad.resolve_login("hank@corp.example.test")).address == "hank@example.test"
    assert run(ad.find_address(ad_dataset.ALICE_UPN)) is None  # no delivery to a UPN
    auth = make_auth(ad, database)
    result = auth_login(auth, ad_dataset.ALICE_UPN, dataset.PASSWORDS["alice"])
    assert (result.user.address, result.method) == ("alice@example.test", "bind")


@pytest.mark.parametrize(("login", "address"), [
    ("CORP\\alice", "alice@example.test"),        # NetBIOS name of the AD domain (DN)
    ("corp\\ALICE", "alice@example.test"),
    ("EXAMPLE\\alice", "alice@example.test"),     # first label of the mail domain
    ("CORP\\alice.org", "alice@example.org"),
    ("CORP\\hank", "hank@example.test"),
    ("OTHER\\alice", None),
    ("EMEA\\alice", None),                         # a child domain is another domain
])
def test_windows_domain_logins(ad: Any, login: str, address: str | None) -> None:
    user = run(ad.resolve_login(login))
    assert (user.address if user else None) == address


def test_domain_login_binds(ad: Any, database: Database) -> None:
    auth = make_auth(ad, database, cache_ttl=0)
    for login in ("CORP\\alice", "Alice.Liddell@corp.example.test", "alice"):
        result = auth_login(auth, login, dataset.PASSWORDS["alice"])
        assert (result.user.address, result.method) == ("alice@example.test", "bind")
    assert auth_login(auth, "CORP\\hank", "hank-pw").user.address == "hank@example.test"


def test_user_account_control_disables_accounts(ad: Any, database: Database,
                                                caplog: pytest.LogCaptureFixture) -> None:
    users = {sam: run(ad.resolve_login(sam)) for sam in ("carol", "gina", "hank", "alice")}
    assert {sam: u.enabled for sam, u in users.items()} == {
        "carol": False,   # 514   = NORMAL_ACCOUNT | ACCOUNTDISABLE
        "gina": False,    # 66050 = ... | DONT_EXPIRE_PASSWORD
        "hank": True,     # 66048 = NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD
        "alice": True,    # 512
    }
    # slapd does not know userAccountControl and would let gina bind: the refusal is ours
    assert run(ad.check_bind(users["gina"], "gina-pw"))
    auth = make_auth(ad, database)
    refused(auth, caplog, "CORP\\gina", "gina-pw", "user disabled")
    refused(auth, caplog, "carol@corp.example.test", dataset.PASSWORDS["carol"], "user disabled")
    assert not run(auth.user_exists("gina"))
    assert auth_login(auth, "hank", "hank-pw").method == "bind"


# ---------------------------------------------------------------- the AD tree


def test_computers_and_referrals_are_not_recipients(ad: Any,
                                                    ad_slapd: Slapd) -> None:
    # The domain root holds continuation references (DomainDnsZones, a child domain)...
    with Connection(Server(ad_slapd.uri), SERVICE_DN, SERVICE_PW, auto_bind=True) as conn:
        conn.search(DOMAIN_DN, "(objectClass=*)", SUBTREE, attributes=["cn"])
        refs = [r for r in conn.response or [] if r["type"] == "searchResRef"]
    assert len(refs) == 2
    # ... which the directory neither chases nor chokes on; computers are not persons.
    everything = run(ad.list_recipients(limit=1000, include_hidden=True))
    persons = [u for u in ad_dataset.LAB_USERS if "computer" not in u.classes]
    suite = len(dataset.USERS) + len(dataset.GROUPS) + len(dataset.CONTACTS)
    assert everything.total == suite + len(persons) and len(persons) == 5
    assert "ws01@example.test" not in {r.address for r in everything.items}
    assert run(ad.find_address("ws01@example.test")) is None
    assert run(ad.resolve_login("WS01$")) is None
    rooms = run(ad.list_recipients(kinds=[RecipientKind.ROOM, RecipientKind.EQUIPMENT]))
    assert [(r.address, r.kind, r.capacity) for r in rooms.items] == [
        ("beamer@example.test", RecipientKind.EQUIPMENT, None),
        ("boardroom@example.test", RecipientKind.ROOM, 12)]


def test_object_guid_keeps_the_user_through_rename_and_move(
        ad: Any, ad_slapd: Slapd, database: Database) -> None:
    grace = LAB_BY_SAM["grace"]
    before = run(ad.resolve_login("grace"))
    auth = make_auth(ad, database, cache_ttl=0)
    assert auth_login(auth, "grace", "grace-pw").user == before
    ad_slapd.modify(f"""dn: {grace.dn}
changetype: modrdn
newrdn: CN=Grace B. Hopper
deleteoldrdn: 1
newsuperior: OU=Alumni,{LAB}

dn: CN=Grace B. Hopper,OU=Alumni,{LAB}
changetype: modify
replace: proxyAddresses
proxyAddresses: SMTP:grace.hopper@example.test
proxyAddresses: smtp:grace@example.test
-
replace: mail
mail: grace.hopper@example.test
""")
    after = run(ad.resolve_login("CORP\\grace"))
    assert (after.id, after.user_id, after.mailbox_guid) == (
        before.id, before.user_id, before.mailbox_guid)
    assert (after.address, after.aliases) == ("grace.hopper@example.test",
                                              ("grace@example.test",))
    assert run(ad.get(before.id)) == after
    # the same directory object binds at the new DN
    assert auth_login(auth, "grace.hopper@example.test", "grace-pw").user == after


def test_preset_reads_the_ad_attributes(ad: Any) -> None:
    a = ad.settings.attrs
    assert (a.login, a.upn, a.proxy_addresses, a.photo, a.unique_id,
            a.user_account_control) == ("sAMAccountName", "userPrincipalName",
                                        "proxyAddresses", "thumbnailPhoto", "objectGUID",
                                        "userAccountControl")
    assert "(objectCategory=person)(objectClass=user)" in ad.settings.user_filter
    alice = run(ad.find_address("alice@example.test"))
    assert alice.has_photo and run(ad.get_photo(alice.id)) == dataset.PHOTO
    assert run(ad.get_credentials(alice.user_id)) is None  # no NT hash readable from AD
