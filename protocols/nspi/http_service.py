"""The address book over MAPI/HTTP: the nineteen request types of MS-OXCMAPIHTTP 2.2.5
on ``/mapi/nspi/``, backed by the same :class:`AddressBookHandler` as NSPI over DCE/RPC.

A Bind creates the handler session and keeps it in the MAPI/HTTP session context;
the context's end (Unbind or expiry) unbinds it. Results travel in ErrorCode with
StatusCode 0 (2.2.5.x.2); an undecodable body never gets this far (X-ResponseCode 12).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from groupware.handlers.addressbook import AbSession, AddressBookHandler, NspiError, Stat
from groupware.mapi.codes import ErrorCode
from protocols.mapihttp.resource import EndpointConfig, RequestContext, RequestType
from protocols.nspi.constants import UNBIND_SUCCESS
from protocols.nspi.http_messages import REQUESTS, decode_fields, encode_fields

logger = logging.getLogger(__name__)

_STATE = "nspi"
Run = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]


class NspiHttpService:
    """Request type handlers of the address-book endpoint."""

    def __init__(self, handler: AddressBookHandler) -> None:
        self.handler = handler

    def _session(self, ctx: RequestContext) -> AbSession:
        found = ctx.session.state.get(_STATE)
        if not isinstance(found, AbSession):
            raise NspiError(ErrorCode.ecError, "no NSPI session: Bind first")
        return self.handler.session(found.id, ctx.user)

    @staticmethod
    def _stat(fields: dict[str, Any]) -> Stat:
        state = fields.get("state")
        return Stat.from_tuple(state) if state is not None else Stat()

    # -- request types -----------------------------------------------------------------

    async def bind(self, ctx: RequestContext, f: dict[str, Any]) -> dict[str, Any]:
        if f.get("state") is None:
            raise NspiError(ErrorCode.ecInvalidParam, "Bind without a STAT")
        session = await self.handler.bind(ctx.user, f["flags"], self._stat(f))
        ctx.session.state[_STATE] = session
        def close() -> None:
            self.handler.unbind(session.id)

        ctx.session.on_close.append(close)
        return {"server_guid": session.server_guid}

    async def unbind(self, ctx: RequestContext, f: dict[str, Any]) -> dict[str, Any]:
        session = self._session(ctx)
        self.handler.unbind(session.id)
        return {"result": UNBIND_SUCCESS}

    async def compare_mids(self, ctx: RequestContext, f: dict[str, Any]) -> dict[str, Any]:
        value = await self.handler.compare_mids(self._session(ctx), self._stat(f), f["mid1"],
                                                f["mid2"])
        return {"comparison": value}

    async def dn_to_mid(self, ctx: RequestContext, f: dict[str, Any]) -> dict[str, Any]:
        names = [raw.decode("latin-1") for raw in f.get("names") or ()]
        return {"mids": await self.handler.dn_to_mid(self._session(ctx), names)}

    async def get_matches(self, ctx: RequestContext, f: dict[str, Any]) -> dict[str, Any]:
        session = self._session(ctx)
        stat = self._stat(f)
        name = f.get("prop_name")
        stat, mids, rows = await self.handler.get_matches(
            session, stat, reserved1=f.get("reserved") or 0, in_mids=f.get("in_mids"),
            restriction=f.get("filter"), prop_name=name, requested=f["row_count"],
            tags=f.get("columns"))
        out: dict[str, Any] = {"state": stat.as_tuple(), "mids": mids}
        columns = f.get("columns")
        if rows is not None and columns is not None:
            out["rows"] = (self.handler.columns_for(columns, stat), rows)
        return out

    async def get_prop_list(self, ctx: RequestContext, f: dict[str, Any]) -> dict[str, Any]:
        tags = await self.handler.get_prop_list(self._session(ctx), f["flags"], f["mid"],
                                                f["code_page"])
        return {"tags": tags}

    async def get_props(self, ctx: RequestContext, f: dict[str, Any]) -> dict[str, Any]:
        stat = self._stat(f)
        row, status = await self.handler.get_props(self._session(ctx), f["flags"], stat,
                                                   f.get("tags"))
        return {"result": status, "code_page": stat.code_page, "values": row}

    async def get_special_table(self, ctx: RequestContext,
                                f: dict[str, Any]) -> dict[str, Any]:
        stat = self._stat(f)
        session = self._session(ctx)
        version, rows = await self.handler.get_special_table(session, f["flags"], stat,
                                                             f.get("version") or 0)
        return {"code_page": stat.code_page or session.code_page, "version": version,
                "rows": rows}

    async def get_template_info(self, ctx: RequestContext,
                                f: dict[str, Any]) -> dict[str, Any]:
        dn = f.get("dn")
        row = await self.handler.get_template_info(
            self._session(ctx), flags=f["flags"], kind=f["type"],
            dn=dn.decode("latin-1") if dn is not None else None, code_page=f["code_page"],
            locale=f["locale"])
        return {"code_page": f["code_page"], "row": row}

    async def mod_link_att(self, ctx: RequestContext, f: dict[str, Any]) -> dict[str, Any]:
        await self.handler.mod_link_att(self._session(ctx), f["flags"], f["tag"], f["mid"],
                                        f.get("entry_ids") or [])
        return {}

    async def mod_props(self, ctx: RequestContext, f: dict[str, Any]) -> dict[str, Any]:
        await self.handler.mod_props(self._session(ctx), self._stat(f), f.get("remove"),
                                     f.get("values") or [])
        return {}

    async def query_rows(self, ctx: RequestContext, f: dict[str, Any]) -> dict[str, Any]:
        stat, rows = await self.handler.query_rows(
            self._session(ctx), self._stat(f), flags=f["flags"], explicit=f.get("explicit"),
            count=f["row_count"], tags=f.get("columns"))
        return {"state": stat.as_tuple(),
                "rows": (self.handler.columns_for(f.get("columns"), stat), rows)}

    async def query_columns(self, ctx: RequestContext, f: dict[str, Any]) -> dict[str, Any]:
        return {"columns": await self.handler.query_columns(self._session(ctx), f["flags"])}

    async def resolve_names(self, ctx: RequestContext, f: dict[str, Any]) -> dict[str, Any]:
        stat = self._stat(f)
        session = self._session(ctx)
        mids, rows = await self.handler.resolve_names(session, stat, f.get("columns"),
                                                      f.get("names") or [])
        return {"code_page": stat.code_page or session.code_page, "mids": mids,
                "rows": (self.handler.columns_for(f.get("columns"), stat), rows)}

    async def resort_restriction(self, ctx: RequestContext,
                                 f: dict[str, Any]) -> dict[str, Any]:
        stat, mids = await self.handler.resort_restriction(self._session(ctx), self._stat(f),
                                                           f.get("mids") or [])
        return {"state": stat.as_tuple(), "mids": mids}

    async def seek_entries(self, ctx: RequestContext, f: dict[str, Any]) -> dict[str, Any]:
        target = f.get("target")
        if target is None:
            raise NspiError(ErrorCode.ecInvalidParam, "SeekEntries without a target")
        columns = f.get("columns")
        stat, rows = await self.handler.seek_entries(self._session(ctx), self._stat(f),
                                                     target, f.get("explicit"), columns)
        out: dict[str, Any] = {"state": stat.as_tuple()}
        if rows is not None and columns is not None:
            out["rows"] = (self.handler.columns_for(columns, stat), rows)
        return out

    async def update_stat(self, ctx: RequestContext, f: dict[str, Any]) -> dict[str, Any]:
        stat, delta = await self.handler.update_stat(self._session(ctx), self._stat(f),
                                                     bool(f["delta_requested"]))
        return {"state": stat.as_tuple(), "delta": delta}

    async def get_mailbox_url(self, ctx: RequestContext, f: dict[str, Any]) -> dict[str, Any]:
        return {"url": await self.handler.mailbox_url(ctx.user, f["server_dn"])}

    async def get_address_book_url(self, ctx: RequestContext,
                                   f: dict[str, Any]) -> dict[str, Any]:
        return {"url": await self.handler.address_book_url(ctx.user)}

    # -- plumbing --------------------------------------------------------------------

    def request_types(self) -> dict[str, RequestType]:
        table: dict[str, tuple[Run, bool, bool]] = {
            "Bind": (self.bind, True, False),
            "Unbind": (self.unbind, False, True),
            "CompareMIds": (self.compare_mids, False, False),
            "DNToMId": (self.dn_to_mid, False, False),
            "GetMatches": (self.get_matches, False, False),
            "GetPropList": (self.get_prop_list, False, False),
            "GetProps": (self.get_props, False, False),
            "GetSpecialTable": (self.get_special_table, False, False),
            "GetTemplateInfo": (self.get_template_info, False, False),
            "ModLinkAtt": (self.mod_link_att, False, False),
            "ModProps": (self.mod_props, False, False),
            "QueryRows": (self.query_rows, False, False),
            "QueryColumns": (self.query_columns, False, False),
            "ResolveNames": (self.resolve_names, False, False),
            "ResortRestriction": (self.resort_restriction, False, False),
            "SeekEntries": (self.seek_entries, False, False),
            "UpdateStat": (self.update_stat, False, False),
            "GetMailboxUrl": (self.get_mailbox_url, False, False),
            "GetAddressBookUrl": (self.get_address_book_url, False, False),
        }
        out = {}
        for name, (run, creates, ends) in table.items():
            out[name] = RequestType(name, parse=_parser(name), run=self._wrap(name, run),
                                    creates_session=creates, ends_session=ends)
        return out

    def _wrap(self, name: str, run: Run) -> Callable[[RequestContext, Any],
                                                       Awaitable[bytes]]:
        _, response_fields = REQUESTS[name]

        async def call(ctx: RequestContext, fields: Any) -> bytes:
            try:
                values = await run(ctx, fields)
                values.setdefault("result", 0)
            except NspiError as exc:
                values = {"result": exc.status}
            except Exception:
                logger.exception("mapi/nspi %s failed", name)
                values = {"result": ErrorCode.ecError}
            values["status"] = 0
            return encode_fields(values, response_fields)

        return call

    def endpoint(self, *, pending_period: float = 15.0,
                 max_request: int = 1 << 20) -> EndpointConfig:
        return EndpointConfig("nspi", self.request_types(), max_request=max_request,
                              pending_period=pending_period)


def _parser(name: str) -> Callable[[bytes], dict[str, Any]]:
    request_fields, _ = REQUESTS[name]

    def parse(body: bytes) -> dict[str, Any]:
        return decode_fields(body, request_fields)

    return parse


__all__ = ["NspiHttpService"]
