"""Mail folders for the mail gateways (IMAP, POP3): :mod:`.view` over :mod:`.port`."""

from .port import FlagChange, FolderRow, MailStore, MessageInfo, MessageState, Quota
from .view import DELIMITER, INBOX, MailFolder, MailHandler, MailSession, SelectedFolder, Updates

__all__ = [
    "DELIMITER", "INBOX", "FlagChange", "FolderRow", "MailFolder", "MailHandler",
    "MailSession", "MailStore", "MessageInfo", "MessageState", "Quota", "SelectedFolder",
    "Updates",
]
