"""Our ENVELOPE/BODYSTRUCTURE/BODY and body sections against a real Dovecot.

Both answers are read back with the independent reader in :mod:`.sexp` and compared
value by value, so quoting choices (atom, quoted, literal) do not matter.
"""

from __future__ import annotations

import pytest

from protocols.imap.encoder import BodyData, BodyStructure, ResponseEncoder
from protocols.imap.fetch_items import Section
from protocols.imap.mime_structure import envelope_of, parse_message, section_content

from . import dovecot, sexp
from .corpus import built_corpus, cpython_corpus

pytestmark = pytest.mark.interop

CORPUS = cpython_corpus() + built_corpus()


@pytest.fixture(scope="module")
def dovecot_structures() -> list[dict[str, object]]:
    if not dovecot.available():
        pytest.fail("dovecot-imapd is not installed (make apt-deps installs it)")
    responses = dovecot.fetch(
        [raw for _, raw in CORPUS], "ENVELOPE BODYSTRUCTURE BODY"
    )
    return [sexp.fetch_items(r) for r in responses]


@pytest.mark.parametrize("index", range(len(CORPUS)), ids=[name for name, _ in CORPUS])
def test_structure_matches_dovecot(index: int, dovecot_structures: list[dict[str, object]]) -> None:
    _, raw = CORPUS[index]
    root = parse_message(raw)
    ours = sexp.fetch_items(
        b"".join(
            ResponseEncoder().fetch(
                1,
                [
                    (b"ENVELOPE", envelope_of(root.fields)),
                    (b"BODYSTRUCTURE", BodyStructure(root)),
                    (b"BODY", BodyStructure(root, extended=False)),
                ],
            )
        )
    )
    theirs = dovecot_structures[index]
    assert ours["ENVELOPE"] == theirs["ENVELOPE"]
    assert ours["BODYSTRUCTURE"] == theirs["BODYSTRUCTURE"]
    assert ours["BODY"] == theirs["BODY"]


SECTIONS = [
    Section((), "TEXT"),
    Section((1,)),
    Section((1,), "MIME"),
    Section((2,)),
    Section((2,), "MIME"),
    Section((), "HEADER.FIELDS", ("FROM", "SUBJECT")),
    Section((), "HEADER.FIELDS.NOT", ("RECEIVED",)),
]


def test_body_sections_match_dovecot() -> None:
    # Only messages where every requested section exists (missing ones differ by design).
    chosen = []
    for name, raw in CORPUS:
        root = parse_message(raw)
        if all(section_content(root, s) is not None for s in SECTIONS):
            chosen.append((name, raw, root))
    assert len(chosen) >= 4  # the built corpus alone has 4
    items = " ".join("BODY.PEEK[" + s.to_bytes().decode() + "]" for s in SECTIONS)
    responses = dovecot.fetch([raw for _, raw, _ in chosen], items)
    for (name, raw, root), response in zip(chosen, responses, strict=True):
        theirs = sexp.fetch_items(response)
        pairs = []
        for s in SECTIONS:
            content = section_content(root, s)
            assert content is not None
            pairs.append((b"BODY[" + s.to_bytes() + b"]",
                          BodyData(content.size, content.iter_bytes(raw))))
        ours = sexp.fetch_items(b"".join(ResponseEncoder().fetch(1, pairs)))
        for key, value in ours.items():
            assert value == theirs[key], (name, key)
