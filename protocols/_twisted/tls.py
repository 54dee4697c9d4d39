"""Server TLS contexts for every listener (implicit TLS and STARTTLS alike)."""

from __future__ import annotations

from pathlib import Path

from twisted.internet import ssl

_END = b"-----END CERTIFICATE-----"


def server_context_factory(certificate: Path, private_key: Path, *,
                           minimum_version: str = "TLSv1.2") -> ssl.CertificateOptions:
    """Build Twisted CertificateOptions from PEM files (a chain allowed in ``certificate``)."""
    pem = certificate.read_bytes()
    blocks = [b.strip() + b"\n" + _END + b"\n" for b in pem.split(_END) if b.strip()]
    leaf = ssl.PrivateCertificate.loadPEM(blocks[0] + private_key.read_bytes())
    extra = [ssl.Certificate.loadPEM(b).original for b in blocks[1:]]
    lowest = (ssl.TLSVersion.TLSv1_3 if minimum_version == "TLSv1.3"
              else ssl.TLSVersion.TLSv1_2)
    return ssl.CertificateOptions(
        privateKey=leaf.privateKey.original,
        certificate=leaf.original,
        extraCertChain=extra or None,
        raiseMinimumTo=lowest,
    )
