"""Maildir flags and the MAPI properties that mean the same thing.

A flag another program sets (Dovecot's STORE, mutt's ``F`` key) must show in
Outlook, and a property Outlook sets must show in mutt. The mapping, as Exchange's
IMAP gateway presents it:

====  ==========  ===================================================================
flag  IMAP        MAPI
====  ==========  ===================================================================
S     \\Seen       the read state (index-owned, mirrored in the name and reported by
                  ``scan_folder``)
F     \\Flagged    PidTagFlagStatus = followupFlagged (2)
R     \\Answered   PidTagLastVerbExecuted = NOTEREPLY (102) or REPLYALL (103)
P     $Forwarded  PidTagLastVerbExecuted = NOTEFORWARD (104)
D     \\Draft      PidTagMessageFlags has mfUnsent (0x8)
T     \\Deleted    kept as found (no MAPI meaning; IMAP expunge removes the file)
a-z   keywords    kept as found (Dovecot's ``dovecot-keywords`` names them)
====  ==========  ===================================================================

The reconciliation is stateless: properties are made to agree with the flags in
the current file name (:func:`reconcile`), and the flags of a file we write are
computed from the properties (:func:`flags_for`), so whichever side changed last wins.
"""

from __future__ import annotations

from groupware.types import PropTag
from storage.backends.maildir.names import normalize_flags
from storage.mapistore import tags
from storage.mapistore.model import Props

FLAG_STATUS = PropTag(0x10900003)  # PidTagFlagStatus
LAST_VERB_EXECUTED = PropTag(0x10810003)  # PidTagLastVerbExecuted
FOLLOWUP_FLAGGED = 2
NOTEREPLY = 102
REPLYALL = 103
NOTEFORWARD = 104
_REPLIED = (NOTEREPLY, REPLYALL)
MSGFLAG_UNSENT = tags.MSGFLAG_UNSENT

MAPPED = "DFPRS"
"""Flags whose meaning lives in MAPI properties (or the read state)."""


def flags_for(props: Props, read: bool, kept: str = "") -> str:
    """The info flags a file must carry for ``props``; ``kept`` are the unmapped
    flags of the current name (``T``, keywords), preserved."""
    out = [c for c in kept if c not in MAPPED]
    if read:
        out.append("S")
    if props.get(FLAG_STATUS) == FOLLOWUP_FLAGGED:
        out.append("F")
    verb = props.get(LAST_VERB_EXECUTED)
    if verb in _REPLIED:
        out.append("R")
    elif verb == NOTEFORWARD:
        out.append("P")
    flags = props.get(tags.MESSAGE_FLAGS)
    if isinstance(flags, int) and flags & MSGFLAG_UNSENT:
        out.append("D")
    return normalize_flags("".join(out))


def reconcile(props: Props, flags: str) -> bool:
    """Make ``props`` agree with ``flags`` (in place); True when something changed."""
    before = {t: props.get(t) for t in (FLAG_STATUS, LAST_VERB_EXECUTED, tags.MESSAGE_FLAGS)}
    if "F" in flags:
        props[FLAG_STATUS] = FOLLOWUP_FLAGGED
    elif props.get(FLAG_STATUS) == FOLLOWUP_FLAGGED:
        del props[FLAG_STATUS]
    verb = props.get(LAST_VERB_EXECUTED)
    if "R" in flags:
        if verb not in _REPLIED:
            props[LAST_VERB_EXECUTED] = NOTEREPLY
    elif "P" in flags:
        if verb != NOTEFORWARD:
            props[LAST_VERB_EXECUTED] = NOTEFORWARD
    elif verb in (*_REPLIED, NOTEFORWARD):
        del props[LAST_VERB_EXECUTED]
    mflags = props.get(tags.MESSAGE_FLAGS)
    current = mflags if isinstance(mflags, int) else 0
    wanted = current | MSGFLAG_UNSENT if "D" in flags else current & ~MSGFLAG_UNSENT
    if wanted != current:
        props[tags.MESSAGE_FLAGS] = wanted
    return before != {t: props.get(t) for t in before}
