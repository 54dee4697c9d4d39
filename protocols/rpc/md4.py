"""MD4 (RFC 1320), needed only for the NT one-way function NTOWFv1 (MS-NLMP 3.3.1).

Modern OpenSSL builds disable MD4, so ``hashlib.new("md4")`` cannot be relied on.
MD4 is cryptographically broken; it is used here solely because the NT hash of a
password is defined with it. This is a small, pure-Python implementation.
"""

from __future__ import annotations

import struct

_MASK = 0xFFFFFFFF
MAX_INPUT = 1 << 20
"""Largest input accepted: MD4 only ever hashes a password here."""


def _rotl(value: int, shift: int) -> int:
    value &= _MASK
    return ((value << shift) | (value >> (32 - shift))) & _MASK


def _compress(state: list[int], block: bytes) -> None:
    """Process one 64-byte block (RFC 1320 section 3.4, rounds 1-3)."""
    x = struct.unpack("<16I", block)
    a, b, c, d = state

    def f(x_: int, y: int, z: int) -> int:
        return (x_ & y) | (~x_ & z)

    def g(x_: int, y: int, z: int) -> int:
        return (x_ & y) | (x_ & z) | (y & z)

    def h(x_: int, y: int, z: int) -> int:
        return x_ ^ y ^ z

    for i in (0, 4, 8, 12):
        a = _rotl(a + f(b, c, d) + x[i], 3)
        d = _rotl(d + f(a, b, c) + x[i + 1], 7)
        c = _rotl(c + f(d, a, b) + x[i + 2], 11)
        b = _rotl(b + f(c, d, a) + x[i + 3], 19)
    for i in (0, 1, 2, 3):
        a = _rotl(a + g(b, c, d) + x[i] + 0x5A827999, 3)
        d = _rotl(d + g(a, b, c) + x[i + 4] + 0x5A827999, 5)
        c = _rotl(c + g(d, a, b) + x[i + 8] + 0x5A827999, 9)
        b = _rotl(b + g(c, d, a) + x[i + 12] + 0x5A827999, 13)
    for i in (0, 2, 1, 3):
        a = _rotl(a + h(b, c, d) + x[i] + 0x6ED9EBA1, 3)
        d = _rotl(d + h(a, b, c) + x[i + 8] + 0x6ED9EBA1, 9)
        c = _rotl(c + h(d, a, b) + x[i + 4] + 0x6ED9EBA1, 11)
        b = _rotl(b + h(c, d, a) + x[i + 12] + 0x6ED9EBA1, 15)

    state[0] = (state[0] + a) & _MASK
    state[1] = (state[1] + b) & _MASK
    state[2] = (state[2] + c) & _MASK
    state[3] = (state[3] + d) & _MASK


def md4(data: bytes) -> bytes:
    """Return the 16-byte MD4 digest of ``data`` (RFC 1320)."""
    if len(data) > MAX_INPUT:
        raise ValueError(f"md4 input of {len(data)} bytes exceeds {MAX_INPUT}")
    state = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    bit_length = (len(data) * 8) & 0xFFFFFFFFFFFFFFFF
    padded = data + b"\x80" + b"\x00" * ((55 - len(data)) % 64) + struct.pack("<Q", bit_length)
    for offset in range(0, len(padded), 64):
        _compress(state, padded[offset : offset + 64])
    return struct.pack("<4I", *state)


def nt_hash(password: str) -> bytes:
    """NTOWFv1: MD4 of the UTF-16LE password (MS-NLMP 3.3.1)."""
    return md4(password.encode("utf-16-le"))
