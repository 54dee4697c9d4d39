"""The ActiveSync WBXML code pages 0-25 (MS-ASWBXML 2.1.2.1.1 - 2.1.2.1.26).

WBXML gives each element a one-byte token inside a *code page*; ActiveSync defines one
code page per XML namespace. This module is the single table both directions use:
``(page, token) -> Tag`` for the decoder and ``(namespace, name) -> Tag`` for the encoder.

Notes on the table, because the tokens changed over the protocol's life:

* Tokens marked "2.5" or "legacy" are gone from the current MS-ASWBXML tables but real
  EAS 2.5/12.x clients still send them (or older revisions of the document defined them),
  so they stay decodable. They never collide with a current token.
* Where a token was renamed, the current spec name is canonical (the decoder reports it)
  and the older or libwbxml spelling is an *alias* the encoder also accepts, e.g.
  Provision 0x10 ``RequireStorageCardEncryption`` / ``DeviceEncryptionEnabled`` and
  Contacts 0x0D ``BusinessAddressCity`` / ``BusinessCity``.
* Tags flagged ``opaque`` carry a byte array (MS-ASDTYPE 2.7.1: "MUST be encoded and
  transmitted as WBXML opaque data"). The XML/tree conveniences show their content as
  base64 and the encoder writes it as OPAQUE; any tag may still *arrive* as OPAQUE.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .errors import WbxmlEncodeError

FIRST_TAG_TOKEN = 0x05
"""Tokens 0x00-0x04 are WBXML global tokens (WBXML 1.3 section 7.1); tags start at 0x05."""
LAST_TAG_TOKEN = 0x3F
"""The low six bits of a tag byte hold the token (WBXML 1.3 section 5.8.2)."""


@dataclass(frozen=True, slots=True)
class Tag:
    """One element of one ActiveSync namespace: the unit both codec directions speak."""

    page: int
    token: int
    name: str
    namespace: str
    opaque: bool = False

    @property
    def qname(self) -> str:
        """``Namespace:Name``, the spelling used in logs and by :func:`lookup_tag`."""
        return f"{self.namespace}:{self.name}"

    def __repr__(self) -> str:
        return f"Tag({self.qname}, page={self.page}, token=0x{self.token:02X})"


@dataclass(frozen=True, slots=True)
class CodePage:
    """A WBXML code page: its number, its XML namespace name and its tags."""

    number: int
    name: str
    by_token: Mapping[int, Tag]
    by_name: Mapping[str, Tag]
    """Canonical names and aliases, both mapping to the canonical :class:`Tag`."""

    @property
    def xml_namespace(self) -> str:
        """The namespace URI as EAS XML writes it, e.g. ``AirSync:`` (MS-ASCMD 2.2.4)."""
        return f"{self.name}:"

    def tags(self) -> tuple[Tag, ...]:
        """Every canonical tag of the page, in token order."""
        return tuple(self.by_token[t] for t in sorted(self.by_token))


def _page(
    number: int,
    name: str,
    entries: Iterable[tuple[int, str]],
    *,
    aliases: Mapping[str, str] | None = None,
    opaque: Iterable[str] = (),
) -> CodePage:
    """Build a page, checking the table itself so a typo fails at import, not on the wire."""
    opaque_names = frozenset(opaque)
    by_token: dict[int, Tag] = {}
    by_name: dict[str, Tag] = {}
    for token, tag_name in entries:
        if not FIRST_TAG_TOKEN <= token <= LAST_TAG_TOKEN:
            raise ValueError(f"{name}: token 0x{token:02X} outside the tag range")
        if token in by_token or tag_name in by_name:
            raise ValueError(f"{name}: duplicate token 0x{token:02X} or name {tag_name}")
        tag = Tag(number, token, tag_name, name, tag_name in opaque_names)
        by_token[token] = tag
        by_name[tag_name] = tag
    if not opaque_names <= by_name.keys():
        raise ValueError(f"{name}: opaque names not in page: {opaque_names - by_name.keys()}")
    for alias, target in (aliases or {}).items():
        if alias in by_name or target not in by_name:
            raise ValueError(f"{name}: bad alias {alias} -> {target}")
        by_name[alias] = by_name[target]
    return CodePage(number, name, MappingProxyType(by_token), MappingProxyType(by_name))


# MS-ASWBXML 2.1.2.1.1 Code Page 0: AirSync
AIRSYNC = _page(
    0,
    "AirSync",
    [
        (0x05, "Sync"), (0x06, "Responses"), (0x07, "Add"), (0x08, "Change"),
        (0x09, "Delete"), (0x0A, "Fetch"), (0x0B, "SyncKey"), (0x0C, "ClientId"),
        (0x0D, "ServerId"), (0x0E, "Status"), (0x0F, "Collection"), (0x10, "Class"),
        (0x11, "Version"),  # legacy: early MS-ASWBXML revisions only
        (0x12, "CollectionId"), (0x13, "GetChanges"), (0x14, "MoreAvailable"),
        (0x15, "WindowSize"), (0x16, "Commands"), (0x17, "Options"), (0x18, "FilterType"),
        (0x19, "Truncation"),  # 2.5 (MS-ASCMD 2.2.3.185)
        (0x1A, "RTFTruncation"),  # 2.5, legacy
        (0x1B, "Conflict"), (0x1C, "Collections"), (0x1D, "ApplicationData"),
        (0x1E, "DeletesAsMoves"),
        (0x1F, "NotifyGUID"),  # legacy
        (0x20, "Supported"), (0x21, "SoftDelete"), (0x22, "MIMESupport"),
        (0x23, "MIMETruncation"), (0x24, "Wait"), (0x25, "Limit"), (0x26, "Partial"),
        (0x27, "ConversationMode"), (0x28, "MaxItems"), (0x29, "HeartbeatInterval"),
    ],
    aliases={"RtfTruncation": "RTFTruncation"},
)

# MS-ASWBXML 2.1.2.1.2 Code Page 1: Contacts
CONTACTS = _page(
    1,
    "Contacts",
    [
        (0x05, "Anniversary"), (0x06, "AssistantName"), (0x07, "AssistantPhoneNumber"),
        (0x08, "Birthday"),
        (0x09, "Body"), (0x0A, "BodySize"), (0x0B, "BodyTruncated"),  # 2.5
        (0x0C, "Business2PhoneNumber"), (0x0D, "BusinessAddressCity"),
        (0x0E, "BusinessAddressCountry"), (0x0F, "BusinessAddressPostalCode"),
        (0x10, "BusinessAddressState"), (0x11, "BusinessAddressStreet"),
        (0x12, "BusinessFaxNumber"), (0x13, "BusinessPhoneNumber"), (0x14, "CarPhoneNumber"),
        (0x15, "Categories"), (0x16, "Category"), (0x17, "Children"), (0x18, "Child"),
        (0x19, "CompanyName"), (0x1A, "Department"), (0x1B, "Email1Address"),
        (0x1C, "Email2Address"), (0x1D, "Email3Address"), (0x1E, "FileAs"),
        (0x1F, "FirstName"), (0x20, "Home2PhoneNumber"), (0x21, "HomeAddressCity"),
        (0x22, "HomeAddressCountry"), (0x23, "HomeAddressPostalCode"),
        (0x24, "HomeAddressState"), (0x25, "HomeAddressStreet"), (0x26, "HomeFaxNumber"),
        (0x27, "HomePhoneNumber"), (0x28, "JobTitle"), (0x29, "LastName"),
        (0x2A, "MiddleName"), (0x2B, "MobilePhoneNumber"), (0x2C, "OfficeLocation"),
        (0x2D, "OtherAddressCity"), (0x2E, "OtherAddressCountry"),
        (0x2F, "OtherAddressPostalCode"), (0x30, "OtherAddressState"),
        (0x31, "OtherAddressStreet"), (0x32, "PagerNumber"), (0x33, "RadioPhoneNumber"),
        (0x34, "Spouse"), (0x35, "Suffix"), (0x36, "Title"), (0x37, "WebPage"),
        (0x38, "YomiCompanyName"), (0x39, "YomiFirstName"), (0x3A, "YomiLastName"),
        (0x3B, "Rtf"),  # 2.5 (compressed RTF body)
        (0x3C, "Picture"), (0x3D, "Alias"), (0x3E, "WeightedRank"),
    ],
    aliases={
        "AssistnamePhoneNumber": "AssistantPhoneNumber",
        "AssistantTelephoneNumber": "AssistantPhoneNumber",
        "Business2TelephoneNumber": "Business2PhoneNumber",
        "BusinessTelephoneNumber": "BusinessPhoneNumber",
        "BusinessCity": "BusinessAddressCity",
        "BusinessCountry": "BusinessAddressCountry",
        "BusinessPostalCode": "BusinessAddressPostalCode",
        "BusinessState": "BusinessAddressState",
        "BusinessStreet": "BusinessAddressStreet",
        "HomeCity": "HomeAddressCity",
        "HomeCountry": "HomeAddressCountry",
        "HomePostalCode": "HomeAddressPostalCode",
        "HomeState": "HomeAddressState",
        "HomeStreet": "HomeAddressStreet",
        "OtherCity": "OtherAddressCity",
        "OtherCountry": "OtherAddressCountry",
        "OtherPostalCode": "OtherAddressPostalCode",
        "OtherState": "OtherAddressState",
        "OtherStreet": "OtherAddressStreet",
        "CompressedRTF": "Rtf",
    },
)

# MS-ASWBXML 2.1.2.1.3 Code Page 2: Email
EMAIL = _page(
    2,
    "Email",
    [
        # 0x05-0x0E: EAS 2.5 attachments and bodies (AirSyncBase replaced them in 12.0).
        (0x05, "Attachment"), (0x06, "Attachments"), (0x07, "AttName"), (0x08, "AttSize"),
        (0x09, "Att0Id"), (0x0A, "AttMethod"), (0x0B, "AttRemoved"), (0x0C, "Body"),
        (0x0D, "BodySize"), (0x0E, "BodyTruncated"),
        (0x0F, "DateReceived"),
        (0x10, "DisplayName"),  # 2.5
        (0x11, "DisplayTo"), (0x12, "Importance"), (0x13, "MessageClass"),
        (0x14, "Subject"), (0x15, "Read"), (0x16, "To"), (0x17, "Cc"), (0x18, "From"),
        (0x19, "ReplyTo"), (0x1A, "AllDayEvent"), (0x1B, "Categories"), (0x1C, "Category"),
        (0x1D, "DtStamp"), (0x1E, "EndTime"), (0x1F, "InstanceType"), (0x20, "BusyStatus"),
        (0x21, "Location"), (0x22, "MeetingRequest"), (0x23, "Organizer"),
        (0x24, "RecurrenceId"), (0x25, "Reminder"), (0x26, "ResponseRequested"),
        (0x27, "Recurrences"), (0x28, "Recurrence"), (0x29, "Type"), (0x2A, "Until"),
        (0x2B, "Occurrences"), (0x2C, "Interval"), (0x2D, "DayOfWeek"),
        (0x2E, "DayOfMonth"), (0x2F, "WeekOfMonth"), (0x30, "MonthOfYear"),
        (0x31, "StartTime"), (0x32, "Sensitivity"), (0x33, "TimeZone"),
        (0x34, "GlobalObjId"), (0x35, "ThreadTopic"),
        (0x36, "MIMEData"), (0x37, "MIMETruncated"), (0x38, "MIMESize"),  # 2.5
        (0x39, "InternetCPID"), (0x3A, "Flag"), (0x3B, "Status"), (0x3C, "ContentClass"),
        (0x3D, "FlagType"), (0x3E, "CompleteTime"), (0x3F, "DisallowNewTimeProposal"),
    ],
    aliases={
        "AttOId": "Att0Id",
        "Reply-To": "ReplyTo",
        "DTStamp": "DtStamp",
        "Recurrence_Type": "Type",
        "Recurrence_Until": "Until",
        "Recurrence_Occurrences": "Occurrences",
        "Recurrence_Interval": "Interval",
        "Recurrence_DayOfWeek": "DayOfWeek",
        "Recurrence_DayOfMonth": "DayOfMonth",
        "Recurrence_WeekOfMonth": "WeekOfMonth",
        "Recurrence_MonthOfYear": "MonthOfYear",
        "FlagStatus": "Status",
    },
)

# MS-ASWBXML 2.1.2.1.4 Code Page 3: AirNotify. "No longer in use"; tokens kept from the
# earlier revisions so an old device's request fails on meaning, not on decoding.
AIRNOTIFY = _page(
    3,
    "AirNotify",
    [
        (0x05, "Notify"), (0x06, "Notification"), (0x07, "Version"), (0x08, "Lifetime"),
        (0x09, "DeviceInfo"), (0x0A, "Enable"), (0x0B, "Folder"), (0x0C, "ServerId"),
        (0x0D, "DeviceAddress"), (0x0E, "ValidCarrierProfiles"), (0x0F, "CarrierProfile"),
        (0x10, "Status"), (0x11, "Responses"), (0x12, "Devices"), (0x13, "Device"),
        (0x14, "Id"), (0x15, "Expiry"), (0x16, "NotifyGUID"), (0x17, "DeviceFriendlyName"),
    ],
    aliases={"LifeTime": "Lifetime"},
)

# MS-ASWBXML 2.1.2.1.5 Code Page 4: Calendar
CALENDAR = _page(
    4,
    "Calendar",
    [
        (0x05, "Timezone"), (0x06, "AllDayEvent"), (0x07, "Attendees"), (0x08, "Attendee"),
        (0x09, "Email"), (0x0A, "Name"),
        (0x0B, "Body"), (0x0C, "BodyTruncated"),  # 2.5
        (0x0D, "BusyStatus"), (0x0E, "Categories"), (0x0F, "Category"),
        (0x10, "Rtf"),  # 2.5
        (0x11, "DtStamp"), (0x12, "EndTime"), (0x13, "Exception"), (0x14, "Exceptions"),
        (0x15, "Deleted"), (0x16, "ExceptionStartTime"), (0x17, "Location"),
        (0x18, "MeetingStatus"), (0x19, "OrganizerEmail"), (0x1A, "OrganizerName"),
        (0x1B, "Recurrence"), (0x1C, "Type"), (0x1D, "Until"), (0x1E, "Occurrences"),
        (0x1F, "Interval"), (0x20, "DayOfWeek"), (0x21, "DayOfMonth"),
        (0x22, "WeekOfMonth"), (0x23, "MonthOfYear"), (0x24, "Reminder"),
        (0x25, "Sensitivity"), (0x26, "Subject"), (0x27, "StartTime"), (0x28, "UID"),
        (0x29, "AttendeeStatus"), (0x2A, "AttendeeType"),
        # 0x2B-0x32 are not assigned.
        (0x33, "DisallowNewTimeProposal"), (0x34, "ResponseRequested"),
        (0x35, "AppointmentReplyTime"), (0x36, "ResponseType"), (0x37, "CalendarType"),
        (0x38, "IsLeapMonth"), (0x39, "FirstDayOfWeek"), (0x3A, "OnlineMeetingConfLink"),
        (0x3B, "OnlineMeetingExternalLink"),
        (0x3C, "ClientUid"),  # 16.0
    ],
    aliases={
        "TimeZone": "Timezone",
        "Attendee_Email": "Email",
        "Attendee_Name": "Name",
        "Compressed_RTF": "Rtf",
        "CompressedRTF": "Rtf",
        "DTStamp": "DtStamp",
        "Exception_Deleted": "Deleted",
        "Exception_IsDeleted": "Deleted",
        "Exception_StartTime": "ExceptionStartTime",
        "Organizer_Email": "OrganizerEmail",
        "Organizer_Name": "OrganizerName",
        "Recurrence_Type": "Type",
        "Recurrence_Until": "Until",
        "Recurrence_Occurrences": "Occurrences",
        "Recurrence_Interval": "Interval",
        "Recurrence_DayOfWeek": "DayOfWeek",
        "Recurrence_DayOfMonth": "DayOfMonth",
        "Recurrence_WeekOfMonth": "WeekOfMonth",
        "Recurrence_MonthOfYear": "MonthOfYear",
        "Attendee_Status": "AttendeeStatus",
        "Attendee_Type": "AttendeeType",
    },
)

# MS-ASWBXML 2.1.2.1.6 Code Page 5: Move
MOVE = _page(
    5,
    "Move",
    [
        (0x05, "MoveItems"), (0x06, "Move"), (0x07, "SrcMsgId"), (0x08, "SrcFldId"),
        (0x09, "DstFldId"), (0x0A, "Response"), (0x0B, "Status"), (0x0C, "DstMsgId"),
    ],
)

# MS-ASWBXML 2.1.2.1.7 Code Page 6: GetItemEstimate
GETITEMESTIMATE = _page(
    6,
    "GetItemEstimate",
    [
        (0x05, "GetItemEstimate"),
        (0x06, "Version"),  # 12.1 only
        (0x07, "Collections"), (0x08, "Collection"),
        (0x09, "Class"),  # 12.1 only
        (0x0A, "CollectionId"),
        (0x0B, "DateTime"),  # 12.1 only
        (0x0C, "Estimate"), (0x0D, "Response"), (0x0E, "Status"),
    ],
)

# MS-ASWBXML 2.1.2.1.8 Code Page 7: FolderHierarchy
FOLDERHIERARCHY = _page(
    7,
    "FolderHierarchy",
    [
        (0x05, "Folders"), (0x06, "Folder"),  # legacy
        (0x07, "DisplayName"), (0x08, "ServerId"), (0x09, "ParentId"), (0x0A, "Type"),
        (0x0B, "Response"),  # legacy
        (0x0C, "Status"),
        (0x0D, "ContentClass"),  # legacy
        (0x0E, "Changes"), (0x0F, "Add"), (0x10, "Delete"), (0x11, "Update"),
        (0x12, "SyncKey"), (0x13, "FolderCreate"), (0x14, "FolderDelete"),
        (0x15, "FolderUpdate"), (0x16, "FolderSync"), (0x17, "Count"),
        (0x18, "Version"),  # legacy
    ],
)

# MS-ASWBXML 2.1.2.1.9 Code Page 8: MeetingResponse
MEETINGRESPONSE = _page(
    8,
    "MeetingResponse",
    [
        (0x05, "CalendarId"), (0x06, "CollectionId"), (0x07, "MeetingResponse"),
        (0x08, "RequestId"), (0x09, "Request"), (0x0A, "Result"), (0x0B, "Status"),
        (0x0C, "UserResponse"),
        (0x0D, "Version"),  # legacy
        (0x0E, "InstanceId"),
        (0x10, "ProposedStartTime"), (0x11, "ProposedEndTime"),  # 16.1
        (0x12, "SendResponse"),  # 16.0
    ],
    aliases={"CallID": "CalendarId", "ReqId": "RequestId"},
)

# MS-ASWBXML 2.1.2.1.10 Code Page 9: Tasks
TASKS = _page(
    9,
    "Tasks",
    [
        (0x05, "Body"), (0x06, "BodySize"), (0x07, "BodyTruncated"),  # 2.5
        (0x08, "Categories"), (0x09, "Category"), (0x0A, "Complete"),
        (0x0B, "DateCompleted"), (0x0C, "DueDate"), (0x0D, "UtcDueDate"),
        (0x0E, "Importance"), (0x0F, "Recurrence"), (0x10, "Type"), (0x11, "Start"),
        (0x12, "Until"), (0x13, "Occurrences"), (0x14, "Interval"), (0x15, "DayOfMonth"),
        (0x16, "DayOfWeek"), (0x17, "WeekOfMonth"), (0x18, "MonthOfYear"),
        (0x19, "Regenerate"), (0x1A, "DeadOccur"), (0x1B, "ReminderSet"),
        (0x1C, "ReminderTime"), (0x1D, "Sensitivity"), (0x1E, "StartDate"),
        (0x1F, "UtcStartDate"), (0x20, "Subject"),
        (0x21, "Rtf"),  # 2.5
        (0x22, "OrdinalDate"), (0x23, "SubOrdinalDate"), (0x24, "CalendarType"),
        (0x25, "IsLeapMonth"), (0x26, "FirstDayOfWeek"),
    ],
    aliases={
        "UTCDueDate": "UtcDueDate",
        "UTCStartDate": "UtcStartDate",
        "Recurrence_Type": "Type",
        "Recurrence_Start": "Start",
        "Recurrence_Until": "Until",
        "Recurrence_Occurrences": "Occurrences",
        "Recurrence_Interval": "Interval",
        "Recurrence_DayOfMonth": "DayOfMonth",
        "Recurrence_DayOfWeek": "DayOfWeek",
        "Recurrence_WeekOfMonth": "WeekOfMonth",
        "Recurrence_MonthOfYear": "MonthOfYear",
        "Recurrence_Regenerate": "Regenerate",
        "Recurrence_DeadOccur": "DeadOccur",
        "CompressedRTF": "Rtf",
    },
)

# MS-ASWBXML 2.1.2.1.11 Code Page 10: ResolveRecipients
RESOLVERECIPIENTS = _page(
    10,
    "ResolveRecipients",
    [
        (0x05, "ResolveRecipients"), (0x06, "Response"), (0x07, "Status"), (0x08, "Type"),
        (0x09, "Recipient"), (0x0A, "DisplayName"), (0x0B, "EmailAddress"),
        (0x0C, "Certificates"), (0x0D, "Certificate"), (0x0E, "MiniCertificate"),
        (0x0F, "Options"), (0x10, "To"), (0x11, "CertificateRetrieval"),
        (0x12, "RecipientCount"), (0x13, "MaxCertificates"),
        (0x14, "MaxAmbiguousRecipients"), (0x15, "CertificateCount"),
        (0x16, "Availability"), (0x17, "StartTime"), (0x18, "EndTime"),
        (0x19, "MergedFreeBusy"), (0x1A, "Picture"), (0x1B, "MaxSize"), (0x1C, "Data"),
        (0x1D, "MaxPictures"),
    ],
    opaque=["Data"],
)

# MS-ASWBXML 2.1.2.1.12 Code Page 11: ValidateCert
VALIDATECERT = _page(
    11,
    "ValidateCert",
    [
        (0x05, "ValidateCert"), (0x06, "Certificates"), (0x07, "Certificate"),
        (0x08, "CertificateChain"), (0x09, "CheckCRL"), (0x0A, "Status"),
    ],
)

# MS-ASWBXML 2.1.2.1.13 Code Page 12: Contacts2
CONTACTS2 = _page(
    12,
    "Contacts2",
    [
        (0x05, "CustomerId"), (0x06, "GovernmentId"), (0x07, "IMAddress"),
        (0x08, "IMAddress2"), (0x09, "IMAddress3"), (0x0A, "ManagerName"),
        (0x0B, "CompanyMainPhone"), (0x0C, "AccountName"), (0x0D, "NickName"),
        (0x0E, "MMS"),
    ],
)

# MS-ASWBXML 2.1.2.1.14 Code Page 13: Ping
PING = _page(
    13,
    "Ping",
    [
        (0x05, "Ping"),
        (0x06, "AutdState"),  # defined but not used by the protocol
        (0x07, "Status"), (0x08, "HeartbeatInterval"), (0x09, "Folders"),
        (0x0A, "Folder"), (0x0B, "Id"), (0x0C, "Class"), (0x0D, "MaxFolders"),
    ],
)

# MS-ASWBXML 2.1.2.1.15 Code Page 14: Provision
PROVISION = _page(
    14,
    "Provision",
    [
        (0x05, "Provision"), (0x06, "Policies"), (0x07, "Policy"), (0x08, "PolicyType"),
        (0x09, "PolicyKey"), (0x0A, "Data"), (0x0B, "Status"), (0x0C, "RemoteWipe"),
        (0x0D, "EASProvisionDoc"), (0x0E, "DevicePasswordEnabled"),
        (0x0F, "AlphanumericDevicePasswordRequired"),
        (0x10, "RequireStorageCardEncryption"),
        (0x11, "PasswordRecoveryEnabled"),
        (0x12, "DocumentBrowseEnabled"),  # legacy
        (0x13, "AttachmentsEnabled"), (0x14, "MinDevicePasswordLength"),
        (0x15, "MaxInactivityTimeDeviceLock"), (0x16, "MaxDevicePasswordFailedAttempts"),
        (0x17, "MaxAttachmentSize"), (0x18, "AllowSimpleDevicePassword"),
        (0x19, "DevicePasswordExpiration"), (0x1A, "DevicePasswordHistory"),
        (0x1B, "AllowStorageCard"), (0x1C, "AllowCamera"), (0x1D, "RequireDeviceEncryption"),
        (0x1E, "AllowUnsignedApplications"), (0x1F, "AllowUnsignedInstallationPackages"),
        (0x20, "MinDevicePasswordComplexCharacters"), (0x21, "AllowWiFi"),
        (0x22, "AllowTextMessaging"), (0x23, "AllowPOPIMAPEmail"), (0x24, "AllowBluetooth"),
        (0x25, "AllowIrDA"), (0x26, "RequireManualSyncWhenRoaming"),
        (0x27, "AllowDesktopSync"), (0x28, "MaxCalendarAgeFilter"), (0x29, "AllowHTMLEmail"),
        (0x2A, "MaxEmailAgeFilter"), (0x2B, "MaxEmailBodyTruncationSize"),
        (0x2C, "MaxEmailHTMLBodyTruncationSize"), (0x2D, "RequireSignedSMIMEMessages"),
        (0x2E, "RequireEncryptedSMIMEMessages"), (0x2F, "RequireSignedSMIMEAlgorithm"),
        (0x30, "RequireEncryptionSMIMEAlgorithm"),
        (0x31, "AllowSMIMEEncryptionAlgorithmNegotiation"), (0x32, "AllowSMIMESoftCerts"),
        (0x33, "AllowBrowser"), (0x34, "AllowConsumerEmail"), (0x35, "AllowRemoteDesktop"),
        (0x36, "AllowInternetSharing"), (0x37, "UnapprovedInROMApplicationList"),
        (0x38, "ApplicationName"), (0x39, "ApprovedApplicationList"), (0x3A, "Hash"),
        (0x3B, "AccountOnlyRemoteWipe"),  # 16.1
    ],
    aliases={"DeviceEncryptionEnabled": "RequireStorageCardEncryption"},
)

# MS-ASWBXML 2.1.2.1.16 Code Page 15: Search (0x06 and 0x16 are not used)
SEARCH = _page(
    15,
    "Search",
    [
        (0x05, "Search"), (0x07, "Store"), (0x08, "Name"), (0x09, "Query"),
        (0x0A, "Options"), (0x0B, "Range"), (0x0C, "Status"), (0x0D, "Response"),
        (0x0E, "Result"), (0x0F, "Properties"), (0x10, "Total"), (0x11, "EqualTo"),
        (0x12, "Value"), (0x13, "And"), (0x14, "Or"), (0x15, "FreeText"),
        (0x17, "DeepTraversal"), (0x18, "LongId"), (0x19, "RebuildResults"),
        (0x1A, "LessThan"), (0x1B, "GreaterThan"),
        (0x1C, "Schema"), (0x1D, "Supported"),  # legacy
        (0x1E, "UserName"), (0x1F, "Password"), (0x20, "ConversationId"),
        (0x21, "Picture"), (0x22, "MaxSize"), (0x23, "MaxPictures"),
    ],
    opaque=["ConversationId"],
)

# MS-ASWBXML 2.1.2.1.17 Code Page 16: GAL (XML namespace "Gal")
GAL = _page(
    16,
    "Gal",
    [
        (0x05, "DisplayName"), (0x06, "Phone"), (0x07, "Office"), (0x08, "Title"),
        (0x09, "Company"), (0x0A, "Alias"), (0x0B, "FirstName"), (0x0C, "LastName"),
        (0x0D, "HomePhone"), (0x0E, "MobilePhone"), (0x0F, "EmailAddress"),
        (0x10, "Picture"), (0x11, "Status"), (0x12, "Data"),
    ],
    opaque=["Data"],
)

# MS-ASWBXML 2.1.2.1.18 Code Page 17: AirSyncBase (0x09 is not used)
AIRSYNCBASE = _page(
    17,
    "AirSyncBase",
    [
        (0x05, "BodyPreference"), (0x06, "Type"), (0x07, "TruncationSize"),
        (0x08, "AllOrNone"), (0x0A, "Body"), (0x0B, "Data"), (0x0C, "EstimatedDataSize"),
        (0x0D, "Truncated"), (0x0E, "Attachments"), (0x0F, "Attachment"),
        (0x10, "DisplayName"), (0x11, "FileReference"), (0x12, "Method"),
        (0x13, "ContentId"), (0x14, "ContentLocation"), (0x15, "IsInline"),
        (0x16, "NativeBodyType"), (0x17, "ContentType"), (0x18, "Preview"),
        (0x19, "BodyPartPreference"), (0x1A, "BodyPart"), (0x1B, "Status"),
        # 16.0 additions: attachment edits in Sync, locations.
        (0x1C, "Add"), (0x1D, "Delete"), (0x1E, "ClientId"), (0x1F, "Content"),
        (0x20, "Location"), (0x21, "Annotation"), (0x22, "Street"), (0x23, "City"),
        (0x24, "State"), (0x25, "Country"), (0x26, "PostalCode"), (0x27, "Latitude"),
        (0x28, "Longitude"), (0x29, "Accuracy"), (0x2A, "Altitude"),
        (0x2B, "AltitudeAccuracy"), (0x2C, "LocationUri"), (0x2D, "InstanceId"),
    ],
    opaque=["Content"],
)

# MS-ASWBXML 2.1.2.1.19 Code Page 18: Settings (0x2A is not used)
SETTINGS = _page(
    18,
    "Settings",
    [
        (0x05, "Settings"), (0x06, "Status"), (0x07, "Get"), (0x08, "Set"), (0x09, "Oof"),
        (0x0A, "OofState"), (0x0B, "StartTime"), (0x0C, "EndTime"), (0x0D, "OofMessage"),
        (0x0E, "AppliesToInternal"), (0x0F, "AppliesToExternalKnown"),
        (0x10, "AppliesToExternalUnknown"), (0x11, "Enabled"), (0x12, "ReplyMessage"),
        (0x13, "BodyType"), (0x14, "DevicePassword"), (0x15, "Password"),
        (0x16, "DeviceInformation"), (0x17, "Model"), (0x18, "IMEI"),
        (0x19, "FriendlyName"), (0x1A, "OS"), (0x1B, "OSLanguage"), (0x1C, "PhoneNumber"),
        (0x1D, "UserInformation"), (0x1E, "EmailAddresses"), (0x1F, "SMTPAddress"),
        (0x20, "UserAgent"), (0x21, "EnableOutboundSMS"), (0x22, "MobileOperator"),
        (0x23, "PrimarySmtpAddress"), (0x24, "Accounts"), (0x25, "Account"),
        (0x26, "AccountId"), (0x27, "AccountName"), (0x28, "UserDisplayName"),
        (0x29, "SendDisabled"), (0x2B, "ihsManagementInformation"),
    ],
    aliases={"SmtpAddress": "SMTPAddress", "DeviceInformaton": "DeviceInformation"},
)

# MS-ASWBXML 2.1.2.1.20 Code Page 19: DocumentLibrary
DOCUMENTLIBRARY = _page(
    19,
    "DocumentLibrary",
    [
        (0x05, "LinkId"), (0x06, "DisplayName"), (0x07, "IsFolder"), (0x08, "CreationDate"),
        (0x09, "LastModifiedDate"), (0x0A, "IsHidden"), (0x0B, "ContentLength"),
        (0x0C, "ContentType"),
    ],
)

# MS-ASWBXML 2.1.2.1.21 Code Page 20: ItemOperations
ITEMOPERATIONS = _page(
    20,
    "ItemOperations",
    [
        (0x05, "ItemOperations"), (0x06, "Fetch"), (0x07, "Store"), (0x08, "Options"),
        (0x09, "Range"), (0x0A, "Total"), (0x0B, "Properties"), (0x0C, "Data"),
        (0x0D, "Status"), (0x0E, "Response"), (0x0F, "Version"), (0x10, "Schema"),
        (0x11, "Part"), (0x12, "EmptyFolderContents"), (0x13, "DeleteSubFolders"),
        (0x14, "UserName"), (0x15, "Password"), (0x16, "Move"), (0x17, "DstFldId"),
        (0x18, "ConversationId"), (0x19, "MoveAlways"),
    ],
    opaque=["ConversationId"],
)

# MS-ASWBXML 2.1.2.1.22 Code Page 21: ComposeMail (0x0A and 0x14 are not used)
COMPOSEMAIL = _page(
    21,
    "ComposeMail",
    [
        (0x05, "SendMail"), (0x06, "SmartForward"), (0x07, "SmartReply"),
        (0x08, "SaveInSentItems"), (0x09, "ReplaceMime"), (0x0B, "Source"),
        (0x0C, "FolderId"), (0x0D, "ItemId"), (0x0E, "LongId"), (0x0F, "InstanceId"),
        (0x10, "Mime"), (0x11, "ClientId"), (0x12, "Status"), (0x13, "AccountId"),
        (0x15, "Forwardees"), (0x16, "Forwardee"), (0x17, "ForwardeeName"),
        (0x18, "ForwardeeEmail"),  # 0x15-0x18: 16.0
    ],
    aliases={"MIME": "Mime"},
    opaque=["Mime"],
)

# MS-ASWBXML 2.1.2.1.23 Code Page 22: Email2 (0x14 is not used)
EMAIL2 = _page(
    22,
    "Email2",
    [
        (0x05, "UmCallerID"), (0x06, "UmUserNotes"), (0x07, "UmAttDuration"),
        (0x08, "UmAttOrder"), (0x09, "ConversationId"), (0x0A, "ConversationIndex"),
        (0x0B, "LastVerbExecuted"), (0x0C, "LastVerbExecutionTime"),
        (0x0D, "ReceivedAsBcc"), (0x0E, "Sender"), (0x0F, "CalendarType"),
        (0x10, "IsLeapMonth"), (0x11, "AccountId"), (0x12, "FirstDayOfWeek"),
        (0x13, "MeetingMessageType"),
        (0x15, "IsDraft"), (0x16, "Bcc"), (0x17, "Send"),  # 16.0
    ],
    opaque=["ConversationId", "ConversationIndex"],
)

# MS-ASWBXML 2.1.2.1.24 Code Page 23: Notes
NOTES = _page(
    23,
    "Notes",
    [
        (0x05, "Subject"), (0x06, "MessageClass"), (0x07, "LastModifiedDate"),
        (0x08, "Categories"), (0x09, "Category"),
    ],
)

# MS-ASWBXML 2.1.2.1.25 Code Page 24: RightsManagement
RIGHTSMANAGEMENT = _page(
    24,
    "RightsManagement",
    [
        (0x05, "RightsManagementSupport"), (0x06, "RightsManagementTemplates"),
        (0x07, "RightsManagementTemplate"), (0x08, "RightsManagementLicense"),
        (0x09, "EditAllowed"), (0x0A, "ReplyAllowed"), (0x0B, "ReplyAllAllowed"),
        (0x0C, "ForwardAllowed"), (0x0D, "ModifyRecipientsAllowed"),
        (0x0E, "ExtractAllowed"), (0x0F, "PrintAllowed"), (0x10, "ExportAllowed"),
        (0x11, "ProgrammaticAccessAllowed"), (0x12, "Owner"), (0x13, "ContentExpiryDate"),
        (0x14, "TemplateID"), (0x15, "TemplateName"), (0x16, "TemplateDescription"),
        (0x17, "ContentOwner"), (0x18, "RemoveRightsManagementProtection"),
    ],
    aliases={
        "RMOwner": "Owner",
        "RemoveRightsManagementDistribution": "RemoveRightsManagementProtection",
    },
)

# MS-ASWBXML 2.1.2.1.26 Code Page 25: Find (16.1; 0x0F, 0x10 and 0x1A-0x1F are not used)
FIND = _page(
    25,
    "Find",
    [
        (0x05, "Find"), (0x06, "SearchId"), (0x07, "ExecuteSearch"),
        (0x08, "MailBoxSearchCriterion"), (0x09, "Query"), (0x0A, "Status"),
        (0x0B, "FreeText"), (0x0C, "Options"), (0x0D, "Range"), (0x0E, "DeepTraversal"),
        (0x11, "Response"), (0x12, "Result"), (0x13, "Properties"), (0x14, "Preview"),
        (0x15, "HasAttachments"), (0x16, "Total"), (0x17, "DisplayCc"),
        (0x18, "DisplayBcc"), (0x19, "GalSearchCriterion"), (0x20, "MaxPictures"),
        (0x21, "MaxSize"), (0x22, "Picture"),
    ],
)

CODE_PAGES: Mapping[int, CodePage] = MappingProxyType(
    {
        page.number: page
        for page in (
            AIRSYNC, CONTACTS, EMAIL, AIRNOTIFY, CALENDAR, MOVE, GETITEMESTIMATE,
            FOLDERHIERARCHY, MEETINGRESPONSE, TASKS, RESOLVERECIPIENTS, VALIDATECERT,
            CONTACTS2, PING, PROVISION, SEARCH, GAL, AIRSYNCBASE, SETTINGS,
            DOCUMENTLIBRARY, ITEMOPERATIONS, COMPOSEMAIL, EMAIL2, NOTES,
            RIGHTSMANAGEMENT, FIND,
        )
    }
)
"""Every ActiveSync code page by number (0-25)."""

# Namespace spellings seen in the wild besides the page names: libwbxml calls page 6
# "ItemEstimate", the MS-ASWBXML table heading calls page 16 "GAL".
_NAMESPACE_ALIASES = {"itemestimate": 6}
_BY_NAMESPACE: Mapping[str, CodePage] = MappingProxyType(
    {page.name.lower(): page for page in CODE_PAGES.values()}
    | {alias: CODE_PAGES[number] for alias, number in _NAMESPACE_ALIASES.items()}
)


def page_for_namespace(namespace: str) -> CodePage | None:
    """The code page of an XML namespace: ``AirSync:``, ``AirSync`` or ``airsync``.

    EAS XML writes namespaces as ``Name:`` (MS-ASCMD examples) while the schemas use the
    bare name; devices' logs show both and both cases, so the match is lenient.
    """
    key = namespace[:-1] if namespace.endswith(":") else namespace
    return _BY_NAMESPACE.get(key.lower())


def lookup_tag(tag: str | Tag, name: str | None = None) -> Tag:
    """Resolve ``"AirSync:Sync"``, ``("AirSync", "Sync")`` or a :class:`Tag` to a Tag.

    Raises :class:`WbxmlEncodeError` for an unknown namespace or element, because the
    only callers are encoders turning names into tokens.
    """
    if isinstance(tag, Tag):
        return tag
    if name is None:
        namespace, sep, name = tag.partition(":")
        if not sep:
            raise WbxmlEncodeError(f"element name {tag!r} has no namespace prefix")
    else:
        namespace = tag
    page = page_for_namespace(namespace)
    if page is None:
        raise WbxmlEncodeError(f"unknown ActiveSync namespace {namespace!r}")
    found = page.by_name.get(name)
    if found is None:
        raise WbxmlEncodeError(f"{page.name} has no element {name!r}")
    return found


def all_tags() -> tuple[Tag, ...]:
    """Every canonical tag of every page, page by page in token order."""
    return tuple(tag for number in sorted(CODE_PAGES) for tag in CODE_PAGES[number].tags())
