"""Shared material for the WBXML tests: the sample documents, the MS-ASWBXML example,
hypothesis strategies for trees, and a runner for libwbxml's command-line tools.

The samples live in the team's shared fixture directory (upstream files keep their own
licences there); ``EAS_SAMPLES_DIR`` overrides the location.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import strategies as st

from protocols.activesync.wbxml import Element, Tag, all_tags

REPO = Path(__file__).resolve().parents[4]
SAMPLES_DIR = Path(
    os.environ.get("EAS_SAMPLES_DIR", REPO.parent / "shared" / "fixtures" / "activesync")
)


@dataclass(frozen=True)
class Sample:
    name: str
    wbxml: bytes
    xml: bytes | None


def load_samples() -> list[Sample]:
    if not SAMPLES_DIR.is_dir():
        raise RuntimeError(f"ActiveSync samples not found in {SAMPLES_DIR} (set EAS_SAMPLES_DIR)")
    samples = []
    for path in sorted(SAMPLES_DIR.glob("*.wbxml")):
        xml_path = path.with_suffix(".xml")
        xml = xml_path.read_bytes() if xml_path.exists() else None
        samples.append(Sample(path.stem, path.read_bytes(), xml))
    return samples


SAMPLES = load_samples()
SAMPLES_WITH_XML = [s for s in SAMPLES if s.xml is not None]

# MS-ASWBXML section 3 "Algorithm Examples": a Sync response adding a contact, with the
# byte-by-byte encoding the specification gives for it.
SPEC_EXAMPLE_XML = b"""<?xml version="1.0" encoding="utf-8"?>
<Sync xmlns="AirSync" xmlns:airsyncbase="AirSyncBase" xmlns:contacts="Contacts">
  <Collections>
    <Collection>
      <Class>Contacts</Class>
      <SyncKey>2</SyncKey>
      <CollectionId>2</CollectionId>
      <Status>1</Status>
      <Commands>
        <Add>
          <ServerId>2:1</ServerId>
          <ApplicationData>
            <airsyncbase:Body>
              <airsyncbase:Type>1</airsyncbase:Type>
              <airsyncbase:EstimatedDataSize>0</airsyncbase:EstimatedDataSize>
              <airsyncbase:Truncated>1</airsyncbase:Truncated>
            </airsyncbase:Body>
            <contacts:FileAs>Funk, Don</contacts:FileAs>
            <contacts:FirstName>Don</contacts:FirstName>
            <contacts:LastName>Funk</contacts:LastName>
            <airsyncbase:NativeBodyType>1</airsyncbase:NativeBodyType>
          </ApplicationData>
        </Add>
      </Commands>
    </Collection>
  </Collections>
</Sync>
"""
SPEC_EXAMPLE_WBXML = bytes.fromhex(
    "03 01 6A 00 45 5C 4F 50 03 43 6F 6E 74 61 63 74 73 00 01 4B 03 32 00 01 52 03 32 00"
    " 01 4E 03 31 00 01 56 47 4D 03 32 3A 31 00 01 5D 00 11 4A 46 03 31 00 01 4C 03 30 00"
    " 01 4D 03 31 00 01 01 00 01 5E 03 46 75 6E 6B 2C 20 44 6F 6E 00 01 5F 03 44 6F 6E 00"
    " 01 69 03 46 75 6E 6B 00 01 00 11 56 03 31 00 01 01 01 01 01 01 01"
)

ALL_TAGS = all_tags()
# Newer than libwbxml 0.11.8 (Debian 12): EAS 16.1 additions and the whole Find page.
LIBWBXML_UNKNOWN = frozenset(
    {"MeetingResponse:ProposedStartTime", "MeetingResponse:ProposedEndTime",
     "Provision:AccountOnlyRemoteWipe"}
)
LIBWBXML_TAGS = tuple(t for t in ALL_TAGS if t.page != 25 and t.qname not in LIBWBXML_UNKNOWN)


def _texts(xml_safe: bool, allow_cr: bool) -> st.SearchStrategy[str]:
    if xml_safe:
        alphabet = st.characters(
            exclude_categories=["Cs", "Cc"], exclude_characters="\x00"
        ) | st.sampled_from("\t\n &<>\"'" + ("\r" if allow_cr else ""))
    else:
        alphabet = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
    return st.text(alphabet, min_size=1, max_size=20)


def trees(
    tags: tuple[Tag, ...] = ALL_TAGS, *, xml_safe: bool = False, allow_cr: bool = True
) -> st.SearchStrategy[Element]:
    """Random element trees over ``tags``. ``xml_safe`` keeps to what the XML view can
    carry: opaque bytes only on byte-array tags, text only on the others, no control
    characters. ``allow_cr=False`` leaves out CR, which libwbxml writes unescaped (and
    XML parsing then normalises to LF)."""
    tag = st.sampled_from(tags)

    @st.composite
    def leaf(draw: st.DrawFn) -> Element:
        chosen = draw(tag)
        kind = draw(st.sampled_from(["empty", "text", "opaque"]))
        if xml_safe:
            kind = "empty" if kind == "empty" else ("opaque" if chosen.opaque else "text")
        if kind == "text":
            return Element(chosen, text=draw(_texts(xml_safe, allow_cr)))
        if kind == "opaque":
            # XML cannot tell an empty opaque value from an empty element.
            return Element(chosen, opaque=draw(st.binary(min_size=int(xml_safe), max_size=40)))
        return Element(chosen)

    return st.recursive(
        leaf(),
        lambda children: st.builds(Element, tag, st.lists(children, min_size=1, max_size=4)),
        max_leaves=25,
    )


@dataclass
class Libwbxml:
    """libwbxml2-utils' xml2wbxml / wbxml2xml, run for real on files in ``workdir``."""

    workdir: Path

    def xml2wbxml(self, xml: bytes) -> bytes:
        source, target = self.workdir / "in.xml", self.workdir / "out.wbxml"
        source.write_bytes(xml)
        target.unlink(missing_ok=True)
        self._run(["xml2wbxml", "-a", "-n", "-v", "1.3", "-o", str(target), str(source)])
        return target.read_bytes()

    def wbxml2xml(self, wbxml: bytes) -> bytes:
        source, target = self.workdir / "in.wbxml", self.workdir / "out.xml"
        source.write_bytes(wbxml)
        target.unlink(missing_ok=True)
        # -k -m 0: keep whitespace exactly, compact output (no indentation added).
        self._run(
            ["wbxml2xml", "-k", "-m", "0", "-l", "ACTIVESYNC", "-o", str(target), str(source)]
        )
        return target.read_bytes()

    @staticmethod
    def _run(argv: list[str]) -> None:
        result = subprocess.run(argv, capture_output=True, timeout=30, check=False)
        assert result.returncode == 0, f"{argv[0]} failed: {result.stdout!r} {result.stderr!r}"


@pytest.fixture
def libwbxml(tmp_path: Path) -> Libwbxml:
    for tool in ("xml2wbxml", "wbxml2xml"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing: install libwbxml2-utils (make apt-deps)")
    return Libwbxml(tmp_path)
