"""The project's one MD4 (``groupware.md4``, which NTLM uses) against the RFC 1320
appendix A.5 test suite and the MS-NLMP NT hash."""

from __future__ import annotations

import pytest

from groupware.md4 import md4, nt_hash

RFC1320_SUITE = [
    (b"", "31d6cfe0d16ae931b73c59d7e0c089c0"),
    (b"a", "bde52cb31de33e46245e05fbdbd6fb24"),
    (b"abc", "a448017aaf21d8525fc10ae87aa6729d"),
    (b"message digest", "d9130a8164549fe818874806e1c7014b"),
    (b"abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"),
    (
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "043f8582f241db351ce627e153e7f0e4",
    ),
    (b"1234567890" * 8, "e33b4ddc9c38f2199c3e7b164fcc0536"),
]


@pytest.mark.parametrize(("message", "digest"), RFC1320_SUITE)
def test_rfc1320_vectors(message: bytes, digest: str) -> None:
    assert md4(message).hex() == digest


@pytest.mark.parametrize("length", [55, 56, 63, 64, 65, 119, 120])
def test_padding_boundaries_differ(length: int) -> None:
    # Lengths around the 56-byte padding boundary each give a distinct digest.
    assert md4(b"x" * length) != md4(b"x" * (length + 1))


def test_nt_hash_of_ms_nlmp_password() -> None:
    # MS-NLMP 4.2.2.1.2 NTOWFv1("Password"); stored upper-case like sambaNTPassword.
    assert nt_hash("Password") == "A4F49C406510BDCAB6824EE7C30FD852"
    assert md4("Password".encode("utf-16-le")).hex() == "a4f49c406510bdcab6824ee7c30fd852"
