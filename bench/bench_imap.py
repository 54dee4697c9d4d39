"""IMAP side by side with Debian's Dovecot, and 5,000 IDLE sessions.

Targets (mail-gateways issue): the same scripted load (login, select, fetch, store,
append, expunge, logout) against us and against a throwaway Dovecot on loopback,
10 and 50 clients, a 1,000-message INBOX: throughput ratio us/Dovecot >= 0.5.
5,000 concurrent IDLE sessions on one folder: server RSS < 600 MB, new mail reaches
all of them with p99 < 1 s.

One asyncio load generator drives both servers with raw IMAP, so the client costs
the same on both sides. Dovecot runs unprivileged-style from a temporary directory
(its own base_dir, passwd-file, maildir as ``nobody``), raised connection limits.
Run: ``python -m bench.bench_imap [seconds-per-run] [idle-sessions]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GROUPWARE = str(Path(sys.executable).parent / "groupware")
USER, PASSWORD = "bench@example.test", "bench-Secret-1"
MESSAGES = 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def message(i: int) -> bytes:
    body = f"This is line {i} of a benchmark message body.\r\n" * 30
    return (f"From: Sender {i} <sender{i}@example.org>\r\nTo: {USER}\r\n"
            f"Subject: benchmark message {i}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
            f"Message-ID: <bench-{i}-{time.time_ns()}@example.org>\r\n"
            f"Content-Type: text/plain; charset=us-ascii\r\n\r\n{body}").encode()


class Client:
    """Minimal asyncio IMAP client (synchronising literals only where needed)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.r, self.w = reader, writer
        self.n = 0

    @classmethod
    async def connect(cls, port: int) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
        client = cls(reader, writer)
        await reader.readline()
        return client

    async def read_until(self, tag: bytes) -> list[bytes]:
        lines = []
        while True:
            line = await self.r.readline()
            if not line:
                raise ConnectionError("closed")
            if line.endswith(b"}\r\n") and b"{" in line:
                size = int(line[line.rindex(b"{") + 1:-3])
                line += await self.r.readexactly(size)
                continue_line = await self.r.readline()
                line += continue_line
            lines.append(line)
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise RuntimeError(line)
                return lines

    async def cmd(self, text: bytes, literal: bytes | None = None) -> list[bytes]:
        self.n += 1
        tag = b"t%d" % self.n
        if literal is None:
            self.w.write(tag + b" " + text + b"\r\n")
        else:
            self.w.write(tag + b" " + text + b" {%d}\r\n" % len(literal))
            await self.w.drain()
            line = await self.r.readline()
            if not line.startswith(b"+"):
                raise RuntimeError(line)
            self.w.write(literal + b"\r\n")
        await self.w.drain()
        return await self.read_until(tag)

    async def close(self) -> None:
        self.w.close()
        with contextlib.suppress(OSError):
            await self.w.wait_closed()


async def fill(port: int) -> None:
    c = await Client.connect(port)
    await c.cmd(b'LOGIN "%s" "%s"' % (USER.encode(), PASSWORD.encode()))
    for i in range(MESSAGES):
        await c.cmd(b"APPEND INBOX", message(i))
    await c.cmd(b"LOGOUT")
    await c.close()


async def cycle(port: int, rng: random.Random) -> None:
    """One scripted session: the load of the issue."""
    c = await Client.connect(port)
    await c.cmd(b'LOGIN "%s" "%s"' % (USER.encode(), PASSWORD.encode()))
    await c.cmd(b"SELECT INBOX")
    start = rng.randint(1, MESSAGES - 20)
    await c.cmd(b"FETCH %d:%d (UID FLAGS RFC822.SIZE ENVELOPE)" % (start, start + 19))
    await c.cmd(b"FETCH %d BODY.PEEK[]" % rng.randint(1, MESSAGES))
    await c.cmd(b"STORE %d +FLAGS (\\Seen)" % rng.randint(1, MESSAGES))
    appended = await c.cmd(b"APPEND INBOX (\\Deleted)", message(rng.randint(0, 10**6)))
    uid = appended[-1].split(b"]")[0].split()[-1]
    await c.cmd(b"UID EXPUNGE " + uid)
    await c.cmd(b"LOGOUT")
    await c.close()


async def load(port: int, clients: int, seconds: float) -> float:
    done = 0
    deadline = time.monotonic() + seconds

    async def worker(k: int) -> None:
        nonlocal done
        rng = random.Random(k)
        while time.monotonic() < deadline:
            await cycle(port, rng)
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(worker(k) for k in range(clients)))
    return done / (time.monotonic() - started)


# --- the two servers --------------------------------------------------------------


