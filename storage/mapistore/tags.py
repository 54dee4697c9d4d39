"""The property tags the store itself reads, computes or indexes.

``groupware.mapi`` has no tag catalogue yet; these are the few the store needs, named
as in MS-OXPROPS (PidTag...), with the tag value ``id << 16 | type``. Strings are
PtypString (0x001F): the store keeps every string as Unicode (PtypString8 values are
stored as PtypString, see :mod:`storage.mapistore.validation`).
"""

from __future__ import annotations

from groupware.types import PropTag

# --- message: identity and sync (computed from the index, never stored by backends)
MID = PropTag(0x674A0014)  # PidTagMid
FOLDER_ID = PropTag(0x67480014)  # PidTagFolderId
PARENT_FOLDER_ID = PropTag(0x67490014)  # PidTagParentFolderId
CHANGE_NUMBER = PropTag(0x67A40014)  # PidTagChangeNumber
CHANGE_KEY = PropTag(0x65E20102)  # PidTagChangeKey
PREDECESSOR_CHANGE_LIST = PropTag(0x65E30102)  # PidTagPredecessorChangeList
SOURCE_KEY = PropTag(0x65E00102)  # PidTagSourceKey
PARENT_SOURCE_KEY = PropTag(0x65E10102)  # PidTagParentSourceKey
ENTRY_ID = PropTag(0x0FFF0102)  # PidTagEntryId
PARENT_ENTRY_ID = PropTag(0x0E090102)  # PidTagParentEntryId
RECORD_KEY = PropTag(0x0FF90102)  # PidTagRecordKey
INSTANCE_KEY = PropTag(0x0FF60102)  # PidTagInstanceKey
INST_ID = PropTag(0x674D0014)  # PidTagInstID
INSTANCE_NUM = PropTag(0x674E0003)  # PidTagInstanceNum
ASSOCIATED = PropTag(0x67AA000B)  # PidTagAssociated
MESSAGE_SIZE = PropTag(0x0E080003)  # PidTagMessageSize
MESSAGE_SIZE_EXTENDED = PropTag(0x0E080014)  # PidTagMessageSizeExtended
ACCESS = PropTag(0x0FF40003)  # PidTagAccess
ACCESS_LEVEL = PropTag(0x0FF70003)  # PidTagAccessLevel
STORE_RECORD_KEY = PropTag(0x0FFA0102)  # PidTagStoreRecordKey

# --- message: content the sql backend indexes ("hot" columns)
MESSAGE_CLASS = PropTag(0x001A001F)  # PidTagMessageClass
SUBJECT = PropTag(0x0037001F)  # PidTagSubject
NORMALIZED_SUBJECT = PropTag(0x0E1D001F)  # PidTagNormalizedSubject
SENDER_NAME = PropTag(0x0C1A001F)  # PidTagSenderName
SENDER_EMAIL_ADDRESS = PropTag(0x0C1F001F)  # PidTagSenderEmailAddress
SENT_REPRESENTING_NAME = PropTag(0x0042001F)  # PidTagSentRepresentingName
MESSAGE_DELIVERY_TIME = PropTag(0x0E060040)  # PidTagMessageDeliveryTime
CLIENT_SUBMIT_TIME = PropTag(0x00390040)  # PidTagClientSubmitTime
LAST_MODIFICATION_TIME = PropTag(0x30080040)  # PidTagLastModificationTime
CREATION_TIME = PropTag(0x30070040)  # PidTagCreationTime
MESSAGE_FLAGS = PropTag(0x0E070003)  # PidTagMessageFlags
IMPORTANCE = PropTag(0x00170003)  # PidTagImportance
DISPLAY_TO = PropTag(0x0E04001F)  # PidTagDisplayTo
DISPLAY_CC = PropTag(0x0E03001F)  # PidTagDisplayCc
HAS_ATTACHMENTS = PropTag(0x0E1B000B)  # PidTagHasAttachments
BODY = PropTag(0x1000001F)  # PidTagBody
HTML = PropTag(0x10130102)  # PidTagHtml
RTF_COMPRESSED = PropTag(0x10090102)  # PidTagRtfCompressed

# --- sub-objects
MESSAGE_RECIPIENTS = PropTag(0x0E12000D)  # PidTagMessageRecipients
MESSAGE_ATTACHMENTS = PropTag(0x0E13000D)  # PidTagMessageAttachments
ROWID = PropTag(0x30000003)  # PidTagRowid
RECIPIENT_TYPE = PropTag(0x0C150003)  # PidTagRecipientType
DISPLAY_NAME = PropTag(0x3001001F)  # PidTagDisplayName
EMAIL_ADDRESS = PropTag(0x3003001F)  # PidTagEmailAddress
ADDRESS_TYPE = PropTag(0x3002001F)  # PidTagAddressType
ATTACH_NUMBER = PropTag(0x0E210003)  # PidTagAttachNumber
ATTACH_METHOD = PropTag(0x37050003)  # PidTagAttachMethod
ATTACH_DATA_BINARY = PropTag(0x37010102)  # PidTagAttachDataBinary
ATTACH_DATA_OBJECT = PropTag(0x3701000D)  # PidTagAttachDataObject
ATTACH_SIZE = PropTag(0x0E200003)  # PidTagAttachSize
ATTACH_LONG_FILENAME = PropTag(0x3707001F)  # PidTagAttachLongFilename

