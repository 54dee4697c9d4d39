"""The property tags and named properties the converters use (MS-OXPROPS).

Tagged properties are the shared canonical constants of :mod:`groupware.mapi.tags`
under the short names the converters use (the canonical PidTag* name without the
prefix); only properties missing from that table are defined here.
"""

from __future__ import annotations

import uuid

from groupware.convert.model import NamedProp
from groupware.mapi import tags
from groupware.mapi.proptypes import PropType as T
from groupware.mapi.proptypes import make_tag

# --- property sets (MS-OXPROPS 1.3.2) ---------------------------------------------
PS_MAPI = uuid.UUID("00020328-0000-0000-c000-000000000046")
PS_PUBLIC_STRINGS = uuid.UUID("00020329-0000-0000-c000-000000000046")
PS_INTERNET_HEADERS = uuid.UUID("00020386-0000-0000-c000-000000000046")
PSETID_APPOINTMENT = uuid.UUID("00062002-0000-0000-c000-000000000046")
PSETID_TASK = uuid.UUID("00062003-0000-0000-c000-000000000046")
PSETID_ADDRESS = uuid.UUID("00062004-0000-0000-c000-000000000046")
PSETID_COMMON = uuid.UUID("00062008-0000-0000-c000-000000000046")
PSETID_MEETING = uuid.UUID("6ed8da90-450b-101b-98da-00aa003f1305")
PSETID_ATTACHMENT = uuid.UUID("96357f7f-59e1-47d0-99a7-46515c183b54")

# --- envelope (MS-OXCMSG, MS-OXOMSG, MS-OXCMAIL 2.2.3) -----------------------------
MESSAGE_CLASS = tags.PidTagMessageClass
SUBJECT = tags.PidTagSubject
SUBJECT_PREFIX = tags.PidTagSubjectPrefix
NORMALIZED_SUBJECT = tags.PidTagNormalizedSubject
CONVERSATION_TOPIC = tags.PidTagConversationTopic
CONVERSATION_INDEX = tags.PidTagConversationIndex
IMPORTANCE = tags.PidTagImportance
PRIORITY = tags.PidTagPriority
SENSITIVITY = tags.PidTagSensitivity
CLIENT_SUBMIT_TIME = tags.PidTagClientSubmitTime
MESSAGE_DELIVERY_TIME = tags.PidTagMessageDeliveryTime
CREATION_TIME = tags.PidTagCreationTime
LAST_MODIFICATION_TIME = tags.PidTagLastModificationTime
READ_RECEIPT_REQUESTED = tags.PidTagReadReceiptRequested
ORIGINATOR_DELIVERY_REPORT_REQUESTED = tags.PidTagOriginatorDeliveryReportRequested
MESSAGE_FLAGS = tags.PidTagMessageFlags
MESSAGE_SIZE = tags.PidTagMessageSize
HASATTACH = tags.PidTagHasAttachments
INTERNET_MESSAGE_ID = tags.PidTagInternetMessageId
IN_REPLY_TO_ID = tags.PidTagInReplyToId
INTERNET_REFERENCES = tags.PidTagInternetReferences
LIST_HELP = tags.PidTagListHelp
LIST_SUBSCRIBE = tags.PidTagListSubscribe
LIST_UNSUBSCRIBE = tags.PidTagListUnsubscribe
TRANSPORT_MESSAGE_HEADERS = tags.PidTagTransportMessageHeaders
INTERNET_CPID = tags.PidTagInternetCodepage
MESSAGE_LOCALE_ID = tags.PidTagMessageLocaleId
DISPLAY_TO = tags.PidTagDisplayTo
DISPLAY_CC = tags.PidTagDisplayCc
DISPLAY_BCC = tags.PidTagDisplayBcc
SENDER_NAME = tags.PidTagSenderName
SENDER_EMAIL_ADDRESS = tags.PidTagSenderEmailAddress
SENDER_ADDRTYPE = tags.PidTagSenderAddressType
SENDER_SMTP_ADDRESS = tags.PidTagSenderSmtpAddress
SENDER_ENTRYID = tags.PidTagSenderEntryId
SENT_REPRESENTING_NAME = tags.PidTagSentRepresentingName
SENT_REPRESENTING_EMAIL_ADDRESS = tags.PidTagSentRepresentingEmailAddress
SENT_REPRESENTING_ADDRTYPE = tags.PidTagSentRepresentingAddressType
SENT_REPRESENTING_SMTP_ADDRESS = tags.PidTagSentRepresentingSmtpAddress
SENT_REPRESENTING_ENTRYID = tags.PidTagSentRepresentingEntryId
REPLY_RECIPIENT_NAMES = tags.PidTagReplyRecipientNames
REPLY_RECIPIENT_ENTRIES = tags.PidTagReplyRecipientEntries
RECEIVED_BY_NAME = tags.PidTagReceivedByName
BODY = tags.PidTagBody
HTML = tags.PidTagHtml
RTF_COMPRESSED = tags.PidTagRtfCompressed
RTF_IN_SYNC = tags.PidTagRtfInSync
NATIVE_BODY_INFO = tags.PidTagNativeBody
ICON_INDEX = tags.PidTagIconIndex

