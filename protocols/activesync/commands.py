"""ActiveSync commands (MS-ASCMD 2.2.1): WBXML request trees in, WBXML responses out.

Each command is an ``async def`` taking the :class:`Context` and the decoded request
(None for an empty body) and returning a :class:`Reply`. Business logic lives in
:mod:`groupware.handlers.activesync`; errors become statuses in :mod:`.errors`.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import logging
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from groupware.convert import _tags as ct
from groupware.errors import GroupwareError, InvalidInput, NotFound
from groupware.handlers.activesync.handler import (
    TYPE_DELETED,
    ClientCommand,
    CollectionRequest,
    CollectionResult,
    EasSession,
    FetchedMessage,
    InvalidSyncKey,
    ItemData,
    OutItem,
    item_sid,
    parse_item_sid,
)
from groupware.handlers.activesync.policy import policy_document
from protocols.activesync import content
from protocols.activesync.errors import status_for
from protocols.activesync.request import EasRequest
from protocols.activesync.wbxml import Element, WbxmlWriter, lookup_tag

logger = logging.getLogger(__name__)

WBXML = "application/vnd.ms-sync.wbxml"
MULTIPART = "application/vnd.ms-sync.multipart"
POLICY_TYPE = "MS-EAS-Provisioning-WBXML"


@dataclass
class Reply:
    body: bytes = b""
    status: int = 200
    content_type: str = WBXML
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Context:
    session: EasSession
    request: EasRequest
    deadline: float
    body: bytes = b""

    @property
    def version(self) -> float:
        return self.request.version_number


class Doc:
    """A WBXML response being built (bytes collected in memory, one window at most)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.w = WbxmlWriter(self.chunks.append)

    def bytes(self) -> bytes:
        self.w.close()
        return b"".join(self.chunks)


def status_only(root: str, status: int) -> bytes:
    """``<Root><Status>n</Status></Root>`` for a command whose root carries a Status."""
    ns = root.split(":", 1)[0]
    status_tag = {"FolderHierarchy": "FolderHierarchy:Status", "AirSync": "AirSync:Status",
                  "GetItemEstimate": "GetItemEstimate:Status", "Ping": "Ping:Status",
                  "Move": "Move:Status", "Provision": "Provision:Status",
                  "ItemOperations": "ItemOperations:Status", "Search": "Search:Status",
                  "Settings": "Settings:Status", "ResolveRecipients":
                      "ResolveRecipients:Status", "MeetingResponse": "MeetingResponse:Status",
                  "ComposeMail": "ComposeMail:Status", "ValidateCert": "ValidateCert:Status",
                  "Find": "Find:Status"}[ns]
    doc = Doc()
    doc.w.start(root)
    doc.w.element(status_tag, str(status))
    doc.w.end()
    return doc.bytes()


ROOTS = {
    "Sync": "AirSync:Sync", "FolderSync": "FolderHierarchy:FolderSync",
    "FolderCreate": "FolderHierarchy:FolderCreate", "FolderUpdate":
        "FolderHierarchy:FolderUpdate", "FolderDelete": "FolderHierarchy:FolderDelete",
    "GetItemEstimate": "GetItemEstimate:GetItemEstimate", "Ping": "Ping:Ping",
    "MoveItems": "Move:MoveItems", "Provision": "Provision:Provision",
    "ItemOperations": "ItemOperations:ItemOperations", "Search": "Search:Search",
    "Settings": "Settings:Settings", "ResolveRecipients": "ResolveRecipients:ResolveRecipients",
    "MeetingResponse": "MeetingResponse:MeetingResponse", "SendMail": "ComposeMail:SendMail",
    "SmartReply": "ComposeMail:SmartReply", "SmartForward": "ComposeMail:SmartForward",
    "ValidateCert": "ValidateCert:ValidateCert", "Find": "Find:Find",
}


def _need(tree: Element | None, root: str) -> Element:
    if tree is None or tree.qname != root:
        raise InvalidInput(f"expected a {root} request")
    return tree


# --- Provision (MS-ASPROV 3.2.5.1) ---------------------------------------------------------


async def provision(ctx: Context, tree: Element | None) -> Reply:
    tree = _need(tree, "Provision:Provision")
    session = ctx.session
    info = _device_info(tree.find("Settings:DeviceInformation"))
    if info:
        await session.set_device_info(info)
    doc = Doc()
    w = doc.w
    wipe = tree.find("Provision:RemoteWipe") or tree.find("Provision:AccountOnlyRemoteWipe")
    pending = session.wipe_pending()
    if wipe is not None:
        status = int(wipe.findtext("Provision:Status", "1") or 1)
        if pending:
            await session.wipe_acknowledged(status)
        w.start("Provision:Provision")
        w.element("Provision:Status", "1")
        w.end()
        return Reply(doc.bytes())
    if pending:
        # MS-ASPROV 3.2.5.1.2: the wipe directive travels in the Provision response.
        await session.wipe_sent()
        w.start("Provision:Provision")
        w.element("Provision:Status", "1")
        if pending == "account_wipe" and ctx.version >= 16.1:
            w.empty("Provision:AccountOnlyRemoteWipe")
        else:
            w.empty("Provision:RemoteWipe")
        w.end()
        return Reply(doc.bytes())
    policy = (tree.find("Provision:Policies") or Element(tree.tag)).find("Provision:Policy")
    if policy is None:
        return Reply(status_only("Provision:Provision", 2))
    ptype = policy.findtext("Provision:PolicyType", "") or ""
    w.start("Provision:Provision")
    w.element("Provision:Status", "1")
    w.start("Provision:Policies")
    w.start("Provision:Policy")
    w.element("Provision:PolicyType", ptype)
    if ptype not in (POLICY_TYPE, "MS-WAP-Provisioning-XML"):
        w.element("Provision:Status", "3")
        w.end()
        w.end()
        w.end()
        return Reply(doc.bytes())
    key_text = policy.findtext("Provision:PolicyKey")
    if key_text is None:
        key = await session.provision_start(info or None)
        w.element("Provision:Status", "1")
        w.element("Provision:PolicyKey", str(key))
        w.start("Provision:Data")
        w.start("Provision:EASProvisionDoc")
        for name, value in policy_document(session.config):
            w.element(f"Provision:{name}", value or None)
        w.end()
        w.end()
    else:
        try:
            sent = int(key_text)
        except ValueError:
            sent = 0
        status = int(policy.findtext("Provision:Status", "1") or 1)
        final = await session.provision_ack(sent, status)
        if final is None:
            w.element("Provision:Status", "5")
        else:
            w.element("Provision:Status", "1")
            w.element("Provision:PolicyKey", str(final))
    w.end()
    w.end()
    w.end()
    return Reply(doc.bytes())


def _device_info(element: Element | None) -> dict[str, str]:
    if element is None:
        return {}
    holder = element.find("Settings:Set") or element
    return {c.tag.name: c.text or "" for c in holder.children if not c.children}


# --- folders (MS-ASCMD 2.2.1.5, 2.2.1.2-4) --------------------------------------------------


