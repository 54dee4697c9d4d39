"""LDAP over TLS against a real slapd: StartTLS and ldaps:// with certificate checks,
refusals that fail closed with a clear log line, and no password in clear on the wire.

Both servers require TLS for simple binds (slapd ``security simple_bind=64``), so every
successful login here is also the server's word that the bind arrived over TLS.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from directory.credentials import CredentialStore
from directory.ldap import LdapDirectory, LdapSettings
from groupware.clock import Clock
from groupware.config.sections import AuthConfig, LdapConfig
from groupware.errors import Unavailable
from groupware.handlers.auth import AuthHandler, AuthResult
from storage.db import Database
from tests.directory import dataset
from tests.directory.slapd import SERVICE_DN, SERVICE_PW, SUFFIX, Slapd
from tests.directory.tlsutil import CaSignedSlapd, RecordingRelay, make_ca

ALICE = dataset.PASSWORDS["alice"]
REQUIRE_TLS_FOR_BINDS = "security simple_bind=64"
STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    """The harness's self-signed certificate for IP 127.0.0.1 only."""
    server = Slapd(tmp_path_factory.mktemp("slapd-self"), tls=True,
                   global_conf=REQUIRE_TLS_FOR_BINDS)
    server.setup(dataset.ldap_ldif())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ca_signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    """A certificate for the DNS name ``localhost`` (only) signed by a test CA."""
    server = CaSignedSlapd(tmp_path_factory.mktemp("slapd-ca"), ["localhost"],
                           global_conf=REQUIRE_TLS_FOR_BINDS)
    server.setup(dataset.ldap_ldif())
    server.start()
    yield server
    server.stop()


def make_directory(database: Database, uris: list[str], **overrides: Any) -> LdapDirectory:
    cfg = LdapConfig(uri=uris, base_dn=SUFFIX, bind_dn=SERVICE_DN, bind_password=SERVICE_PW,
                     timeout=3, **overrides)
    return LdapDirectory(LdapSettings.from_config(cfg), database, default_domain="example.test")


def make_auth(directory: LdapDirectory, database: Database) -> AuthHandler:
    cfg = AuthConfig(argon2_time_cost=1, argon2_memory_cost=1024, argon2_parallelism=1,
                     user_cache_ttl=0, cache_ttl=0)
    return AuthHandler(directory, CredentialStore(database), cfg, Clock())


def login(directory: LdapDirectory, database: Database, user: str = "alice",
          password: str = ALICE) -> AuthResult:
    auth = make_auth(directory, database)
    try:
        return asyncio.run(auth.authenticate(user, password, service="imap", peer="192.0.2.7"))
    finally:
        auth.close()


def plain(server: Slapd, host: str = "127.0.0.1") -> str:
    return f"ldap://{host}:{server.port}"


def ldaps(server: Slapd, host: str = "127.0.0.1") -> str:
    return f"ldaps://{host}:{server.tls_port}"


# ---------------------------------------------------------------- it works


@pytest.mark.parametrize("server_name", ["self_signed", "ca_signed"])
@pytest.mark.parametrize("transport", ["start_tls", "ldaps"])
def test_verified_tls_logins(request: pytest.FixtureRequest, database: Database,
                             server_name: str, transport: str) -> None:
    """(a) StartTLS over ldap:// and (b) ldaps://, certificate verified against ca_file:
    the self-signed one by its IP address, the CA-signed one by its DNS name."""
    server: Slapd = request.getfixturevalue(server_name)
    host = "127.0.0.1" if server_name == "self_signed" else "localhost"
    uri = plain(server, host) if transport == "start_tls" else ldaps(server, host)
    directory = make_directory(database, [uri], start_tls=transport == "start_tls",
                               ca_file=server.ca_file, verify_certificate=True)
    try:
        result = login(directory, database)
        assert (result.user.address, result.method) == ("alice@example.test", "bind")
        bob = asyncio.run(directory.find_address("bob@example.test"))
        assert bob is not None and bob.manager_id == result.user.id
        with pytest.raises(Exception, match="wrong password"):
            login(directory, database, password="not-her-password")
    finally:
        directory.close_sync()


def test_server_refuses_binds_in_clear(ca_signed: Slapd, database: Database,
                                       caplog: pytest.LogCaptureFixture) -> None:
    """The control for the tests above: without StartTLS this slapd refuses every simple
    bind (confidentialityRequired), so their successful binds did travel over TLS."""
    directory = make_directory(database, [plain(ca_signed)], start_tls=False)
    try:
        with caplog.at_level(logging.INFO), pytest.raises(Unavailable):
            login(directory, database)
        assert "LDAP service bind failed: confidentialityRequired" in caplog.text
    finally:
        directory.close_sync()


