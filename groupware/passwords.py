"""Password hashing: argon2id with parameters that can be raised later, plus the NT hash.

``needs_rehash`` lets the auth core upgrade stored hashes on the next successful login
when the parameters change (``[auth] argon2_*``). The module-level functions use
argon2-cffi's defaults (RFC 9106 "low memory" profile); :class:`PasswordHasher` takes the
configured parameters.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher as _Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from groupware.md4 import nt_hash

__all__ = [
    "PasswordHasher",
    "generate_password",
    "hash_password",
    "needs_rehash",
    "nt_hash",
    "verify_password",
]


class PasswordHasher:
    """argon2id with explicit cost parameters (``[auth] argon2_*``)."""

    def __init__(self, *, time_cost: int = 3, memory_cost: int = 65536,
                 parallelism: int = 4) -> None:
        self._hasher = _Argon2Hasher(time_cost=time_cost, memory_cost=memory_cost,
                                     parallelism=parallelism, type=Type.ID)

    def hash(self, password: str) -> str:
        return str(self._hasher.hash(password))

    def verify(self, stored_hash: str, password: str) -> bool:
        """True if ``password`` matches; never raises on a malformed stored hash."""
        try:
            return bool(self._hasher.verify(stored_hash, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when ``stored_hash`` was made with other parameters (or is unreadable)."""
        try:
            return bool(self._hasher.check_needs_rehash(stored_hash))
        except InvalidHashError:
            return True


_default = PasswordHasher()


def hash_password(password: str) -> str:
    return _default.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True if ``password`` matches; never raises on a malformed stored hash."""
    return _default.verify(stored_hash, password)


def needs_rehash(stored_hash: str) -> bool:
    return _default.needs_rehash(stored_hash)


def generate_password(length: int = 20) -> str:
    """A random password from an alphabet without look-alike characters."""
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))
