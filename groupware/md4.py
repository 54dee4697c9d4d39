"""MD4 (RFC 1320), only to compute the NT hash that NTLM needs.

OpenSSL 3 moved MD4 to the legacy provider, so ``hashlib.new("md4")`` fails on most
current systems; NTLM still needs it. This is a small pure-Python version, fast enough
for hashing a password when it is set (never on a hot path).
"""

from __future__ import annotations

import struct

_MASK = 0xFFFFFFFF


def _rotl(x: int, n: int) -> int:
    x &= _MASK
    return ((x << n) | (x >> (32 - n))) & _MASK


def md4(data: bytes) -> bytes:
    """The 16-byte MD4 digest of ``data``."""
    length_bits = (len(data) * 8) & 0xFFFFFFFFFFFFFFFF
    msg = data + b"\x80" + b"\x00" * ((55 - len(data)) % 64) + struct.pack("<Q", length_bits)
    a, b, c, d = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    for off in range(0, len(msg), 64):
        x = struct.unpack("<16I", msg[off:off + 64])
        aa, bb, cc, dd = a, b, c, d
        # Round 1: F(x,y,z) = xy | ~x z
        for k, s in ((0, 3), (1, 7), (2, 11), (3, 19), (4, 3), (5, 7), (6, 11), (7, 19),
                     (8, 3), (9, 7), (10, 11), (11, 19), (12, 3), (13, 7), (14, 11), (15, 19)):
            f = (b & c) | (~b & d)
            a, b, c, d = d, _rotl(a + f + x[k], s), b, c
        # Round 2: G(x,y,z) = xy | xz | yz, constant 0x5A827999
        for k, s in ((0, 3), (4, 5), (8, 9), (12, 13), (1, 3), (5, 5), (9, 9), (13, 13),
                     (2, 3), (6, 5), (10, 9), (14, 13), (3, 3), (7, 5), (11, 9), (15, 13)):
            g = (b & c) | (b & d) | (c & d)
            a, b, c, d = d, _rotl(a + g + x[k] + 0x5A827999, s), b, c
        # Round 3: H(x,y,z) = x ^ y ^ z, constant 0x6ED9EBA1
        for k, s in ((0, 3), (8, 9), (4, 11), (12, 15), (2, 3), (10, 9), (6, 11), (14, 15),
                     (1, 3), (9, 9), (5, 11), (13, 15), (3, 3), (11, 9), (7, 11), (15, 15)):
            h = b ^ c ^ d
            a, b, c, d = d, _rotl(a + h + x[k] + 0x6ED9EBA1, s), b, c
        a = (a + aa) & _MASK
        b = (b + bb) & _MASK
        c = (c + cc) & _MASK
        d = (d + dd) & _MASK
    return struct.pack("<4I", a, b, c, d)


def nt_hash(password: str) -> str:
    """NTLM's NT hash: MD4 of the UTF-16LE password, as 32 upper-case hex digits.

    Upper case because that is how ``sambaNTPassword`` stores it.
    """
    return md4(password.encode("utf-16-le")).hex().upper()
