"""Canonical property definitions of MS-OXPROPS: id, type and name, with lookups.

The table below lists the tagged (non-named) properties that mail, calendar,
contacts, tasks, notes, folders, stores, the address book, rules and ICS use, one
per line as ``<property id> <data type> <canonical name>``; ids, types and names are
those of MS-OXPROPS section 2 (ICS meta-properties, named ``MetaTag*``, are those of
MS-OXCFXICS 2.2.1.1). A property listed with two types (PidTagMessageSize and
PidTagMessageSizeExtended, PidTagHtml and PidTagBodyHtml ...) has one line per
canonical name. Named properties (PidLid*, PidName*) live in
:mod:`groupware.mapi.named`.

:mod:`groupware.mapi.tags` holds the same facts as typed constants; it is generated
from this table by ``python -m groupware.mapi.gen_tags`` and a test keeps the two in
step.
"""

from __future__ import annotations

from dataclasses import dataclass

from groupware.mapi.proptypes import PropType, make_tag, type_by_name
from groupware.types import PropTag


@dataclass(frozen=True)
class PropertyDef:
    """One canonical property: its name, 16-bit id and data type."""

    name: str
    prop_id: int
    prop_type: PropType

    @property
    def tag(self) -> PropTag:
        return make_tag(self.prop_id, self.prop_type)


