"""The MS-OXPROPS tables: facts, consistency, lookups and the generated constants."""

from __future__ import annotations

import collections

from groupware.mapi import gen_tags, lids, propdefs, tags
from groupware.mapi.named import (
    NAMED_PROPERTY_DEFS,
    PS_INTERNET_HEADERS,
    PSETID_Appointment,
    named_by_lid,
    named_by_name,
    named_by_prop,
)
from groupware.mapi.proptypes import PropType, make_tag

# (canonical name, property id, data type) facts straight from MS-OXPROPS section 2.
KNOWN = [
    ("PidTagSubject", 0x0037, PropType.STRING),
    ("PidTagMessageClass", 0x001A, PropType.STRING),
    ("PidTagDisplayName", 0x3001, PropType.STRING),
    ("PidTagEntryId", 0x0FFF, PropType.BINARY),
    ("PidTagEmailAddress", 0x3003, PropType.STRING),
    ("PidTagSmtpAddress", 0x39FE, PropType.STRING),
    ("PidTagBody", 0x1000, PropType.STRING),
    ("PidTagHtml", 0x1013, PropType.BINARY),
    ("PidTagRtfCompressed", 0x1009, PropType.BINARY),
    ("PidTagMessageFlags", 0x0E07, PropType.INTEGER32),
    ("PidTagLastModificationTime", 0x3008, PropType.TIME),
    ("PidTagChangeKey", 0x65E2, PropType.BINARY),
    ("PidTagPredecessorChangeList", 0x65E3, PropType.BINARY),
    ("PidTagSourceKey", 0x65E0, PropType.BINARY),
    ("PidTagParentSourceKey", 0x65E1, PropType.BINARY),
    ("PidTagFolderId", 0x6748, PropType.INTEGER64),
    ("PidTagMid", 0x674A, PropType.INTEGER64),
    ("PidTagContentCount", 0x3602, PropType.INTEGER32),
    ("PidTagContainerClass", 0x3613, PropType.STRING),
    ("PidTagAttachMethod", 0x3705, PropType.INTEGER32),
    ("PidTagRecipientType", 0x0C15, PropType.INTEGER32),
    ("PidTagAddressBookProxyAddresses", 0x800F, PropType.MULTIPLE_STRING),
    ("PidTagRuleCondition", 0x6679, PropType.RESTRICTION),
    ("PidTagRuleActions", 0x6680, PropType.RULE_ACTION),
    ("MetaTagIdsetDeleted", 0x67E5, PropType.BINARY),
]


def test_known_facts() -> None:
    for name, pid, ptype in KNOWN:
        d = propdefs.by_name(name)
        assert d is not None, name
        assert (d.prop_id, d.prop_type) == (pid, ptype), name
        assert getattr(tags, name) == make_tag(pid, ptype)


def test_table_is_large_and_consistent() -> None:
    assert len(propdefs.PROPERTY_DEFS) >= 400
    names = [d.name for d in propdefs.PROPERTY_DEFS]
    assert len(names) == len(set(names))
    assert all(n.startswith(("PidTag", "MetaTag")) for n in names)
    by_tag = collections.Counter(d.tag for d in propdefs.PROPERTY_DEFS)
    # One tag, two canonical names: the permission-table alias of PidTagEntryId.
    assert [t for t, n in by_tag.items() if n > 1] == [tags.PidTagEntryId]
    assert propdefs.by_tag(tags.PidTagEntryId).name == "PidTagEntryId"  # type: ignore[union-attr]


def test_lookups() -> None:
    assert propdefs.by_tag(0x0037001E).name == "PidTagSubject"  # type: ignore[union-attr]
    assert propdefs.by_tag(0x0037001F | 0x2000).name == "PidTagSubject"  # type: ignore[union-attr]
    assert propdefs.by_tag(0x12345678) is None
    assert {d.name for d in propdefs.by_id(0x0E08)} == {
        "PidTagMessageSize",
        "PidTagMessageSizeExtended",
    }
    assert propdefs.name_of(0x0037001F) == "PidTagSubject"
    assert propdefs.name_of(0x7F7F0003) == "0x7F7F0003"
    assert propdefs.default_type(0x3001) is PropType.STRING
    assert propdefs.by_name("PidTagNope") is None


def test_generated_modules_are_current() -> None:
    for name, render in gen_tags.OUTPUTS.items():
        path = gen_tags._HERE / name
        assert path.read_text(encoding="utf-8") == render(), f"run gen_tags: {name} is stale"


def test_named_table() -> None:
    assert len(NAMED_PROPERTY_DEFS) >= 250
    names = [d.canonical_name for d in NAMED_PROPERTY_DEFS]
    assert len(names) == len(set(names))
    assert len({d.prop for d in NAMED_PROPERTY_DEFS}) == len(NAMED_PROPERTY_DEFS)
    busy = named_by_name("PidLidBusyStatus")
    assert busy is not None
    assert busy.prop == lids.PidLidBusyStatus
    assert (busy.prop.guid, busy.prop.lid, busy.prop_type) == (
        PSETID_Appointment, 0x8205, PropType.INTEGER32
    )
    assert named_by_lid(PSETID_Appointment, 0x820D).canonical_name == (  # type: ignore[union-attr]
        "PidLidAppointmentStartWhole"
    )
    assert lids.TYPES[lids.PidNameKeywords] is PropType.MULTIPLE_STRING
    assert named_by_prop(lids.PidNameContentType).prop.name == "content-type"  # type: ignore[union-attr]
    assert lids.PidNameContentType.guid == PS_INTERNET_HEADERS
