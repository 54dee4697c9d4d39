"""MAPI error and warning codes (MS-OXCDATA 2.4) and the translation of our errors.

:func:`mapi_code_for` is the one place that turns a protocol-neutral
:class:`groupware.errors.Code` (or a :class:`~groupware.errors.GroupwareError`)
into the code EMSMDB and NSPI put on the wire. Names follow MS-OXCDATA 2.4.1
(``ecNone``, ``ecNotFound`` ...) with the MAPI header names
(``MAPI_E_NOT_FOUND`` ...) as aliases where the two refer to one value.
"""

from __future__ import annotations

import enum

from groupware.errors import Code, GroupwareError


class ErrorCode(enum.IntEnum):
    """MS-OXCDATA 2.4.1 error codes and 2.4.2 warning codes (32-bit, unsigned)."""

    # --- success
    ecNone = 0x00000000
    # --- 2.4.1.1 generic and storage errors
    ecError = 0x80004005  # MAPI_E_CALL_FAILED / GeneralFailure
    ecInterfaceNotSupported = 0x80004002  # MAPI_E_INTERFACE_NOT_SUPPORTED
    ecNotEnoughMemory = 0x8007000E  # MAPI_E_NOT_ENOUGH_MEMORY / ecMAPIOOM
    ecInvalidParam = 0x80070057  # MAPI_E_INVALID_PARAMETER
    ecAccessDenied = 0x80070005  # MAPI_E_NO_ACCESS
    StorageInvalidFunction = 0x80030001
    StorageAccessDenied = 0x80030005
    StorageInsufficientMemory = 0x80030008
    StorageInvalidPointer = 0x80030009
    StorageReadFault = 0x8003001E
    StorageLockViolation = 0x80030021
    StorageInvalidParameter = 0x80030057
    ecStreamSizeError = 0x80030070  # STG_E_MEDIUMFULL
    StorageInvalidFlag = 0x800300FF
    StorageCannotSave = 0x80030103
    # --- MAPI_E_* (0x8004xxxx)
    ecNoSupport = 0x80040102  # MAPI_E_NO_SUPPORT
    ecBadCharWidth = 0x80040103  # MAPI_E_BAD_CHARWIDTH
    ecStringTooLong = 0x80040105  # MAPI_E_STRING_TOO_LONG
    ecUnknownFlags = 0x80040106  # MAPI_E_UNKNOWN_FLAGS
    ecInvalidEntryId = 0x80040107  # MAPI_E_INVALID_ENTRYID
    ecInvalidObject = 0x80040108  # MAPI_E_INVALID_OBJECT
    ecObjectModified = 0x80040109  # MAPI_E_OBJECT_CHANGED
    ecObjectDeleted = 0x8004010A  # MAPI_E_OBJECT_DELETED
    ecBusy = 0x8004010B  # MAPI_E_BUSY
    ecDiskFull = 0x8004010D  # MAPI_E_NOT_ENOUGH_DISK
    ecInsufficientResources = 0x8004010E  # MAPI_E_NOT_ENOUGH_RESOURCES
    ecNotFound = 0x8004010F  # MAPI_E_NOT_FOUND
    ecVersionMismatch = 0x80040110  # MAPI_E_VERSION
    ecLoginFailure = 0x80040111  # MAPI_E_LOGON_FAILED
    ecTooManySessions = 0x80040112  # MAPI_E_SESSION_LIMIT
    ecUserCanceled = 0x80040113  # MAPI_E_USER_CANCEL
    ecUnableToAbort = 0x80040114  # MAPI_E_UNABLE_TO_ABORT
    ecNetwork = 0x80040115  # MAPI_E_NETWORK_ERROR
    ecWriteFault = 0x80040116  # MAPI_E_DISK_ERROR
    ecTooComplex = 0x80040117  # MAPI_E_TOO_COMPLEX
    ecBadColumn = 0x80040118  # MAPI_E_BAD_COLUMN
    ecExtendedError = 0x80040119  # MAPI_E_EXTENDED_ERROR
    ecComputed = 0x8004011A  # MAPI_E_COMPUTED
    ecCorruptData = 0x8004011B  # MAPI_E_CORRUPT_DATA
    ecUnconfigured = 0x8004011C  # MAPI_E_UNCONFIGURED
    ecFailOneProvider = 0x8004011D  # MAPI_E_FAILONEPROVIDER
    ecUnknownCodepage = 0x8004011E  # MAPI_E_UNKNOWN_CPID
    ecUnknownLocale = 0x8004011F  # MAPI_E_UNKNOWN_LCID
    ecPasswordChangeRequired = 0x80040120  # MAPI_E_PASSWORD_CHANGE_REQUIRED
    ecPasswordExpired = 0x80040121  # MAPI_E_PASSWORD_EXPIRED
    ecInvalidWorkstationAccount = 0x80040122  # MAPI_E_INVALID_WORKSTATION_ACCOUNT
    ecInvalidAccessTime = 0x80040123  # MAPI_E_INVALID_ACCESS_TIME
    ecAccountDisabled = 0x80040124  # MAPI_E_ACCOUNT_DISABLED
    ecEndOfSession = 0x80040200  # MAPI_E_END_OF_SESSION
    ecUnknownEntryId = 0x80040201  # MAPI_E_UNKNOWN_ENTRYID
    ecMissingRequiredColumn = 0x80040202  # MAPI_E_MISSING_REQUIRED_COLUMN
    ecBadValue = 0x80040301  # MAPI_E_BAD_VALUE
    ecInvalidType = 0x80040302  # MAPI_E_INVALID_TYPE
    ecTypeNotSupported = 0x80040303  # MAPI_E_TYPE_NO_SUPPORT
    ecUnexpectedType = 0x80040304  # MAPI_E_UNEXPECTED_TYPE
    ecTooBig = 0x80040305  # MAPI_E_TOO_BIG
    ecDeclineCopy = 0x80040306  # MAPI_E_DECLINE_COPY
    ecUnexpectedId = 0x80040307  # MAPI_E_UNEXPECTED_ID
    ecUnableToComplete = 0x80040400  # MAPI_E_UNABLE_TO_COMPLETE
    ecTimeout = 0x80040401  # MAPI_E_TIMEOUT
    ecTableEmpty = 0x80040402  # MAPI_E_TABLE_EMPTY
    ecTableTooBig = 0x80040403  # MAPI_E_TABLE_TOO_BIG
    ecInvalidBookmark = 0x80040405  # MAPI_E_INVALID_BOOKMARK
    ecWait = 0x80040500  # MAPI_E_WAIT
    ecCancel = 0x80040501  # MAPI_E_CANCEL
    ecNotMe = 0x80040602  # MAPI_E_NOT_ME
    ecDuplicateName = 0x80040604  # MAPI_E_COLLISION
    ecNotInitialized = 0x80040605  # MAPI_E_NOT_INITIALIZED
    ecNoRecipients = 0x80040607  # MAPI_E_NO_RECIPIENTS
    ecSubmitted = 0x80040608  # MAPI_E_SUBMITTED
    ecFolderHasChildren = 0x80040609  # MAPI_E_HAS_FOLDERS
    ecFolderHasContents = 0x8004060A  # MAPI_E_HAS_MESSAGES
    ecFolderCycle = 0x8004060B  # MAPI_E_FOLDER_CYCLE
    ecLockIdLimit = 0x8004060D  # MAPI_E_LOCKID_LIMIT
    ecAmbiguousRecip = 0x80040700  # MAPI_E_AMBIGUOUS_RECIP
    # --- ICS (MS-OXCFXICS): SYNC_E_*
    SyncObjectDeleted = 0x80040800  # SYNC_E_OBJECT_DELETED
    SyncIgnore = 0x80040801  # SYNC_E_IGNORE
    SyncConflict = 0x80040802  # SYNC_E_CONFLICT
    SyncNoParent = 0x80040803  # SYNC_E_NO_PARENT
    SyncIncest = 0x80040804  # SYNC_E_CYCLE
    SyncUnsynchronized = 0x80040805  # SYNC_E_UNSYNCHRONIZED
    ecNPQuotaExceeded = 0x80040900  # MAPI_E_NAMED_PROP_QUOTA_EXCEEDED
    ecNotImplemented = 0x80040FFF  # MAPI_E_NOT_IMPLEMENTED
    # --- Exchange server codes (small integers)
    ecUnknownUser = 0x000003EB
    ecServerOOM = 0x000003F0
    ecLoginPerm = 0x000003F2
    ecNotSearchFolder = 0x00000461
    ecNoReceiveFolder = 0x00000463
    ecWrongServer = 0x00000478
    ecBufferTooSmall = 0x0000047D
    ecRpcFormat = 0x000004B6
    ecNullObject = 0x000004B9
    ecQuotaExceeded = 0x000004D9
    ecMaxAttachmentExceeded = 0x000004DB
    ecFormatError = 0x000004ED
    ecDstNullObject = 0x00000503
    # --- 2.4.2 warnings
    ecWarnNoService = 0x00040203  # MAPI_W_NO_SERVICE
    ecWarnWithErrors = 0x00040380  # MAPI_W_ERRORS_RETURNED
    ecWarnPositionChanged = 0x00040481  # MAPI_W_POSITION_CHANGED
    ecWarnApproxCount = 0x00040482  # MAPI_W_APPROX_COUNT
    ecWarnCancelMessage = 0x00040580  # MAPI_W_CANCEL_MESSAGE
    ecPartialCompletion = 0x00040680  # MAPI_W_PARTIAL_COMPLETION
    SyncProgress = 0x00040820  # SYNC_W_PROGRESS
    SyncClientChangeNewer = 0x00040821  # SYNC_W_CLIENT_CHANGE_NEWER

    @property
    def is_warning(self) -> bool:
        """Success codes with information (severity bit clear, value non-zero)."""
        return self.value != 0 and not self.value & 0x80000000 and self.value >= 0x00040000

    @property
    def is_error(self) -> bool:
        return self.value != 0 and not self.is_warning


