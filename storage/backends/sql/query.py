"""Contents tables as SQL: restrictions and sort orders the sql backend runs natively.

Only what maps exactly onto indexed columns is translated (see
:data:`storage.backends.sql.columns.HOT_COLUMNS` and the index's own columns); any other
part of a restriction becomes a *superset* filter in SQL and is decided exactly in
Python on the rows SQL returns, so results are always those of the reference
evaluator (:mod:`groupware.mapi.evaluate`). A sort on a column without an SQL
expression makes the backend fall back to the naive Python table.

Absent properties are stored as sentinels below every value
(:mod:`storage.backends.sql.columns`); every translated leaf first checks for the
sentinel (``col != ABSENT AND ...``), so a restriction on an absent property is false
and, under ``NOT``, true, as in MAPI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from groupware.mapi.proptypes import PropType, tag_id, tag_type
from groupware.mapi.restrictions import (
    AndRestriction,
    BitmapRelOp,
    BitmaskRestriction,
    CommentRestriction,
    ContentRestriction,
    ExistRestriction,
    FuzzyLevelHigh,
    FuzzyLevelLow,
    NotRestriction,
    OrRestriction,
    PropertyRestriction,
    RelOp,
    Restriction,
)
from groupware.mapi.sorting import SortDirection, SortOrder
from groupware.types import PropTag
from storage.backends.sql.columns import ABSENT_INT, ABSENT_KEY, KEY_LENGTH, PRESENT
from storage.db.tables_mapistore import messages as index_messages
from storage.db.tables_mapistore import sql_messages
from storage.mapistore import tags


@dataclass(frozen=True)
class Translation:
    """A WHERE clause (None: no filter) and whether it decides the restriction alone."""

    where: ColumnElement[bool] | None
    exact: bool


def computed_flags() -> ColumnElement[Any]:
    """PidTagMessageFlags as the store returns it: stored flags with the index's read
    and associated bits."""
    stored = sa.case((sql_messages.c.flags == ABSENT_INT, 0),
                     else_=sql_messages.c.flags).op("&")(
        ~(tags.MSGFLAG_READ | tags.MSGFLAG_ASSOCIATED))
    read = sa.case((index_messages.c.is_read == sa.true(), tags.MSGFLAG_READ), else_=0)
    assoc = sa.case((index_messages.c.associated == sa.true(), tags.MSGFLAG_ASSOCIATED),
                    else_=0)
    return stored.op("|")(read).op("|")(assoc)


_STRING_COLUMNS: dict[int, Any] = {
    tag_id(tags.SUBJECT): sql_messages.c.subject,
    tag_id(tags.SENDER_NAME): sql_messages.c.sender,
    tag_id(tags.MESSAGE_CLASS): sql_messages.c.message_class,
}
_INT_COLUMNS: dict[PropTag, Any] = {
    tags.MESSAGE_DELIVERY_TIME: sql_messages.c.received,
    tags.CLIENT_SUBMIT_TIME: sql_messages.c.sent,
    tags.LAST_MODIFICATION_TIME: sql_messages.c.modified,
    tags.IMPORTANCE: sql_messages.c.importance,
    tags.MESSAGE_SIZE: index_messages.c.size,
    tags.MESSAGE_SIZE_EXTENDED: index_messages.c.size,
}
_ALWAYS_PRESENT = frozenset({tags.MESSAGE_FLAGS, tags.MESSAGE_SIZE, tags.MESSAGE_SIZE_EXTENDED,
                             tags.MID, tags.FOLDER_ID, tags.CHANGE_NUMBER, tags.ASSOCIATED})


def _string_column(tag: int) -> Any | None:
    if tag_type(tag) not in (PropType.STRING, PropType.STRING8):
        return None
    return _STRING_COLUMNS.get(tag_id(tag))


def _column(tag: int) -> Any | None:
    column = _string_column(tag)
    return _int_column(tag) if column is None else column


def _present(tag: int, column: Any) -> ColumnElement[bool]:
    """The column holds a value (not the absent sentinel)."""
    if (tag & ~0x2000) in (tags.MESSAGE_FLAGS, tags.MESSAGE_SIZE, tags.MESSAGE_SIZE_EXTENDED):
        return sa.true()
    sentinel = ABSENT_KEY if _string_column(tag) is not None else ABSENT_INT
    cond: ColumnElement[bool] = column != sentinel
    return cond


def _int_column(tag: int) -> Any | None:
    tag &= ~0x2000
    if tag == tags.MESSAGE_FLAGS:
        return computed_flags()
    return _INT_COLUMNS.get(PropTag(tag))


def sort_expression(order: SortOrder) -> ColumnElement[Any] | None:
    """ORDER BY term for one sort column, or None when it has no SQL form. Absent
    values are stored below all others, so they come first ascending and last
    descending, as MAPI wants, with the plain column order."""
    if order.direction not in (SortDirection.ASCEND, SortDirection.DESCEND):
        return None
    column = _column(order.tag)
    if column is None:
        return None
    term: ColumnElement[Any] = (column.desc() if order.direction is SortDirection.DESCEND
                                else column.asc())
    return term


def _compare(tag: int, column: Any, relop: RelOp, value: Any) -> ColumnElement[bool] | None:
    ops = {RelOp.LT: column < value, RelOp.LE: column <= value, RelOp.GT: column > value,
           RelOp.GE: column >= value, RelOp.EQ: column == value, RelOp.NE: column != value}
    cond = ops.get(relop)
    if cond is None:
        return None
    return sa.and_(_present(tag, column), cond)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _leaf(node: Restriction) -> Translation:
    inexact = Translation(None, False)
    if isinstance(node, PropertyRestriction):
        value = node.value.value
        scol = _string_column(node.tag)
        if scol is not None:
            if not isinstance(value, str):
                return inexact
            if len(value.casefold()) >= KEY_LENGTH - 1 or node.relop not in (RelOp.EQ, RelOp.NE):
                return inexact
            cond = _compare(node.tag, scol, node.relop, PRESENT + value.casefold())
            return Translation(cond, cond is not None)
        icol = _int_column(node.tag)
        if icol is not None and isinstance(value, int) and not isinstance(value, bool) \
                and tag_type(node.tag) == tag_type(node.value.tag):
            cond = _compare(node.tag, icol, node.relop, value)
            return Translation(cond, cond is not None)
        return inexact
    if isinstance(node, BitmaskRestriction):
        icol = _int_column(node.tag)
        if icol is None or tag_type(node.tag) not in (PropType.INTEGER32, PropType.INTEGER16):
            return inexact
        hit = icol.op("&")(node.mask) != 0
        cond = hit if node.op is BitmapRelOp.BMR_NEZ else sa.not_(hit)
        return Translation(sa.and_(_present(node.tag, icol), cond), True)
    if isinstance(node, ExistRestriction):
        base = PropTag(node.tag & ~0x2000)
        if base in _ALWAYS_PRESENT:
            return Translation(sa.true(), True)
        col = _column(base)
        if col is not None and tag_type(base) in (PropType.STRING, PropType.STRING8,
                                                  PropType.TIME, PropType.INTEGER32):
            return Translation(_present(base, col), True)
        return inexact
    if isinstance(node, ContentRestriction):
        scol = _string_column(node.tag)
        needle = node.value.value
        if scol is None or not isinstance(needle, str) or not needle:
            return inexact
        if not node.fuzzy_high & (FuzzyLevelHigh.IGNORECASE | FuzzyLevelHigh.LOOSE):
            return inexact
        key = needle.casefold()
        if len(key) >= KEY_LENGTH - 1:
            return inexact
        present = _present(node.tag, scol)
        if node.fuzzy_low is FuzzyLevelLow.PREFIX:
            cond = scol.like(PRESENT + _like_escape(key) + "%", escape="\\")
            exact = not node.fuzzy_high & (FuzzyLevelHigh.IGNORENONSPACE | FuzzyLevelHigh.LOOSE)
            return Translation(sa.and_(present, cond), exact)
        if node.fuzzy_low is FuzzyLevelLow.FULLSTRING:
            return Translation(sa.and_(present, scol == PRESENT + key), False)
        # A substring beyond the key's length is not in the key: superset filter
        # ("contains, or too long to tell"), decided exactly in Python.
        cond = sa.or_(scol.like("%" + _like_escape(key) + "%", escape="\\"),
                      sa.func.length(scol) >= KEY_LENGTH)
        return Translation(sa.and_(present, cond), False)
    return inexact


def translate(node: Restriction | None) -> Translation:
    """Translate a restriction (see the module docstring for the guarantees)."""
    if node is None:
        return Translation(None, True)
    if isinstance(node, AndRestriction):
        parts = [translate(c) for c in node.restrictions]
        wheres = [p.where for p in parts if p.where is not None]
        return Translation(sa.and_(*wheres) if wheres else None,
                           all(p.exact for p in parts))
    if isinstance(node, OrRestriction):
        parts = [translate(c) for c in node.restrictions]
        if not parts:
            return Translation(sa.false(), True)
        if any(p.where is None for p in parts):
            return Translation(None, False)
        return Translation(sa.or_(*[p.where for p in parts if p.where is not None]),
                           all(p.exact for p in parts))
    if isinstance(node, NotRestriction):
        inner = translate(node.restriction)
        if inner.where is not None and inner.exact:
            return Translation(sa.not_(inner.where), True)
        return Translation(None, False)
    if isinstance(node, CommentRestriction):
        return translate(node.restriction)
    return _leaf(node)
