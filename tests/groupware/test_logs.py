"""Structured logging: context fields follow the request, JSON lines are parseable."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from groupware.logs import log_context, set_log_context, setup_logging


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _capture(fmt: str) -> tuple[io.StringIO, logging.Logger]:
    stream = io.StringIO()
    setup_logging("INFO", fmt, stream)
    return stream, logging.getLogger("groupware.test")


def test_text_format_includes_context() -> None:
    stream, log = _capture("text")
    with log_context(protocol="imap", user="alice@example.test", peer="127.0.0.1:5000"):
        log.info("selected %s", "INBOX")
    log.info("outside")
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith(
        "selected INBOX [protocol=imap user=alice@example.test peer=127.0.0.1:5000]")
    assert lines[1].endswith("groupware.test: outside")


def test_json_format_and_context_follows_tasks() -> None:
    stream, log = _capture("json")

    async def session(name: str) -> None:
        set_log_context(protocol="pop3", user=name)
        await asyncio.sleep(0)
        log.warning("login failed")

    async def main() -> None:
        await asyncio.gather(session("a"), session("b"))

    asyncio.run(main())
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert sorted(r["user"] for r in records) == ["a", "b"]
    assert all(r["protocol"] == "pop3" and r["level"] == "warning" for r in records)
    assert all(r["msg"] == "login failed" for r in records)
