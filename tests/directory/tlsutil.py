"""TLS helpers for the LDAP tests: a test CA that signs slapd's certificate, and a TCP
relay that records what a client puts on the wire (to prove what travels in clear)."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.directory.slapd import Slapd

SERVER_NAME = "ldap.example.test"


@dataclass
class Issued:
    cert: Path
    key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def make_ca(directory: Path, cn: str) -> Issued:
    """A self-signed CA certificate (what an admin's ``ca_file`` points at)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    issued = Issued(directory / f"{cn}.pem", directory / f"{cn}.key")
    issued.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(issued.key, key)
    return issued


def make_server_cert(directory: Path, ca: Issued, names: list[str]) -> Issued:
    """A server certificate signed by ``ca`` for DNS names and IP addresses."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    ca_key = serialization.load_pem_private_key(ca.key.read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for n in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(names[0]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    issued = Issued(directory / "server.pem", directory / "server.key")
    issued.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(issued.key, key)
    return issued


class CaSignedSlapd(Slapd):
    """slapd with a certificate for ``names`` signed by a test CA (``self.ca_file``),
    listening on ldap:// (StartTLS) and ldaps://."""

    def __init__(self, workdir: Path, names: list[str], **kwargs: object) -> None:
        super().__init__(workdir, tls=True, **kwargs)  # type: ignore[arg-type]
        self.names = names
        self.ca = make_ca(workdir / "ca", "Test LDAP CA")

    def _make_cert(self) -> tuple[Path, Path]:
        issued = make_server_cert(self.dir, self.ca, self.names)
        self.ca_file = self.ca.cert
        return issued.cert, issued.key


@dataclass
class Session:
    """One relayed connection: the bytes the client sent, in order."""

    sent: bytearray = field(default_factory=bytearray)


class RecordingRelay:
    """Accepts on a loopback port and relays to ``target_port``, recording every byte a
    client sends. It sees exactly what a passive observer of the network would see."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.sessions: list[Session] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="relay-accept").start()

    def client_bytes(self) -> bytes:
        with self._lock:
            return b"".join(bytes(s.sent) for s in self.sessions)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            session = Session()
            with self._lock:
                self.sessions.append(session)
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, session.sent),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, None),
                             daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, record: bytearray | None) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if record is not None:
                    with self._lock:
                        record += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        with self._lock:
            for s in self._sockets:
                # shutdown() wakes the pump threads blocked in recv(); close() would not.
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
