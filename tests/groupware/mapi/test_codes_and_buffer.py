"""MAPI error codes and their mapping; Reader/Writer bounds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.errors import Code, InvalidInput, NotFound, QuotaExceeded
from groupware.mapi.buffer import Reader, Writer
from groupware.mapi.codes import ErrorCode, mapi_code_for, mapi_code_value
from groupware.mapi.errors import MapiFormatError


def test_values_from_ms_oxcdata() -> None:
    assert ErrorCode.ecNone == 0
    assert ErrorCode.ecNotFound == 0x8004010F
    assert ErrorCode.ecInvalidParam == 0x80070057
    assert ErrorCode.ecError == 0x80004005
    assert ErrorCode.ecRpcFormat == 0x000004B6
    assert ErrorCode.ecWarnWithErrors == 0x00040380


def test_every_code_maps() -> None:
    for code in Code:
        assert isinstance(mapi_code_for(code), ErrorCode)
        assert mapi_code_for(code).is_error
    assert mapi_code_for(NotFound("x")) is ErrorCode.ecNotFound
    assert mapi_code_for(QuotaExceeded("x")) is ErrorCode.ecQuotaExceeded
    assert mapi_code_for(MapiFormatError("x")) is ErrorCode.ecInvalidParam
    assert mapi_code_for(ValueError("x")) is ErrorCode.ecError


def test_warning_classification() -> None:
    assert ErrorCode.ecWarnWithErrors.is_warning
    assert not ErrorCode.ecWarnWithErrors.is_error
    assert not ErrorCode.ecNone.is_error and not ErrorCode.ecNone.is_warning
    assert ErrorCode.ecQuotaExceeded.is_error
    assert mapi_code_value(0x8004010F) is ErrorCode.ecNotFound
    assert mapi_code_value(0x12345) == 0x12345


def test_format_error_is_invalid_input() -> None:
    assert issubclass(MapiFormatError, InvalidInput)
    assert MapiFormatError("x").code is Code.INVALID


def test_reader_bounds() -> None:
    r = Reader(b"\x01\x02\x03")
    assert r.u16() == 0x0201
    with pytest.raises(MapiFormatError, match="truncated"):
        r.u32()
    assert r.remaining == 1  # a failed read consumes nothing
    with pytest.raises(MapiFormatError):
        Reader(b"", offset=1)
    with pytest.raises(MapiFormatError, match="limit"):
        Reader(b"\x05\x00").count(2, 1, "x", limit=4)
    with pytest.raises(MapiFormatError):
        Reader(b"\x01").uint(3)


def test_writer_ranges() -> None:
    w = Writer()
    with pytest.raises(MapiFormatError):
        w.u8(256)
    with pytest.raises(MapiFormatError):
        w.u16(-1)
    with pytest.raises(MapiFormatError):
        w.sint(1 << 32, 4)
    with pytest.raises(MapiFormatError):
        w.cstring8(b"a\x00")
    with pytest.raises(MapiFormatError):
        w.f32(1e300)
    w.sint(-1, 2)
    w.sint(0xFFFF, 2)
    assert w.getvalue() == b"\xff\xff\xff\xff"


def test_utf16_terminator_must_be_aligned() -> None:
    # "\u0100" is 00 01 and "\u0001" is 01 00: the 00 00 straddling them is no terminator.
    data = "\u0100\u0001".encode("utf-16-le") + b"\x00\x00"
    assert Reader(data).cstring16() == "\u0100\u0001"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")))
def test_cstring16_round_trip(text: str) -> None:
    w = Writer()
    w.cstring16(text)
    r = Reader(w.getvalue())
    assert r.cstring16() == text
    assert r.at_end()
