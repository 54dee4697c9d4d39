"""The code page table against MS-ASWBXML 2.1.2.1 and its own invariants."""

from __future__ import annotations

import pytest

from protocols.activesync.wbxml import (
    CODE_PAGES,
    WbxmlEncodeError,
    all_tags,
    lookup_tag,
    page_for_namespace,
)

# MS-ASWBXML 2.1.2.1: the 26 code pages, by number (XML namespace spelling for GAL).
SPEC_PAGES = [
    "AirSync", "Contacts", "Email", "AirNotify", "Calendar", "Move", "GetItemEstimate",
    "FolderHierarchy", "MeetingResponse", "Tasks", "ResolveRecipients", "ValidateCert",
    "Contacts2", "Ping", "Provision", "Search", "Gal", "AirSyncBase", "Settings",
    "DocumentLibrary", "ItemOperations", "ComposeMail", "Email2", "Notes",
    "RightsManagement", "Find",
]

# MS-ASWBXML 2.1.2.1.26 Code Page 25: Find, the complete table.
SPEC_FIND = {
    "Find": 0x05, "SearchId": 0x06, "ExecuteSearch": 0x07, "MailBoxSearchCriterion": 0x08,
    "Query": 0x09, "Status": 0x0A, "FreeText": 0x0B, "Options": 0x0C, "Range": 0x0D,
    "DeepTraversal": 0x0E, "Response": 0x11, "Result": 0x12, "Properties": 0x13,
    "Preview": 0x14, "HasAttachments": 0x15, "Total": 0x16, "DisplayCc": 0x17,
    "DisplayBcc": 0x18, "GalSearchCriterion": 0x19, "MaxPictures": 0x20, "MaxSize": 0x21,
    "Picture": 0x22,
}

# MS-ASWBXML 2.1.2.1.13 Code Page 12: Contacts2, the complete table.
SPEC_CONTACTS2 = {
    "CustomerId": 0x05, "GovernmentId": 0x06, "IMAddress": 0x07, "IMAddress2": 0x08,
    "IMAddress3": 0x09, "ManagerName": 0x0A, "CompanyMainPhone": 0x0B, "AccountName": 0x0C,
    "NickName": 0x0D, "MMS": 0x0E,
}


def test_pages_are_the_26_of_the_spec() -> None:
    assert sorted(CODE_PAGES) == list(range(26))
    assert [CODE_PAGES[n].name for n in range(26)] == SPEC_PAGES


@pytest.mark.parametrize(("page", "expected"), [(25, SPEC_FIND), (12, SPEC_CONTACTS2)])
def test_complete_pages_match_the_spec_tables(page: int, expected: dict[str, int]) -> None:
    table = {tag.name: tag.token for tag in CODE_PAGES[page].tags()}
    assert table == expected


def test_every_tag_is_consistent_with_its_page() -> None:
    for number, page in CODE_PAGES.items():
        assert page.tags(), f"page {number} is empty"
        for token, tag in page.by_token.items():
            assert tag.page == number
            assert tag.token == token
            assert tag.namespace == page.name
            assert 0x05 <= token <= 0x3F
            assert page.by_name[tag.name] is tag
        # Aliases never point outside their page.
        assert all(tag.page == number for tag in page.by_name.values())


def test_tags_are_unique_per_page_and_all_tags_lists_them_once() -> None:
    tags = all_tags()
    assert len(set(tags)) == len(tags)
    assert len(tags) == sum(len(page.by_token) for page in CODE_PAGES.values())
    assert len({(tag.page, tag.token) for tag in tags}) == len(tags)


@pytest.mark.parametrize(
    ("alias", "canonical", "token"),
    [
        # Provision 0x10 was renamed between protocol versions.
        ("Provision:DeviceEncryptionEnabled", "RequireStorageCardEncryption", 0x10),
        ("Contacts:BusinessCity", "BusinessAddressCity", 0x0D),
        ("Calendar:Organizer_Email", "OrganizerEmail", 0x19),
        ("ComposeMail:MIME", "Mime", 0x10),
        ("Email:Reply-To", "ReplyTo", 0x19),
        ("Settings:SmtpAddress", "SMTPAddress", 0x1F),
    ],
)
def test_aliases_resolve_to_the_canonical_tag(alias: str, canonical: str, token: int) -> None:
    tag = lookup_tag(alias)
    assert tag.name == canonical
    assert tag.token == token
    assert lookup_tag(f"{tag.namespace}:{canonical}") is tag


def test_byte_array_elements_are_opaque() -> None:
    # MS-ASDTYPE 2.7.1: byte arrays MUST be sent as WBXML opaque data.
    for qname in (
        "ComposeMail:Mime", "Email2:ConversationId", "Email2:ConversationIndex",
        "ItemOperations:ConversationId", "Search:ConversationId", "Gal:Data",
        "ResolveRecipients:Data", "AirSyncBase:Content",
    ):
        assert lookup_tag(qname).opaque, qname
    assert not lookup_tag("AirSyncBase:Data").opaque
    assert not lookup_tag("AirSync:SyncKey").opaque


@pytest.mark.parametrize("spelling", ["AirSync", "AirSync:", "airsync", "AIRSYNC:"])
def test_namespace_spellings(spelling: str) -> None:
    page = page_for_namespace(spelling)
    assert page is not None
    assert page.number == 0
    assert lookup_tag(spelling, "Sync") is lookup_tag("AirSync:Sync")


def test_libwbxml_namespace_name_for_page_6() -> None:
    page = page_for_namespace("ItemEstimate:")
    assert page is not None
    assert page.number == 6


def test_tag_accessors() -> None:
    tag = lookup_tag("FolderHierarchy:SyncKey")
    assert tag.qname == "FolderHierarchy:SyncKey"
    assert (tag.page, tag.token) == (7, 0x12)
    assert "0x12" in repr(tag)
    assert lookup_tag(tag) is tag
    assert CODE_PAGES[7].xml_namespace == "FolderHierarchy:"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("Sync",), "no namespace"),
        (("Nowhere:Sync",), "unknown ActiveSync namespace"),
        (("AirSync:Nothing",), "has no element"),
        (("AirSync", "Nothing"), "has no element"),
    ],
)
def test_lookup_errors(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(WbxmlEncodeError, match=message):
        lookup_tag(*args)
