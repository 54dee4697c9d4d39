"""ejabberd with ``auth_method: external`` running our extauth helper: ejabberd's own
check_password / check_account commands and a real SASL PLAIN login over c2s; plus
frames fed to the helper directly."""

from __future__ import annotations

import base64
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import GROUPWARE, REPO, free_port
from tests.interop.provision import PASSWORDS, Installation, provision

pytestmark = pytest.mark.interop


class Ejabberd:
    def __init__(self, workdir: Path, extauth: str) -> None:
        self.dir = workdir
        self.port = free_port()
        self.node = f"gwtest{self.port}@localhost"
        (workdir / "logs").mkdir()
        (workdir / "spool").mkdir()
        (workdir / "ejabberd.yml").write_text(f"""
hosts: ["example.test"]
loglevel: info
auth_method: [external]
extauth_program: "{extauth}"
auth_use_cache: false
listen:
  - port: {self.port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
modules:
  mod_admin_extra: {{}}
""")
        (workdir / "inetrc").write_text("")
        (workdir / "ejabberdctl.cfg").write_text(f"ERLANG_NODE={self.node}\n")

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ejabberdctl", "--config-dir", str(self.dir), "--ctl-config",
                               str(self.dir / "ejabberdctl.cfg"), "--logs",
                               str(self.dir / "logs"), "--spool", str(self.dir / "spool"),
                               "--node", self.node, *args],
                              capture_output=True, text=True, timeout=60)

    def start(self) -> None:
        shutil.chown(self.dir, "ejabberd", "ejabberd")
        subprocess.run(["chown", "-R", "ejabberd:ejabberd", str(self.dir)], check=True)
        self.proc = subprocess.Popen(
            ["ejabberdctl", "--config-dir", str(self.dir), "--ctl-config",
             str(self.dir / "ejabberdctl.cfg"), "--logs", str(self.dir / "logs"), "--spool",
             str(self.dir / "spool"), "--node", self.node, "foreground"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("ejabberd did not start: "
                           + (self.dir / "logs" / "ejabberd.log").read_text()[-2000:])

    def stop(self) -> None:
        self.ctl("stop")
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def sasl_plain(port: int, user: str, password: str) -> bool:
    """A minimal XMPP client: stream header, SASL PLAIN, read success or failure."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"<?xml version='1.0'?><stream:stream to='example.test' version='1.0' "
                  b"xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
        buf = b""
        while b"</stream:features>" not in buf:
            chunk = s.recv(4096)
            assert chunk, buf
            buf += chunk
        assert b"PLAIN" in buf, buf
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        s.sendall(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
                  f"{token}</auth>".encode())
        buf = b""
        while b"success" not in buf and b"failure" not in buf:
            chunk = s.recv(4096)
            assert chunk, buf
            buf += chunk
        return b"<success" in buf


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory the ejabberd user can enter (pytest's tmp dirs are mode 0700)."""
    path = Path(tempfile.mkdtemp(prefix="gw-ejabberd-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_ejabberd_external_auth(shared_dir: Path, database_url: str) -> None:
    if database_url.startswith("sqlite"):
        database_url = f"sqlite:///{shared_dir / 'gw.sqlite3'}"
    inst = provision(shared_dir, database_url)
    # ejabberd runs the helper as its own user, who cannot enter /root where this
    # virtualenv's interpreter lives: use Debian's python3.11 with our packages on the
    # path, as a system-wide installation would.
    site = next(Path(sys.prefix, "lib").glob("python3*/site-packages"))
    helper = (f"/usr/bin/env PYTHONPATH={REPO}:{site} /usr/bin/python3 -m groupware "
              f"--config {inst.config} auth ejabberd-extauth")
    (shared_dir / "ejabberd").mkdir()
    ej = Ejabberd(shared_dir / "ejabberd", helper)
    subprocess.run(["chown", "-R", "ejabberd:ejabberd", str(shared_dir)], check=True)
    ej.start()
    try:
        assert ej.ctl("check_password", "alice", "example.test", PASSWORDS["alice"]).returncode == 0
        assert ej.ctl("check_password", "alice", "example.test", "wrong").returncode != 0
        assert ej.ctl("check_account", "bob", "example.test").returncode == 0
        assert ej.ctl("check_account", "nobody", "example.test").returncode != 0
        assert ej.ctl("check_account", "carol", "example.test").returncode != 0  # disabled
        assert ej.ctl("register", "mallory", "example.test", "pw").returncode != 0
        ej.ctl("change_password", "alice", "example.test", "new")  # setpass is refused:
        assert ej.ctl("check_password", "alice", "example.test", "new").returncode != 0
        assert sasl_plain(ej.port, "alice", PASSWORDS["alice"])
        assert not sasl_plain(ej.port, "alice", "wrong")
        assert sasl_plain(ej.port, "bob", PASSWORDS["bob"])
        inst.cli("user", "features", "bob", "--disable", "chat")
        assert not sasl_plain(ej.port, "bob", PASSWORDS["bob"])
        assert ej.ctl("check_account", "bob", "example.test").returncode != 0
    finally:
        ej.stop()


def frame(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack(">H", len(data)) + data


def test_extauth_frames_directly(tmp_path: Path, database_url: str) -> None:
    inst: Installation = provision(tmp_path, database_url)
    frames = [
        frame(f"auth:alice:example.test:{PASSWORDS['alice']}"),  # ':' inside the password
        frame("auth:alice:example.test:wrong"),
        frame("isuser:bob:example.test"),
        frame("isuser:nobody:example.test"),
        frame("auth:carol:example.test:" + PASSWORDS["carol"]),
        frame("setpass:alice:example.test:new"),
        frame("tryregister:eve:example.test:pw"),
        frame("removeuser:alice:example.test"),
        frame("removeuser3:alice:example.test:" + PASSWORDS["alice"]),
        frame(b"\xff\xfe garbage"),
        frame("auth:" + "a" * 5000 + ":example.test:x"),
        frame("bogus"),
        frame("isuser:ALICE:Example.Test"),
    ]
    r = subprocess.run([GROUPWARE, "--config", str(inst.config), "auth", "ejabberd-extauth"],
                       input=b"".join(frames), capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    answers = [r.stdout[i:i + 4] for i in range(0, len(r.stdout), 4)]
    yes, no = b"\x00\x02\x00\x01", b"\x00\x02\x00\x00"
    assert answers == [yes, no, yes, no, no, no, no, no, no, no, no, no, yes], r.stdout
    assert b"auth refused" in r.stderr and b"reason=wrong password" in r.stderr
