"""Errors of the message store, each with the MAPI code a client acts on.

They subclass the protocol-neutral errors of :mod:`groupware.errors` (so IMAP,
ActiveSync and SMTP map them by :class:`~groupware.errors.Code` as usual) and carry
``mapi_code``: the precise MS-OXCDATA 2.4 code EMSMDB should return, which is finer
than what :func:`groupware.mapi.codes.mapi_code_for` can derive from the Code alone
(ecFolderCycle, ecDuplicateName, ecInvalidType ...). Every error is raised before
anything is written.
"""

from __future__ import annotations

from groupware import errors
from groupware.mapi.codes import ErrorCode


class MapiStoreError(errors.GroupwareError):
    """Base of the store's errors; ``mapi_code`` is the MAPI error for EMSMDB."""

    mapi_code: ErrorCode = ErrorCode.ecError


def mapi_code_of(exc: BaseException) -> ErrorCode:
    """The MAPI code for any exception the store raises."""
    code = getattr(exc, "mapi_code", None)
    if isinstance(code, ErrorCode):
        return code
    from groupware.mapi.codes import mapi_code_for

    return mapi_code_for(exc)


class ObjectNotFound(MapiStoreError, errors.NotFound):
    """No such mailbox, folder, message, attachment or property."""

    mapi_code = ErrorCode.ecNotFound


class ObjectDeleted(MapiStoreError, errors.NotFound):
    """The object was deleted (it has a tombstone)."""

    mapi_code = ErrorCode.ecObjectDeleted


class DuplicateName(MapiStoreError, errors.AlreadyExists):
    """A sibling folder has this name already (MS-OXCFOLD 3.2.5.2)."""

    mapi_code = ErrorCode.ecDuplicateName


class FolderCycle(MapiStoreError, errors.InvalidInput):
    """A folder would become its own ancestor (MS-OXCFOLD 3.2.5.5)."""

    mapi_code = ErrorCode.ecFolderCycle


class FolderHasChildren(MapiStoreError, errors.Conflict):
    """Deleting a folder that has subfolders without DEL_FOLDERS."""

    mapi_code = ErrorCode.ecFolderHasChildren


class FolderHasContents(MapiStoreError, errors.Conflict):
    """Deleting a folder that has messages without DEL_MESSAGES."""

    mapi_code = ErrorCode.ecFolderHasContents


class SpecialFolderProtected(MapiStoreError, errors.PermissionDenied):
    """Special folders cannot be deleted or moved (MS-OXOSFLD 3.1.4.1)."""

    mapi_code = ErrorCode.ecAccessDenied


class InvalidPropertyType(MapiStoreError, errors.InvalidInput):
    """A property tag with a type MS-OXCDATA 2.11.1 does not define, or a value that
    does not fit its type."""

    mapi_code = ErrorCode.ecInvalidType


class InvalidPropertyValue(MapiStoreError, errors.InvalidInput):
    """A value of the right type that is out of range or malformed."""

    mapi_code = ErrorCode.ecBadValue


class ValueTooBig(MapiStoreError, errors.TooBig):
    """A property value, a message or a count of sub-objects beyond the limits."""

    mapi_code = ErrorCode.ecTooBig


class MessageTooBig(MapiStoreError, errors.TooBig):
    """The message as a whole is larger than ``max_message_size``."""

    mapi_code = ErrorCode.ecMaxAttachmentExceeded


class InvalidRestriction(MapiStoreError, errors.InvalidInput):
    """A restriction or sort order the store cannot evaluate."""

    mapi_code = ErrorCode.ecTooComplex


class InvalidParameter(MapiStoreError, errors.InvalidInput):
    """Any other bad argument."""

    mapi_code = ErrorCode.ecInvalidParam


class QuotaExceeded(MapiStoreError, errors.QuotaExceeded):
    """The mailbox is over its send-prohibit or receive-prohibit quota."""

    mapi_code = ErrorCode.ecQuotaExceeded


class NamedPropertyQuotaExceeded(MapiStoreError, errors.QuotaExceeded):
    """No property id left for a new named property (MS-OXCPRPT 3.1.5.10)."""

    mapi_code = ErrorCode.ecNPQuotaExceeded


class AccessDenied(MapiStoreError, errors.PermissionDenied):
    mapi_code = ErrorCode.ecAccessDenied


class BackendError(MapiStoreError, errors.Unavailable):
    """A backend failed (disk full, directory gone ...); nothing was committed."""

    mapi_code = ErrorCode.ecError


class BackendNotAvailable(MapiStoreError, errors.ConfigError):
    """A backend named in the configuration cannot be loaded or refuses its URI."""

    mapi_code = ErrorCode.ecNotFound


class SyncStateTooOld(MapiStoreError, errors.Conflict):
    """Changes since a change number older than the tombstone horizon were asked
    for: deletions may have been forgotten, the client must sync from scratch."""

    mapi_code = ErrorCode.SyncUnsynchronized
