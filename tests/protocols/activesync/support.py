"""Shared helpers of the ActiveSync tests: one running server per module, users, a
store filler working on the server's database and blob store, and a small EAS client
built on our WBXML codec (for what pyactivesync does not cover: calendar, contacts,
tasks, notes, bad input, raw statuses)."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests

from groupware.clock import Clock
from groupware.config import load_config
from groupware.server import GroupwareServer
from protocols.activesync.wbxml import Element, decode, encode, make
from tests.conftest import RunningServer, start_server
from tests.interop.imap_server import module_database_url

PASSWORDS = {"alice": "alice-Secret-1", "bob": "bob-Secret-1", "carol": "carol-Secret-1"}
FAST_AUTH = """
[auth]
argon2_time_cost = 1
argon2_memory_cost = 1024
argon2_parallelism = 1
"""
LISTENERS = [
    {"protocol": "http", "address": "127.0.0.1", "port": 0, "tls": "none"},
    {"protocol": "imap", "address": "127.0.0.1", "port": 0, "tls": "starttls"},
    # An LMTP listener starts the queue runner that delivers what SendMail submits.
    {"protocol": "lmtp", "address": "127.0.0.1", "port": 0, "tls": "none"},
]


def eas_server(request: pytest.FixtureRequest, tmp: Path, extra: str = "",
               listeners: list[dict[str, Any]] | None = None) -> Iterator[RunningServer]:
    url = module_database_url(request, tmp)
    server = start_server(tmp, url, listeners=listeners or LISTENERS,
                          extra_config=FAST_AUTH + extra)
    try:
        for user in ("alice", "bob", "carol"):
            server.cli("user", "add", f"{user}@example.test", "--name", user.title(),
                       "--password-stdin", input=PASSWORDS[user] + "\n")
        server.cli("user", "features", "carol", "--disable", "mobile")
        yield server
    finally:
        server.stop()


def base_url(server: RunningServer) -> str:
    return f"http://127.0.0.1:{server.port('http', 'none')}/Microsoft-Server-ActiveSync"


def make_message(subject: str, body: str = "Hello.\n", *, sender: str = "sender@example.org",
                 to: str = "alice@example.test",
                 attachment: tuple[str, bytes] | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.org>"
    msg.set_content(body)
    if attachment is not None:
        msg.add_attachment(attachment[1], maintype="application", subtype="octet-stream",
                           filename=attachment[0])
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class Filler:
    """Puts mail into mailboxes through the store API, in the test process, on the
    server's database and blob store (mail delivery into the MAPI store lands with the
    mail store port)."""

    def __init__(self, server: RunningServer) -> None:
        self.config = load_config(server.config_path, env={})
        self.loop = asyncio.new_event_loop()
        self.server = GroupwareServer(self.config, Clock())

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def deliver(self, user: str, raws: list[bytes], role: str = "inbox") -> list[int]:
        return list(self.run(self._deliver(user, raws, role)))

    async def _deliver(self, user: str, raws: list[bytes], role: str) -> list[int]:
        from groupware.handlers.activesync.handler import ActiveSyncHandler
        from groupware.handlers.activesync.mapping import content_from_mime

        handler = ActiveSyncHandler(self.server)
        recipient = await self.server.get_directory().find_address(f"{user}@example.test")
        assert recipient is not None
        sid, names = await handler.open_store(recipient)
        store = self.server.get_mapistore()
        folder = await store.folder_by_role(sid, role)
        out = []
        for raw in raws:
            content = await content_from_mime(names, raw)
            info = await store.deliver(sid, content, mime=raw, fid=folder.fid)
            out.append(int(info.mid))
        return out

    def store_call(self, name: str, user: str, *args: Any, **kw: Any) -> Any:
        """Call a MapiStore method on ``user``'s store: ``store_call("set_read", "bob", ...)``."""
        async def main() -> Any:
            sid = await self.store_id(user)
            return await getattr(self.server.get_mapistore(), name)(sid, *args, **kw)

        return self.run(main())

    async def store_id(self, user: str) -> int:
        info = await self.server.get_mapistore().find_store(
            user_id=(await self.server.get_directory().find_address(
                f"{user}@example.test")).user_id)
        assert info is not None
        return int(info.id)

    def folder_fid(self, user: str, role: str) -> int:
        async def main() -> int:
            sid = await self.store_id(user)
            return int((await self.server.get_mapistore().folder_by_role(sid, role)).fid)

        return int(self.run(main()))

    def close(self) -> None:
        self.server.close()
        self.loop.close()