def start_groupware(root: Path, *, idle: bool = False) -> tuple[subprocess.Popen[bytes], int]:
    root.mkdir(parents=True, exist_ok=True)
    config = root / "groupware.toml"
    config.write_text(f"""
[server]
data_dir = "{root / 'var'}"
log_level = "WARNING"
[auth]
argon2_time_cost = 1
argon2_memory_cost = 1024
argon2_parallelism = 1
[imap]
max_connections_per_user = 10000
max_connections_per_address = 10000
[[listeners]]
protocol = "imap"
address = "127.0.0.1"
port = 0
tls = "none"
""")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUPWARE")}
    subprocess.run([GROUPWARE, "--config", str(config), "init", "--quiet-if-done",
                    "--admin-password", "admin-Secret-1"], check=True, capture_output=True,
                   env=env)
    subprocess.run([GROUPWARE, "--config", str(config), "user", "add", USER,
                    "--password-stdin"], input=PASSWORD + "\n", text=True, check=True,
                   capture_output=True, env=env)
    ready = root / "ready.json"
    with open(root / "serve.log", "wb") as log:
        proc = subprocess.Popen([GROUPWARE, "--config", str(config), "serve", "--quiet",
                                 "--ready-file", str(ready)], env=env,
                                stdout=subprocess.DEVNULL, stderr=log)
    while not ready.exists():
        if proc.poll() is not None:
            raise RuntimeError((root / "serve.log").read_text())
        time.sleep(0.05)
    port = json.loads(ready.read_text())["listeners"][0]["port"]
    return proc, int(port)


DOVECOT_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%n
mail_max_userip_connections = 5000
default_client_limit = 5000
default_process_limit = 5000
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  client_limit = 5000
}}
service anvil {{
  client_limit = 10000
}}
"""


def start_dovecot(root: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    nobody = pwd.getpwnam("nobody")
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    (root / "dovecot.conf").write_text(DOVECOT_CONF.format(
        root=root, port=port, uid=nobody.pw_uid, gid=nobody.pw_gid))
    os.chmod(root, 0o755)
    for sub in ("mail", "home"):
        os.chown(root / sub, nobody.pw_uid, nobody.pw_gid)
    proc = subprocess.Popen(["/usr/sbin/dovecot", "-F", "-c", str(root / "dovecot.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("dovecot did not start: " + (root / "dovecot.log").read_text())


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- IDLE ---------------------------------------------------------------------------


async def idle_run(port: int, sessions: int, pid: int) -> dict[str, float]:
    clients: list[Client] = []
    sem = asyncio.Semaphore(200)

    async def open_one() -> Client:
        async with sem:
            c = await Client.connect(port)
            await c.cmd(b'LOGIN "%s" "%s"' % (USER.encode(), PASSWORD.encode()))
            await c.cmd(b"SELECT INBOX")
            c.n += 1
            c.w.write(b"i IDLE\r\n")
            await c.w.drain()
            line = await c.r.readline()
            assert line.startswith(b"+"), line
            return c

    t0 = time.monotonic()
    clients = list(await asyncio.gather(*(open_one() for _ in range(sessions))))
    setup = time.monotonic() - t0
    await asyncio.sleep(1.0)
    rss = rss_mb(pid)

    async def wait_exists(c: Client, start: float) -> float:
        while True:
            line = await c.r.readline()
            if b"EXISTS" in line:
                return time.monotonic() - start

    sender = await Client.connect(port)
    await sender.cmd(b'LOGIN "%s" "%s"' % (USER.encode(), PASSWORD.encode()))
    start = time.monotonic()
    waiters = [asyncio.ensure_future(wait_exists(c, start)) for c in clients]
    await sender.cmd(b"APPEND INBOX", message(0))
    delays = sorted(await asyncio.wait_for(asyncio.gather(*waiters), 60))
    await sender.close()
    for c in clients:
        c.w.write(b"DONE\r\n")
        await c.close()
    return {"sessions": sessions, "setup_s": setup, "rss_mb": rss,
            "p50_s": statistics.median(delays), "p99_s": delays[int(len(delays) * 0.99) - 1],
            "max_s": delays[-1]}


def main(argv: list[str]) -> int:
    seconds = float(argv[0]) if argv else 10.0
    idle_sessions = int(argv[1]) if len(argv) > 1 else 5000
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    work = Path(tempfile.mkdtemp(prefix="gw-bench-imap-"))
    os.chmod(work, 0o755)  # Dovecot's auth and mail processes run as other users
    results: dict[str, object] = {}
    try:
        gw, gw_port = start_groupware(work / "gw")
        dc, dc_port = start_dovecot(work / "dovecot")
        try:
            asyncio.run(fill(gw_port))
            asyncio.run(fill(dc_port))
            for clients in (10, 50):
                ours = asyncio.run(load(gw_port, clients, seconds))
                theirs = asyncio.run(load(dc_port, clients, seconds))
                results[f"{clients}_clients"] = {
                    "groupware_cycles_per_s": round(ours, 1),
                    "dovecot_cycles_per_s": round(theirs, 1),
                    "ratio": round(ours / theirs, 2)}
                print(f"{clients} clients: groupware {ours:.1f}/s, dovecot {theirs:.1f}/s, "
                      f"ratio {ours / theirs:.2f}", flush=True)
            results["groupware_rss_mb_after_load"] = round(rss_mb(gw.pid), 1)
        finally:
            stop(dc)
            stop(gw)
        gw, gw_port = start_groupware(work / "gw-idle")
        try:
            idle = asyncio.run(idle_run(gw_port, idle_sessions, gw.pid))
            results["idle"] = {k: round(v, 3) for k, v in idle.items()}
            print(f"IDLE: {idle_sessions} sessions, RSS {idle['rss_mb']:.0f} MB, wake-up "
                  f"p50 {idle['p50_s']:.3f} s p99 {idle['p99_s']:.3f} s", flush=True)
        finally:
            stop(gw)
    finally:
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