# MAPI header names for the same values, for readers who know MAPI rather than Exchange.
MAPI_E_CALL_FAILED = ErrorCode.ecError
MAPI_E_NOT_ENOUGH_MEMORY = ErrorCode.ecNotEnoughMemory
MAPI_E_INVALID_PARAMETER = ErrorCode.ecInvalidParam
MAPI_E_NO_ACCESS = ErrorCode.ecAccessDenied
MAPI_E_NO_SUPPORT = ErrorCode.ecNoSupport
MAPI_E_NOT_FOUND = ErrorCode.ecNotFound
MAPI_E_OBJECT_CHANGED = ErrorCode.ecObjectModified
MAPI_E_OBJECT_DELETED = ErrorCode.ecObjectDeleted
MAPI_E_COLLISION = ErrorCode.ecDuplicateName
MAPI_E_LOGON_FAILED = ErrorCode.ecLoginFailure
MAPI_E_TOO_BIG = ErrorCode.ecTooBig
MAPI_E_TOO_COMPLEX = ErrorCode.ecTooComplex
MAPI_E_NOT_IMPLEMENTED = ErrorCode.ecNotImplemented
MAPI_E_TIMEOUT = ErrorCode.ecTimeout
MAPI_E_CORRUPT_DATA = ErrorCode.ecCorruptData
MAPI_W_ERRORS_RETURNED = ErrorCode.ecWarnWithErrors

