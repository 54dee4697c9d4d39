"""IMAP flags and the MAPI properties that mean the same thing.

A flag set in Thunderbird must show in Outlook and on the phone, and a message
Outlook marks as replied must show ``\\Answered`` in mutt. The mapping is the one the
maildir backend uses for its file-name flags (:mod:`storage.backends.maildir.flags`),
so a maildir-backed Inbox, Dovecot reading that maildir, and our IMAP agree:

=============  ===========================================================================
IMAP           MAPI
=============  ===========================================================================
\\Seen          the read state (the index's, with its own change number)
\\Flagged       PidTagFlagStatus = followupFlagged (2)
\\Answered      PidTagLastVerbExecuted = NOTEREPLY (102) or REPLYALL (103)
$Forwarded     PidTagLastVerbExecuted = NOTEFORWARD (104)
\\Draft         PidTagMessageFlags has mfUnsent (0x8)
\\Deleted       PidTagMessageStatus has MSGSTATUS_DELMARKED (0x8)
other keywords PidNameKeywords (Outlook's categories)
=============  ===========================================================================

One last verb holds either "replied" or "forwarded": with both flags set,
``\\Answered`` wins (as in the maildir mapping). Setting a verb also sets
PidTagLastVerbExecutionTime and the PidTagIconIndex Outlook draws. Categories that
are not valid IMAP atoms (``Red Category`` has a space) are not shown over IMAP and
are kept when a client replaces the flags.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from groupware.types import PropTag

FLAG_STATUS = PropTag(0x10900003)  # PidTagFlagStatus
LAST_VERB_EXECUTED = PropTag(0x10810003)  # PidTagLastVerbExecuted
LAST_VERB_EXECUTION_TIME = PropTag(0x10820040)  # PidTagLastVerbExecutionTime
ICON_INDEX = PropTag(0x10800003)  # PidTagIconIndex
MESSAGE_FLAGS = PropTag(0x0E070003)  # PidTagMessageFlags
MESSAGE_STATUS = PropTag(0x0E170003)  # PidTagMessageStatus
MESSAGE_DELIVERY_TIME = PropTag(0x0E060040)  # PidTagMessageDeliveryTime

FOLLOWUP_FLAGGED = 2
NOTEREPLY = 102
REPLYALL = 103
NOTEFORWARD = 104
ICON_REPLIED = 0x105
ICON_FORWARDED = 0x106
MSGFLAG_UNSENT = 0x8
MSGSTATUS_DELMARKED = 0x8

SEEN, FLAGGED, ANSWERED, DRAFT, DELETED = (
    "\\Seen", "\\Flagged", "\\Answered", "\\Draft", "\\Deleted")
FORWARDED = "$Forwarded"
SYSTEM = frozenset({SEEN, FLAGGED, ANSWERED, DRAFT, DELETED})

# RFC 9051 atom: no atom-specials (CTL, SP, ( ) { % * " \ ]), ASCII only.
_ATOM = re.compile(r"[!#$&'+,\-./0-9:;<=>?@A-Z\[^_`a-z|}~]+")


def is_keyword(name: str) -> bool:
    """True when ``name`` can travel as an IMAP keyword."""
    return bool(_ATOM.fullmatch(name))


def canonical(flag: str) -> str:
    """System flags and ``$Forwarded`` spelled as RFC 9051 does (any case accepted)."""
    folded = flag.casefold()
    for name in (*SYSTEM, FORWARDED):
        if name.casefold() == folded:
            return name
    return flag


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _keywords(props: Mapping[PropTag, Any], tag: PropTag | None) -> tuple[str, ...]:
    value = props.get(tag) if tag is not None else None
    if isinstance(value, tuple):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def flags_of(read: bool, props: Mapping[PropTag, Any],
             keywords_tag: PropTag | None) -> frozenset[str]:
    """The IMAP flags of a message with this read state and these properties."""
    out: set[str] = {SEEN} if read else set()
    if props.get(FLAG_STATUS) == FOLLOWUP_FLAGGED:
        out.add(FLAGGED)
    verb = props.get(LAST_VERB_EXECUTED)
    if verb in (NOTEREPLY, REPLYALL):
        out.add(ANSWERED)
    elif verb == NOTEFORWARD:
        out.add(FORWARDED)
    if _int(props.get(MESSAGE_FLAGS)) & MSGFLAG_UNSENT:
        out.add(DRAFT)
    if _int(props.get(MESSAGE_STATUS)) & MSGSTATUS_DELMARKED:
        out.add(DELETED)
    for word in _keywords(props, keywords_tag):
        if is_keyword(word) and canonical(word) not in SYSTEM:
            out.add(canonical(word))
    return frozenset(out)


@dataclass
class PropChange:
    """What to write for a flag change: read state, properties set and removed."""

    read: bool | None = None
    props: dict[PropTag, Any] = field(default_factory=dict)
    delete: list[PropTag] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.read is not None or bool(self.props) or bool(self.delete)


def normalise(flags: Iterable[str]) -> frozenset[str]:
    """Canonical spelling; one keyword per case-insensitive name."""
    out: dict[str, str] = {}
    for flag in flags:
        name = canonical(flag)
        out.setdefault(name.casefold(), name)
    return frozenset(out.values())


def change_for(read: bool, props: Mapping[PropTag, Any], new: frozenset[str],
               keywords_tag: PropTag | None, now_filetime: int) -> PropChange:
    """The writes that turn a message with ``read``/``props`` into one with ``new`` flags."""
    change = PropChange()
    if (SEEN in new) != read:
        change.read = SEEN in new

    def put(tag: PropTag, value: Any) -> None:
        if props.get(tag) != value:
            change.props[tag] = value

    def drop(tag: PropTag) -> None:
        if tag in props:
            change.delete.append(tag)

    if FLAGGED in new:
        put(FLAG_STATUS, FOLLOWUP_FLAGGED)
    elif props.get(FLAG_STATUS) == FOLLOWUP_FLAGGED:
        drop(FLAG_STATUS)

    verb = props.get(LAST_VERB_EXECUTED)
    if ANSWERED in new:
        if verb not in (NOTEREPLY, REPLYALL):
            put(LAST_VERB_EXECUTED, NOTEREPLY)
            put(LAST_VERB_EXECUTION_TIME, now_filetime)
            put(ICON_INDEX, ICON_REPLIED)
    elif FORWARDED in new:
        if verb != NOTEFORWARD:
            put(LAST_VERB_EXECUTED, NOTEFORWARD)
            put(LAST_VERB_EXECUTION_TIME, now_filetime)
            put(ICON_INDEX, ICON_FORWARDED)
    elif verb in (NOTEREPLY, REPLYALL, NOTEFORWARD):
        drop(LAST_VERB_EXECUTED)
        drop(LAST_VERB_EXECUTION_TIME)
        if props.get(ICON_INDEX) in (ICON_REPLIED, ICON_FORWARDED):
            drop(ICON_INDEX)

    mflags = _int(props.get(MESSAGE_FLAGS))
    wanted = mflags | MSGFLAG_UNSENT if DRAFT in new else mflags & ~MSGFLAG_UNSENT
    if wanted != mflags:
        change.props[MESSAGE_FLAGS] = wanted

    status = _int(props.get(MESSAGE_STATUS))
    wanted = status | MSGSTATUS_DELMARKED if DELETED in new else status & ~MSGSTATUS_DELMARKED
    if wanted != status:
        change.props[MESSAGE_STATUS] = wanted

    if keywords_tag is not None:
        stored = _keywords(props, keywords_tag)
        hidden = [w for w in stored if not is_keyword(w) or canonical(w) in SYSTEM]
        shown = {canonical(w).casefold(): w for w in stored if w not in hidden}
        wanted_words = {f.casefold(): f for f in new
                        if f not in SYSTEM and f != FORWARDED and is_keyword(f)}
        kept = [w for key, w in shown.items() if key in wanted_words]
        added = [w for key, w in sorted(wanted_words.items()) if key not in shown]
        words = (*hidden, *kept, *added)
        if words != stored:
            if words:
                change.props[keywords_tag] = words
            else:
                drop(keywords_tag)
    return change
