"""Hypothesis strategies for MAPI values, tags and restrictions, shared by the tests."""

from __future__ import annotations

from hypothesis import strategies as st

from groupware.mapi.proptypes import PropType, make_tag
from groupware.mapi.restrictions import (
    AndRestriction,
    BitmapRelOp,
    BitmaskRestriction,
    CommentRestriction,
    ComparePropertiesRestriction,
    ContentRestriction,
    CountRestriction,
    ExistRestriction,
    FuzzyLevelHigh,
    FuzzyLevelLow,
    NotRestriction,
    OrRestriction,
    PropertyRestriction,
    RelOp,
    Restriction,
    SizeRestriction,
    SubObjectRestriction,
)
from groupware.mapi.values import RuleActions, TaggedPropertyValue

unicode_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=40,
)
cp1252_text = st.text(
    alphabet=st.characters(codec="cp1252", blacklist_characters="\x00"), max_size=40
)

_SCALARS: dict[PropType, st.SearchStrategy[object]] = {
    PropType.NULL: st.none(),
    PropType.INTEGER16: st.integers(-(1 << 15), (1 << 15) - 1),
    PropType.INTEGER32: st.integers(-(1 << 31), (1 << 31) - 1),
    PropType.INTEGER64: st.integers(-(1 << 63), (1 << 63) - 1),
    PropType.CURRENCY: st.integers(-(1 << 63), (1 << 63) - 1),
    PropType.TIME: st.integers(-(1 << 63), (1 << 63) - 1),
    PropType.ERROR_CODE: st.integers(0, (1 << 32) - 1),
    PropType.FLOATING32: st.floats(width=32, allow_nan=False),
    PropType.FLOATING64: st.floats(allow_nan=False),
    PropType.FLOATING_TIME: st.floats(allow_nan=False),
    PropType.BOOLEAN: st.booleans(),
    PropType.GUID: st.uuids(),
    PropType.STRING: unicode_text,
    PropType.STRING8: cp1252_text,
    PropType.BINARY: st.binary(max_size=64),
    PropType.SERVER_ID: st.binary(max_size=64),
    PropType.RULE_ACTION: st.lists(st.binary(max_size=16), max_size=4).map(
        lambda b: RuleActions(tuple(b))
    ),
}

VALUE_TYPES = [t for t in PropType if t in _SCALARS or t.is_multi]
"""Every type that has an inline value (PtypRestriction is tested on its own)."""


def values_of(ptype: PropType) -> st.SearchStrategy[object]:
    if ptype.is_multi:
        return st.lists(_SCALARS[ptype.element_type], max_size=6).map(tuple)
    return _SCALARS[ptype]


prop_ids = st.integers(0x0001, 0xFFFE)


@st.composite
def tagged_values(draw: st.DrawFn) -> TaggedPropertyValue:
    ptype = draw(st.sampled_from(VALUE_TYPES))
    return TaggedPropertyValue(make_tag(draw(prop_ids), ptype), draw(values_of(ptype)))


any_tag = st.integers(0, (1 << 32) - 1)
relops = st.sampled_from(list(RelOp))


def _leaves() -> st.SearchStrategy[Restriction]:
    return st.one_of(
        st.builds(ExistRestriction, any_tag),
        st.builds(BitmaskRestriction, st.sampled_from(list(BitmapRelOp)), any_tag,
                  st.integers(0, (1 << 32) - 1)),
        st.builds(SizeRestriction, relops, any_tag, st.integers(0, (1 << 32) - 1)),
        st.builds(ComparePropertiesRestriction, relops, any_tag, any_tag),
        st.builds(PropertyRestriction, relops, any_tag, tagged_values()),
        st.builds(
            ContentRestriction,
            st.sampled_from(list(FuzzyLevelLow)),
            st.sampled_from([FuzzyLevelHigh(v) for v in range(8)]),
            any_tag,
            tagged_values(),
        ),
    )


def _branches(children: st.SearchStrategy[Restriction]) -> st.SearchStrategy[Restriction]:
    kids = st.lists(children, max_size=3).map(tuple)
    return st.one_of(
        st.builds(AndRestriction, kids),
        st.builds(OrRestriction, kids),
        st.builds(NotRestriction, children),
        st.builds(SubObjectRestriction, st.sampled_from([0x0E12000D, 0x0E13000D]), children),
        st.builds(
            CommentRestriction,
            st.lists(tagged_values(), max_size=2).map(tuple),
            st.none() | children,
        ),
        st.builds(CountRestriction, st.integers(0, (1 << 32) - 1), children),
    )


restrictions: st.SearchStrategy[Restriction] = st.recursive(
    _leaves(), _branches, max_leaves=8
)
