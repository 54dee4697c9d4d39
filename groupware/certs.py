"""The TLS certificate: the configured one, or a self-signed one made on first run.

The embedded default must offer TLS on every protocol without any admin step, so the
first start writes ``<data_dir>/tls/{cert,key}.pem``. The key is created with mode 0600
from the first byte (never world-readable, not even briefly).
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from groupware.config import Config
from groupware.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CertificatePaths:
    certificate: Path
    private_key: Path
    generated: bool


def ensure_certificate(config: Config) -> CertificatePaths:
    """Return the certificate to use, generating a self-signed one if none is configured."""
    if config.tls.certificate is not None and config.tls.private_key is not None:
        for key, path in (("tls.certificate", config.tls.certificate),
                          ("tls.private_key", config.tls.private_key)):
            if not path.is_file():
                raise ConfigError(key, f"{path} does not exist")
            if not os.access(path, os.R_OK):
                raise ConfigError(key, f"{path} is not readable")
        return CertificatePaths(config.tls.certificate, config.tls.private_key, False)
    tls_dir = config.data_dir / "tls"
    cert_path, key_path = tls_dir / "cert.pem", tls_dir / "key.pem"
    if cert_path.is_file() and key_path.is_file():
        return CertificatePaths(cert_path, key_path, False)
    tls_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert_pem, key_pem = make_self_signed(config.server.hostname)
    _write_private(key_path, key_pem)
    cert_path.write_bytes(cert_pem)
    logger.info("generated a self-signed certificate for %s in %s",
                config.server.hostname, tls_dir)
    return CertificatePaths(cert_path, key_path, True)


def make_self_signed(hostname: str, *, days: int = 3650) -> tuple[bytes, bytes]:
    """A P-256 self-signed certificate valid for hostname, localhost and loopback."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, hostname),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "groupware self-signed"),
    ])
    dns_names = sorted({hostname, "localhost", socket.gethostname()})
    san: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names if n]
    san += [x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1"))]
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