# --- recipients (MS-OXCMSG 2.2.1.x, MS-OXOMSG 2.2.3) -------------------------------
RECIPIENT_TYPE = tags.PidTagRecipientType
DISPLAY_NAME = tags.PidTagDisplayName
ADDRTYPE = tags.PidTagAddressType
EMAIL_ADDRESS = tags.PidTagEmailAddress
SMTP_ADDRESS = tags.PidTagSmtpAddress
ENTRYID = tags.PidTagEntryId
OBJECT_TYPE = tags.PidTagObjectType
DISPLAY_TYPE = tags.PidTagDisplayType
ROWID = tags.PidTagRowid
RECIPIENT_FLAGS = tags.PidTagRecipientFlags
RECIPIENT_TRACK_STATUS = tags.PidTagRecipientTrackStatus

MAPI_TO, MAPI_CC, MAPI_BCC = 1, 2, 3
MAPI_ORIG = 0
MAPI_MAILUSER = 6
MAPI_ATTACH = 7

# --- attachments (MS-OXCMSG 2.2.2) -------------------------------------------------
ATTACH_NUM = tags.PidTagAttachNumber
ATTACH_SIZE = tags.PidTagAttachSize
ATTACH_DATA_BIN = tags.PidTagAttachDataBinary
ATTACH_DATA_OBJ = tags.PidTagAttachDataObject
ATTACH_EXTENSION = tags.PidTagAttachExtension
ATTACH_FILENAME = tags.PidTagAttachFilename
ATTACH_METHOD = tags.PidTagAttachMethod
ATTACH_LONG_FILENAME = tags.PidTagAttachLongFilename
ATTACH_PATHNAME = tags.PidTagAttachPathname
ATTACH_RENDERING = tags.PidTagAttachRendering
ATTACH_TAG = tags.PidTagAttachTag
RENDERING_POSITION = tags.PidTagRenderingPosition
ATTACH_MIME_TAG = tags.PidTagAttachMimeTag
ATTACH_CONTENT_BASE = tags.PidTagAttachContentBase
ATTACH_CONTENT_ID = tags.PidTagAttachContentId
ATTACH_CONTENT_LOCATION = tags.PidTagAttachContentLocation
ATTACH_FLAGS = tags.PidTagAttachFlags
ATTACH_MIME_SEQUENCE = make_tag(0x3710, T.INTEGER32)
TEXT_ATTACHMENT_CHARSET = tags.PidTagTextAttachmentCharset
ATTACHMENT_HIDDEN = tags.PidTagAttachmentHidden
ATTACHMENT_FLAGS = tags.PidTagAttachmentFlags
ATTACHMENT_LINKID = tags.PidTagAttachmentLinkId
EXCEPTION_STARTTIME = tags.PidTagExceptionStartTime
EXCEPTION_ENDTIME = tags.PidTagExceptionEndTime
ATTACH_CONTENT_DISPOSITION = NamedProp(PS_INTERNET_HEADERS, "content-disposition", T.STRING)
"""Not a canonical property: the disposition kept for MIME round trips."""

AFNONE, AFBYVALUE, AFEMBEDDEDMESSAGE = 0, 1, 5
ATT_MHTML_REF = 0x4
AFX_EXCEPTION = 0x2  # PidTagAttachmentFlags: afException (MS-OXOCAL 2.2.10.1.2)

# --- message flags (MS-OXCMSG 2.2.1.6) ---------------------------------------------
MSGFLAG_READ = 0x1
MSGFLAG_UNMODIFIED = 0x2
MSGFLAG_HASATTACH = 0x10
MSGFLAG_UNSENT = 0x8