# ---------------------------------------------------------------- refusals


def refused_login(directory: LdapDirectory, database: Database,
                  caplog: pytest.LogCaptureFixture) -> list[str]:
    """Log in as alice with her right password: must fail closed; the directory's lines."""
    caplog.clear()
    with caplog.at_level(logging.INFO), pytest.raises(Unavailable):
        login(directory, database)
    auth_lines = [r.getMessage() for r in caplog.records
                  if r.name == "groupware.handlers.auth" and "auth refused" in r.getMessage()]
    assert len(auth_lines) == 1 and "reason=directory unavailable" in auth_lines[0], caplog.text
    return [r.getMessage() for r in caplog.records
            if r.name == "directory.ldap" and r.levelno >= logging.ERROR]


@pytest.mark.parametrize("transport", ["start_tls", "ldaps"])
def test_wrong_ca_is_refused(ca_signed: Slapd, database: Database, tmp_path: Path,
                             caplog: pytest.LogCaptureFixture, transport: str) -> None:
    """(c) The server's certificate is not signed by the CA in ca_file."""
    other_ca = make_ca(tmp_path, "Some Other CA")
    uri = plain(ca_signed, "localhost") if transport == "start_tls" else ldaps(
        ca_signed, "localhost")
    directory = make_directory(database, [uri], start_tls=transport == "start_tls",
                               ca_file=other_ca.cert)
    try:
        lines = refused_login(directory, database, caplog)
        assert lines and all(
            line == f"LDAP server {uri} refused: TLS certificate does not verify (unable to "
            "get local issuer certificate); check ca_file (the CA that signed the server "
            "certificate)" for line in lines), lines
        assert "TLS certificate does not verify" in caplog.text.split("auth refused")[-1]
    finally:
        directory.close_sync()


def test_self_signed_certificate_without_ca_file_is_refused(
        self_signed: Slapd, database: Database, caplog: pytest.LogCaptureFixture) -> None:
    """(c) No ca_file: the system store does not know a self-signed certificate."""
    directory = make_directory(database, [plain(self_signed)], start_tls=True)
    try:
        lines = refused_login(directory, database, caplog)
        assert lines and all("TLS certificate does not verify (self-signed certificate)"
                             in line for line in lines), lines
    finally:
        directory.close_sync()


@pytest.mark.parametrize(("server_name", "host"), [
    ("self_signed", "localhost"),   # certificate for the IP 127.0.0.1, URI by name
    ("ca_signed", "127.0.0.1"),     # certificate for the name localhost, URI by IP
])
@pytest.mark.parametrize("transport", ["start_tls", "ldaps"])
def test_host_name_mismatch_is_refused(request: pytest.FixtureRequest, database: Database,
                                       caplog: pytest.LogCaptureFixture, server_name: str,
                                       host: str, transport: str) -> None:
    """(c) A certificate from the right CA, but for another name than the URI's."""
    server: Slapd = request.getfixturevalue(server_name)
    uri = plain(server, host) if transport == "start_tls" else ldaps(server, host)
    directory = make_directory(database, [uri], start_tls=transport == "start_tls",
                               ca_file=server.ca_file)
    try:
        lines = refused_login(directory, database, caplog)
        assert lines and all(
            line == f"LDAP server {uri} refused: TLS certificate is not valid for {host}, "
            "the host in the URI (use a name the certificate was issued for)"
            for line in lines), lines
    finally:
        directory.close_sync()


