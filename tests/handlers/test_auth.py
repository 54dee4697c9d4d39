"""The auth core against the SQL directory and a real slapd: every refusal with its log
line, caches, throttling, app passwords, tokens, rehash, NT hash, fail closed."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from directory.credentials import CredentialStore
from directory.sql import SqlDirectory
from groupware.clock import Clock
from groupware.config.sections import AuthConfig
from groupware.errors import AuthenticationFailed, FeatureDisabled, Throttled, Unavailable
from groupware.handlers.auth import AuthHandler
from groupware.md4 import nt_hash
from groupware.passwords import PasswordHasher
from groupware.types import Feature
from storage.db import Database
from tests.directory import dataset
from tests.directory.conftest import ldap_directory

ALICE = dataset.PASSWORDS["alice"]
FAST = {"argon2_time_cost": 1, "argon2_memory_cost": 1024, "argon2_parallelism": 1,
        "user_cache_ttl": 0}


class FakeClock(Clock):
    def __init__(self) -> None:
        super().__init__()
        self.offset = 0.0

    def time(self) -> float:
        return super().time() + self.offset

    def monotonic(self) -> float:
        return super().monotonic() + self.offset


def make_auth(directory: Any, database: Database, clock: Clock | None = None,
              **overrides: Any) -> AuthHandler:
    cfg = AuthConfig(**{**FAST, **overrides})
    return AuthHandler(directory, CredentialStore(database), cfg, clock or Clock())


def login(auth: AuthHandler, user: str, password: str, service: str = "imap",
          peer: str | None = "192.0.2.1") -> Any:
    return asyncio.run(auth.authenticate(user, password, service=service, peer=peer))


def refused(auth: AuthHandler, caplog: pytest.LogCaptureFixture, user: str, password: str,
            reason: str, error: type[Exception] = AuthenticationFailed,
            service: str = "imap", peer: str | None = "192.0.2.1") -> None:
    caplog.clear()
    with caplog.at_level(logging.INFO, "groupware.handlers.auth"), pytest.raises(error):
        login(auth, user, password, service, peer)
    lines = [r.getMessage() for r in caplog.records if "auth refused" in r.getMessage()]
    assert len(lines) == 1 and f"reason={reason}" in lines[0], caplog.text


def test_login_then_cache(directory: Any, database: Database) -> None:
    auth = make_auth(directory, database)
    first = login(auth, "EXAMPLE\\Alice", ALICE)
    assert first.user.address == "alice@example.test"
    assert first.method == ("bind" if directory.verifies_by_bind else "password")
    assert login(auth, "al@example.test", ALICE).method == "cache"
    again = make_auth(directory, database, cache_ttl=0)
    assert login(again, "alice", ALICE).method != "cache"


def test_each_refusal_has_its_log_line(directory: Any, database: Database,
                                       caplog: pytest.LogCaptureFixture) -> None:
    auth = make_auth(directory, database)
    refused(auth, caplog, "alice", "wrong", "wrong password")
    refused(auth, caplog, "nobody@example.test", "x", "unknown user")
    refused(auth, caplog, "carol", dataset.PASSWORDS["carol"], "user disabled")
    refused(auth, caplog, "alice", "", "empty password")
    refused(auth, caplog, "alice", "x" * 2000, "password longer than 1024 bytes")
    refused(auth, caplog, "alice", "a\x00b", "password contains NUL")
    refused(auth, caplog, "a" * 500, "x", "invalid login name (login name is empty or too long)")
    refused(auth, caplog, "alice)(uid=*", "x", "invalid login name")
    refused(auth, caplog, "*", "x", "unknown user")  # valid atext, escaped in LDAP filters


def test_disabled_feature_refuses_exactly_that_service(directory: Any, database: Database,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    auth = make_auth(directory, database)
    bob = dataset.PASSWORDS["bob"]
    refused(auth, caplog, "bob", bob, "feature imap disabled", FeatureDisabled, "imap")
    for service in Feature:
        if service is not Feature.IMAP:
            assert login(auth, "bob", bob, service.value).user.address == "bob@example.test"
    # still refused when the password comes from the cache
    refused(auth, caplog, "bob", bob, "feature imap disabled", FeatureDisabled, "imap")


def test_throttling_per_user_and_per_address(directory: Any, database: Database,
                                             caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    auth = make_auth(directory, database, clock, max_failures_per_user=3,
                     max_failures_per_address=5, failure_window=60)
    for _ in range(3):
        refused(auth, caplog, "alice", "guess", "wrong password", peer="198.51.100.7")
    refused(auth, caplog, "alice", ALICE, "too many failures for this user", Throttled,
            peer="203.0.113.9")
    # another process (a pam_exec helper) sees the same counters through the database
    other = make_auth(directory, database, clock, max_failures_per_user=3, failure_window=60)
    refused(other, caplog, "alice", ALICE, "too many failures for this user", Throttled)
    # per address: two more failures for other users from the same address
    refused(auth, caplog, "dave", "guess", "wrong password", peer="198.51.100.7")
    refused(auth, caplog, "nobody", "guess", "unknown user", peer="198.51.100.7")
    refused(auth, caplog, "dave", dataset.PASSWORDS["dave"],
            "too many failures from this address", Throttled, peer="198.51.100.7")
    assert login(auth, "dave", dataset.PASSWORDS["dave"], peer="192.0.2.50")
    clock.offset = 61  # the window ends
    assert login(auth, "alice", ALICE, peer="198.51.100.7").user.address == "alice@example.test"


def test_app_passwords(directory: Any, database: Database,
                       caplog: pytest.LogCaptureFixture) -> None:
    auth = make_auth(directory, database)
    store = auth.credentials
    alice = asyncio.run(directory.resolve_login("alice"))
    phone = asyncio.run(store.create_app_password(alice.user_id, "phone"))
    mail = asyncio.run(store.create_app_password(alice.user_id, "laptop",
                                                 frozenset({Feature.IMAP})))
    assert login(auth, "alice", phone, "mobile").method == "app_password"
    assert login(auth, "alice", phone.upper().replace("-", ""), "imap").method == "app_password"
    assert login(auth, "alice", mail, "imap").method == "app_password"
    refused(auth, caplog, "alice", mail, "app password not valid for smtp", FeatureDisabled,
            "smtp")
    refused(auth, caplog, "bob", phone, "wrong password", service="pop3")  # not bob's
    names = [a.name for a in asyncio.run(store.list_app_passwords(alice.user_id))]
    assert names == ["laptop", "phone"]
    asyncio.run(store.revoke_app_password(alice.user_id, "phone"))
    refused(auth, caplog, "alice", phone, "wrong password", service="mobile")


def test_tokens(directory: Any, database: Database, caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    auth = make_auth(directory, database, clock, token_lifetime=60)
    alice = asyncio.run(directory.resolve_login("alice"))
    token = asyncio.run(auth.issue_token(alice, Feature.CHAT))
    assert login(auth, "alice", token, "chat").method == "token"
    refused(auth, caplog, "bob", token, "wrong password", service="chat")
    refused(auth, caplog, "alice", token[:-3] + "AAA", "wrong password", service="chat")
    clock.offset = 120
    refused(auth, caplog, "alice", token, "wrong password", service="chat")


def test_rehash_nt_hash_and_password_change(database: Database) -> None:
    from tests.directory.conftest import FAST_HASHER

    dataset.populate_sql(database, FAST_HASHER)
    directory = SqlDirectory(database)
    alice = asyncio.run(directory.resolve_login("alice"))
    before = asyncio.run(directory.get_credentials(alice.user_id))
    assert before.nt_hash is None  # populated without one
    stronger = make_auth(directory, database, argon2_time_cost=2)
    assert login(stronger, "alice", ALICE).method == "password"
    after = asyncio.run(directory.get_credentials(alice.user_id))
    assert after.password_hash != before.password_hash
    assert "t=2" in after.password_hash and not stronger.hasher.needs_rehash(after.password_hash)
    assert after.nt_hash == nt_hash(ALICE) and after.version == before.version
    assert login(stronger, "alice", ALICE).method == "cache"
    # a password change bumps the version: the cached old password stops working
    asyncio.run(stronger.set_password(alice, "Neu-Passwört"))
    stored = asyncio.run(directory.get_credentials(alice.user_id))
    assert stored.version == before.version + 1 and stored.nt_hash == nt_hash("Neu-Passwört")
    with pytest.raises(AuthenticationFailed):
        login(stronger, "alice", ALICE)
    assert login(stronger, "alice", "Neu-Passwört").user.address == "alice@example.test"
    no_nt = make_auth(directory, database, store_nt_hash=False)
    asyncio.run(no_nt.set_password(alice, "third-pw"))
    assert asyncio.run(directory.get_credentials(alice.user_id)).nt_hash is None
    assert PasswordHasher().verify(stored.password_hash, "Neu-Passwört")


def test_sql_directory_down_fails_closed(database_url: str,
                                         caplog: pytest.LogCaptureFixture) -> None:
    db = Database(database_url, pool_size=1)
    dataset.populate_sql(db, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    auth = make_auth(SqlDirectory(db), db)
    db.close()
    refused(auth, caplog, "alice", ALICE, "directory unavailable", Unavailable)


def test_ldap_down_fails_closed_and_recovers(private_slapd: Any, database: Database,
                                             caplog: pytest.LogCaptureFixture) -> None:
    directory = ldap_directory(private_slapd, database, timeout=2)
    auth = make_auth(directory, database, cache_ttl=0)
    assert login(auth, "alice", ALICE).method == "bind"
    private_slapd.stop()
    refused(auth, caplog, "alice", ALICE, "directory unavailable", Unavailable)
    private_slapd.start()
    assert login(auth, "alice", ALICE).method == "bind"  # pooled connections reconnect
    directory.close_sync()