_FOR_CODE: dict[Code, ErrorCode] = {
    Code.INTERNAL: ErrorCode.ecError,
    Code.NOT_FOUND: ErrorCode.ecNotFound,
    Code.EXISTS: ErrorCode.ecDuplicateName,
    Code.INVALID: ErrorCode.ecInvalidParam,
    Code.DENIED: ErrorCode.ecAccessDenied,
    Code.AUTH_FAILED: ErrorCode.ecLoginFailure,
    Code.FEATURE_DISABLED: ErrorCode.ecLoginPerm,
    Code.THROTTLED: ErrorCode.ecBusy,
    Code.QUOTA: ErrorCode.ecQuotaExceeded,
    Code.TOO_BIG: ErrorCode.ecMaxAttachmentExceeded,
    Code.UNAVAILABLE: ErrorCode.ecNetwork,
    Code.CONFLICT: ErrorCode.ecObjectModified,
    Code.NOT_IMPLEMENTED: ErrorCode.ecNotImplemented,
}
"""Our code -> the MAPI code a client acts on best.

Choices that are not obvious: an existing name is ``ecDuplicateName`` (what
RopCreateFolder returns for a clash, MS-OXCFOLD 3.2.5.2); a disabled ``outlook``
feature is ``ecLoginPerm`` so Outlook says "not permitted" rather than asking for the
password again; "too big" is ``ecMaxAttachmentExceeded`` because the message-size
limit is the only size limit Outlook explains to the user; an unreachable
dependency is ``ecNetwork`` so clients retry instead of giving up.
"""


def mapi_code_for(error: Code | GroupwareError | BaseException) -> ErrorCode:
    """The MAPI error for one of our errors; any other exception is ``ecError``.

    Codec errors (:class:`groupware.mapi.errors.MapiFormatError`) are plain invalid
    input here; the ROP layer answers undecodable buffers with ``ecRpcFormat`` itself
    because only it knows the failure was in the framing (MS-OXCRPC 3.1.4.2).
    """
    if isinstance(error, Code):
        return _FOR_CODE[error]
    if isinstance(error, GroupwareError):
        return _FOR_CODE[error.code]
    return ErrorCode.ecError


def mapi_code_value(value: int) -> ErrorCode | int:
    """The :class:`ErrorCode` for a 32-bit wire value, or the raw value if unknown."""
    try:
        return ErrorCode(value & 0xFFFFFFFF)
    except ValueError:
        return value & 0xFFFFFFFF