# --- folders
CONTAINER_CLASS = PropTag(0x3613001F)  # PidTagContainerClass
FOLDER_TYPE = PropTag(0x36010003)  # PidTagFolderType
CONTENT_COUNT = PropTag(0x36020003)  # PidTagContentCount
CONTENT_UNREAD_COUNT = PropTag(0x36030003)  # PidTagContentUnreadCount
ASSOCIATED_CONTENT_COUNT = PropTag(0x36170003)  # PidTagAssociatedContentCount
SUBFOLDERS = PropTag(0x360A000B)  # PidTagSubfolders
FOLDER_CHILD_COUNT = PropTag(0x66380003)  # PidTagFolderChildCount
HIERARCHY_CHANGE_NUMBER = PropTag(0x663E0003)  # PidTagHierarchyChangeNumber
LOCAL_COMMIT_TIME_MAX = PropTag(0x670A0040)  # PidTagLocalCommitTimeMax
DELETED_COUNT_TOTAL = PropTag(0x670B0003)  # PidTagDeletedCountTotal
COMMENT = PropTag(0x3004001F)  # PidTagComment

# --- special folder entry ids (MS-OXOSFLD 2.2)
IPM_SUBTREE_ENTRY_ID = PropTag(0x35E00102)  # PidTagIpmSubtreeEntryId
IPM_OUTBOX_ENTRY_ID = PropTag(0x35E20102)  # PidTagIpmOutboxEntryId
IPM_WASTEBASKET_ENTRY_ID = PropTag(0x35E30102)  # PidTagIpmWastebasketEntryId
IPM_SENT_MAIL_ENTRY_ID = PropTag(0x35E40102)  # PidTagIpmSentMailEntryId
VIEWS_ENTRY_ID = PropTag(0x35E50102)  # PidTagViewsEntryId
COMMON_VIEWS_ENTRY_ID = PropTag(0x35E60102)  # PidTagCommonViewsEntryId
FINDER_ENTRY_ID = PropTag(0x35E70102)  # PidTagFinderEntryId
IPM_APPOINTMENT_ENTRY_ID = PropTag(0x36D00102)  # PidTagIpmAppointmentEntryId
IPM_CONTACT_ENTRY_ID = PropTag(0x36D10102)  # PidTagIpmContactEntryId
IPM_JOURNAL_ENTRY_ID = PropTag(0x36D20102)  # PidTagIpmJournalEntryId
IPM_NOTE_ENTRY_ID = PropTag(0x36D30102)  # PidTagIpmNoteEntryId
IPM_TASK_ENTRY_ID = PropTag(0x36D40102)  # PidTagIpmTaskEntryId
REMINDERS_ONLINE_ENTRY_ID = PropTag(0x36D50102)  # PidTagRemindersOnlineEntryId
IPM_DRAFTS_ENTRY_ID = PropTag(0x36D70102)  # PidTagIpmDraftsEntryId
ADDITIONAL_REN_ENTRY_IDS = PropTag(0x36D81102)  # PidTagAdditionalRenEntryIds
MAILBOX_OWNER_NAME = PropTag(0x661C001F)  # PidTagMailboxOwnerName

# --- provider-internal (MS-OXPROPS 1.3.3: 0x6600-0x67FF, never transmitted)
IMAP_UNSUBSCRIBED = PropTag(0x67F0000B)
"""On a folder: True when the owner unsubscribed it over IMAP (absent: subscribed)."""

# --- quotas (MS-OXCSTOR 2.2.2.1), in KiB
STORAGE_QUOTA_LIMIT = PropTag(0x3FF50003)  # PidTagStorageQuotaLimit (warning)
PROHIBIT_SEND_QUOTA = PropTag(0x666E0003)  # PidTagProhibitSendQuota
PROHIBIT_RECEIVE_QUOTA = PropTag(0x666A0003)  # PidTagProhibitReceiveQuota

# --- PidTagMessageFlags bits (MS-OXCMSG 2.2.1.6)
MSGFLAG_READ = 0x00000001
MSGFLAG_UNMODIFIED = 0x00000002
MSGFLAG_SUBMITTED = 0x00000004
MSGFLAG_UNSENT = 0x00000008
MSGFLAG_HASATTACH = 0x00000010
MSGFLAG_FROMME = 0x00000020
MSGFLAG_ASSOCIATED = 0x00000040

# --- PidTagAttachMethod values (MS-OXCMSG 2.2.2.9)
ATTACH_BY_VALUE = 0x00000001
ATTACH_EMBEDDED_MSG = 0x00000005

COMPUTED_MESSAGE_TAGS: frozenset[PropTag] = frozenset({
    MID, FOLDER_ID, CHANGE_NUMBER, CHANGE_KEY, PREDECESSOR_CHANGE_LIST, SOURCE_KEY,
    PARENT_SOURCE_KEY, ENTRY_ID, PARENT_ENTRY_ID, RECORD_KEY, INSTANCE_KEY, INST_ID,
    INSTANCE_NUM, ASSOCIATED, MESSAGE_SIZE, MESSAGE_SIZE_EXTENDED, ACCESS, ACCESS_LEVEL,
    STORE_RECORD_KEY, MESSAGE_RECIPIENTS, MESSAGE_ATTACHMENTS,
})
"""Message properties the store computes from the index on every read.

Callers may send them (Outlook does); the store drops them before content reaches a
backend, so backends never store or return them.
"""