# --- named properties --------------------------------------------------------------
KEYWORDS = NamedProp(PS_PUBLIC_STRINGS, "Keywords", T.MULTIPLE_STRING)
"""PidNameKeywords: the categories (MS-OXCMAIL 2.2.3.2.? Keywords header)."""


def _lid(guid: uuid.UUID, lid: int, kind: T) -> NamedProp:
    return NamedProp(guid, lid, kind)


# --- calendar (MS-OXOCAL 2.2.1, PSETID_Appointment / PSETID_Common / PSETID_Meeting) ------
APPT_SEQUENCE = _lid(PSETID_APPOINTMENT, 0x8201, T.INTEGER32)
BUSY_STATUS = _lid(PSETID_APPOINTMENT, 0x8205, T.INTEGER32)
LOCATION = _lid(PSETID_APPOINTMENT, 0x8208, T.STRING)
APPT_START_WHOLE = _lid(PSETID_APPOINTMENT, 0x820D, T.TIME)
APPT_END_WHOLE = _lid(PSETID_APPOINTMENT, 0x820E, T.TIME)
APPT_DURATION = _lid(PSETID_APPOINTMENT, 0x8213, T.INTEGER32)
APPT_SUB_TYPE = _lid(PSETID_APPOINTMENT, 0x8215, T.BOOLEAN)  # all-day
APPT_RECUR = _lid(PSETID_APPOINTMENT, 0x8216, T.BINARY)
APPT_STATE_FLAGS = _lid(PSETID_APPOINTMENT, 0x8217, T.INTEGER32)
RESPONSE_STATUS = _lid(PSETID_APPOINTMENT, 0x8218, T.INTEGER32)
RECURRING = _lid(PSETID_APPOINTMENT, 0x8223, T.BOOLEAN)
EXCEPTION_REPLACE_TIME = _lid(PSETID_APPOINTMENT, 0x8228, T.TIME)
RECURRENCE_TYPE = _lid(PSETID_APPOINTMENT, 0x8231, T.INTEGER32)
RECURRENCE_PATTERN = _lid(PSETID_APPOINTMENT, 0x8232, T.STRING)
TIME_ZONE_STRUCT = _lid(PSETID_APPOINTMENT, 0x8233, T.BINARY)
TIME_ZONE_DESCRIPTION = _lid(PSETID_APPOINTMENT, 0x8234, T.STRING)
CLIP_START = _lid(PSETID_APPOINTMENT, 0x8235, T.TIME)
CLIP_END = _lid(PSETID_APPOINTMENT, 0x8236, T.TIME)
TZDEF_START_DISPLAY = _lid(PSETID_APPOINTMENT, 0x825E, T.BINARY)
TZDEF_END_DISPLAY = _lid(PSETID_APPOINTMENT, 0x825F, T.BINARY)
TZDEF_RECUR = _lid(PSETID_APPOINTMENT, 0x8260, T.BINARY)
REMINDER_DELTA = _lid(PSETID_COMMON, 0x8501, T.INTEGER32)
REMINDER_TIME = _lid(PSETID_COMMON, 0x8502, T.TIME)
REMINDER_SET = _lid(PSETID_COMMON, 0x8503, T.BOOLEAN)
COMMON_START = _lid(PSETID_COMMON, 0x8516, T.TIME)
COMMON_END = _lid(PSETID_COMMON, 0x8517, T.TIME)
REMINDER_SIGNAL_TIME = _lid(PSETID_COMMON, 0x8560, T.TIME)
GLOBAL_OBJECT_ID = _lid(PSETID_MEETING, 0x0003, T.BINARY)
CLEAN_GLOBAL_OBJECT_ID = _lid(PSETID_MEETING, 0x0023, T.BINARY)
IS_RECURRING = _lid(PSETID_MEETING, 0x0005, T.BOOLEAN)
OWNER_CRITICAL_CHANGE = _lid(PSETID_MEETING, 0x001A, T.TIME)
ICAL_UID = NamedProp(PS_INTERNET_HEADERS, "x-groupware-ical-uid", T.STRING)
"""Not canonical: the UID as written when it is not a Global Object ID in hex."""
START_DATE = tags.PidTagStartDate
END_DATE = tags.PidTagEndDate
LAST_MODIFIER_TIME = LAST_MODIFICATION_TIME
OWNER_APPT_ID = tags.PidTagOwnerAppointmentId

