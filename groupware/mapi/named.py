"""Named properties: property sets, the NamedProperty value type and PidLid/PidName defs.

A named property is identified by a property-set GUID plus either a 32-bit LID
(MNID_ID) or a Unicode name (MNID_STRING); each store maps it to a property id of
0x8000 or above (MS-OXCDATA 2.6, MS-OXPROPS 1.3.2). :class:`NamedProperty` is that
identity, hashable so it can key the per-store mapping; :func:`encode_property_name`
and :func:`decode_property_name` are the PropertyName structure of MS-OXCDATA 2.6.1
used by RopGetPropertyIdsFromNames / RopGetNamesFromPropertyIds.

Names in PS_INTERNET_HEADERS are compared case-insensitively (they are header field
names, RFC 5322 section 1.2.2), so ``NamedProperty`` lower-cases them there.

The table lists the PidLid*/PidName* properties of MS-OXPROPS section 2 that mail,
calendar, contacts, tasks, notes and journal need, one per line as ``<canonical
name> <property set> <LID | "name" | *> <data type>``, where ``*`` stands for the
canonical name without its ``PidName`` prefix.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from groupware.mapi.buffer import Reader, Writer
from groupware.mapi.errors import MapiFormatError
from groupware.mapi.proptypes import PropType, type_by_name

PS_MAPI = uuid.UUID("00020328-0000-0000-c000-000000000046")
PS_PUBLIC_STRINGS = uuid.UUID("00020329-0000-0000-c000-000000000046")
PS_INTERNET_HEADERS = uuid.UUID("00020386-0000-0000-c000-000000000046")
PSETID_Common = uuid.UUID("00062008-0000-0000-c000-000000000046")
PSETID_Address = uuid.UUID("00062004-0000-0000-c000-000000000046")
PSETID_Appointment = uuid.UUID("00062002-0000-0000-c000-000000000046")
PSETID_Meeting = uuid.UUID("6ed8da90-450b-101b-98da-00aa003f1305")
PSETID_Task = uuid.UUID("00062003-0000-0000-c000-000000000046")
PSETID_Note = uuid.UUID("0006200e-0000-0000-c000-000000000046")
PSETID_Log = uuid.UUID("0006200a-0000-0000-c000-000000000046")
PSETID_Sharing = uuid.UUID("00062040-0000-0000-c000-000000000046")
PSETID_PostRss = uuid.UUID("00062041-0000-0000-c000-000000000046")
PSETID_UnifiedMessaging = uuid.UUID("4442858e-a9e3-4e80-b900-317a210cc15b")
PSETID_AirSync = uuid.UUID("71035549-0739-4dcb-9163-00f0580dbbdf")
PSETID_Messaging = uuid.UUID("41f28f13-83f4-4114-a584-eedb5a6b0bff")
PSETID_CalendarAssistant = uuid.UUID("11000e07-b51b-40d6-af21-caa85edab1d0")
PSETID_Attachment = uuid.UUID("96357f7f-59e1-47d0-99a7-46515c183b54")
PSETID_XmlExtractedEntities = uuid.UUID("23239608-685d-4732-9c55-4c95cb4e8e33")

PROPERTY_SETS: dict[str, uuid.UUID] = {
    "PS_MAPI": PS_MAPI,
    "PS_PUBLIC_STRINGS": PS_PUBLIC_STRINGS,
    "PS_INTERNET_HEADERS": PS_INTERNET_HEADERS,
    "PSETID_Common": PSETID_Common,
    "PSETID_Address": PSETID_Address,
    "PSETID_Appointment": PSETID_Appointment,
    "PSETID_Meeting": PSETID_Meeting,
    "PSETID_Task": PSETID_Task,
    "PSETID_Note": PSETID_Note,
    "PSETID_Log": PSETID_Log,
    "PSETID_Sharing": PSETID_Sharing,
    "PSETID_PostRss": PSETID_PostRss,
    "PSETID_UnifiedMessaging": PSETID_UnifiedMessaging,
    "PSETID_AirSync": PSETID_AirSync,
    "PSETID_Messaging": PSETID_Messaging,
    "PSETID_CalendarAssistant": PSETID_CalendarAssistant,
    "PSETID_Attachment": PSETID_Attachment,
    "PSETID_XmlExtractedEntities": PSETID_XmlExtractedEntities,
}
"""Property sets by their MS-OXPROPS 1.3.2 names."""

KIND_LID = 0x00
KIND_NAME = 0x01
KIND_NONE = 0xFF
MAX_NAME_BYTES = 255
"""NameSize is one byte, so a name is at most 255 bytes of UTF-16 with terminator."""


@dataclass(frozen=True)
class NamedProperty:
    """A property-set GUID plus exactly one of a LID or a name."""

    guid: uuid.UUID
    lid: int | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if (self.lid is None) == (self.name is None):
            raise MapiFormatError("a named property has either a LID or a name")
        if self.lid is not None and not 0 <= self.lid <= 0xFFFFFFFF:
            raise MapiFormatError(f"LID {self.lid} outside 32 bits")
        if self.name is not None:
            if "\x00" in self.name:
                raise MapiFormatError("a property name cannot contain U+0000")
            if self.guid == PS_INTERNET_HEADERS and self.name != self.name.lower():
                object.__setattr__(self, "name", self.name.lower())

    @classmethod
    def by_lid(cls, guid: uuid.UUID, lid: int) -> NamedProperty:
        return cls(guid, lid=lid)

    @classmethod
    def by_name(cls, guid: uuid.UUID, name: str) -> NamedProperty:
        return cls(guid, name=name)

    @property
    def is_lid(self) -> bool:
        return self.lid is not None

    def __str__(self) -> str:
        key = f"0x{self.lid:08X}" if self.lid is not None else repr(self.name)
        return f"{{{self.guid}}}:{key}"


def encode_property_name(w: Writer, prop: NamedProperty | None) -> None:
    """PropertyName (MS-OXCDATA 2.6.1); ``None`` writes Kind 0xFF (no name)."""
    if prop is None:
        w.u8(KIND_NONE)
        w.raw(b"\x00" * 16)
        return
    if prop.lid is not None:
        w.u8(KIND_LID)
        w.guid(prop.guid)
        w.u32(prop.lid, "LID")
        return
    assert prop.name is not None
    raw = prop.name.encode("utf-16-le", "strict") + b"\x00\x00"
    if len(raw) > MAX_NAME_BYTES:
        raise MapiFormatError(f"property name of {len(raw)} bytes exceeds NameSize")
    w.u8(KIND_NAME)
    w.guid(prop.guid)
    w.u8(len(raw), "NameSize")
    w.raw(raw)


def decode_property_name(r: Reader) -> NamedProperty | None:
    """Read a PropertyName; Kind 0xFF yields ``None``.

    NameSize counts the bytes of Name including its two-byte terminator, which
    is stripped (a missing terminator is tolerated).
    """
    kind = r.u8("Kind")
    guid = r.guid("property set GUID")
    if kind == KIND_LID:
        return NamedProperty(guid, lid=r.u32("LID"))
    if kind == KIND_NAME:
        size = r.u8("NameSize")
        raw = r.take(size, "Name")
        if size % 2:
            raise MapiFormatError("odd NameSize for a UTF-16 name")
        if raw.endswith(b"\x00\x00"):
            raw = raw[:-2]
        try:
            name = raw.decode("utf-16-le")
        except UnicodeDecodeError:
            raise MapiFormatError("property name is not valid UTF-16") from None
        if "\x00" in name:
            raise MapiFormatError("property name contains U+0000")
        return NamedProperty(guid, name=name)
    if kind == KIND_NONE:
        return None
    raise MapiFormatError(f"invalid PropertyName Kind 0x{kind:02X}")


@dataclass(frozen=True)
class NamedPropertyDef:
    """A canonical PidLid*/PidName* definition: identity and data type."""

    canonical_name: str
    prop: NamedProperty
    prop_type: PropType


_TABLE = """
# --- PSETID_Appointment (MS-OXOCAL)
PidLidSendMeetingAsIcal PSETID_Appointment 0x8200 PtypBoolean
PidLidAppointmentSequence PSETID_Appointment 0x8201 PtypInteger32
PidLidAppointmentSequenceTime PSETID_Appointment 0x8202 PtypTime
PidLidAppointmentLastSequence PSETID_Appointment 0x8203 PtypInteger32
PidLidChangeHighlight PSETID_Appointment 0x8204 PtypInteger32
PidLidBusyStatus PSETID_Appointment 0x8205 PtypInteger32
PidLidFExceptionalBody PSETID_Appointment 0x8206 PtypBoolean
PidLidAppointmentAuxiliaryFlags PSETID_Appointment 0x8207 PtypInteger32
PidLidLocation PSETID_Appointment 0x8208 PtypString
PidLidMeetingWorkspaceUrl PSETID_Appointment 0x8209 PtypString
PidLidForwardInstance PSETID_Appointment 0x820A PtypBoolean
PidLidLinkedTaskItems PSETID_Appointment 0x820C PtypMultipleBinary
PidLidAppointmentStartWhole PSETID_Appointment 0x820D PtypTime
PidLidAppointmentEndWhole PSETID_Appointment 0x820E PtypTime
PidLidAppointmentStartTime PSETID_Appointment 0x820F PtypTime
PidLidAppointmentEndTime PSETID_Appointment 0x8210 PtypTime
PidLidAppointmentEndDate PSETID_Appointment 0x8211 PtypTime
PidLidAppointmentStartDate PSETID_Appointment 0x8212 PtypTime
PidLidAppointmentDuration PSETID_Appointment 0x8213 PtypInteger32
PidLidAppointmentColor PSETID_Appointment 0x8214 PtypInteger32
PidLidAppointmentSubType PSETID_Appointment 0x8215 PtypBoolean
PidLidAppointmentRecur PSETID_Appointment 0x8216 PtypBinary
PidLidAppointmentStateFlags PSETID_Appointment 0x8217 PtypInteger32
PidLidResponseStatus PSETID_Appointment 0x8218 PtypInteger32
PidLidAppointmentReplyTime PSETID_Appointment 0x8220 PtypTime
PidLidRecurring PSETID_Appointment 0x8223 PtypBoolean
PidLidIntendedBusyStatus PSETID_Appointment 0x8224 PtypInteger32
PidLidAppointmentUpdateTime PSETID_Appointment 0x8226 PtypTime
PidLidExceptionReplaceTime PSETID_Appointment 0x8228 PtypTime
PidLidFInvited PSETID_Appointment 0x8229 PtypBoolean
PidLidAppointmentReplyName PSETID_Appointment 0x8230 PtypString
PidLidRecurrenceType PSETID_Appointment 0x8231 PtypInteger32
PidLidRecurrencePattern PSETID_Appointment 0x8232 PtypString
PidLidTimeZoneStruct PSETID_Appointment 0x8233 PtypBinary
PidLidTimeZoneDescription PSETID_Appointment 0x8234 PtypString
PidLidClipStart PSETID_Appointment 0x8235 PtypTime
PidLidClipEnd PSETID_Appointment 0x8236 PtypTime
PidLidOriginalStoreEntryId PSETID_Appointment 0x8237 PtypBinary
PidLidAllAttendeesString PSETID_Appointment 0x8238 PtypString
PidLidAutoFillLocation PSETID_Appointment 0x823A PtypBoolean
PidLidToAttendeesString PSETID_Appointment 0x823B PtypString
PidLidCcAttendeesString PSETID_Appointment 0x823C PtypString
PidLidConferencingCheck PSETID_Appointment 0x8240 PtypBoolean
PidLidConferencingType PSETID_Appointment 0x8241 PtypInteger32
PidLidDirectory PSETID_Appointment 0x8242 PtypString
PidLidOrganizerAlias PSETID_Appointment 0x8243 PtypString
PidLidAutoStartCheck PSETID_Appointment 0x8244 PtypBoolean
PidLidAllowExternalCheck PSETID_Appointment 0x8246 PtypBoolean
PidLidCollaborateDoc PSETID_Appointment 0x8247 PtypString
PidLidNetShowUrl PSETID_Appointment 0x8248 PtypString
PidLidOnlinePassword PSETID_Appointment 0x8249 PtypString
PidLidAppointmentProposedStartWhole PSETID_Appointment 0x8250 PtypTime
PidLidAppointmentProposedEndWhole PSETID_Appointment 0x8251 PtypTime
PidLidAppointmentProposedDuration PSETID_Appointment 0x8256 PtypInteger32
PidLidAppointmentCounterProposal PSETID_Appointment 0x8257 PtypBoolean
PidLidAppointmentProposalNumber PSETID_Appointment 0x8259 PtypInteger32
PidLidAppointmentNotAllowPropose PSETID_Appointment 0x825A PtypBoolean
PidLidAppointmentUnsendableRecipients PSETID_Appointment 0x825D PtypBinary
PidLidAppointmentTimeZoneDefinitionStartDisplay PSETID_Appointment 0x825E PtypBinary
PidLidAppointmentTimeZoneDefinitionEndDisplay PSETID_Appointment 0x825F PtypBinary
PidLidAppointmentTimeZoneDefinitionRecur PSETID_Appointment 0x8260 PtypBinary
PidLidForwardNotificationRecipients PSETID_Appointment 0x8261 PtypBinary
PidLidInboundICalStream PSETID_Appointment 0x827A PtypBinary
PidLidSingleBodyICal PSETID_Appointment 0x827B PtypBoolean
# --- PSETID_Meeting (MS-OXOCAL meeting objects)
PidLidAttendeeCriticalChange PSETID_Meeting 0x0001 PtypTime
PidLidWhere PSETID_Meeting 0x0002 PtypString
PidLidGlobalObjectId PSETID_Meeting 0x0003 PtypBinary
PidLidIsSilent PSETID_Meeting 0x0004 PtypBoolean
PidLidIsRecurring PSETID_Meeting 0x0005 PtypBoolean
PidLidRequiredAttendees PSETID_Meeting 0x0006 PtypString
PidLidOptionalAttendees PSETID_Meeting 0x0007 PtypString
PidLidResourceAttendees PSETID_Meeting 0x0008 PtypString
PidLidDelegateMail PSETID_Meeting 0x0009 PtypBoolean
PidLidIsException PSETID_Meeting 0x000A PtypBoolean
PidLidSingleInvite PSETID_Meeting 0x000B PtypBoolean
PidLidTimeZone PSETID_Meeting 0x000C PtypInteger32
PidLidStartRecurrenceDate PSETID_Meeting 0x000D PtypInteger32
PidLidStartRecurrenceTime PSETID_Meeting 0x000E PtypInteger32
PidLidEndRecurrenceDate PSETID_Meeting 0x000F PtypInteger32
PidLidEndRecurrenceTime PSETID_Meeting 0x0010 PtypInteger32
PidLidDayInterval PSETID_Meeting 0x0011 PtypInteger16
PidLidWeekInterval PSETID_Meeting 0x0012 PtypInteger16
PidLidMonthInterval PSETID_Meeting 0x0013 PtypInteger16
PidLidYearInterval PSETID_Meeting 0x0014 PtypInteger16
PidLidDayOfWeekMask PSETID_Meeting 0x0015 PtypInteger32
PidLidDayOfMonthMask PSETID_Meeting 0x0016 PtypInteger32
PidLidMonthOfYearMask PSETID_Meeting 0x0017 PtypInteger32
PidLidOldRecurrenceType PSETID_Meeting 0x0018 PtypInteger16
PidLidOwnerCriticalChange PSETID_Meeting 0x001A PtypTime
PidLidCalendarType PSETID_Meeting 0x001C PtypInteger32
PidLidCleanGlobalObjectId PSETID_Meeting 0x0023 PtypBinary
PidLidAppointmentMessageClass PSETID_Meeting 0x0024 PtypString
PidLidMeetingType PSETID_Meeting 0x0026 PtypInteger32
PidLidOldLocation PSETID_Meeting 0x0028 PtypString
PidLidOldWhenStartWhole PSETID_Meeting 0x0029 PtypTime
PidLidOldWhenEndWhole PSETID_Meeting 0x002A PtypTime
# --- PSETID_Common (reminders, flags, categories of any item)
PidLidReminderDelta PSETID_Common 0x8501 PtypInteger32
PidLidReminderTime PSETID_Common 0x8502 PtypTime
PidLidReminderSet PSETID_Common 0x8503 PtypBoolean
PidLidPrivate PSETID_Common 0x8506 PtypBoolean
PidLidAgingDontAgeMe PSETID_Common 0x850E PtypBoolean
PidLidSideEffects PSETID_Common 0x8510 PtypInteger32
PidLidRemoteStatus PSETID_Common 0x8511 PtypInteger32
PidLidSmartNoAttach PSETID_Common 0x8514 PtypBoolean
PidLidCommonStart PSETID_Common 0x8516 PtypTime
PidLidCommonEnd PSETID_Common 0x8517 PtypTime
PidLidTaskMode PSETID_Common 0x8518 PtypInteger32
PidLidTaskGlobalId PSETID_Common 0x8519 PtypBinary
PidLidAutoProcessState PSETID_Common 0x851A PtypInteger32
PidLidReminderOverride PSETID_Common 0x851C PtypBoolean
PidLidReminderPlaySound PSETID_Common 0x851E PtypBoolean
PidLidReminderFileParameter PSETID_Common 0x851F PtypString
PidLidVerbStream PSETID_Common 0x8520 PtypBinary
PidLidVerbResponse PSETID_Common 0x8524 PtypString
PidLidFlagRequest PSETID_Common 0x8530 PtypString
PidLidMileage PSETID_Common 0x8534 PtypString
PidLidBilling PSETID_Common 0x8535 PtypString
PidLidCompanies PSETID_Common 0x8539 PtypMultipleString
PidLidContacts PSETID_Common 0x853A PtypMultipleString
PidLidCurrentVersion PSETID_Common 0x8552 PtypInteger32
PidLidCurrentVersionName PSETID_Common 0x8554 PtypString
PidLidReminderSignalTime PSETID_Common 0x8560 PtypTime
PidLidHeaderItem PSETID_Common 0x8578 PtypInteger32
PidLidInternetAccountName PSETID_Common 0x8580 PtypString
PidLidInternetAccountStamp PSETID_Common 0x8581 PtypString
PidLidUseTnef PSETID_Common 0x8582 PtypBoolean
PidLidContactLinkEntry PSETID_Common 0x8585 PtypBinary
PidLidContactLinkName PSETID_Common 0x8586 PtypString
PidLidSpamOriginalFolder PSETID_Common 0x859C PtypBinary
PidLidToDoOrdinalDate PSETID_Common 0x85A0 PtypTime
PidLidToDoSubOrdinal PSETID_Common 0x85A1 PtypString
PidLidToDoTitle PSETID_Common 0x85A4 PtypString
PidLidInfoPathFormName PSETID_Common 0x85B1 PtypString
PidLidClassified PSETID_Common 0x85B5 PtypBoolean
PidLidValidFlagStringProof PSETID_Common 0x85BF PtypTime
PidLidFlagString PSETID_Common 0x85C0 PtypInteger32
# --- PSETID_Task (MS-OXOTASK)
PidLidTaskStatus PSETID_Task 0x8101 PtypInteger32
PidLidPercentComplete PSETID_Task 0x8102 PtypFloating64
PidLidTeamTask PSETID_Task 0x8103 PtypBoolean
PidLidTaskStartDate PSETID_Task 0x8104 PtypTime
PidLidTaskDueDate PSETID_Task 0x8105 PtypTime
PidLidTaskResetReminder PSETID_Task 0x8107 PtypBoolean
PidLidTaskAccepted PSETID_Task 0x8108 PtypBoolean
PidLidTaskDeadOccurrence PSETID_Task 0x8109 PtypBoolean
PidLidTaskDateCompleted PSETID_Task 0x810F PtypTime
PidLidTaskActualEffort PSETID_Task 0x8110 PtypInteger32
PidLidTaskEstimatedEffort PSETID_Task 0x8111 PtypInteger32
PidLidTaskVersion PSETID_Task 0x8112 PtypInteger32
PidLidTaskState PSETID_Task 0x8113 PtypInteger32
PidLidTaskLastUpdate PSETID_Task 0x8115 PtypTime
PidLidTaskRecurrence PSETID_Task 0x8116 PtypBinary
PidLidTaskAssigners PSETID_Task 0x8117 PtypBinary
PidLidTaskStatusOnComplete PSETID_Task 0x8119 PtypBoolean
PidLidTaskHistory PSETID_Task 0x811A PtypInteger32
PidLidTaskUpdates PSETID_Task 0x811B PtypBoolean
PidLidTaskComplete PSETID_Task 0x811C PtypBoolean
PidLidTaskFCreator PSETID_Task 0x811E PtypBoolean
PidLidTaskOwner PSETID_Task 0x811F PtypString
PidLidTaskMultipleRecipients PSETID_Task 0x8120 PtypInteger32
PidLidTaskAssigner PSETID_Task 0x8121 PtypString
PidLidTaskLastUser PSETID_Task 0x8122 PtypString
PidLidTaskOrdinal PSETID_Task 0x8123 PtypInteger32
PidLidTaskNoCompute PSETID_Task 0x8124 PtypBoolean
PidLidTaskLastDelegate PSETID_Task 0x8125 PtypString
PidLidTaskFRecurring PSETID_Task 0x8126 PtypBoolean
PidLidTaskRole PSETID_Task 0x8127 PtypString
PidLidTaskOwnership PSETID_Task 0x8129 PtypInteger32
PidLidTaskAcceptanceState PSETID_Task 0x812A PtypInteger32
PidLidTaskFFixOffline PSETID_Task 0x812C PtypBoolean
PidLidTaskCustomFlags PSETID_Task 0x8139 PtypInteger32
# --- PSETID_Address (MS-OXOCNTC contacts and distribution lists)
PidLidFileUnder PSETID_Address 0x8005 PtypString
PidLidFileUnderId PSETID_Address 0x8006 PtypInteger32
PidLidContactItemData PSETID_Address 0x8007 PtypMultipleInteger32
PidLidReferredBy PSETID_Address 0x800E PtypString
PidLidDepartment PSETID_Address 0x8010 PtypString
PidLidHasPicture PSETID_Address 0x8015 PtypBoolean
PidLidHomeAddress PSETID_Address 0x801A PtypString
PidLidWorkAddress PSETID_Address 0x801B PtypString
PidLidOtherAddress PSETID_Address 0x801C PtypString
PidLidPostalAddressId PSETID_Address 0x8022 PtypInteger32
PidLidContactCharacterSet PSETID_Address 0x8023 PtypInteger32
PidLidAutoLog PSETID_Address 0x8025 PtypBoolean
PidLidFileUnderList PSETID_Address 0x8026 PtypMultipleInteger32
PidLidAddressBookProviderEmailList PSETID_Address 0x8028 PtypMultipleInteger32
PidLidAddressBookProviderArrayType PSETID_Address 0x8029 PtypInteger32
PidLidHtml PSETID_Address 0x802B PtypString
PidLidYomiFirstName PSETID_Address 0x802C PtypString
PidLidYomiLastName PSETID_Address 0x802D PtypString
PidLidYomiCompanyName PSETID_Address 0x802E PtypString
PidLidBusinessCardDisplayDefinition PSETID_Address 0x8040 PtypBinary
PidLidBusinessCardCardPicture PSETID_Address 0x8041 PtypBinary
PidLidWorkAddressStreet PSETID_Address 0x8045 PtypString
PidLidWorkAddressCity PSETID_Address 0x8046 PtypString
PidLidWorkAddressState PSETID_Address 0x8047 PtypString
PidLidWorkAddressPostalCode PSETID_Address 0x8048 PtypString
PidLidWorkAddressCountry PSETID_Address 0x8049 PtypString
PidLidWorkAddressPostOfficeBox PSETID_Address 0x804A PtypString
PidLidDistributionListChecksum PSETID_Address 0x804C PtypInteger32
PidLidBirthdayEventEntryId PSETID_Address 0x804D PtypBinary
PidLidAnniversaryEventEntryId PSETID_Address 0x804E PtypBinary
PidLidContactUserField1 PSETID_Address 0x804F PtypString
PidLidContactUserField2 PSETID_Address 0x8050 PtypString
PidLidContactUserField3 PSETID_Address 0x8051 PtypString
PidLidContactUserField4 PSETID_Address 0x8052 PtypString
PidLidDistributionListName PSETID_Address 0x8053 PtypString
PidLidDistributionListOneOffMembers PSETID_Address 0x8054 PtypMultipleBinary
PidLidDistributionListMembers PSETID_Address 0x8055 PtypMultipleBinary
PidLidInstantMessagingAddress PSETID_Address 0x8062 PtypString
PidLidDistributionListStream PSETID_Address 0x8064 PtypBinary
PidLidEmail1DisplayName PSETID_Address 0x8080 PtypString
PidLidEmail1AddressType PSETID_Address 0x8082 PtypString
PidLidEmail1EmailAddress PSETID_Address 0x8083 PtypString
PidLidEmail1OriginalDisplayName PSETID_Address 0x8084 PtypString
PidLidEmail1OriginalEntryId PSETID_Address 0x8085 PtypBinary
PidLidEmail2DisplayName PSETID_Address 0x8090 PtypString
PidLidEmail2AddressType PSETID_Address 0x8092 PtypString
PidLidEmail2EmailAddress PSETID_Address 0x8093 PtypString
PidLidEmail2OriginalDisplayName PSETID_Address 0x8094 PtypString
PidLidEmail2OriginalEntryId PSETID_Address 0x8095 PtypBinary
PidLidEmail3DisplayName PSETID_Address 0x80A0 PtypString
PidLidEmail3AddressType PSETID_Address 0x80A2 PtypString
PidLidEmail3EmailAddress PSETID_Address 0x80A3 PtypString
PidLidEmail3OriginalDisplayName PSETID_Address 0x80A4 PtypString
PidLidEmail3OriginalEntryId PSETID_Address 0x80A5 PtypBinary
PidLidFax1AddressType PSETID_Address 0x80B2 PtypString
PidLidFax1EmailAddress PSETID_Address 0x80B3 PtypString
PidLidFax1OriginalDisplayName PSETID_Address 0x80B4 PtypString
PidLidFax1OriginalEntryId PSETID_Address 0x80B5 PtypBinary
PidLidFax2AddressType PSETID_Address 0x80C2 PtypString
PidLidFax2EmailAddress PSETID_Address 0x80C3 PtypString
PidLidFax2OriginalDisplayName PSETID_Address 0x80C4 PtypString
PidLidFax2OriginalEntryId PSETID_Address 0x80C5 PtypBinary
PidLidFax3AddressType PSETID_Address 0x80D2 PtypString
PidLidFax3EmailAddress PSETID_Address 0x80D3 PtypString
PidLidFax3OriginalDisplayName PSETID_Address 0x80D4 PtypString
PidLidFax3OriginalEntryId PSETID_Address 0x80D5 PtypBinary
PidLidFreeBusyLocation PSETID_Address 0x80D8 PtypString
PidLidHomeAddressCountryCode PSETID_Address 0x80DA PtypString
PidLidWorkAddressCountryCode PSETID_Address 0x80DB PtypString
PidLidOtherAddressCountryCode PSETID_Address 0x80DC PtypString
PidLidAddressCountryCode PSETID_Address 0x80DD PtypString
PidLidBirthdayLocal PSETID_Address 0x80DE PtypTime
PidLidWeddingAnniversaryLocal PSETID_Address 0x80DF PtypTime
PidLidIsContactLinked PSETID_Address 0x80E0 PtypBoolean
PidLidContactLinkedGlobalAddressListEntryId PSETID_Address 0x80E2 PtypBinary
PidLidContactLinkSMTPAddressCache PSETID_Address 0x80E3 PtypMultipleString
PidLidContactLinkLinkRejectHistory PSETID_Address 0x80E5 PtypMultipleBinary
PidLidContactLinkGlobalAddressListLinkState PSETID_Address 0x80E6 PtypInteger32
PidLidContactLinkGlobalAddressListLinkId PSETID_Address 0x80E8 PtypGuid
# --- PSETID_Note (MS-OXONOTE)
PidLidNoteColor PSETID_Note 0x8B00 PtypInteger32
PidLidNoteWidth PSETID_Note 0x8B02 PtypInteger32
PidLidNoteHeight PSETID_Note 0x8B03 PtypInteger32
PidLidNoteX PSETID_Note 0x8B04 PtypInteger32
PidLidNoteY PSETID_Note 0x8B05 PtypInteger32
# --- PSETID_Log (MS-OXOJRNL journal)
PidLidLogType PSETID_Log 0x8700 PtypString
PidLidLogStart PSETID_Log 0x8706 PtypTime
PidLidLogDuration PSETID_Log 0x8707 PtypInteger32
PidLidLogEnd PSETID_Log 0x8708 PtypTime
PidLidLogFlags PSETID_Log 0x870C PtypInteger32
PidLidLogDocumentPrinted PSETID_Log 0x870E PtypBoolean
PidLidLogDocumentSaved PSETID_Log 0x870F PtypBoolean
PidLidLogDocumentRouted PSETID_Log 0x8710 PtypBoolean
PidLidLogDocumentPosted PSETID_Log 0x8711 PtypBoolean
PidLidLogTypeDesc PSETID_Log 0x8712 PtypString
# --- PSETID_Sharing (MS-OXSHARE)
PidLidSharingProviderGuid PSETID_Sharing 0x8A01 PtypBinary
PidLidSharingProviderName PSETID_Sharing 0x8A02 PtypString
PidLidSharingProviderUrl PSETID_Sharing 0x8A03 PtypString
# --- PSETID_PostRss (MS-OXORSS)
PidLidPostRssChannelLink PSETID_PostRss 0x8900 PtypString
PidLidPostRssItemLink PSETID_PostRss 0x8901 PtypString
PidLidPostRssItemHash PSETID_PostRss 0x8902 PtypInteger32
PidLidPostRssItemGuid PSETID_PostRss 0x8903 PtypString
PidLidPostRssChannel PSETID_PostRss 0x8904 PtypString
PidLidPostRssItemXml PSETID_PostRss 0x8905 PtypString
PidLidPostRssSubscription PSETID_PostRss 0x8906 PtypString
# --- Named by string
PidNameKeywords PS_PUBLIC_STRINGS "Keywords" PtypMultipleString
PidNameContentType PS_INTERNET_HEADERS "Content-Type" PtypString
PidNameContentClass PS_INTERNET_HEADERS "Content-Class" PtypString
PidNameXMailer PS_INTERNET_HEADERS "X-Mailer" PtypString
PidNameInternetSubject PS_INTERNET_HEADERS "Subject" PtypString
PidNameAttachmentMacContentType PSETID_Attachment * PtypString
PidNameAttachmentMacInfo PSETID_Attachment * PtypBinary
PidNameAttachmentOriginalPermissionType PSETID_Attachment * PtypInteger32
PidNameAttachmentPermissionType PSETID_Attachment * PtypInteger32
PidNameAttachmentProviderType PSETID_Attachment * PtypString
"""


def _parse(table: str) -> tuple[NamedPropertyDef, ...]:
    defs = []
    for raw in table.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        canonical, pset, key, ptype = line.split()
        guid = PROPERTY_SETS[pset]
        if key == "*":  # the name is the canonical name without "PidName"
            prop = NamedProperty(guid, name=canonical.removeprefix("PidName"))
        elif key.startswith('"'):
            prop = NamedProperty(guid, name=key.strip('"'))
        else:
            prop = NamedProperty(guid, lid=int(key, 16))
        defs.append(NamedPropertyDef(canonical, prop, type_by_name(ptype)))
    return tuple(defs)


NAMED_PROPERTY_DEFS: tuple[NamedPropertyDef, ...] = _parse(_TABLE)

_BY_NAME = {d.canonical_name: d for d in NAMED_PROPERTY_DEFS}
_BY_PROP = {d.prop: d for d in NAMED_PROPERTY_DEFS}


def named_by_name(canonical_name: str) -> NamedPropertyDef | None:
    """``PidLidBusyStatus`` -> its definition."""
    return _BY_NAME.get(canonical_name)


def named_by_prop(prop: NamedProperty) -> NamedPropertyDef | None:
    """The canonical definition of a (GUID, LID|name) pair, if it is a known one."""
    return _BY_PROP.get(prop)


def named_by_lid(guid: uuid.UUID, lid: int) -> NamedPropertyDef | None:
    return _BY_PROP.get(NamedProperty(guid, lid=lid))


def named_by_string(guid: uuid.UUID, name: str) -> NamedPropertyDef | None:
    return _BY_PROP.get(NamedProperty(guid, name=name))
