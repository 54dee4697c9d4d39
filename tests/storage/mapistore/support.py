"""Helpers of the message-store tests: a synchronous facade over MapiStore, sample
content, and a store factory with the test file backend registered."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from groupware.config.sections import MapiStoreConfig
from groupware.notifier import Event
from groupware.types import PropTag, UserId
from storage.blobs import FilesystemBlobStore
from storage.db import Database
from storage.mapistore import tags
from storage.mapistore.model import AttachmentContent, MessageContent
from storage.mapistore.registry import BackendRegistry
from storage.mapistore.store import MapiStore
from tests.storage.mapistore.filebackend import FileBackend

ALL_ROLES = ("root", "ipm_subtree", "inbox", "outbox", "sent", "deleted", "drafts",
             "calendar", "contacts", "tasks", "notes", "journal", "junk", "fallback")


class SyncStore:
    """Every coroutine method of a MapiStore, called synchronously (one loop per call)."""

    def __init__(self, store: MapiStore) -> None:
        self.store = store

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.store, name)
        if not callable(attr) or not asyncio.iscoroutinefunction(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return asyncio.run(attr(*args, **kwargs))

        return call

    def iter_messages(self, *args: Any, **kwargs: Any) -> list[Any]:
        async def collect() -> list[Any]:
            return [m async for m in self.store.iter_messages(*args, **kwargs)]

        return asyncio.run(collect())


def build_store(database: Database, tmp_path: Path, roles: dict[str, str] | None = None,
                events: list[Event] | None = None, **config: Any) -> MapiStore:
    cfg = MapiStoreConfig(roles=roles or {"fallback": "sql:"}, blob_fsync=False, **config)
    registry = BackendRegistry()
    registry.register(FileBackend())

    def publish(_channel: str, event: Event) -> None:
        if events is not None:
            events.append(event)

    return MapiStore(database, FilesystemBlobStore(tmp_path / "blobs", fsync=False), cfg,
                     publish=publish, registry=registry)


def provision(store: SyncStore, user_id: int = 1, locale: str = "en",
              username: str = "alice") -> Any:
    return store.provision_mailbox(UserId(user_id), uuid.uuid4(), locale, username=username)


def mail(subject: str = "Hello", *, sender: str = "Bob", when: int = 133_000_000_000_000_000,
         body: str = "Hi there", extra: dict[PropTag, Any] | None = None) -> MessageContent:
    props: dict[PropTag, Any] = {
        tags.MESSAGE_CLASS: "IPM.Note",
        tags.SUBJECT: subject,
        tags.SENDER_NAME: sender,
        tags.MESSAGE_DELIVERY_TIME: when,
        tags.BODY: body,
    }
    props.update(extra or {})
    return MessageContent(props=props)


def mime_of(subject: str, body: str = "Hi there\r\n") -> bytes:
    return (f"From: Bob <bob@example.test>\r\nTo: alice@example.test\r\n"
            f"Subject: {subject}\r\nMessage-ID: <{uuid.uuid4()}@example.test>\r\n"
            f"\r\n{body}").encode()


def rich_message() -> MessageContent:
    """Recipients, a by-value attachment and an embedded message with its own attachment."""
    inner = MessageContent(
        props={tags.MESSAGE_CLASS: "IPM.Note", tags.SUBJECT: "inner"},
        recipients=[{tags.DISPLAY_NAME: "Carol", tags.RECIPIENT_TYPE: 1}],
        attachments=[AttachmentContent({tags.ATTACH_METHOD: tags.ATTACH_BY_VALUE,
                                        tags.ATTACH_LONG_FILENAME: "deep.txt",
                                        tags.ATTACH_DATA_BINARY: b"deep"})],
    )
    return MessageContent(
        props={tags.MESSAGE_CLASS: "IPM.Note", tags.SUBJECT: "outer"},
        recipients=[
            {tags.DISPLAY_NAME: "Alice", tags.EMAIL_ADDRESS: "alice@example.test",
             tags.ADDRESS_TYPE: "SMTP", tags.RECIPIENT_TYPE: 1},
            {tags.DISPLAY_NAME: "Dave", tags.EMAIL_ADDRESS: "dave@example.test",
             tags.ADDRESS_TYPE: "SMTP", tags.RECIPIENT_TYPE: 2},
        ],
        attachments=[
            AttachmentContent({tags.ATTACH_METHOD: tags.ATTACH_BY_VALUE,
                               tags.ATTACH_LONG_FILENAME: "a.bin",
                               tags.ATTACH_DATA_BINARY: bytes(range(256)) * 512}),
            AttachmentContent({tags.ATTACH_LONG_FILENAME: "forwarded.msg"}, embedded=inner),
        ],
    )


Factory = Callable[..., SyncStore]