async def folder_sync(ctx: Context, tree: Element | None) -> Reply:
    tree = _need(tree, "FolderHierarchy:FolderSync")
    key = tree.findtext("FolderHierarchy:SyncKey")
    if key is None:
        return Reply(status_only("FolderHierarchy:FolderSync", 10))
    try:
        result = await ctx.session.folder_sync(key)
    except InvalidSyncKey as exc:
        logger.info("FolderSync: %s", exc)
        return Reply(status_only("FolderHierarchy:FolderSync", 9))
    doc = Doc()
    w = doc.w
    w.start("FolderHierarchy:FolderSync")
    w.element("FolderHierarchy:Status", "1")
    w.element("FolderHierarchy:SyncKey", result.sync_key)
    w.start("FolderHierarchy:Changes", keep_empty=True)
    w.element("FolderHierarchy:Count", str(len(result.adds) + len(result.updates)
                                           + len(result.deletes)))
    for kind, folders in (("Update", result.updates), ("Add", result.adds)):
        for f in folders:
            w.start(f"FolderHierarchy:{kind}")
            w.element("FolderHierarchy:ServerId", f.server_id)
            w.element("FolderHierarchy:ParentId", f.parent_id)
            w.element("FolderHierarchy:DisplayName", f.name)
            w.element("FolderHierarchy:Type", str(f.type))
            w.end()
    for sid in result.deletes:
        w.start("FolderHierarchy:Delete")
        w.element("FolderHierarchy:ServerId", sid)
        w.end()
    w.end()
    w.end()
    return Reply(doc.bytes())


async def folder_create(ctx: Context, tree: Element | None) -> Reply:
    root = "FolderHierarchy:FolderCreate"
    tree = _need(tree, root)
    key = tree.findtext("FolderHierarchy:SyncKey")
    name = tree.findtext("FolderHierarchy:DisplayName")
    etype = tree.findtext("FolderHierarchy:Type")
    if not key or not name or not (etype or "").isdigit():
        return Reply(status_only(root, 10))
    try:
        new_key, folder = await ctx.session.folder_create(
            key, tree.findtext("FolderHierarchy:ParentId") or "0", name, int(etype or 0))
    except InvalidSyncKey:
        return Reply(status_only(root, 9))
    except GroupwareError as exc:
        return Reply(status_only(root, status_for("FolderCreate", exc)))
    doc = Doc()
    doc.w.start(root)
    doc.w.element("FolderHierarchy:Status", "1")
    doc.w.element("FolderHierarchy:SyncKey", new_key)
    doc.w.element("FolderHierarchy:ServerId", folder.server_id)
    doc.w.end()
    return Reply(doc.bytes())


async def folder_update(ctx: Context, tree: Element | None) -> Reply:
    root = "FolderHierarchy:FolderUpdate"
    tree = _need(tree, root)
    key = tree.findtext("FolderHierarchy:SyncKey")
    sid = tree.findtext("FolderHierarchy:ServerId")
    name = tree.findtext("FolderHierarchy:DisplayName")
    if not key or not sid or not name:
        return Reply(status_only(root, 10))
    try:
        new_key = await ctx.session.folder_update(
            key, sid, tree.findtext("FolderHierarchy:ParentId") or "0", name)
    except InvalidSyncKey:
        return Reply(status_only(root, 9))
    except GroupwareError as exc:
        return Reply(status_only(root, status_for("FolderUpdate", exc)))
    doc = Doc()
    doc.w.start(root)
    doc.w.element("FolderHierarchy:Status", "1")
    doc.w.element("FolderHierarchy:SyncKey", new_key)
    doc.w.end()
    return Reply(doc.bytes())


async def folder_delete(ctx: Context, tree: Element | None) -> Reply:
    root = "FolderHierarchy:FolderDelete"
    tree = _need(tree, root)
    key = tree.findtext("FolderHierarchy:SyncKey")
    sid = tree.findtext("FolderHierarchy:ServerId")
    if not key or not sid:
        return Reply(status_only(root, 10))
    try:
        new_key = await ctx.session.folder_delete(key, sid)
    except InvalidSyncKey:
        return Reply(status_only(root, 9))
    except GroupwareError as exc:
        return Reply(status_only(root, status_for("FolderDelete", exc)))
    doc = Doc()
    doc.w.start(root)
    doc.w.element("FolderHierarchy:Status", "1")
    doc.w.element("FolderHierarchy:SyncKey", new_key)
    doc.w.end()
    return Reply(doc.bytes())


# --- Sync (MS-ASCMD 2.2.1.21) ------------------------------------------------------------------


def _collection_request(ctx: Context, col: Element, global_window: int | None
                        ) -> tuple[CollectionRequest, content.ItemOptions | None]:
    key = col.findtext("AirSync:SyncKey")
    cid = col.findtext("AirSync:CollectionId")
    if key is None or cid is None:
        raise InvalidInput("a Sync collection needs SyncKey and CollectionId")
    cfg = ctx.session.config
    window_text = col.findtext("AirSync:WindowSize")
    window = int(window_text) if window_text and window_text.isdigit() else \
        (global_window or cfg.default_window_size)
    if window <= 0:
        window = cfg.default_window_size
    options_el = col.find("AirSync:Options")
    options = content.parse_options(options_el) if options_el is not None else None
    get_changes_el = col.find("AirSync:GetChanges")
    get_changes = key != "0" if get_changes_el is None else (get_changes_el.text or "1") != "0"
    req = CollectionRequest(
        sync_key=key, collection_id=cid, get_changes=get_changes and key != "0",
        window_size=window, filter_type=options.filter_type if options else None,
        deletes_as_moves=(col.findtext("AirSync:DeletesAsMoves", "1") or "1") != "0",
        options=options.as_dict() if options else None)
    commands = col.find("AirSync:Commands")
    klass = col.findtext("AirSync:Class")
    if commands is not None:
        for cmd in commands.children:
            name = cmd.tag.name.lower()
            if name not in ("add", "change", "delete", "fetch", "softdelete"):
                continue
            app = cmd.find("AirSync:ApplicationData")
            req.commands.append(ClientCommand(
                "delete" if name == "softdelete" else name,
                cmd.findtext("AirSync:ServerId", "") or "",
                cmd.findtext("AirSync:ClientId", "") or "",
                _item_data(cmd.findtext("AirSync:Class") or klass, app, cid)
                if app is not None else None))
    return req, options


def _item_data(klass: str | None, app: Element, cid: str) -> ItemData:
    reader = content.READERS.get(klass or "")
    if reader is None:
        # Guess the class from the namespaces used.
        names = {c.tag.namespace for c in app.children}
        for k, ns in (("Calendar", "Calendar"), ("Contacts", "Contacts"), ("Tasks", "Tasks"),
                      ("Notes", "Notes")):
            if ns in names:
                reader = content.READERS[k]
                break
        else:
            reader = content.read_email
    return reader(app)