@dataclass
class Eas:
    """A minimal EAS client on our codec: raw statuses, any command, any version."""

    url: str
    user: str
    password: str
    device_id: str = "testdevice1"
    version: str = "16.1"
    policy_key: str | None = None

    def post(self, cmd: str, tree: Element | bytes | None, *, params: dict[str, str] | None
             = None, headers: dict[str, str] | None = None, timeout: float = 30.0
             ) -> requests.Response:
        query = {"Cmd": cmd, "User": self.user, "DeviceId": self.device_id,
                 "DeviceType": "TestPhone", **(params or {})}
        hdrs = {"MS-ASProtocolVersion": self.version,
                "Content-Type": "application/vnd.ms-sync.wbxml", **(headers or {})}
        if self.policy_key:
            hdrs["X-MS-PolicyKey"] = self.policy_key
        body = encode(tree) if isinstance(tree, Element) else (tree or b"")
        return requests.post(self.url, params=query, data=body, headers=hdrs,
                             auth=(self.user, self.password), timeout=timeout)

    def call(self, cmd: str, tree: Element | None, **kw: Any) -> Element:
        resp = self.post(cmd, tree, **kw)
        assert resp.status_code == 200, (resp.status_code, resp.text[:200])
        assert resp.content, f"{cmd}: empty response"
        return decode(resp.content)

    def provision(self) -> str:
        first = self.call("Provision", make("Provision:Provision", make(
            "Provision:Policies", make("Provision:Policy", make(
                "Provision:PolicyType", text="MS-EAS-Provisioning-WBXML")))))
        key = first.find("Provision:Policies").find("Provision:Policy").findtext(
            "Provision:PolicyKey")
        second = self.call("Provision", make("Provision:Provision", make(
            "Provision:Policies", make("Provision:Policy", make(
                "Provision:PolicyType", text="MS-EAS-Provisioning-WBXML"),
                make("Provision:PolicyKey", text=key),
                make("Provision:Status", text="1")))))
        final = second.find("Provision:Policies").find("Provision:Policy").findtext(
            "Provision:PolicyKey")
        assert final
        self.policy_key = final
        return final

    def folders(self) -> dict[str, tuple[str, str, int]]:
        tree = self.call("FolderSync", make("FolderHierarchy:FolderSync",
                                            make("FolderHierarchy:SyncKey", text="0")))
        self.folder_key = tree.findtext("FolderHierarchy:SyncKey")
        out = {}
        for add in tree.find("FolderHierarchy:Changes").findall("FolderHierarchy:Add"):
            out[add.findtext("FolderHierarchy:ServerId")] = (
                add.findtext("FolderHierarchy:ParentId"), add.findtext(
                    "FolderHierarchy:DisplayName"), int(add.findtext("FolderHierarchy:Type")))
        return out

    def folder_of_type(self, etype: int) -> str:
        return next(k for k, v in self.folders().items() if v[2] == etype)

    def sync(self, collection: str, key: str, *children: Element) -> Element:
        tree = self.call("Sync", make("AirSync:Sync", make("AirSync:Collections", make(
            "AirSync:Collection", make("AirSync:SyncKey", text=key),
            make("AirSync:CollectionId", text=collection), *children))))
        col = tree.find("AirSync:Collections").find("AirSync:Collection")
        assert col is not None, tree
        return col


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