_TABLE = """
# --- General message properties (MS-OXCMSG, MS-OXOMSG)
0x0002 PtypBoolean PidTagAlternateRecipientAllowed
0x0004 PtypString PidTagAutoForwardComment
0x0005 PtypBoolean PidTagAutoForwarded
0x000F PtypTime PidTagDeferredDeliveryTime
0x0010 PtypTime PidTagDeliverTime
0x0015 PtypTime PidTagExpiryTime
0x0017 PtypInteger32 PidTagImportance
0x001A PtypString PidTagMessageClass
0x0023 PtypBoolean PidTagOriginatorDeliveryReportRequested
0x0025 PtypBinary PidTagParentKey
0x0026 PtypInteger32 PidTagPriority
0x0029 PtypBoolean PidTagReadReceiptRequested
0x002A PtypTime PidTagReceiptTime
0x002B PtypBoolean PidTagRecipientReassignmentProhibited
0x002E PtypInteger32 PidTagOriginalSensitivity
0x0030 PtypTime PidTagReplyTime
0x0031 PtypBinary PidTagReportTag
0x0032 PtypTime PidTagReportTime
0x0036 PtypInteger32 PidTagSensitivity
0x0037 PtypString PidTagSubject
0x0039 PtypTime PidTagClientSubmitTime
0x003A PtypString PidTagReportName
0x003B PtypBinary PidTagSentRepresentingSearchKey
0x003D PtypString PidTagSubjectPrefix
0x003F PtypBinary PidTagReceivedByEntryId
0x0040 PtypString PidTagReceivedByName
0x0041 PtypBinary PidTagSentRepresentingEntryId
0x0042 PtypString PidTagSentRepresentingName
0x0043 PtypBinary PidTagReceivedRepresentingEntryId
0x0044 PtypString PidTagReceivedRepresentingName
0x0045 PtypBinary PidTagReportEntryId
0x0046 PtypBinary PidTagReadReceiptEntryId
0x0047 PtypBinary PidTagMessageSubmissionId
0x0049 PtypString PidTagOriginalSubject
0x004B PtypString PidTagOriginalMessageClass
0x004C PtypBinary PidTagOriginalAuthorEntryId
0x004D PtypString PidTagOriginalAuthorName
0x004E PtypTime PidTagOriginalSubmitTime
0x004F PtypBinary PidTagReplyRecipientEntries
0x0050 PtypString PidTagReplyRecipientNames
0x0051 PtypBinary PidTagReceivedBySearchKey
0x0052 PtypBinary PidTagReceivedRepresentingSearchKey
0x0053 PtypBinary PidTagReadReceiptSearchKey
0x0054 PtypBinary PidTagReportSearchKey
0x0055 PtypTime PidTagOriginalDeliveryTime
0x0057 PtypBoolean PidTagMessageToMe
0x0058 PtypBoolean PidTagMessageCcMe
0x0059 PtypBoolean PidTagMessageRecipientMe
0x005A PtypString PidTagOriginalSenderName
0x005B PtypBinary PidTagOriginalSenderEntryId
0x005C PtypBinary PidTagOriginalSenderSearchKey
0x005D PtypString PidTagOriginalSentRepresentingName
0x005E PtypBinary PidTagOriginalSentRepresentingEntryId
0x005F PtypBinary PidTagOriginalSentRepresentingSearchKey
0x0060 PtypTime PidTagStartDate
0x0061 PtypTime PidTagEndDate
0x0062 PtypInteger32 PidTagOwnerAppointmentId
0x0063 PtypBoolean PidTagResponseRequested
0x0064 PtypString PidTagSentRepresentingAddressType
0x0065 PtypString PidTagSentRepresentingEmailAddress
0x0066 PtypString PidTagOriginalSenderAddressType
0x0067 PtypString PidTagOriginalSenderEmailAddress
0x0068 PtypString PidTagOriginalSentRepresentingAddressType
0x0069 PtypString PidTagOriginalSentRepresentingEmailAddress
0x0070 PtypString PidTagConversationTopic
0x0071 PtypBinary PidTagConversationIndex
0x0072 PtypString PidTagOriginalDisplayBcc
0x0073 PtypString PidTagOriginalDisplayCc
0x0074 PtypString PidTagOriginalDisplayTo
0x0075 PtypString PidTagReceivedByAddressType
0x0076 PtypString PidTagReceivedByEmailAddress
0x0077 PtypString PidTagReceivedRepresentingAddressType
0x0078 PtypString PidTagReceivedRepresentingEmailAddress
0x007D PtypString PidTagTransportMessageHeaders
0x007F PtypBinary PidTagTnefCorrelationKey
0x0080 PtypString PidTagReportDisposition
0x0081 PtypString PidTagReportDispositionMode
0x0C04 PtypInteger32 PidTagNonDeliveryReportReasonCode
0x0C05 PtypInteger32 PidTagNonDeliveryReportDiagCode
0x0C06 PtypBoolean PidTagNonReceiptNotificationRequested
0x0C08 PtypBoolean PidTagOriginatorNonDeliveryReportRequested
0x0C15 PtypInteger32 PidTagRecipientType
0x0C17 PtypBoolean PidTagReplyRequested
0x0C19 PtypBinary PidTagSenderEntryId
0x0C1A PtypString PidTagSenderName
0x0C1B PtypString PidTagSupplementaryInfo
0x0C1D PtypBinary PidTagSenderSearchKey
0x0C1E PtypString PidTagSenderAddressType
0x0C1F PtypString PidTagSenderEmailAddress
0x0C20 PtypInteger32 PidTagNonDeliveryReportStatusCode
0x0E01 PtypBoolean PidTagDeleteAfterSubmit
0x0E02 PtypString PidTagDisplayBcc
0x0E03 PtypString PidTagDisplayCc
0x0E04 PtypString PidTagDisplayTo
0x0E05 PtypString PidTagParentDisplay
0x0E06 PtypTime PidTagMessageDeliveryTime
0x0E07 PtypInteger32 PidTagMessageFlags
0x0E08 PtypInteger32 PidTagMessageSize
0x0E08 PtypInteger64 PidTagMessageSizeExtended
0x0E09 PtypBinary PidTagParentEntryId
0x0E0A PtypBinary PidTagSentMailEntryId
0x0E0F PtypBoolean PidTagResponsibility
0x0E12 PtypObject PidTagMessageRecipients
0x0E13 PtypObject PidTagMessageAttachments
0x0E14 PtypInteger32 PidTagSubmitFlags
0x0E17 PtypInteger32 PidTagMessageStatus
0x0E1B PtypBoolean PidTagHasAttachments
0x0E1D PtypString PidTagNormalizedSubject
0x0E1F PtypBoolean PidTagRtfInSync
0x0E23 PtypInteger32 PidTagInternetArticleNumber
0x0E27 PtypBinary PidTagSecurityDescriptor
0x0E28 PtypString PidTagPrimarySendAccount
0x0E29 PtypString PidTagNextSendAcct
0x0E2B PtypInteger32 PidTagToDoItemFlags
0x0E2C PtypBinary PidTagSwappedToDoStore
0x0E2D PtypBinary PidTagSwappedToDoData
0x0E69 PtypBoolean PidTagRead
0x0E6A PtypString PidTagSecurityDescriptorAsXml
0x0E79 PtypInteger32 PidTagTrustSender
0x0E99 PtypBinary PidTagExtendedRuleMessageActions
0x0E9A PtypBinary PidTagExtendedRuleMessageCondition
0x0E9B PtypInteger32 PidTagExtendedRuleSizeLimit
0x1035 PtypString PidTagInternetMessageId
0x1039 PtypString PidTagInternetReferences
0x1042 PtypString PidTagInReplyToId
0x1043 PtypString PidTagListHelp
0x1044 PtypString PidTagListSubscribe
0x1045 PtypString PidTagListUnsubscribe
0x1046 PtypString PidTagOriginalMessageId
0x1080 PtypInteger32 PidTagIconIndex
0x1081 PtypInteger32 PidTagLastVerbExecuted
0x1082 PtypTime PidTagLastVerbExecutionTime
0x1090 PtypInteger32 PidTagFlagStatus
0x1091 PtypTime PidTagFlagCompleteTime
0x1095 PtypInteger32 PidTagFollowupIcon
0x1096 PtypInteger32 PidTagBlockStatus
0x3FDE PtypInteger32 PidTagInternetCodepage
0x3FDF PtypInteger32 PidTagAutoResponseSuppress
0x3FE3 PtypBoolean PidTagDelegatedByRule
0x3FE7 PtypInteger32 PidTagResolveMethod
0x3FEA PtypBoolean PidTagHasDeferredActionMessages
0x3FEB PtypInteger32 PidTagDeferredSendNumber
0x3FEC PtypInteger32 PidTagDeferredSendUnits
0x3FED PtypInteger32 PidTagExpiryNumber
0x3FEE PtypInteger32 PidTagExpiryUnits
0x3FEF PtypTime PidTagDeferredSendTime
0x3FF1 PtypInteger32 PidTagMessageLocaleId
0x3FF8 PtypString PidTagCreatorName
0x3FF9 PtypBinary PidTagCreatorEntryId
0x3FFA PtypString PidTagLastModifierName
0x3FFB PtypBinary PidTagLastModifierEntryId
0x3FFD PtypInteger32 PidTagMessageCodepage
0x4019 PtypInteger32 PidTagSenderFlags
0x401A PtypInteger32 PidTagSentRepresentingFlags
0x401B PtypInteger32 PidTagReceivedByFlags
0x401C PtypInteger32 PidTagReceivedRepresentingFlags
0x4029 PtypString PidTagReadReceiptAddressType
0x402A PtypString PidTagReadReceiptEmailAddress
0x402B PtypString PidTagReadReceiptName
0x4076 PtypInteger32 PidTagContentFilterSpamConfidenceLevel
0x4079 PtypInteger32 PidTagSenderIdStatus
0x4083 PtypString PidTagPurportedSenderDomain
0x5902 PtypInteger32 PidTagInternetMailOverrideFormat
0x5909 PtypInteger32 PidTagMessageEditorFormat
0x5D01 PtypString PidTagSenderSmtpAddress
0x5D02 PtypString PidTagSentRepresentingSmtpAddress
0x5D05 PtypString PidTagReadReceiptSmtpAddress
0x5D07 PtypString PidTagReceivedBySmtpAddress
0x5D08 PtypString PidTagReceivedRepresentingSmtpAddress
0x65C2 PtypBinary PidTagReplyTemplateId
0x7D01 PtypBoolean PidTagProcessed
# --- Message bodies (MS-OXCMSG 2.2.1.48-2.2.1.58, MS-OXBBODY)
0x1000 PtypString PidTagBody
0x1001 PtypString PidTagReportText
0x1006 PtypInteger32 PidTagRtfSyncBodyCrc
0x1007 PtypInteger32 PidTagRtfSyncBodyCount
0x1008 PtypString PidTagRtfSyncBodyTag
0x1009 PtypBinary PidTagRtfCompressed
0x1010 PtypInteger32 PidTagRtfSyncPrefixCount
0x1011 PtypInteger32 PidTagRtfSyncTrailingCount
0x1012 PtypBinary PidTagOriginallyIntendedRecipEntryId
0x1013 PtypBinary PidTagHtml
0x1013 PtypString PidTagBodyHtml
0x1014 PtypString PidTagBodyContentLocation
0x1015 PtypString PidTagBodyContentId
0x1016 PtypInteger32 PidTagNativeBody
# --- Common object properties (identity, timestamps, tables)
0x0FF4 PtypInteger32 PidTagAccess
0x0FF5 PtypInteger32 PidTagRowType
0x0FF6 PtypBinary PidTagInstanceKey
0x0FF7 PtypInteger32 PidTagAccessLevel
0x0FF8 PtypBinary PidTagMappingSignature
0x0FF9 PtypBinary PidTagRecordKey
0x0FFA PtypBinary PidTagStoreRecordKey
0x0FFB PtypBinary PidTagStoreEntryId
0x0FFE PtypInteger32 PidTagObjectType
0x0FFF PtypBinary PidTagEntryId
0x0FFF PtypBinary PidTagMemberEntryId
0x10F4 PtypBoolean PidTagAttributeHidden
0x10F5 PtypBoolean PidTagAttributeSystem
0x10F6 PtypBoolean PidTagAttributeReadOnly
0x3000 PtypInteger32 PidTagRowid
0x3001 PtypString PidTagDisplayName
0x3002 PtypString PidTagAddressType
0x3003 PtypString PidTagEmailAddress
0x3004 PtypString PidTagComment
0x3005 PtypInteger32 PidTagDepth
0x3007 PtypTime PidTagCreationTime
0x3008 PtypTime PidTagLastModificationTime
0x300B PtypBinary PidTagSearchKey
0x3010 PtypBinary PidTagTargetEntryId
0x3013 PtypBinary PidTagConversationId
0x3016 PtypBoolean PidTagConversationIndexTracking
0x3018 PtypBinary PidTagArchiveTag
0x3019 PtypBinary PidTagPolicyTag
0x301A PtypInteger32 PidTagRetentionPeriod
0x301C PtypTime PidTagRetentionDate
0x301D PtypInteger32 PidTagRetentionFlags
0x301E PtypInteger32 PidTagArchivePeriod
0x301F PtypTime PidTagArchiveDate
0x3FE0 PtypBinary PidTagAccessControlListData
0x66A1 PtypInteger32 PidTagLocaleId
0x66C3 PtypInteger32 PidTagCodePageId
0x6705 PtypInteger32 PidTagSortLocaleId
# --- Synchronization and ids (MS-OXCFXICS, MS-OXCSTOR)
0x65E0 PtypBinary PidTagSourceKey
0x65E1 PtypBinary PidTagParentSourceKey
0x65E2 PtypBinary PidTagChangeKey
0x65E3 PtypBinary PidTagPredecessorChangeList
0x6748 PtypInteger64 PidTagFolderId
0x6749 PtypInteger64 PidTagParentFolderId
0x674A PtypInteger64 PidTagMid
0x674D PtypInteger64 PidTagInstID
0x674E PtypInteger32 PidTagInstanceNum
0x674F PtypInteger64 PidTagAddressBookMessageId
0x67A4 PtypInteger64 PidTagChangeNumber
0x67AA PtypBoolean PidTagAssociated
0x6709 PtypTime PidTagLocalCommitTime
0x670A PtypTime PidTagLocalCommitTimeMax
0x4082 PtypTime PidTagHierRev
0x6640 PtypInteger32 PidTagHierarchyChangeNumber
0x668F PtypTime PidTagDeletedOn
0x666C PtypBoolean PidTagInConflict
# --- Folders (MS-OXCFOLD, MS-OXOSFLD)
0x3600 PtypInteger32 PidTagContainerFlags
0x3601 PtypInteger32 PidTagFolderType
0x3602 PtypInteger32 PidTagContentCount
0x3603 PtypInteger32 PidTagContentUnreadCount
0x3609 PtypBoolean PidTagSelectable
0x360A PtypBoolean PidTagSubfolders
0x360C PtypString PidTagAnr
0x360E PtypObject PidTagContainerHierarchy
0x360F PtypObject PidTagContainerContents
0x3610 PtypObject PidTagFolderAssociatedContents
0x3613 PtypString PidTagContainerClass
0x3617 PtypInteger32 PidTagAssociatedContentCount
0x36D0 PtypBinary PidTagIpmAppointmentEntryId
0x36D1 PtypBinary PidTagIpmContactEntryId
0x36D2 PtypBinary PidTagIpmJournalEntryId
0x36D3 PtypBinary PidTagIpmNoteEntryId
0x36D4 PtypBinary PidTagIpmTaskEntryId
0x36D5 PtypBinary PidTagRemindersOnlineEntryId
0x36D7 PtypBinary PidTagIpmDraftsEntryId
0x36D8 PtypMultipleBinary PidTagAdditionalRenEntryIds
0x36D9 PtypBinary PidTagAdditionalRenEntryIdsEx
0x36DA PtypBinary PidTagExtendedFolderFlags
0x36E2 PtypInteger32 PidTagOrdinalMost
0x36E4 PtypMultipleBinary PidTagFreeBusyEntryIds
0x36E5 PtypString PidTagDefaultPostMessageClass
0x6639 PtypInteger32 PidTagRights
0x663A PtypBoolean PidTagHasRules
0x663B PtypBinary PidTagAddressBookEntryId
0x664A PtypBoolean PidTagHasNamedProperties
0x6707 PtypString PidTagUrlName
0x6708 PtypBoolean PidTagSubfolder
0x670B PtypInteger32 PidTagDeletedCountTotal
0x670E PtypString PidTagFlatUrlName
0x6671 PtypInteger64 PidTagMemberId
0x6672 PtypString PidTagMemberName
0x6673 PtypInteger32 PidTagMemberRights
# --- Message store (MS-OXCSTOR, MS-OXOSFLD)
0x340D PtypInteger32 PidTagStoreSupportMask
0x340E PtypInteger32 PidTagStoreState
0x35DF PtypInteger32 PidTagValidFolderMask
0x35E0 PtypBinary PidTagIpmSubtreeEntryId
0x35E2 PtypBinary PidTagIpmOutboxEntryId
0x35E3 PtypBinary PidTagIpmWastebasketEntryId
0x35E4 PtypBinary PidTagIpmSentMailEntryId
0x35E5 PtypBinary PidTagViewsEntryId
0x35E6 PtypBinary PidTagCommonViewsEntryId
0x35E7 PtypBinary PidTagFinderEntryId
0x3FF5 PtypInteger32 PidTagStorageQuotaLimit
0x6619 PtypBinary PidTagUserEntryId
0x661B PtypBinary PidTagMailboxOwnerEntryId
0x661C PtypString PidTagMailboxOwnerName
0x661D PtypBoolean PidTagOutOfOfficeState
0x6622 PtypBinary PidTagSchedulePlusFreeBusyEntryId
0x6638 PtypBinary PidTagSerializedReplidGuidMap
0x666A PtypInteger32 PidTagProhibitReceiveQuota
0x666D PtypInteger32 PidTagMaximumSubmitMessageSize
0x666E PtypInteger32 PidTagProhibitSendQuota
0x6740 PtypServerId PidTagSentMailSvrEID
0x6741 PtypServerId PidTagDeferredActionMessageOriginalEntryId
0x7C06 PtypInteger32 PidTagRoamingDatatypes
0x7C07 PtypBinary PidTagRoamingDictionary
0x7C08 PtypBinary PidTagRoamingXmlStream
# --- Attachments (MS-OXCMSG 2.2.2)
0x0E20 PtypInteger32 PidTagAttachSize
0x0E21 PtypInteger32 PidTagAttachNumber
0x3701 PtypBinary PidTagAttachDataBinary
0x3701 PtypObject PidTagAttachDataObject
0x3702 PtypBinary PidTagAttachEncoding
0x3703 PtypString PidTagAttachExtension
0x3704 PtypString PidTagAttachFilename
0x3705 PtypInteger32 PidTagAttachMethod
0x3707 PtypString PidTagAttachLongFilename
0x3708 PtypString PidTagAttachPathname
0x3709 PtypBinary PidTagAttachRendering
0x370A PtypBinary PidTagAttachTag
0x370B PtypInteger32 PidTagRenderingPosition
0x370C PtypString PidTagAttachTransportName
0x370D PtypString PidTagAttachLongPathname
0x370E PtypString PidTagAttachMimeTag
0x370F PtypBinary PidTagAttachAdditionalInformation
0x3711 PtypString PidTagAttachContentBase
0x3712 PtypString PidTagAttachContentId
0x3713 PtypString PidTagAttachContentLocation
0x3714 PtypInteger32 PidTagAttachFlags
0x3719 PtypString PidTagAttachPayloadProviderGuidString
0x371A PtypString PidTagAttachPayloadClass
0x371B PtypString PidTagTextAttachmentCharset
0x7FFA PtypInteger32 PidTagAttachmentLinkId
0x7FFD PtypInteger32 PidTagAttachmentFlags
0x7FFE PtypBoolean PidTagAttachmentHidden
0x7FFF PtypBoolean PidTagAttachmentContactPhoto
# --- Recipients (MS-OXCMSG 2.2.1.x, MS-OXOCAL)
0x3A40 PtypBoolean PidTagSendRichInfo
0x3A71 PtypInteger32 PidTagSendInternetEncoding
0x5FDE PtypInteger32 PidTagRecipientResourceState
0x5FDF PtypInteger32 PidTagRecipientOrder
0x5FE1 PtypBoolean PidTagRecipientProposed
0x5FE3 PtypTime PidTagRecipientProposedStartTime
0x5FE4 PtypTime PidTagRecipientProposedEndTime
0x5FF6 PtypString PidTagRecipientDisplayName
0x5FF7 PtypBinary PidTagRecipientEntryId
0x5FFB PtypTime PidTagRecipientTrackStatusTime
0x5FFD PtypInteger32 PidTagRecipientFlags
0x5FFF PtypInteger32 PidTagRecipientTrackStatus
# --- Calendar (MS-OXOCAL; the rest are named properties)
0x10C3 PtypTime PidTagICalendarStartTime
0x10C4 PtypTime PidTagICalendarEndTime
0x10C5 PtypTime PidTagCdoRecurrenceid
0x10CA PtypTime PidTagICalendarReminderNextTime
0x7FF9 PtypTime PidTagExceptionReplaceTime
0x7FFB PtypTime PidTagExceptionStartTime
0x7FFC PtypTime PidTagExceptionEndTime
# --- Contacts and address book entries (MS-OXOCNTC, MS-OXOABK)
0x39FE PtypString PidTagSmtpAddress
0x3A00 PtypString PidTagAccount
0x3A02 PtypString PidTagCallbackTelephoneNumber
0x3A05 PtypString PidTagGeneration
0x3A06 PtypString PidTagGivenName
0x3A07 PtypString PidTagGovernmentIdNumber
0x3A08 PtypString PidTagBusinessTelephoneNumber
0x3A09 PtypString PidTagHomeTelephoneNumber
0x3A0A PtypString PidTagInitials
0x3A0B PtypString PidTagKeyword
0x3A0C PtypString PidTagLanguage
0x3A0D PtypString PidTagLocation
0x3A0F PtypString PidTagMessageHandlingSystemCommonName
0x3A10 PtypString PidTagOrganizationalIdNumber
0x3A11 PtypString PidTagSurname
0x3A12 PtypBinary PidTagOriginalEntryId
0x3A15 PtypString PidTagPostalAddress
0x3A16 PtypString PidTagCompanyName
0x3A17 PtypString PidTagTitle
0x3A18 PtypString PidTagDepartmentName
0x3A19 PtypString PidTagOfficeLocation
0x3A1A PtypString PidTagPrimaryTelephoneNumber
0x3A1B PtypString PidTagBusiness2TelephoneNumber
0x3A1B PtypMultipleString PidTagBusiness2TelephoneNumbers
0x3A1C PtypString PidTagMobileTelephoneNumber
0x3A1D PtypString PidTagRadioTelephoneNumber
0x3A1E PtypString PidTagCarTelephoneNumber
0x3A1F PtypString PidTagOtherTelephoneNumber
0x3A20 PtypString PidTagTransmittableDisplayName
0x3A21 PtypString PidTagPagerTelephoneNumber
0x3A22 PtypBinary PidTagUserCertificate
0x3A23 PtypString PidTagPrimaryFaxNumber
0x3A24 PtypString PidTagBusinessFaxNumber
0x3A25 PtypString PidTagHomeFaxNumber
0x3A26 PtypString PidTagCountry
0x3A27 PtypString PidTagLocality
0x3A28 PtypString PidTagStateOrProvince
0x3A29 PtypString PidTagStreetAddress
0x3A2A PtypString PidTagPostalCode
0x3A2B PtypString PidTagPostOfficeBox
0x3A2C PtypString PidTagTelexNumber
0x3A2D PtypString PidTagIsdnNumber
0x3A2E PtypString PidTagAssistantTelephoneNumber
0x3A2F PtypString PidTagHome2TelephoneNumber
0x3A2F PtypMultipleString PidTagHome2TelephoneNumbers
0x3A30 PtypString PidTagAssistant
0x3A41 PtypTime PidTagWeddingAnniversary
0x3A42 PtypTime PidTagBirthday
0x3A43 PtypString PidTagHobbies
0x3A44 PtypString PidTagMiddleName
0x3A45 PtypString PidTagDisplayNamePrefix
0x3A46 PtypString PidTagProfession
0x3A47 PtypString PidTagReferredByName
0x3A48 PtypString PidTagSpouseName
0x3A49 PtypString PidTagComputerNetworkName
0x3A4A PtypString PidTagCustomerId
0x3A4B PtypString PidTagTelecommunicationsDeviceForDeafTelephoneNumber
0x3A4C PtypString PidTagFtpSite
0x3A4D PtypInteger16 PidTagGender
0x3A4E PtypString PidTagManagerName
0x3A4F PtypString PidTagNickname
0x3A50 PtypString PidTagPersonalHomePage
0x3A51 PtypString PidTagBusinessHomePage
0x3A57 PtypString PidTagCompanyMainTelephoneNumber
0x3A58 PtypMultipleString PidTagChildrensNames
0x3A59 PtypString PidTagHomeAddressCity
0x3A5A PtypString PidTagHomeAddressCountry
0x3A5B PtypString PidTagHomeAddressPostalCode
0x3A5C PtypString PidTagHomeAddressStateOrProvince
0x3A5D PtypString PidTagHomeAddressStreet
0x3A5E PtypString PidTagHomeAddressPostOfficeBox
0x3A5F PtypString PidTagOtherAddressCity
0x3A60 PtypString PidTagOtherAddressCountry
0x3A61 PtypString PidTagOtherAddressPostalCode
0x3A62 PtypString PidTagOtherAddressStateOrProvince
0x3A63 PtypString PidTagOtherAddressStreet
0x3A64 PtypString PidTagOtherAddressPostOfficeBox
0x3A70 PtypMultipleBinary PidTagUserX509Certificate
# --- Address book (MS-OXOABK, MS-OXNSPI)
0x0807 PtypInteger32 PidTagAddressBookRoomCapacity
0x0809 PtypString PidTagAddressBookRoomDescription
0x3900 PtypInteger32 PidTagDisplayType
0x3902 PtypBinary PidTagTemplateid
0x3905 PtypInteger32 PidTagDisplayTypeEx
0x39FF PtypString PidTagAddressBookDisplayNamePrintable
0x3F08 PtypInteger32 PidTagInitialDetailsPane
0x6800 PtypString PidTagOfflineAddressBookName
0x6801 PtypInteger32 PidTagOfflineAddressBookSequence
0x6802 PtypString8 PidTagOfflineAddressBookContainerGuid
0x6803 PtypInteger32 PidTagOfflineAddressBookMessageClass
0x6804 PtypString8 PidTagOfflineAddressBookDistinguishedName
0x6805 PtypMultipleInteger32 PidTagOfflineAddressBookTruncatedProperties
0x8004 PtypString PidTagAddressBookFolderPathname
0x8005 PtypObject PidTagAddressBookManager
0x8005 PtypString PidTagAddressBookManagerDistinguishedName
0x8006 PtypString8 PidTagAddressBookHomeMessageDatabase
0x8009 PtypObject PidTagAddressBookMember
0x800C PtypObject PidTagAddressBookOwner
0x800E PtypObject PidTagAddressBookReports
0x800F PtypMultipleString PidTagAddressBookProxyAddresses
0x8011 PtypString PidTagAddressBookTargetAddress
0x8015 PtypObject PidTagAddressBookPublicDelegates
0x8024 PtypObject PidTagAddressBookOwnerBackLink
0x802D PtypString PidTagAddressBookExtensionAttribute1
0x802E PtypString PidTagAddressBookExtensionAttribute2
0x802F PtypString PidTagAddressBookExtensionAttribute3
0x8030 PtypString PidTagAddressBookExtensionAttribute4
0x8031 PtypString PidTagAddressBookExtensionAttribute5
0x8032 PtypString PidTagAddressBookExtensionAttribute6
0x8033 PtypString PidTagAddressBookExtensionAttribute7
0x8034 PtypString PidTagAddressBookExtensionAttribute8
0x8035 PtypString PidTagAddressBookExtensionAttribute9
0x8036 PtypString PidTagAddressBookExtensionAttribute10
0x8C57 PtypString PidTagAddressBookExtensionAttribute11
0x8C58 PtypString PidTagAddressBookExtensionAttribute12
0x8C59 PtypString PidTagAddressBookExtensionAttribute13
0x8C5A PtypString PidTagAddressBookExtensionAttribute14
0x8C5B PtypString PidTagAddressBookExtensionAttribute15
0x8170 PtypMultipleString PidTagAddressBookNetworkAddress
0x8C6A PtypMultipleBinary PidTagAddressBookX509Certificate
0x8C6D PtypBinary PidTagAddressBookObjectGuid
0x8C8E PtypString PidTagAddressBookPhoneticGivenName
0x8C8F PtypString PidTagAddressBookPhoneticSurname
0x8C90 PtypString PidTagAddressBookPhoneticDepartmentName
0x8C91 PtypString PidTagAddressBookPhoneticCompanyName
0x8C92 PtypString PidTagAddressBookPhoneticDisplayName
0x8C93 PtypInteger32 PidTagAddressBookDisplayTypeExtended
0x8C9E PtypBinary PidTagThumbnailPhoto
0x8CA0 PtypInteger32 PidTagAddressBookSeniorityIndex
0xFFFB PtypBoolean PidTagAddressBookIsMaster
0xFFFC PtypBinary PidTagAddressBookParentEntryId
0xFFFD PtypInteger32 PidTagAddressBookContainerId
# --- Server-side rules (MS-OXORULE)
0x6645 PtypBinary PidTagClientActions
0x6646 PtypBinary PidTagDamOriginalEntryId
0x6647 PtypBoolean PidTagDamBackPatched
0x6648 PtypInteger32 PidTagRuleError
0x6649 PtypInteger32 PidTagRuleActionType
0x6650 PtypInteger32 PidTagRuleActionNumber
0x6651 PtypBinary PidTagRuleFolderEntryId
0x6674 PtypInteger64 PidTagRuleId
0x6675 PtypBinary PidTagRuleIds
0x6676 PtypInteger32 PidTagRuleSequence
0x6677 PtypInteger32 PidTagRuleState
0x6678 PtypInteger32 PidTagRuleUserFlags
0x6679 PtypRestriction PidTagRuleCondition
0x6680 PtypRuleAction PidTagRuleActions
0x6681 PtypString PidTagRuleProvider
0x6682 PtypString PidTagRuleName
0x6683 PtypInteger32 PidTagRuleLevel
0x6684 PtypBinary PidTagRuleProviderData
0x65E9 PtypInteger32 PidTagRuleMessageState
0x65EA PtypInteger32 PidTagRuleMessageUserFlags
0x65EB PtypString PidTagRuleMessageProvider
0x65EC PtypString PidTagRuleMessageName
0x65ED PtypInteger32 PidTagRuleMessageLevel
0x65EE PtypBinary PidTagRuleMessageProviderData
0x65F3 PtypInteger32 PidTagRuleMessageSequence
# --- ICS meta-properties (MS-OXCFXICS 2.2.1.1); not PidTag names but real tags
0x4008 PtypString8 MetaTagDnPrefix
0x400F PtypInteger32 MetaTagEcWarning
0x4011 PtypBinary MetaTagNewFXFolder
0x4016 PtypInteger32 MetaTagFXDelProp
0x4017 PtypInteger32 MetaTagIdsetGiven
0x4021 PtypBinary MetaTagIdsetNoLongerInScope
0x402D PtypBinary MetaTagIdsetRead
0x402E PtypBinary MetaTagIdsetUnread
0x407A PtypInteger32 MetaTagIncrementalSyncMessagePartial
0x407C PtypInteger32 MetaTagIncrSyncGroupId
0x6793 PtypBinary MetaTagIdsetExpired
0x6796 PtypBinary MetaTagCnsetSeen
0x67D2 PtypBinary MetaTagCnsetRead
0x67DA PtypBinary MetaTagCnsetSeenFAI
0x67E5 PtypBinary MetaTagIdsetDeleted
"""


