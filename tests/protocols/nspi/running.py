"""A running server with an address book worth walking, for the NSPI and MAPI/HTTP tests.

Provisioned through the real CLI (``groupware import csv``, ``user set``, ``contact
add``, ``domain add``) so the expectations come from the directory's own listing
(``groupware user/group/contact list --json``), not from the code under test.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import RunningServer, start_server

PASSWORD = "Sécret-123"  # non-ASCII on purpose: NTLM hashes UTF-16, Basic sends UTF-8
CHEAP_ARGON = """
[auth]
argon2_time_cost = 1
argon2_memory_cost = 1024
argon2_parallelism = 1
"""

PEOPLE = [
    # address, display name, given, surname, title, department, phone
    ("alice", "Alice Anders", "Alice", "Anders", "CEO", "Board", "+49 30 1"),
    ("bob", "Bob Builder", "Bob", "Builder", "Engineer", "Build", "+49 30 2"),
    ("carol", "Carol Céline", "Carol", "Céline", "Engineer", "Build", ""),
    ("dave", "dave lowercase", "Dave", "Lowercase", "", "", ""),
    ("eve", "Ève Émile", "Ève", "Émile", "Auditor", "Audit", ""),
    ("frank", "Frank Füller", "Frank", "Füller", "", "Build", ""),
    ("grace", "Grace Hopper", "Grace", "Hopper", "Admiral", "Navy", ""),
    ("heidi", "Heidi Øster", "Heidi", "Øster", "", "", ""),
    ("ivan", "Иван Петров", "Иван", "Петров", "", "", ""),
    ("judy", "Judy 山田", "Judy", "山田", "", "", ""),
    ("mallory", "Mallory Mallet", "Mallory", "Mallet", "", "", ""),
    ("oscar", "Oscar Olsen", "Oscar", "Olsen", "", "", ""),
    ("peggy", "Peggy Parker", "Peggy", "Parker", "", "", ""),
    ("trent", "Trent Trust", "Trent", "Trust", "", "", ""),
    ("victor", "Victor Vance", "Victor", "Vance", "", "", ""),
    ("walter", "Walter White", "Walter", "White", "", "", ""),
]
ROOMS = [("room-atlantic", "Room Atlantic", "room"), ("beamer", "Beamer 1", "equipment")]
GROUP = ("builders", "Builders Team", ["bob", "carol", "frank"])
REPORTS_TO_ALICE = ["bob", "grace", "oscar"]
HIDDEN = "trent"
CONTACT = ("partner@outside.example", "Partner Outside")
OTHER_DOMAIN_USER = ("zed@other.test", "Zed Other")


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass
class Entry:
    address: str
    display_name: str
    kind: str
    legacy_dn: str
    hidden: bool


@dataclass
class AddressBook:
    server: RunningServer
    entries: list[Entry] = field(default_factory=list)

    @property
    def visible(self) -> list[Entry]:
        return sorted((e for e in self.entries if not e.hidden),
                      key=lambda e: (fold(e.display_name), e.address.lower()))

    def by_address(self, address: str) -> Entry:
        return next(e for e in self.entries if e.address == address)

    @property
    def rpc_port(self) -> int:
        return self.server.port("rpc")

    @property
    def http_port(self) -> int:
        return self.server.port("http", "none")


def _csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["address", "display_name", "password", "kind", "given_name", "surname",
                     "title", "department", "phone"])
    for local, name, given, surname, title, dept, phone in PEOPLE:
        writer.writerow([f"{local}@example.test", name, PASSWORD, "user", given, surname,
                         title, dept, phone])
    for local, name, kind in ROOMS:
        writer.writerow([f"{local}@example.test", name, "", kind, "", "", "", "", ""])
    return out.getvalue()


OUTLOOK_CONFIG = """
[outlook]
pending_period = 0.2
address_book_cache_ttl = 0.5
"""


def module_book(tmp_path_factory: Any, request: Any) -> AddressBook:
    """A provisioned server for a test module, on the suite's database of choice."""
    from tests.conftest import empty_database_url

    tmp = tmp_path_factory.mktemp("nspi")
    return provision(tmp, empty_database_url(request, tmp), extra=OUTLOOK_CONFIG)


def provision(tmp: Path, database_url: str, *, extra: str = "") -> AddressBook:
    server = start_server(tmp, database_url, listeners=[
        {"protocol": "rpc", "address": "127.0.0.1", "port": 0},
        {"protocol": "http", "address": "127.0.0.1", "port": 0, "tls": "none"},
    ], extra_config=CHEAP_ARGON + extra)
    try:
        source = tmp / "people.csv"
        source.write_text(_csv(), encoding="utf-8")
        server.cli("import", "csv", str(source), "--no-progress")
        server.cli("group", "add", f"{GROUP[0]}@example.test", "--name", GROUP[1],
                   *[f"--member={m}@example.test" for m in GROUP[2]])
        for local in REPORTS_TO_ALICE:
            server.cli("user", "set", f"{local}@example.test", "--manager", "alice@example.test")
        server.cli("user", "set", f"{HIDDEN}@example.test", "--hidden", "yes")
        server.cli("contact", "add", CONTACT[0], "--name", CONTACT[1])
        server.cli("domain", "add", "other.test")
        server.cli("user", "add", OTHER_DOMAIN_USER[0], "--name", OTHER_DOMAIN_USER[1],
                   "--password-stdin", input=PASSWORD + "\n")
        book = AddressBook(server)
        for command, kind in (("user", None), ("group", "group"), ("contact", "contact")):
            listed: list[dict[str, Any]] = json.loads(
                server.cli(command, "list", "--json").stdout)
            for item in listed:
                book.entries.append(Entry(item["address"], item["display_name"],
                                          kind or item["kind"], item.get("legacy_dn", ""),
                                          bool(item.get("hidden"))))
        return book
    except Exception:
        server.stop()
        raise
