"""Validation and normalisation of addresses, domains and login names.

Everything a client or an admin types goes through here before it reaches SQL or an
LDAP filter: lengths are bounded, case is folded, and the shapes clients really send
(``alice``, ``alice@example.test``, ``EXAMPLE\\alice``, any case) become one form.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from groupware.errors import InvalidInput

MAX_LOCALPART = 64
MAX_DOMAIN = 253
MAX_ADDRESS = 254            # RFC 5321 4.5.3.1.3 (path minus the angle brackets)
MAX_LOGIN = 320
MAX_DISPLAY_NAME = 256
MAX_PASSWORD = 1024          # bytes of UTF-8; longer inputs are refused before hashing

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LOCALPART_RE = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_NETBIOS_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


def normalize_domain(domain: str) -> str:
    """Lower-cased ASCII (IDNA) domain; raises InvalidInput when it is not one."""
    domain = domain.strip().rstrip(".")
    if not domain or len(domain) > MAX_DOMAIN:
        raise InvalidInput(f"not a domain name: {domain[:80]!r}")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidInput(f"not a domain name: {domain[:80]!r}") from None
    domain = domain.lower()
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL_RE.fullmatch(label) for label in labels):
        raise InvalidInput(f"not a domain name: {domain[:80]!r}")
    return domain


def normalize_localpart(localpart: str) -> str:
    localpart = localpart.strip()
    if not localpart or len(localpart) > MAX_LOCALPART or not _LOCALPART_RE.fullmatch(localpart):
        raise InvalidInput(f"not a valid local part: {localpart[:80]!r}")
    return localpart.lower()


def split_address(address: str) -> tuple[str, str]:
    """``Alice@Example.TEST`` -> ``("alice", "example.test")``, validated."""
    address = address.strip()
    if len(address) > MAX_ADDRESS or address.count("@") != 1:
        raise InvalidInput(f"not a mail address: {address[:80]!r}")
    localpart, domain = address.split("@")
    return normalize_localpart(localpart), normalize_domain(domain)


def normalize_address(address: str) -> str:
    localpart, domain = split_address(address)
    return f"{localpart}@{domain}"


def is_address(value: str) -> bool:
    try:
        split_address(value)
    except InvalidInput:
        return False
    return True


def clean_text(value: str, limit: int, what: str) -> str:
    """Attribute text: NFC, no control characters, at most ``limit`` characters."""
    value = unicodedata.normalize("NFC", value).strip()
    if len(value) > limit:
        raise InvalidInput(f"{what} is longer than {limit} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise InvalidInput(f"{what} contains control characters")
    return value


@dataclass(frozen=True)
class LoginName:
    """A login name taken apart: ``localpart`` always; ``domain`` for ``user@domain``;
    ``netbios`` for ``DOMAIN\\user`` (matched against the first label of our domains)."""

    localpart: str
    domain: str | None = None
    netbios: str | None = None

    @property
    def address(self) -> str | None:
        return f"{self.localpart}@{self.domain}" if self.domain else None


def parse_login(name: str) -> LoginName:
    """Parse what a client sent as its user name; raises InvalidInput for garbage."""
    if not isinstance(name, str):
        raise InvalidInput("login name must be text")
    name = unicodedata.normalize("NFC", name).strip()
    if not name or len(name) > MAX_LOGIN:
        raise InvalidInput("login name is empty or too long")
    if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in name):
        raise InvalidInput("login name contains control characters")
    netbios = None
    if "\\" in name:
        netbios, _, name = name.partition("\\")
        if not _NETBIOS_RE.fullmatch(netbios):
            raise InvalidInput(f"not a Windows domain: {netbios[:40]!r}")
        netbios = netbios.lower()
    if "@" in name:
        localpart, domain = split_address(name)
        return LoginName(localpart, domain, netbios)
    return LoginName(normalize_localpart(name), None, netbios)