def test_refused_server_is_skipped_for_the_next_one(ca_signed: Slapd, database: Database,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """Fail-over: a server whose certificate does not match is logged and skipped."""
    bad, good = plain(ca_signed, "127.0.0.1"), plain(ca_signed, "localhost")
    directory = make_directory(database, [bad, good], start_tls=True, ca_file=ca_signed.ca_file)
    try:
        with caplog.at_level(logging.INFO):
            assert login(directory, database).method == "bind"
        assert f"LDAP server {bad} refused: TLS certificate is not valid for 127.0.0.1" \
            in caplog.text
    finally:
        directory.close_sync()


def test_starttls_refused_by_server_fails_closed(slapd: Slapd, database: Database,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """A server without TLS answers StartTLS with an error: no fallback to clear text, and
    no password on the wire."""
    relay = RecordingRelay(slapd.port)
    directory = make_directory(database, [f"ldap://127.0.0.1:{relay.port}"], start_tls=True)
    try:
        lines = refused_login(directory, database, caplog)
        assert lines and all("refused: StartTLS did not succeed" in line for line in lines)
        wire = relay.client_bytes()
        assert STARTTLS_OID in wire
        assert SERVICE_PW.encode() not in wire and ALICE.encode() not in wire
        assert SERVICE_DN.encode() not in wire
    finally:
        directory.close_sync()
        relay.close()


def test_unverified_tls_is_possible_but_warned_about(
        self_signed: Slapd, database: Database, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "directory.ldap"):
        directory = make_directory(database, [plain(self_signed, "localhost")],
                                   start_tls=True, verify_certificate=False)
    try:
        assert "LDAP TLS certificates are not verified" in caplog.text
        assert login(directory, database).method == "bind"
    finally:
        directory.close_sync()


def test_clear_text_to_a_remote_server_is_warned_about(database: Database,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "directory.ldap"):
        make_directory(database, ["ldap://192.0.2.1:389", "ldap://127.0.0.1:389",
                                  "ldaps://192.0.2.2"]).close_sync()
    warned = [r.getMessage() for r in caplog.records if "without TLS" in r.getMessage()]
    assert warned == ["LDAP server ldap://192.0.2.1:389 is used without TLS: bind passwords "
                      "cross the network in clear (set start_tls = true or use ldaps://)"]


# ---------------------------------------------------------------- on the wire


def ber_length(data: bytes) -> int:
    """Total length of the BER element at the start of ``data``."""
    assert data[0] == 0x30, data[:16]  # LDAPMessage ::= SEQUENCE
    first = data[1]
    if first < 0x80:
        return 2 + first
    n = first & 0x7F
    return 2 + n + int.from_bytes(data[2:2 + n], "big")


@pytest.mark.parametrize("transport", ["start_tls", "ldaps"])
def test_no_password_in_clear_with_tls(ca_signed: Slapd, database: Database,
                                       transport: str) -> None:
    """(d) What a passive observer sees: each StartTLS connection opens with the StartTLS
    request and goes on with a TLS handshake (ldaps: a handshake from the first byte);
    no password and no bind DN ever appear."""
    start_tls = transport == "start_tls"
    assert ca_signed.tls_port is not None
    relay = RecordingRelay(ca_signed.port if start_tls else ca_signed.tls_port)
    scheme = "ldap" if start_tls else "ldaps"
    directory = make_directory(database, [f"{scheme}://localhost:{relay.port}"],
                               start_tls=start_tls, ca_file=ca_signed.ca_file)
    try:
        assert login(directory, database).method == "bind"          # service + user bind
        with pytest.raises(Exception, match="wrong password"):
            login(directory, database, "dave", "wrong-for-dave")
        assert login(directory, database, "dave", dataset.PASSWORDS["dave"]).method == "bind"
    finally:
        directory.close_sync()
        relay.close()
    assert len(relay.sessions) >= 4  # one service connection, three user binds
    for session in relay.sessions:
        sent = bytes(session.sent)
        first = ber_length(sent) if start_tls else 0
        assert STARTTLS_OID in sent[:first] or not start_tls  # ExtendedRequest StartTLS
        assert sent[first:first + 2] == b"\x16\x03"            # then a TLS handshake record
        assert STARTTLS_OID not in sent[first:]
        assert b"\x00\x00\x09localhost" in sent[first:]         # SNI host_name in ClientHello
        for secret in (ALICE, dataset.PASSWORDS["dave"], "wrong-for-dave", SERVICE_PW):
            assert secret.encode() not in sent
        assert b"uid=alice" not in sent and SERVICE_DN.encode() not in sent


def test_relay_does_see_passwords_without_tls(ca_signed: Slapd, database: Database,
                                              caplog: pytest.LogCaptureFixture) -> None:
    """The relay's control: without StartTLS the service password is plainly visible (and
    this server refuses the bind), so the test above would notice a clear-text bind."""
    relay = RecordingRelay(ca_signed.port)
    directory = make_directory(database, [f"ldap://127.0.0.1:{relay.port}"], start_tls=False)
    try:
        with caplog.at_level(logging.INFO), pytest.raises(Unavailable):
            login(directory, database)
        assert "LDAP service bind failed: confidentialityRequired" in caplog.text
    finally:
        directory.close_sync()
        relay.close()
    wire = relay.client_bytes()
    assert SERVICE_PW.encode() in wire and SERVICE_DN.encode() in wire
    assert STARTTLS_OID not in wire
