"""NSPI and RFR over DCE/RPC: decode the stub, ask the address-book handler, encode.

The interface tables built here (:func:`nspi_interface`, :func:`rfr_interface`) plug
into :class:`protocols.rpc.interface.InterfaceRegistry` for both the ``ncacn_ip_tcp``
listener and RPC over HTTP. NSPI context handles (MS-OXNSPI 2.2.10) name handler
sessions; they belong to the association that created them (strict context handles,
MS-OXNSPI 3.1.4): any other handle faults ``nca_s_context_mismatch``, and the
sessions of an association are unbound when it ends (context handle rundown).

Status codes travel in the return value; only malformed stubs and foreign handles
become faults.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from groupware.handlers.addressbook import (
    AbSession,
    AddressBookHandler,
    NspiError,
    Stat,
    User,
    decode8,
)
from groupware.mapi.codes import ErrorCode
from protocols.nspi import rpc_messages as m
from protocols.nspi.constants import (
    NSPI_SYNTAX,
    RFR_SYNTAX,
    UNBIND_SUCCESS,
    NspiOpnum,
    RfrOpnum,
)
from protocols.rpc.endpoint import RpcCall, RpcFault, RpcHandler
from protocols.rpc.interface import RpcInterface
from protocols.rpc.ndr import ContextHandle
from protocols.rpc.pdu import FaultStatus

logger = logging.getLogger(__name__)

_STATE_KEY = "nspi_sessions"
_ZERO_STAT = (0, 0, 0, 0, 0, 0, 0, 0, 0)


def _codec(code_page: int) -> Callable[[bytes], str]:
    def decode(raw: bytes) -> str:
        try:
            return decode8(raw, code_page)
        except NspiError:
            return raw.decode("latin-1")

    return decode


class NspiRpcService:
    """The NSPI opnums over DCE/RPC, backed by one :class:`AddressBookHandler`."""

    def __init__(self, handler: AddressBookHandler) -> None:
        self.handler = handler

    # -- sessions ----------------------------------------------------------------------

    def _user(self, call: RpcCall) -> User | None:
        account = call.association.account
        return account.user if account is not None else None

    def _session(self, call: RpcCall, handle: ContextHandle) -> AbSession:
        owned: set[uuid.UUID] = call.association.state.get(_STATE_KEY, set())
        if handle.is_null or handle.uuid not in owned:
            raise RpcFault(FaultStatus.CONTEXT_MISMATCH, "unknown NSPI context handle")
        try:
            return self.handler.session(handle.uuid, self._user(call))
        except NspiError:
            raise RpcFault(FaultStatus.CONTEXT_MISMATCH, "NSPI session expired") from None

    # -- opnums ------------------------------------------------------------------------

    async def bind(self, call: RpcCall) -> bytes:
        request = m.decode_bind(call.stub)
        user = self._user(call)
        if user is None:
            return m.encode_bind(None, ContextHandle.null(), ErrorCode.ecLoginFailure)
        try:
            session = await self.handler.bind(user, request.flags,
                                              Stat.from_tuple(request.stat))
        except NspiError as exc:
            return m.encode_bind(None, ContextHandle.null(), exc.status)
        owned = call.association.state.setdefault(_STATE_KEY, set())
        owned.add(session.id)
        if len(owned) == 1:
            call.association.closers.append(lambda: self._rundown(call))
        guid = session.server_guid if request.server_guid is not None else None
        return m.encode_bind(guid, ContextHandle(0, session.id), 0)

    def _rundown(self, call: RpcCall) -> None:
        for sid in call.association.state.pop(_STATE_KEY, set()):
            self.handler.unbind(sid)

    async def unbind(self, call: RpcCall) -> bytes:
        request = m.decode_unbind(call.stub)
        self._session(call, request.handle)
        call.association.state[_STATE_KEY].discard(request.handle.uuid)
        self.handler.unbind(request.handle.uuid)
        return m.encode_unbind(ContextHandle.null(), UNBIND_SUCCESS)

    async def update_stat(self, call: RpcCall) -> bytes:
        request = m.decode_update_stat(call.stub)
        session = self._session(call, request.handle)
        try:
            stat, delta = await self.handler.update_stat(
                session, Stat.from_tuple(request.stat), request.delta_requested)
        except NspiError as exc:
            return m.encode_update_stat(request.stat, None if not request.delta_requested
                                        else 0, exc.status)
        return m.encode_update_stat(stat.as_tuple(), delta, 0)

    async def query_rows(self, call: RpcCall) -> bytes:
        request = m.decode_query_rows(call.stub)
        session = self._session(call, request.handle)
        try:
            stat, rows = await self.handler.query_rows(
                session, Stat.from_tuple(request.stat), flags=request.flags,
                explicit=request.explicit, count=request.count, tags=request.tags)
        except NspiError as exc:
            return m.encode_stat_rows(request.stat, None, exc.status)
        return m.encode_stat_rows(stat.as_tuple(), rows, 0)

    async def seek_entries(self, call: RpcCall) -> bytes:
        request = m.decode_seek_entries(call.stub)
        session = self._session(call, request.handle)
        try:
            stat, rows = await self.handler.seek_entries(
                session, Stat.from_tuple(request.stat), request.target, request.explicit,
                request.tags)
        except NspiError as exc:
            return m.encode_stat_rows(request.stat, None, exc.status)
        return m.encode_stat_rows(stat.as_tuple(), rows, 0)

    async def get_matches(self, call: RpcCall) -> bytes:
        request = m.decode_get_matches(call.stub, _codec)
        session = self._session(call, request.handle)
        try:
            stat, mids, rows = await self.handler.get_matches(
                session, Stat.from_tuple(request.stat), reserved1=request.reserved1,
                in_mids=request.in_mids, restriction=request.restriction,
                prop_name=request.prop_name, requested=request.requested,
                tags=request.tags)
        except NspiError as exc:
            return m.encode_get_matches(request.stat, None, None, exc.status)
        return m.encode_get_matches(stat.as_tuple(), mids, rows, 0)

    async def resort_restriction(self, call: RpcCall) -> bytes:
        request = m.decode_resort_restriction(call.stub)
        session = self._session(call, request.handle)
        try:
            stat, mids = await self.handler.resort_restriction(
                session, Stat.from_tuple(request.stat), request.in_mids)
        except NspiError as exc:
            return m.encode_resort_restriction(request.stat, None, exc.status)
        return m.encode_resort_restriction(stat.as_tuple(), mids, 0)

    async def dn_to_mid(self, call: RpcCall) -> bytes:
        request = m.decode_dn_to_mid(call.stub)
        session = self._session(call, request.handle)
        names = [raw.decode("latin-1") for raw in request.names]
        try:
            mids = await self.handler.dn_to_mid(session, names)
        except NspiError as exc:
            return m.encode_tags(None, exc.status)
        return m.encode_tags(mids, 0)

    async def get_prop_list(self, call: RpcCall) -> bytes:
        request = m.decode_get_prop_list(call.stub)
        session = self._session(call, request.handle)
        try:
            tags = await self.handler.get_prop_list(session, request.flags, request.mid,
                                                    request.code_page)
        except NspiError as exc:
            return m.encode_tags(None, exc.status)
        return m.encode_tags(tags, 0)

    async def get_props(self, call: RpcCall) -> bytes:
        request = m.decode_get_props(call.stub)
        session = self._session(call, request.handle)
        try:
            row, status = await self.handler.get_props(
                session, request.flags, Stat.from_tuple(request.stat), request.tags)
        except NspiError as exc:
            return m.encode_row(None, exc.status)
        return m.encode_row(row, status)

    async def compare_mids(self, call: RpcCall) -> bytes:
        request = m.decode_compare_mids(call.stub)
        session = self._session(call, request.handle)
        try:
            result = await self.handler.compare_mids(session, Stat.from_tuple(request.stat),
                                                     request.mid1, request.mid2)
        except NspiError as exc:
            return m.encode_compare_mids(0, exc.status)
        return m.encode_compare_mids(result, 0)

    async def mod_props(self, call: RpcCall) -> bytes:
        request = m.decode_mod_props(call.stub)
        session = self._session(call, request.handle)
        try:
            await self.handler.mod_props(session, Stat.from_tuple(request.stat), request.tags,
                                         request.row)
        except NspiError as exc:
            return m.encode_result(exc.status)
        return m.encode_result(0)

    async def get_special_table(self, call: RpcCall) -> bytes:
        request = m.decode_get_special_table(call.stub)
        session = self._session(call, request.handle)
        try:
            version, rows = await self.handler.get_special_table(
                session, request.flags, Stat.from_tuple(request.stat), request.version)
        except NspiError as exc:
            return m.encode_get_special_table(request.version, None, exc.status)
        return m.encode_get_special_table(version, rows, 0)

    async def get_template_info(self, call: RpcCall) -> bytes:
        request = m.decode_get_template_info(call.stub)
        session = self._session(call, request.handle)
        dn = request.dn.decode("latin-1") if request.dn is not None else None
        try:
            row = await self.handler.get_template_info(
                session, flags=request.flags, kind=request.type, dn=dn,
                code_page=request.code_page, locale=request.locale)
        except NspiError as exc:
            return m.encode_row(None, exc.status)
        return m.encode_row(row, 0)

    async def mod_link_att(self, call: RpcCall) -> bytes:
        request = m.decode_mod_link_att(call.stub)
        session = self._session(call, request.handle)
        try:
            await self.handler.mod_link_att(session, request.flags, request.tag, request.mid,
                                            request.entry_ids)
        except NspiError as exc:
            return m.encode_result(exc.status)
        return m.encode_result(0)

    async def query_columns(self, call: RpcCall) -> bytes:
        request = m.decode_query_columns(call.stub)
        session = self._session(call, request.handle)
        tags = await self.handler.query_columns(session, request.second)
        return m.encode_tags(tags, 0)

    async def get_names_from_ids(self, call: RpcCall) -> bytes:
        request = m.decode_get_names_from_ids(call.stub)
        session = self._session(call, request.handle)
        tags, names = await self.handler.get_names_from_ids(session, request.guid,
                                                            request.tags)
        return m.encode_get_names_from_ids(tags, names, 0)

    async def get_ids_from_names(self, call: RpcCall) -> bytes:
        request = m.decode_get_ids_from_names(call.stub)
        session = self._session(call, request.handle)
        tags = await self.handler.get_ids_from_names(session, request.flags, request.names)
        return m.encode_tags(tags, 0)

    async def resolve_names(self, call: RpcCall, *, wide: bool) -> bytes:
        request = m.decode_resolve_names(call.stub, wide=wide)
        session = self._session(call, request.handle)
        stat = Stat.from_tuple(request.stat)
        decode = _codec(stat.code_page or session.code_page)
        names = [n if isinstance(n, str) else decode(n) for n in request.names]
        try:
            mids, rows = await self.handler.resolve_names(session, stat, request.tags, names)
        except NspiError as exc:
            return m.encode_resolve_names(None, None, exc.status)
        return m.encode_resolve_names(mids, rows, 0)

    def interface(self) -> RpcInterface[RpcHandler]:
        async def resolve_names_a(call: RpcCall) -> bytes:
            return await self.resolve_names(call, wide=False)

        async def resolve_names_w(call: RpcCall) -> bytes:
            return await self.resolve_names(call, wide=True)

        table: dict[int, Callable[[RpcCall], Awaitable[bytes]]] = {
            NspiOpnum.BIND: self.bind,
            NspiOpnum.UNBIND: self.unbind,
            NspiOpnum.UPDATE_STAT: self.update_stat,
            NspiOpnum.QUERY_ROWS: self.query_rows,
            NspiOpnum.SEEK_ENTRIES: self.seek_entries,
            NspiOpnum.GET_MATCHES: self.get_matches,
            NspiOpnum.RESORT_RESTRICTION: self.resort_restriction,
            NspiOpnum.DN_TO_MID: self.dn_to_mid,
            NspiOpnum.GET_PROP_LIST: self.get_prop_list,
            NspiOpnum.GET_PROPS: self.get_props,
            NspiOpnum.COMPARE_MIDS: self.compare_mids,
            NspiOpnum.MOD_PROPS: self.mod_props,
            NspiOpnum.GET_SPECIAL_TABLE: self.get_special_table,
            NspiOpnum.GET_TEMPLATE_INFO: self.get_template_info,
            NspiOpnum.MOD_LINK_ATT: self.mod_link_att,
            NspiOpnum.QUERY_COLUMNS: self.query_columns,
            NspiOpnum.GET_NAMES_FROM_IDS: self.get_names_from_ids,
            NspiOpnum.GET_IDS_FROM_NAMES: self.get_ids_from_names,
            NspiOpnum.RESOLVE_NAMES: resolve_names_a,
            NspiOpnum.RESOLVE_NAMES_W: resolve_names_w,
        }
        return RpcInterface("nspi", NSPI_SYNTAX, {int(k): v for k, v in table.items()})


class RfrRpcService:
    """RFR (MS-OXABREF): where is the NSPI server, and which host serves a mailbox."""

    def __init__(self, handler: AddressBookHandler) -> None:
        self.handler = handler

    async def get_new_dsa(self, call: RpcCall) -> bytes:
        """RfrGetNewDSA (3.1.4.1): ppszServer = the FQDN of an NSPI server (us)."""
        request = m.decode_get_new_dsa(call.stub)
        if call.association.account is None:
            return m.encode_get_new_dsa(request.unused, request.server,
                                        ErrorCode.ecLoginFailure)
        fqdn = self.handler.nspi_server_fqdn().encode("ascii", "replace")
        return m.encode_get_new_dsa(None if request.unused is None else b"", fqdn, 0)

    async def get_fqdn(self, call: RpcCall) -> bytes:
        """RfrGetFQDNFromServerDN (3.1.4.2): the host of the mailbox server of a DN."""
        _, dn = m.decode_get_fqdn(call.stub)
        if call.association.account is None:
            return m.encode_get_fqdn(None, ErrorCode.ecLoginFailure)
        try:
            fqdn = await self.handler.mailbox_server_fqdn(dn.decode("latin-1"))
        except NspiError as exc:
            return m.encode_get_fqdn(None, exc.status)
        return m.encode_get_fqdn(fqdn.encode("ascii", "replace"), 0)

    def interface(self) -> RpcInterface[RpcHandler]:
        return RpcInterface("rfr", RFR_SYNTAX, {RfrOpnum.GET_NEW_DSA: self.get_new_dsa,
                                               RfrOpnum.GET_FQDN_FROM_SERVER_DN: self.get_fqdn})


def interfaces(handler: AddressBookHandler) -> list[RpcInterface[Any]]:
    """Every interface this package serves over DCE/RPC."""
    return [NspiRpcService(handler).interface(), RfrRpcService(handler).interface()]


__all__ = ["NspiRpcService", "RfrRpcService", "interfaces"]