async def sync(ctx: Context, tree: Element | None) -> Reply:
    session = ctx.session
    handler = session.handler
    root = "AirSync:Sync"
    cache_key = (session.user_id, session.device.device_id)
    if tree is None:
        # An empty Sync repeats the device's last one (MS-ASCMD 2.2.1.21); without one
        # in this process (a restart), Status 13 asks for the full request.
        cached = _LAST_SYNC.get(cache_key)
        if cached is None:
            return Reply(status_only(root, 13))
        tree = _without_commands(cached)
    tree = _need(tree, root)
    if tree.find("AirSync:Partial") is not None:
        cached = _LAST_SYNC.get(cache_key)
        if cached is None:
            return Reply(status_only(root, 13))
        tree = _merge_partial(_without_commands(cached), tree)
    _remember_sync(cache_key, tree)
    wait = tree.findtext("AirSync:Wait")
    heartbeat_text = tree.findtext("AirSync:HeartbeatInterval")
    heartbeat: float | None = None
    cfg = session.config
    if wait is not None or heartbeat_text is not None:
        try:
            heartbeat = int(wait) * 60.0 if wait is not None else float(heartbeat_text or 0)
        except ValueError:
            return Reply(status_only(root, 4))
        if not cfg.min_heartbeat <= heartbeat <= cfg.max_heartbeat:
            doc = Doc()
            doc.w.start(root)
            doc.w.element("AirSync:Status", "14")
            limit = cfg.min_heartbeat if heartbeat < cfg.min_heartbeat else cfg.max_heartbeat
            if wait is not None:
                doc.w.element("AirSync:Wait", str(max(1, limit // 60)))
            else:
                doc.w.element("AirSync:HeartbeatInterval", str(limit))
            doc.w.end()
            return Reply(doc.bytes())
    global_window_text = tree.findtext("AirSync:WindowSize")
    global_window = int(global_window_text) if global_window_text and \
        global_window_text.isdigit() else None
    collections = tree.find("AirSync:Collections")
    if collections is None:
        return Reply(status_only(root, 4))
    requests = []
    for col in collections.findall("AirSync:Collection"):
        try:
            requests.append(_collection_request(ctx, col, global_window))
        except (InvalidInput, ValueError) as exc:
            logger.info("Sync: bad collection: %s", exc)
            return Reply(status_only(root, 4))
    if not requests:
        return Reply(status_only(root, 4))
    handler.superseded(session.user_id, session.device.device_id)
    results = await _run_collections(ctx, requests)
    if heartbeat is not None and not any(r.changes or r.responses or r.status != 1
                                         or r.sync_key != q.sync_key
                                         for r, (q, _o) in zip(results, requests, strict=True)):
        folders = [await session.folder(q.collection_id) for q, _o in requests]
        status, _changed = await session.wait_for_changes(folders, heartbeat)
        if status == 7:
            return Reply(status_only(root, 12))
        if status == 2:
            ctx.deadline = time.monotonic() + cfg.time_budget
            results = await _run_collections(ctx, requests)
        else:
            # MS-ASCMD 3.2.5.1: nothing changed during the wait: an empty response.
            return Reply(b"")
    _advance_cached_keys(cache_key, results)
    return Reply(_sync_response(ctx, results, requests, await _models(ctx, results)))


_LAST_SYNC: dict[tuple[int, str], Element] = {}
"""The last full Sync request per device (empty and Partial Syncs build on it)."""
_LAST_SYNC_MAX = 20000


def _remember_sync(key: tuple[int, str], tree: Element) -> None:
    if len(_LAST_SYNC) >= _LAST_SYNC_MAX and key not in _LAST_SYNC:
        _LAST_SYNC.pop(next(iter(_LAST_SYNC)))
    _LAST_SYNC[key] = _without_commands(tree)


def _advance_cached_keys(key: tuple[int, str], results: list[CollectionResult]) -> None:
    """The cached request continues from the keys just handed out."""
    cached = _LAST_SYNC.get(key)
    cols = cached.find("AirSync:Collections") if cached is not None else None
    if cols is None:
        return
    new_keys = {r.collection_id: r.sync_key for r in results if r.sync_key}
    for col in cols.findall("AirSync:Collection"):
        sync_key = col.find("AirSync:SyncKey")
        new = new_keys.get(col.findtext("AirSync:CollectionId") or "")
        if sync_key is not None and new:
            sync_key.text = new


def _without_commands(tree: Element) -> Element:
    """A copy of a Sync request without client commands (they are never repeated)."""
    out = Element(tree.tag, [], tree.text, tree.opaque)
    for child in tree.children:
        if child.tag.name == "Collections":
            cols = Element(child.tag)
            for col in child.children:
                cols.children.append(Element(col.tag, [c for c in col.children
                                                       if c.tag.name != "Commands"]))
            out.children.append(cols)
        elif child.tag.name != "Partial":
            out.children.append(child)
    return out


def _merge_partial(cached: Element, partial: Element) -> Element:
    """MS-ASCMD 2.2.3.128: a Partial Sync names only what differs from the cached one."""
    merged = Element(cached.tag, [c for c in cached.children
                                  if c.tag.name not in ("Collections", "Wait",
                                                        "HeartbeatInterval", "WindowSize")])
    for name in ("Wait", "HeartbeatInterval", "WindowSize"):
        el = partial.find(f"AirSync:{name}") or cached.find(f"AirSync:{name}")
        if el is not None:
            merged.children.append(el)
    by_id: dict[str, Element] = {}
    old_cols = cached.find("AirSync:Collections")
    for col in old_cols.findall("AirSync:Collection") if old_cols is not None else []:
        by_id[col.findtext("AirSync:CollectionId") or ""] = col
    new_cols = partial.find("AirSync:Collections")
    for col in new_cols.findall("AirSync:Collection") if new_cols is not None else []:
        cid = col.findtext("AirSync:CollectionId") or ""
        base = by_id.get(cid)
        if base is None:
            by_id[cid] = col
            continue
        names = {c.tag for c in col.children}
        by_id[cid] = Element(col.tag, [c for c in base.children if c.tag not in names]
                             + col.children)
    collections = Element(lookup_tag("AirSync:Collections"), list(by_id.values()))
    merged.children.insert(0, collections)
    return merged


async def _run_collections(ctx: Context, requests: list[tuple[CollectionRequest,
                                                             content.ItemOptions | None]]
                           ) -> list[CollectionResult]:
    out = []
    for req, options in requests:
        opts = options
        if opts is None:
            rows = None
            try:
                folder = await ctx.session.folder(req.collection_id)
                rows = await ctx.session.handler.states.load_states(ctx.session.device.ref,
                                                                    folder.server_id)
            except NotFound:
                pass
            if rows:
                from groupware.handlers.activesync.state import CollectionState

                saved = CollectionState.from_bytes(rows[0].data).options
                opts = content.ItemOptions.from_dict(saved) if saved else content.ItemOptions()
            else:
                opts = content.ItemOptions()
        limit = opts.mime_limit("Email")
        req.mime_limit = None if limit < 0 else limit
        try:
            result = await ctx.session.sync_collection(req, deadline=ctx.deadline)
        except GroupwareError as exc:
            logger.warning("Sync of collection %s failed: %s", req.collection_id, exc)
            result = CollectionResult(req.collection_id, status_for("Sync", exc))
        result.options = opts.as_dict()
        out.append(result)
    return out


async def _models(ctx: Context, results: list[CollectionResult]) -> dict[int, Any]:
    """Converter models of non-Email items (their writers need named properties)."""
    out: dict[int, Any] = {}
    for result in results:
        if result.klass == "Email":
            continue
        for item in result.changes:
            if item.message is not None:
                out[id(item.message)] = await ctx.session.message_model(item.message)
        for resp in result.responses:
            if resp.message is not None:
                out[id(resp.message)] = await ctx.session.message_model(resp.message)
    return out


def _write_app_data(w: WbxmlWriter, klass: str, msg: FetchedMessage, *,
                    options: content.ItemOptions, version: float, server_id: str,
                    models: dict[int, Any], read_only: bool = False) -> None:
    if klass == "Email":
        content.write_email(w, msg, options, version, server_id, read_only=read_only)
        return
    writer = content.MODEL_WRITERS.get(klass)
    model = models.get(id(msg))
    if writer is None or model is None:
        w.empty("AirSync:ApplicationData")
        return
    writer(w, model, options, version)


def _sync_response(ctx: Context, results: list[CollectionResult],
                   requests: list[tuple[CollectionRequest, content.ItemOptions | None]],
                   models: dict[int, Any]) -> bytes:
    doc = Doc()
    w = doc.w
    w.start("AirSync:Sync")
    w.start("AirSync:Collections")
    for result, (req, _o) in zip(results, requests, strict=True):
        options = content.ItemOptions.from_dict(result.options)
        w.start("AirSync:Collection")
        if ctx.version < 14.0 or req.sync_key == "0":
            w.element("AirSync:Class", result.klass)
        w.element("AirSync:SyncKey", result.sync_key or req.sync_key)
        w.element("AirSync:CollectionId", result.collection_id)
        w.element("AirSync:Status", str(result.status))
        if result.changes:
            w.start("AirSync:Commands")
            for item in result.changes:
                _write_change(w, item, result.klass, options=options, version=ctx.version,
                              models=models)
            w.end()
        if result.more:
            w.empty("AirSync:MoreAvailable")
        if result.responses:
            w.start("AirSync:Responses")
            for resp in result.responses:
                if resp.kind == "add":
                    w.start("AirSync:Add")
                    if ctx.version < 14.0:
                        w.element("AirSync:Class", result.klass)
                    w.element("AirSync:ClientId", resp.client_id)
                    if resp.server_id:
                        w.element("AirSync:ServerId", resp.server_id)
                    w.element("AirSync:Status", str(resp.status))
                    w.end()
                elif resp.kind == "fetch":
                    w.start("AirSync:Fetch")
                    w.element("AirSync:ServerId", resp.server_id)
                    w.element("AirSync:Status", str(resp.status))
                    if resp.message is not None:
                        _write_app_data(w, result.klass, resp.message, options=options,
                                        version=ctx.version, server_id=resp.server_id,
                                        models=models)
                    w.end()
                elif resp.status != 1:
                    w.start("AirSync:Change" if resp.kind == "change" else "AirSync:Delete")
                    w.element("AirSync:ServerId", resp.server_id)
                    w.element("AirSync:Status", str(resp.status))
                    w.end()
            w.end()
        w.end()
    w.end()
    w.end()
    return doc.bytes()


def _write_change(w: WbxmlWriter, item: OutItem, klass: str, *,
                  options: content.ItemOptions, version: float,
                  models: dict[int, Any]) -> None:
    if item.kind in ("delete", "soft_delete"):
        w.start("AirSync:SoftDelete" if item.kind == "soft_delete" else "AirSync:Delete")
        w.element("AirSync:ServerId", item.server_id)
        w.end()
        return
    assert item.message is not None
    w.start("AirSync:Add" if item.kind == "add" else "AirSync:Change")
    w.element("AirSync:ServerId", item.server_id)
    _write_app_data(w, klass, item.message, options=options, version=version,
                    server_id=item.server_id, models=models, read_only=item.read_only)
    w.end()


# --- GetItemEstimate (MS-ASCMD 2.2.1.9) ------------------------------------------------------


async def get_item_estimate(ctx: Context, tree: Element | None) -> Reply:
    root = "GetItemEstimate:GetItemEstimate"
    tree = _need(tree, root)
    cols = tree.find("GetItemEstimate:Collections")
    if cols is None:
        return Reply(status_only(root, 2))
    doc = Doc()
    w = doc.w
    w.start(root)
    for col in cols.findall("GetItemEstimate:Collection"):
        cid = col.findtext("GetItemEstimate:CollectionId") or ""
        key = col.findtext("AirSync:SyncKey") or ""
        status, estimate = 1, 0
        try:
            folder = await ctx.session.folder(cid)
            if key in ("", "0"):
                status = 3
            else:
                estimate = await ctx.session.estimate(folder, key)
        except NotFound:
            status = 2
        except InvalidSyncKey:
            status = 4
        w.start("GetItemEstimate:Response")
        w.element("GetItemEstimate:Status", str(status))
        w.start("GetItemEstimate:Collection")
        w.element("GetItemEstimate:CollectionId", cid)
        if status == 1:
            w.element("GetItemEstimate:Estimate", str(estimate))
        w.end()
        w.end()
    w.end()
    return Reply(doc.bytes())


# --- Ping (MS-ASCMD 2.2.1.13) ---------------------------------------------------------------


async def ping(ctx: Context, tree: Element | None) -> Reply:
    root = "Ping:Ping"
    session = ctx.session
    cfg = session.config
    import json

    saved: dict[str, Any] = {}
    if session.device.ping:
        try:
            saved = json.loads(session.device.ping)
        except ValueError:
            saved = {}
    if tree is not None and tree.qname != root:
        return Reply(status_only(root, 4))
    heartbeat_text = tree.findtext("Ping:HeartbeatInterval") if tree is not None else None
    folders_el = tree.find("Ping:Folders") if tree is not None else None
    if heartbeat_text is not None:
        if not heartbeat_text.isdigit():
            return Reply(status_only(root, 4))
        heartbeat = int(heartbeat_text)
    else:
        heartbeat = int(saved.get("h", 0))
    if folders_el is not None:
        ids = [f.findtext("Ping:Id") or "" for f in folders_el.findall("Ping:Folder")]
    else:
        ids = [str(i) for i in saved.get("f", [])]
    if not heartbeat or not ids:
        return Reply(status_only(root, 3))
    if not cfg.min_heartbeat <= heartbeat <= cfg.max_heartbeat:
        doc = Doc()
        doc.w.start(root)
        doc.w.element("Ping:Status", "5")
        doc.w.element("Ping:HeartbeatInterval", str(
            cfg.min_heartbeat if heartbeat < cfg.min_heartbeat else cfg.max_heartbeat))
        doc.w.end()
        return Reply(doc.bytes())
    if len(ids) > cfg.max_ping_folders:
        doc = Doc()
        doc.w.start(root)
        doc.w.element("Ping:Status", "6")
        doc.w.element("Ping:MaxFolders", str(cfg.max_ping_folders))
        doc.w.end()
        return Reply(doc.bytes())
    if tree is not None and {"h": heartbeat, "f": ids} != saved:
        await session.handler.states.update_device(
            session.device.ref, ping=json.dumps({"h": heartbeat, "f": ids}))
    known = await session.hierarchy_known()
    folders = []
    for fid in ids:
        try:
            folder = await session.folder(fid)
        except NotFound:
            return Reply(status_only(root, 7))
        if known is not None and fid not in known.folders:
            return Reply(status_only(root, 7))
        folders.append(folder)
    status, changed = await session.wait_for_changes(folders, float(heartbeat))
    doc = Doc()
    doc.w.start(root)
    doc.w.element("Ping:Status", str(status))
    if status == 2:
        doc.w.start("Ping:Folders")
        for fid in changed:
            doc.w.element("Ping:Folder", fid)
        doc.w.end()
    doc.w.end()
    return Reply(doc.bytes())


# --- ItemOperations (MS-ASCMD 2.2.1.10) -------------------------------------------------------


async def item_operations(ctx: Context, tree: Element | None) -> Reply:
    root = "ItemOperations:ItemOperations"
    tree = _need(tree, root)
    session = ctx.session
    parts: list[bytes] = []
    multipart = ctx.request.accept_multipart
    doc = Doc()
    w = doc.w
    w.start(root)
    w.element("ItemOperations:Status", "1")
    w.start("ItemOperations:Response")
    for op in tree.children:
        name = op.tag.name
        if name == "Fetch":
            await _io_fetch(ctx, op, w, parts if multipart else None)
        elif name == "EmptyFolderContents":
            cid = op.findtext("AirSync:CollectionId") or ""
            options = op.find("ItemOperations:Options")
            sub = options is not None and options.find("ItemOperations:DeleteSubFolders") \
                is not None
            status = 1
            try:
                await session.empty_folder(cid, subfolders=sub)
            except GroupwareError as exc:
                status = status_for("ItemOperations", exc)
            w.start("ItemOperations:EmptyFolderContents")
            w.element("ItemOperations:Status", str(status))
            w.element("AirSync:CollectionId", cid)
            w.end()
        elif name == "Move":
            long_id = op.findtext("ItemOperations:ConversationId") or ""
            dst = op.findtext("ItemOperations:DstFldId") or ""
            w.start("ItemOperations:Move")
            w.element("ItemOperations:Status", "2")
            w.element("ItemOperations:ConversationId", long_id.encode() if long_id else b"")
            w.end()
            logger.info("ItemOperations Move of a conversation to %s: not supported", dst)
    w.end()
    w.end()
    body = doc.bytes()
    if multipart:
        return Reply(_multipart([body, *parts]), content_type=MULTIPART)
    return Reply(body)


def _multipart(parts: list[bytes]) -> bytes:
    """MS-ASCMD 2.2.1.10.1.1: count, (offset, size) pairs, then the parts."""
    header = struct.pack("<i", len(parts))
    offset = 4 + 8 * len(parts)
    for part in parts:
        header += struct.pack("<ii", offset, len(part))
        offset += len(part)
    return header + b"".join(parts)


async def _io_fetch(ctx: Context, op: Element, w: WbxmlWriter, parts: list[bytes] | None) -> None:
    session = ctx.session
    store = op.findtext("ItemOperations:Store") or "Mailbox"
    ref = op.findtext("AirSyncBase:FileReference")
    sid = op.findtext("AirSync:ServerId")
    cid = op.findtext("AirSync:CollectionId")
    options = content.parse_options(op.find("ItemOperations:Options"))
    w.start("ItemOperations:Fetch")
    if store.lower() != "mailbox":
        w.element("ItemOperations:Status", "9")
        w.end()
        return
    try:
        if ref:
            props, data = await session.attachment(ref)
            range_text = (op.find("ItemOperations:Options") or Element(op.tag)).findtext(
                "ItemOperations:Range")
            total = len(data)
            if range_text:
                lo, _, hi = range_text.partition("-")
                data = data[int(lo):int(hi) + 1]
            w.element("ItemOperations:Status", "1")
            w.element("AirSyncBase:FileReference", ref)
            w.start("ItemOperations:Properties")
            mime = props.get(int(ct.ATTACH_MIME_TAG))
            w.element("AirSyncBase:ContentType", mime if isinstance(mime, str) and mime
                      else "application/octet-stream")
            if range_text:
                w.element("ItemOperations:Range", f"{range_text.partition('-')[0]}-"
                          f"{int(range_text.partition('-')[0]) + len(data) - 1}")
                w.element("ItemOperations:Total", str(total))
            if parts is not None:
                parts.append(data)
                w.element("ItemOperations:Part", str(len(parts)))
            else:
                w.element("ItemOperations:Data", base64.b64encode(data).decode("ascii"))
            w.end()
        elif sid:
            limit = options.mime_limit("Email")
            msg = await session.fetch(sid, mime_limit=None if limit < 0 else limit,
                                      folder_id=cid)
            folder = await session.folder(cid) if cid else None
            klass = folder.klass if folder is not None else "Email"
            models = {}
            if klass != "Email":
                models[id(msg)] = await session.message_model(msg)
            w.element("ItemOperations:Status", "1")
            if cid:
                w.element("AirSync:CollectionId", cid)
            w.element("AirSync:ServerId", sid)
            w.element("AirSync:Class", klass)
            w.start("ItemOperations:Properties")
            buf: list[bytes] = []
            inner = WbxmlWriter(buf.append)
            _write_app_data(inner, klass, msg, options=options, version=ctx.version,
                            server_id=sid, models=models)
            inner.close()
            tree = _decode_fragment(b"".join(buf))
            from protocols.activesync.wbxml import write_element

            for child in tree.children:
                write_element(w, child)
            w.end()
        else:
            w.element("ItemOperations:Status", "2")
    except GroupwareError as exc:
        w.element("ItemOperations:Status", str(status_for("ItemOperations", exc)))
        if sid:
            w.element("AirSync:ServerId", sid)
        if ref:
            w.element("AirSyncBase:FileReference", ref)
    w.end()


def _decode_fragment(data: bytes) -> Element:
    from protocols.activesync.wbxml import decode

    return decode(data)


# --- MoveItems (MS-ASCMD 2.2.1.12) -----------------------------------------------------------


async def move_items(ctx: Context, tree: Element | None) -> Reply:
    root = "Move:MoveItems"
    tree = _need(tree, root)
    doc = Doc()
    w = doc.w
    w.start(root)
    for move in tree.findall("Move:Move"):
        src = move.findtext("Move:SrcMsgId") or ""
        src_fld = move.findtext("Move:SrcFldId") or ""
        dst_fld = move.findtext("Move:DstFldId") or ""
        status, new_id = 3, ""
        if src_fld == dst_fld:
            status = 4
        else:
            try:
                await ctx.session.folder(dst_fld)
            except NotFound:
                status = 2
            else:
                try:
                    new_id = await ctx.session.move_item(src, src_fld, dst_fld)
                except NotFound:
                    status = 1
                except GroupwareError as exc:
                    logger.info("MoveItems %s failed: %s", src, exc)
                    status = 5
        w.start("Move:Response")
        w.element("Move:SrcMsgId", src)
        w.element("Move:Status", str(status))
        if new_id:
            w.element("Move:DstMsgId", new_id)
        w.end()
    w.end()
    return Reply(doc.bytes())


# --- SendMail, SmartReply, SmartForward (MS-ASCMD 2.2.1.17, 2.2.1.19, 2.2.1.18) -----------------


async def compose(ctx: Context, tree: Element | None) -> Reply:
    command = ctx.request.command
    root = ROOTS[command]
    session = ctx.session
    if tree is None:
        # EAS 12.x: the MIME is the whole body, parameters in the query.
        mime = ctx.body
        save = ctx.request.save_in_sent
        client_id = ""
        item_id = ctx.request.params.get("ItemId", "")
        replace = False
    else:
        tree = _need(tree, root)
        mime_el = tree.find("ComposeMail:Mime")
        mime = (mime_el.opaque if mime_el.opaque is not None else
                (mime_el.text or "").encode("utf-8")) if mime_el is not None else b""
        save = tree.find("ComposeMail:SaveInSentItems") is not None
        client_id = tree.findtext("ComposeMail:ClientId") or ""
        source = tree.find("ComposeMail:Source")
        item_id = source.findtext("ComposeMail:ItemId") or "" if source is not None else ""
        replace = tree.find("ComposeMail:ReplaceMime") is not None
    if not mime:
        return _compose_status(ctx, root, 107)
    try:
        if command != "SendMail" and item_id and not replace:
            mime = await _smart(session, mime, item_id, forward=command == "SmartForward")
        await session.send_mail(mime, save_in_sent=save, client_id=client_id)
        if command == "SmartReply" and item_id:
            await _mark_verb(session, item_id, 102)
        elif command == "SmartForward" and item_id:
            await _mark_verb(session, item_id, 104)
    except GroupwareError as exc:
        logger.info("%s failed: %s", command, exc)
        return _compose_status(ctx, root, status_for(command, exc))
    # MS-ASCMD: success is an empty response.
    return Reply(b"")


def _compose_status(ctx: Context, root: str, status: int) -> Reply:
    if ctx.version < 14.0:
        return Reply(status=500 if status >= 110 else 400)
    return Reply(status_only(root, status))


async def _mark_verb(session: EasSession, item_id: str, verb: int) -> None:
    try:
        _fid, mid = parse_item_sid(item_id)
        await session.store.set_properties(await session.store_id(), mid, {
            LAST_VERB: verb, LAST_VERB_TIME: int((time.time() + 11644473600) * 10_000_000),
            content.ICON_INDEX: 0x105 if verb == 102 else 0x106})
    except GroupwareError as exc:
        logger.debug("could not mark %s as replied/forwarded: %s", item_id, exc)


LAST_VERB = content.LAST_VERB
LAST_VERB_TIME = content.LAST_VERB_TIME


async def _smart(session: EasSession, mime: bytes, item_id: str, *, forward: bool) -> bytes:
    """The device's new text plus the original: quoted text for a reply, the original's
    attachments for a forward (MS-ASCMD 2.2.1.18, 2.2.1.19)."""
    original = await session.full_message(item_id)
    new = email.parser.BytesParser(policy=email.policy.default).parsebytes(mime)
    assert isinstance(new, EmailMessage)
    quoted = content.plain_of(original.props)
    header = "\r\n\r\n-----Original Message-----\r\n"
    sender = original.props.get(ct.SENT_REPRESENTING_NAME) or original.props.get(
        ct.SENDER_NAME) or ""
    header += f"From: {sender}\r\nSubject: {original.props.get(ct.SUBJECT) or ''}\r\n\r\n"
    body_part = new.get_body(preferencelist=("plain",))
    if body_part is not None and not body_part.is_multipart():
        text = body_part.get_content()
        body_part.set_content(text.rstrip("\r\n") + header + quoted)
    if forward and original.attachments:
        if not new.is_multipart() or new.get_content_type() != "multipart/mixed":
            new.make_mixed()
        for att in original.attachments:
            data = att.props.get(ct.ATTACH_DATA_BIN)
            if not isinstance(data, bytes):
                continue
            name = att.props.get(ct.ATTACH_LONG_FILENAME) or att.props.get(
                ct.ATTACH_FILENAME) or "attachment"
            mime_type = att.props.get(ct.ATTACH_MIME_TAG) or "application/octet-stream"
            main, _, sub = str(mime_type).partition("/")
            new.add_attachment(data, maintype=main or "application",
                               subtype=sub or "octet-stream", filename=str(name))
    out = new.as_bytes(policy=email.policy.SMTP)
    return out


# --- Search, Find, ResolveRecipients (MS-ASCMD 2.2.1.16, 2.2.1.23, 2.2.1.15) --------------------


def _range(text: str | None, default_max: int) -> tuple[int, int]:
    if not text or "-" not in text:
        return 0, default_max - 1
    lo, _, hi = text.partition("-")
    try:
        a, b = int(lo), int(hi)
    except ValueError:
        return 0, default_max - 1
    if a < 0 or b < a:
        return 0, default_max - 1
    return a, min(b, a + default_max - 1)


async def search(ctx: Context, tree: Element | None) -> Reply:
    root = "Search:Search"
    tree = _need(tree, root)
    store = tree.find("Search:Store")
    if store is None:
        return Reply(status_only(root, 2))
    name = (store.findtext("Search:Name") or "").lower()
    options = store.find("Search:Options")
    cfg = ctx.session.config
    lo, hi = _range(options.findtext("Search:Range") if options is not None else None,
                    cfg.gal_max_results)
    doc = Doc()
    w = doc.w
    w.start(root)
    w.element("Search:Status", "1")
    w.start("Search:Response")
    w.start("Search:Store")
    if name == "gal":
        query = store.findtext("Search:Query") or ""
        pic = options.find("Search:Picture") if options is not None else None
        found = await ctx.session.gal_search(query, hi + 1) if query.strip() else []
        page = found[lo:hi + 1]
        w.element("Search:Status", "1")
        for entry in page:
            w.start("Search:Result")
            w.start("Search:Properties")
            await _write_gal(ctx, w, entry, pic, "Gal")
            w.end()
            w.end()
        w.element("Search:Range", f"{lo}-{lo + len(page) - 1}" if page else "0-0")
        w.element("Search:Total", str(len(found)))
    elif name == "mailbox":
        words, folders, after = _mailbox_query(store.find("Search:Query"))
        hits: list[FetchedMessage]
        try:
            hits = await ctx.session.search_mailbox(folders, words, limit=hi + 1,
                                                    received_after=after)
        except NotFound:
            hits = []
        w.element("Search:Status", "1")
        opts = content.parse_options(options)
        for msg in hits[lo:hi + 1]:
            sid = item_sid(msg.info.fid, msg.info.mid)
            w.start("Search:Result")
            w.element("AirSync:Class", "Email")
            w.element("Search:LongId", sid)
            w.element("AirSync:CollectionId", sid.partition(":")[0])
            w.start("Search:Properties")
            buf: list[bytes] = []
            inner = WbxmlWriter(buf.append)
            content.write_email(inner, msg, opts, ctx.version, sid)
            inner.close()
            from protocols.activesync.wbxml import write_element

            for child in _decode_fragment(b"".join(buf)).children:
                write_element(w, child)
            w.end()
            w.end()
        shown = len(hits[lo:hi + 1])
        w.element("Search:Range", f"{lo}-{lo + shown - 1}" if shown else "0-0")
        w.element("Search:Total", str(len(hits)))
    else:
        w.element("Search:Status", "3")
    w.end()
    w.end()
    w.end()
    return Reply(doc.bytes())


def _mailbox_query(query: Element | None) -> tuple[str, list[str], float | None]:
    words, after = "", None
    folders: list[str] = []
    if query is None:
        return words, folders, after
    for node in query.iter():
        name = node.tag.name
        if name == "FreeText" and node.text:
            words = node.text
        elif name == "CollectionId" and node.text:
            folders.append(node.text)
        elif name == "GreaterThan":
            value = node.findtext("Search:Value")
            when = content.parse_date(value)
            if when:
                after = when / 10_000_000 - 11644473600
    return words, folders, after


async def _write_gal(ctx: Context, w: WbxmlWriter, entry: Any, pic: Element | None,
                     ns: str) -> None:
    def put(tag: str, value: str | None) -> None:
        if value:
            w.element(f"{ns}:{tag}", value)

    put("DisplayName", entry.display_name or entry.address)
    put("Phone", entry.phone)
    put("Office", entry.office)
    put("Title", entry.title)
    put("Company", entry.company)
    put("Alias", (entry.address or "").split("@", 1)[0])
    put("FirstName", entry.given_name)
    put("LastName", entry.surname)
    put("MobilePhone", entry.mobile)
    put("EmailAddress", entry.address)
    if pic is not None and ctx.version >= 14.1:
        limit = int(pic.findtext("Search:MaxSize") or pic.findtext("Find:MaxSize") or
                    ctx.session.config.max_picture_size)
        photo = await ctx.session.photo(entry)
        w.start(f"{ns}:Picture")
        if photo is None:
            w.element(f"{ns}:Status", "173")
        elif len(photo) > min(limit, ctx.session.config.max_picture_size):
            w.element(f"{ns}:Status", "174")
        else:
            w.element(f"{ns}:Status", "1")
            w.element(f"{ns}:Data", photo)
        w.end()


async def find(ctx: Context, tree: Element | None) -> Reply:
    root = "Find:Find"
    tree = _need(tree, root)
    search_id = tree.findtext("Find:SearchId") or ""
    execute = tree.find("Find:ExecuteSearch")
    if execute is None:
        return Reply(status_only(root, 2))
    cfg = ctx.session.config
    doc = Doc()
    w = doc.w
    w.start(root)
    w.element("Find:SearchId", search_id)
    w.element("Find:Status", "1")
    w.start("Find:Response")
    w.element("ItemOperations:Store", "Mailbox")
    w.element("Find:Status", "1")
    gal = execute.find("Find:GalSearchCriterion")
    mbx = execute.find("Find:MailBoxSearchCriterion")
    total = 0
    if gal is not None:
        query = (gal.find("Find:Query") or Element(gal.tag)).findtext("Find:FreeText") or \
            gal.findtext("Find:Query") or ""
        opts = gal.find("Find:Options")
        lo, hi = _range(opts.findtext("Find:Range") if opts is not None else None,
                        cfg.gal_max_results)
        found = await ctx.session.gal_search(query, hi + 1) if query.strip() else []
        page = found[lo:hi + 1]
        total = len(found)
        for entry in page:
            w.start("Find:Result")
            w.start("Find:Properties")
            w.element("Find:DisplayCc", "")
            for tag, value in (("DisplayName", entry.display_name),
                               ("EmailAddress", entry.address), ("Phone", entry.phone),
                               ("Office", entry.office), ("Title", entry.title),
                               ("Company", entry.company), ("FirstName", entry.given_name),
                               ("LastName", entry.surname), ("MobilePhone", entry.mobile)):
                if value:
                    w.element(f"Gal:{tag}", value)
            w.end()
            w.end()
    elif mbx is not None:
        mquery = mbx.find("Find:Query")
        words = ""
        folders: list[str] = []
        if mquery is not None:
            words = mquery.findtext("Find:FreeText") or ""
            cid = mquery.findtext("AirSync:CollectionId")
            if cid:
                folders.append(cid)
        opts = mbx.find("Find:Options")
        lo, hi = _range(opts.findtext("Find:Range") if opts is not None else None,
                        cfg.gal_max_results)
        found_msgs: list[FetchedMessage]
        try:
            found_msgs = await ctx.session.search_mailbox(folders, words, limit=hi + 1)
        except NotFound:
            found_msgs = []
        total = len(found_msgs)
        for msg in found_msgs[lo:hi + 1]:
            sid = item_sid(msg.info.fid, msg.info.mid)
            p = msg.content.props
            w.start("Find:Result")
            w.element("AirSync:Class", "Email")
            w.element("AirSync:ServerId", sid)
            w.element("AirSync:CollectionId", sid.partition(":")[0])
            w.start("Find:Properties")
            w.element("Email:Subject", str(p.get(ct.SUBJECT) or ""))
            date = content.eas_date(p.get(ct.MESSAGE_DELIVERY_TIME))
            if date:
                w.element("Email:DateReceived", date)
            w.element("Email:DisplayTo", str(p.get(ct.DISPLAY_TO) or ""))
            sender = content._sender(dict(p))
            if sender:
                w.element("Email:From", sender)
            w.element("Email:Read", "1" if msg.info.read else "0")
            preview = " ".join(content.plain_of(dict(p)).split())[:255]
            if preview:
                w.element("Find:Preview", preview)
            w.element("Find:HasAttachments", "1" if msg.content.attachments else "0")
            w.end()
            w.end()
    w.element("Find:Total", str(total))
    w.end()
    w.end()
    return Reply(doc.bytes())


async def resolve_recipients(ctx: Context, tree: Element | None) -> Reply:
    root = "ResolveRecipients:ResolveRecipients"
    tree = _need(tree, root)
    tos = [t.text or "" for t in tree.findall("ResolveRecipients:To")]
    if not tos or len(tos) > 100:
        return Reply(status_only(root, 5))
    options = tree.find("ResolveRecipients:Options")
    max_amb = 20
    availability = None
    pic = None
    if options is not None:
        text = options.findtext("ResolveRecipients:MaxAmbiguousRecipients")
        if text and text.isdigit():
            max_amb = max(1, min(int(text), 100))
        availability = options.find("ResolveRecipients:Availability")
        pic = options.find("ResolveRecipients:Picture")
    doc = Doc()
    w = doc.w
    w.start(root)
    w.element("ResolveRecipients:Status", "1")
    for to in tos:
        found = await ctx.session.resolve(to, max_amb + 1)
        status = 1 if len(found) == 1 else (2 if found else 4)
        shown = found[:max_amb]
        w.start("ResolveRecipients:Response")
        w.element("ResolveRecipients:To", to)
        w.element("ResolveRecipients:Status", str(status))
        w.element("ResolveRecipients:RecipientCount", str(len(shown)))
        for entry in shown:
            w.start("ResolveRecipients:Recipient")
            w.element("ResolveRecipients:Type", "1")
            w.element("ResolveRecipients:DisplayName", entry.display_name or entry.address or "")
            w.element("ResolveRecipients:EmailAddress", entry.address or "")
            if availability is not None:
                w.start("ResolveRecipients:Availability")
                start = content.parse_date(availability.findtext(
                    "ResolveRecipients:StartTime"))
                end = content.parse_date(availability.findtext("ResolveRecipients:EndTime"))
                merged = None
                if start and end and end > start:
                    merged = await ctx.session.free_busy(entry, start, end)
                if merged is not None:
                    w.element("ResolveRecipients:Status", "1")
                    w.element("ResolveRecipients:MergedFreeBusy", merged)
                else:
                    # MS-ASCMD 2.2.3.162.11: free/busy data could not be retrieved.
                    w.element("ResolveRecipients:Status", "163")
                w.end()
            if pic is not None and ctx.version >= 14.1:
                photo = await ctx.session.photo(entry)
                w.start("ResolveRecipients:Picture")
                if photo is None:
                    w.element("ResolveRecipients:Status", "173")
                else:
                    w.element("ResolveRecipients:Status", "1")
                    w.element("ResolveRecipients:Data", photo)
                w.end()
            w.end()
        w.end()
    w.end()
    return Reply(doc.bytes())


# --- Settings (MS-ASCMD 2.2.1.18) -------------------------------------------------------------


async def settings(ctx: Context, tree: Element | None) -> Reply:
    root = "Settings:Settings"
    tree = _need(tree, root)
    session = ctx.session
    doc = Doc()
    w = doc.w
    w.start(root)
    w.element("Settings:Status", "1")
    for child in tree.children:
        name = child.tag.name
        if name == "DeviceInformation":
            await session.set_device_info(_device_info(child))
            w.start("Settings:DeviceInformation")
            w.element("Settings:Status", "1")
            w.end()
        elif name == "UserInformation":
            user = session.user
            w.start("Settings:UserInformation")
            w.element("Settings:Status", "1")
            w.start("Settings:Get")
            if ctx.version >= 14.1:
                w.start("Settings:Accounts")
                w.start("Settings:Account")
                w.element("Settings:UserDisplayName", user.display_name or "")
                w.start("Settings:EmailAddresses")
                for addr in user.addresses:
                    w.element("Settings:SMTPAddress", addr)
                if user.address:
                    w.element("Settings:PrimarySmtpAddress", user.address)
                w.end()
                w.end()
                w.end()
            else:
                w.start("Settings:EmailAddresses")
                for addr in user.addresses:
                    w.element("Settings:SMTPAddress", addr)
                w.end()
            w.end()
            w.end()
        elif name == "Oof":
            await _oof(session, child, w)
        elif name == "DevicePassword":
            password = (child.find("Settings:Set") or Element(child.tag)).findtext(
                "Settings:Password")
            if password is not None:
                await session.set_device_info({"RecoveryPasswordSet": "1" if password else "0"})
            w.start("Settings:DevicePassword")
            w.element("Settings:Status", "1")
            w.end()
        elif name == "RightsManagementInformation":
            w.start("Settings:RightsManagementInformation")
            w.element("Settings:Status", "1")
            w.end()
    w.end()
    return Reply(doc.bytes())


async def _oof(session: EasSession, el: Element, w: WbxmlWriter) -> None:
    """Oof Get/Set; the settings live with the device's user (MS-ASCMD 2.2.3.119)."""
    import json

    states = session.handler.states
    info = session.device.info
    key = "oof"
    current: dict[str, Any] = {}
    raw = info.get(key)
    if raw:
        try:
            current = json.loads(raw)
        except ValueError:
            current = {}
    setter = el.find("Settings:Set")
    w.start("Settings:Oof")
    if setter is not None:
        new: dict[str, Any] = {"state": setter.findtext("Settings:OofState", "0"),
                               "start": setter.findtext("Settings:StartTime"),
                               "end": setter.findtext("Settings:EndTime"), "messages": []}
        for msg in setter.findall("Settings:OofMessage"):
            audience = next((c.tag.name for c in msg.children
                             if c.tag.name.startswith("AppliesTo")), "AppliesToInternal")
            new["messages"].append({"to": audience,
                                    "enabled": msg.findtext("Settings:Enabled", "0"),
                                    "text": msg.findtext("Settings:ReplyMessage", ""),
                                    "type": msg.findtext("Settings:BodyType", "Text")})
        await states.update_device(session.device.ref, info={**info,
                                                             key: json.dumps(new)})
        await session.handler.save_oof(session.user_id, new)
        w.element("Settings:Status", "1")
    else:
        saved = await session.handler.load_oof(session.user_id) or current
        w.element("Settings:Status", "1")
        w.start("Settings:Get")
        w.element("Settings:OofState", str(saved.get("state", "0")))
        if saved.get("start"):
            w.element("Settings:StartTime", saved["start"])
        if saved.get("end"):
            w.element("Settings:EndTime", saved["end"])
        for msg in saved.get("messages", []):
            w.start("Settings:OofMessage")
            w.empty(f"Settings:{msg.get('to', 'AppliesToInternal')}")
            w.element("Settings:Enabled", str(msg.get("enabled", "0")))
            w.element("Settings:ReplyMessage", msg.get("text") or None)
            w.element("Settings:BodyType", msg.get("type", "Text"))
            w.end()
        w.end()
    w.end()


# --- ValidateCert, MeetingResponse ---------------------------------------------------------------


async def validate_cert(ctx: Context, tree: Element | None) -> Reply:
    """MS-ASCMD 2.2.1.22: per certificate 1 valid, 7 expired, 10 unreadable; certificates
    are checked for form and validity period (there is no S/MIME trust list here)."""
    root = "ValidateCert:ValidateCert"
    tree = _need(tree, root)
    from cryptography import x509

    certs = tree.find("ValidateCert:Certificates")
    doc = Doc()
    w = doc.w
    w.start(root)
    w.element("ValidateCert:Status", "1")
    for cert in certs.findall("ValidateCert:Certificate") if certs is not None else []:
        raw = cert.opaque if cert.opaque is not None else (cert.text or "").encode()
        status = 1
        try:
            der = base64.b64decode(raw) if cert.opaque is None else raw
            parsed = x509.load_der_x509_certificate(der)
            now = time.time()
            if not parsed.not_valid_before_utc.timestamp() <= now <= \
                    parsed.not_valid_after_utc.timestamp():
                status = 7
        except (ValueError, TypeError):
            status = 10
        w.start("ValidateCert:Certificate")
        w.element("ValidateCert:Status", str(status))
        w.end()
    w.end()
    return Reply(doc.bytes())


async def meeting_response(ctx: Context, tree: Element | None) -> Reply:
    root = "MeetingResponse:MeetingResponse"
    tree = _need(tree, root)
    doc = Doc()
    w = doc.w
    w.start(root)
    for req in tree.findall("MeetingResponse:Request"):
        request_id = req.findtext("MeetingResponse:RequestId") or ""
        response = req.findtext("MeetingResponse:UserResponse") or ""
        status, cal_id = 2, ""
        if response in ("1", "2", "3") and request_id:
            try:
                cal_id = await ctx.session.meeting_response(request_id, int(response))
                status = 1
            except NotFound:
                status = 2
            except GroupwareError as exc:
                logger.info("MeetingResponse %s failed: %s", request_id, exc)
                status = 3
        w.start("MeetingResponse:Result")
        w.element("MeetingResponse:RequestId", request_id)
        w.element("MeetingResponse:Status", str(status))
        if cal_id and response != "3":
            w.element("MeetingResponse:CalendarId", cal_id)
        w.end()
    w.end()
    return Reply(doc.bytes())


async def get_attachment(ctx: Context, tree: Element | None) -> Reply:
    """EAS 12.x GetAttachment: the raw bytes of ``AttachmentName``."""
    name = ctx.request.params.get("AttachmentName", "")
    try:
        props, data = await ctx.session.attachment(name)
    except NotFound:
        return Reply(status=500)
    mime = props.get(int(ct.ATTACH_MIME_TAG))
    return Reply(data, content_type=mime if isinstance(mime, str) and mime
                 else "application/octet-stream")


Command = Callable[[Context, Element | None], Awaitable[Reply]]
COMMANDS: dict[str, Command] = {
    "Provision": provision, "FolderSync": folder_sync, "FolderCreate": folder_create,
    "FolderUpdate": folder_update, "FolderDelete": folder_delete, "Sync": sync,
    "GetItemEstimate": get_item_estimate, "Ping": ping, "ItemOperations": item_operations,
    "MoveItems": move_items, "SendMail": compose, "SmartReply": compose,
    "SmartForward": compose, "Search": search, "Find": find,
    "ResolveRecipients": resolve_recipients, "Settings": settings,
    "ValidateCert": validate_cert, "MeetingResponse": meeting_response,
    "GetAttachment": get_attachment,
}
"""Every command by name; Ping and Sync (hanging) are the long-polls."""

_ = TYPE_DELETED