def _parse(table: str) -> tuple[PropertyDef, ...]:
    defs = []
    for raw in table.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pid, ptype, name = line.split()
        defs.append(PropertyDef(name, int(pid, 16), type_by_name(ptype)))
    return tuple(defs)


PROPERTY_DEFS: tuple[PropertyDef, ...] = _parse(_TABLE)
"""Every definition, in table order (grouped by area)."""

_BY_NAME: dict[str, PropertyDef] = {d.name: d for d in PROPERTY_DEFS}
_BY_TAG: dict[int, PropertyDef] = {}
_BY_ID: dict[int, tuple[PropertyDef, ...]] = {}
for _d in PROPERTY_DEFS:
    _BY_TAG.setdefault(_d.tag, _d)  # the first line wins: PidTagEntryId over PidTagMemberEntryId
    _BY_ID[_d.prop_id] = (*_BY_ID.get(_d.prop_id, ()), _d)


def by_name(name: str) -> PropertyDef | None:
    """``PidTagSubject`` -> its definition."""
    return _BY_NAME.get(name)


def by_tag(tag: int) -> PropertyDef | None:
    """The definition of an exact tag; PtypString8 tags find their PtypString entry.

    The MVI flag (0x2000) of a table column is ignored.
    """
    tag &= ~0x2000
    found = _BY_TAG.get(tag)
    if found is None and tag & 0xFFFF == PropType.STRING8:
        found = _BY_TAG.get((tag & 0xFFFF0000) | PropType.STRING)
    elif found is None and tag & 0xFFFF == PropType.MULTIPLE_STRING8:
        found = _BY_TAG.get((tag & 0xFFFF0000) | PropType.MULTIPLE_STRING)
    return found


def by_id(prop_id: int) -> tuple[PropertyDef, ...]:
    """Every definition with this property id (usually one)."""
    return _BY_ID.get(prop_id, ())


def name_of(tag: int) -> str:
    """A readable name for logs: the canonical name, else the hex tag."""
    found = by_tag(tag)
    return found.name if found else f"0x{tag & 0xFFFFFFFF:08X}"


def default_type(prop_id: int) -> PropType | None:
    """The type of the first definition with ``prop_id`` (for PtypUnspecified requests)."""
    defs = by_id(prop_id)
    return defs[0].prop_type if defs else None

