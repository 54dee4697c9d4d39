"""The project's own address-book client over MAPI/HTTP (MS-OXCMAPIHTTP 2.2.5).

Each method sends one request type and returns the decoded response fields (see
:data:`protocols.nspi.http_messages.REQUESTS`); rows come back as ``(tag, value)``
lists with missing properties as PtypErrorCode / ecNotFound, exactly as NSPI over
DCE/RPC reports them, so answers of both transports compare directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from groupware.mapi.restrictions import Restriction
from protocols.mapihttp.client import MapiHttpClient
from protocols.nspi.constants import CP_TELETEX
from protocols.nspi.http_messages import REQUESTS, decode_fields, encode_fields


class NspiHttpError(Exception):
    """The server refused the request before processing it (X-ResponseCode != 0)."""

    def __init__(self, status: int, code: int | None, text: bytes) -> None:
        super().__init__(f"HTTP {status}, X-ResponseCode {code}: {text[:200]!r}")
        self.status = status
        self.code = code


def stat(container: int = 0, current: int = 0, *, delta: int = 0, num_pos: int = 0,
         total: int = 0, code_page: int = CP_TELETEX, sort_type: int = 0
         ) -> tuple[int, ...]:
    """A STAT tuple (MS-OXNSPI 2.2.8) with the usual locale 0x409."""
    return (sort_type, container, current, delta, num_pos, total, code_page, 0x409, 0x409)


class NspiHttpClient:
    """One address-book session over MAPI/HTTP."""

    def __init__(self, url: str, user: str, password: str, **kwargs: Any) -> None:
        self.http = MapiHttpClient(url, user, password, **kwargs)

    def close(self) -> None:
        self.http.close()

    def call(self, request_type: str, **fields: Any) -> dict[str, Any]:
        request_fields, response_fields = REQUESTS[request_type]
        answer = self.http.request(request_type, encode_fields(fields, request_fields))
        if answer.status != 200 or answer.response_code != 0:
            raise NspiHttpError(answer.status, answer.response_code, answer.raw)
        return decode_fields(answer.body, response_fields)

    def ping(self) -> int | None:
        return self.http.request("PING").response_code

    # -- request types ----------------------------------------------------------------

    def bind(self, state: Sequence[int] | None = None, flags: int = 0) -> dict[str, Any]:
        return self.call("Bind", flags=flags, state=tuple(state or stat()))

    def unbind(self) -> dict[str, Any]:
        return self.call("Unbind")

    def update_stat(self, state: Sequence[int], delta_requested: bool = True) -> dict[str, Any]:
        return self.call("UpdateStat", state=tuple(state), delta_requested=int(delta_requested))

    def query_rows(self, state: Sequence[int] | None, count: int, columns: Sequence[int] | None,
                   explicit: Sequence[int] | None = None, flags: int = 0) -> dict[str, Any]:
        return self.call("QueryRows", flags=flags, state=tuple(state) if state else None,
                         explicit=list(explicit or []), row_count=count,
                         columns=list(columns) if columns is not None else None)

    def seek_entries(self, state: Sequence[int], target: tuple[int, Any],
                     columns: Sequence[int] | None = None,
                     explicit: Sequence[int] | None = None) -> dict[str, Any]:
        return self.call("SeekEntries", state=tuple(state), target=target,
                         explicit=list(explicit) if explicit is not None else None,
                         columns=list(columns) if columns is not None else None)

    def get_matches(self, state: Sequence[int], restriction: Restriction | None,
                    columns: Sequence[int] | None = None, row_count: int = 0,
                    reserved: int = 0) -> dict[str, Any]:
        return self.call("GetMatches", reserved=reserved, state=tuple(state),
                         filter=restriction, row_count=row_count,
                         columns=list(columns) if columns is not None else None)

    def resort_restriction(self, state: Sequence[int], mids: Sequence[int]) -> dict[str, Any]:
        return self.call("ResortRestriction", state=tuple(state), mids=list(mids))

    def dn_to_mid(self, names: Sequence[str]) -> dict[str, Any]:
        return self.call("DNToMId", names=[n.encode("latin-1") for n in names])

    def get_prop_list(self, mid: int, flags: int = 0,
                      code_page: int = CP_TELETEX) -> dict[str, Any]:
        return self.call("GetPropList", flags=flags, mid=mid, code_page=code_page)

    def get_props(self, state: Sequence[int], tags: Sequence[int] | None,
                  flags: int = 0) -> dict[str, Any]:
        return self.call("GetProps", flags=flags, state=tuple(state),
                         tags=list(tags) if tags is not None else None)

    def compare_mids(self, state: Sequence[int], mid1: int, mid2: int) -> dict[str, Any]:
        return self.call("CompareMIds", state=tuple(state), mid1=mid1, mid2=mid2)

    def mod_props(self, state: Sequence[int], values: Sequence[tuple[int, Any]],
                  remove: Sequence[int] | None = None) -> dict[str, Any]:
        return self.call("ModProps", state=tuple(state),
                         remove=list(remove) if remove is not None else None,
                         values=list(values))

    def get_special_table(self, flags: int = 0x4, state: Sequence[int] | None = None,
                          version: int | None = None) -> dict[str, Any]:
        return self.call("GetSpecialTable", flags=flags, state=tuple(state or stat()),
                         version=version)

    def get_template_info(self, flags: int, kind: int, dn: str | None,
                          code_page: int = CP_TELETEX, locale: int = 0x409) -> dict[str, Any]:
        return self.call("GetTemplateInfo", flags=flags, type=kind,
                         dn=dn.encode("latin-1") if dn is not None else None,
                         code_page=code_page, locale=locale)

    def mod_link_att(self, flags: int, tag: int, mid: int,
                     entry_ids: Sequence[bytes]) -> dict[str, Any]:
        return self.call("ModLinkAtt", flags=flags, tag=tag, mid=mid, entry_ids=list(entry_ids))

    def query_columns(self, flags: int = 0x80000000) -> dict[str, Any]:
        return self.call("QueryColumns", flags=flags)

    def resolve_names(self, names: Sequence[str], columns: Sequence[int] | None = None,
                      state: Sequence[int] | None = None) -> dict[str, Any]:
        return self.call("ResolveNames", state=tuple(state or stat()),
                         columns=list(columns) if columns is not None else None,
                         names=list(names))

    def get_mailbox_url(self, server_dn: str) -> dict[str, Any]:
        return self.call("GetMailboxUrl", server_dn=server_dn)

    def get_address_book_url(self, user_dn: str) -> dict[str, Any]:
        return self.call("GetAddressBookUrl", user_dn=user_dn)


__all__ = ["NspiHttpClient", "NspiHttpError", "stat"]
