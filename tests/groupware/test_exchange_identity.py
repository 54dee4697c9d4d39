"""Exchange version encodings checked against the published example values."""

from __future__ import annotations

from groupware.exchange_identity import server_application, server_version_hex


def test_server_version_matches_published_exchange_2007_example() -> None:
    # The POX Autodiscover reference shows ServerVersion 72008287 for Exchange 2007
    # (8.0.647); our encoder must produce the same bits for that build.
    assert server_version_hex(8, 0, 647) == "72008287"


def test_server_version_of_our_build_decodes_back() -> None:
    value = int(server_version_hex(), 16)
    assert value >> 28 == 0b0111
    assert (value >> 22) & 0x3F == 15
    assert (value >> 16) & 0x3F == 1
    assert value & 0x7FFF == 2507


def test_server_application_format() -> None:
    assert server_application() == "Exchange/15.01.2507.006"