ASF_MEETING, ASF_RECEIVED, ASF_CANCELED = 0x1, 0x2, 0x4
RECIP_SENDABLE, RECIP_ORGANIZER = 0x1, 0x2
RESP_NONE, RESP_ORGANIZED, RESP_TENTATIVE, RESP_ACCEPTED, RESP_DECLINED, RESP_NOT_RESPONDED = (
    0, 1, 2, 3, 4, 5)

# --- tasks (MS-OXOTASK 2.2.2, PSETID_Task) ---------------------------------------------
TASK_STATUS = _lid(PSETID_TASK, 0x8101, T.INTEGER32)
PERCENT_COMPLETE = _lid(PSETID_TASK, 0x8102, T.FLOATING64)
TASK_START_DATE = _lid(PSETID_TASK, 0x8104, T.TIME)
TASK_DUE_DATE = _lid(PSETID_TASK, 0x8105, T.TIME)
TASK_DATE_COMPLETED = _lid(PSETID_TASK, 0x810F, T.TIME)
TASK_RECURRENCE = _lid(PSETID_TASK, 0x8116, T.BINARY)
TASK_COMPLETE = _lid(PSETID_TASK, 0x811C, T.BOOLEAN)
TASK_F_RECURRING = _lid(PSETID_TASK, 0x8126, T.BOOLEAN)

# --- contacts (MS-OXOCNTC 2.2.1, PSETID_Address) ---------------------------------------
GIVEN_NAME = tags.PidTagGivenName
SURNAME = tags.PidTagSurname
MIDDLE_NAME = tags.PidTagMiddleName
DISPLAY_NAME_PREFIX = tags.PidTagDisplayNamePrefix
GENERATION = tags.PidTagGeneration
NICKNAME = tags.PidTagNickname
COMPANY_NAME = tags.PidTagCompanyName
DEPARTMENT_NAME = tags.PidTagDepartmentName
JOB_TITLE = tags.PidTagTitle
BUSINESS_TELEPHONE = tags.PidTagBusinessTelephoneNumber
BUSINESS2_TELEPHONE = tags.PidTagBusiness2TelephoneNumber
HOME_TELEPHONE = tags.PidTagHomeTelephoneNumber
HOME2_TELEPHONE = tags.PidTagHome2TelephoneNumber
MOBILE_TELEPHONE = tags.PidTagMobileTelephoneNumber
BUSINESS_FAX = tags.PidTagBusinessFaxNumber
HOME_FAX = tags.PidTagHomeFaxNumber
PAGER_TELEPHONE = tags.PidTagPagerTelephoneNumber
CAR_TELEPHONE = tags.PidTagCarTelephoneNumber
OTHER_TELEPHONE = tags.PidTagOtherTelephoneNumber
PRIMARY_TELEPHONE = tags.PidTagPrimaryTelephoneNumber
BIRTHDAY = tags.PidTagBirthday
WEDDING_ANNIVERSARY = tags.PidTagWeddingAnniversary
PERSONAL_HOME_PAGE = tags.PidTagPersonalHomePage
BUSINESS_HOME_PAGE = tags.PidTagBusinessHomePage
HOME_ADDRESS = tuple(make_tag(i, T.STRING) for i in (0x3A5E, 0x3A5D, 0x3A59, 0x3A5C, 0x3A5B,
                                                     0x3A5A))
"""PO box, street, city, state, postal code, country: the home address (MS-OXOCNTC 2.2.1.3)."""
OTHER_ADDRESS = tuple(make_tag(i, T.STRING) for i in (0x3A64, 0x3A63, 0x3A5F, 0x3A62, 0x3A61,
                                                      0x3A60))
WORK_ADDRESS = tuple(_lid(PSETID_ADDRESS, i, T.STRING) for i in (0x804A, 0x8045, 0x8046, 0x8047,
                                                                  0x8048, 0x8049))
FILE_UNDER = _lid(PSETID_ADDRESS, 0x8005, T.STRING)
HAS_PICTURE = _lid(PSETID_ADDRESS, 0x8015, T.BOOLEAN)
EMAILS = tuple(
    (_lid(PSETID_ADDRESS, base, T.STRING), _lid(PSETID_ADDRESS, base + 2, T.STRING),
     _lid(PSETID_ADDRESS, base + 3, T.STRING), _lid(PSETID_ADDRESS, base + 4, T.STRING))
    for base in (0x8080, 0x8090, 0x80A0)
)
"""Email1-3: (display name, address type, address, original display name)."""
ATTACHMENT_CONTACT_PHOTO = tags.PidTagAttachmentContactPhoto
