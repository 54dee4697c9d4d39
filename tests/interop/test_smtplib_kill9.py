"""Nothing acknowledged is lost: a message answered with 250 survives ``kill -9``.

Submission commits the message to the queue in the database before the 250. The
smarthost is down at first, the process is killed with SIGKILL right after the 250, and
a new process on the same database delivers it once the smarthost is up.
"""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import pytest

from tests.conftest import free_port, start_server
from tests.interop.imap_server import FAST_AUTH, module_database_url
from tests.protocols.smtp.helpers import MAIL_LISTENERS, PASSWORDS, start_smarthost, submission

pytestmark = pytest.mark.interop


def test_message_accepted_with_250_survives_kill_9(request: pytest.FixtureRequest,
                                                   tmp_path: Path) -> None:
    url = module_database_url(request, tmp_path)
    relay_port = free_port()  # nothing listens there yet
    extra = (FAST_AUTH + f'\n[queue]\nrelay_host = "127.0.0.1"\nrelay_port = {relay_port}\n'
             'relay_tls = "none"\npoll_interval = 0.5\nretry_schedule = [0.5]\nlease = 2.0\n'
             "connect_timeout = 2.0\n")
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = start_server(tmp_path / "one", url, listeners=MAIL_LISTENERS, extra_config=extra)
    try:
        first.cli("user", "add", "alice@example.test", "--password-stdin",
                  input=PASSWORDS["alice"] + "\n")
        tag = f"kill9-{uuid.uuid4().hex}"
        with submission(first) as client:
            reply = client.sendmail("alice@example.test", ["far@example.org"],
                                    f"Subject: {tag}\r\n\r\nsurvive\r\n")
            assert reply == {}
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
        assert first.process.returncode == -signal.SIGKILL
    finally:
        first.stop()
    smarthost = start_smarthost(relay_port)
    try:
        # Same database, a new process (the data directory is new as well: the queue
        # needs nothing but the database).
        second = start_server(tmp_path / "two", url, listeners=MAIL_LISTENERS,
                              extra_config=extra, init=False)
        try:
            env = smarthost.wait_for(lambda e: tag.encode() in e.original_content, 30)
            assert env.rcpt_tos == ["far@example.org"]
            assert env.mail_from == "alice@example.test"
        finally:
            second.stop()
    finally:
        smarthost.controller.stop()
