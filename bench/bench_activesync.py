"""ActiveSync benchmarks against a real ``groupware serve`` on loopback (SQLite).

Targets (ActiveSync issue):

* Initial Sync of a 10,000-message Inbox, WindowSize 512, MIME bodies truncated to
  5 KB: >= 1,000 items/s server-side, server memory flat in the number of items.
* 2,000 concurrent Pings: server RSS < 400 MB; a change in the Inbox answers the
  waiting Pings with p99 < 1 s.

The Inbox is filled through the store API on the server's database and blob store
(the MAPI store's delivery path). "Server-side" time is the sum of the Sync requests'
round trips on loopback (the client only reads the bytes; the SyncKey and
MoreAvailable are found by decoding the first and last few hundred bytes of events).
The Ping wake-up is a message delivered over LMTP into the Inbox; latency is measured
from the start of the LMTP transaction to each Ping's response.

Run: ``python -m bench.bench_activesync [messages] [pings]``.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import requests

from protocols.activesync.wbxml import WbxmlDecoder, decode, encode, make
from protocols.activesync.wbxml.events import EndElement, StartElement, Text

GROUPWARE = str(Path(sys.executable).parent / "groupware")
PASSWORD = "bench-Secret-1"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Server:
    def __init__(self, workdir: Path, extra: str = "") -> None:
        self.workdir = workdir
        self.config = workdir / "groupware.toml"
        self.config.write_text(f"""
[server]
data_dir = "{workdir / 'var'}"
log_level = "WARNING"
thread_pool_size = 8

[auth]
argon2_time_cost = 1
argon2_memory_cost = 1024
argon2_parallelism = 1

[mapistore]
blob_fsync = false

[[listeners]]
protocol = "http"
address = "127.0.0.1"
port = 0

[[listeners]]
protocol = "lmtp"
address = "127.0.0.1"
port = 0
{extra}
""")
        subprocess.run([GROUPWARE, "--config", str(self.config), "init", "--quiet-if-done",
                        "--admin-password", "admin-secret"], check=True, capture_output=True)
        subprocess.run([GROUPWARE, "--config", str(self.config), "user", "add",
                        "bench@example.test", "--name", "Bench", "--password-stdin"],
                       input=PASSWORD + "\n", text=True, check=True, capture_output=True)
        ready = workdir / "ready.json"
        self.log = (workdir / "server.log").open("wb")
        self.proc = subprocess.Popen(
            [GROUPWARE, "--config", str(self.config), "serve", "--quiet", "--ready-file",
             str(ready)], stdout=subprocess.DEVNULL, stderr=self.log)
        while not ready.exists():
            if self.proc.poll() is not None:
                raise RuntimeError((workdir / "server.log").read_text())
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        self.port = next(lst["port"] for lst in info["listeners"] if lst["protocol"] == "http")
        self.lmtp_port = next(lst["port"] for lst in info["listeners"]
                              if lst["protocol"] == "lmtp")
        self.url = f"http://127.0.0.1:{self.port}/Microsoft-Server-ActiveSync"

    def rss(self) -> float:
        return rss_mb(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


def fill(server: Server, count: int) -> float:
    """Deliver ``count`` messages of about 8 KB into the Inbox; returns seconds taken."""
    from groupware.clock import Clock
    from groupware.config import load_config
    from groupware.handlers.activesync.handler import ActiveSyncHandler
    from groupware.handlers.activesync.mapping import content_from_mime
    from groupware.server import GroupwareServer

    gw = GroupwareServer(load_config(server.config, env={}), Clock())

    async def main() -> None:
        handler = ActiveSyncHandler(gw)
        user = await gw.get_directory().find_address("bench@example.test")
        sid, names = await handler.open_store(user)
        store = gw.get_mapistore()
        inbox = await store.folder_by_role(sid, "inbox")
        for i in range(count):
            msg = EmailMessage()
            msg["From"] = f"Sender {i % 50} <sender{i % 50}@example.org>"
            msg["To"] = "bench@example.test"
            msg["Subject"] = f"Benchmark message {i}"
            msg["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
            msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.org>"
            msg.set_content(("Line of text for the benchmark body. " * 2 + "\n") * 100)
            raw = msg.as_bytes()
            content = await content_from_mime(names, raw)
            await store.deliver(sid, content, mime=raw, fid=inbox.fid)

    started = time.perf_counter()
    asyncio.run(main())
    gw.close()
    return time.perf_counter() - started


def post(session: requests.Session, url: str, cmd: str, body: bytes, device: str) -> bytes:
    resp = session.post(url, params={"Cmd": cmd, "User": "bench@example.test",
                                     "DeviceId": device, "DeviceType": "Bench"},
                        data=body, headers={"MS-ASProtocolVersion": "16.1",
                                            "Content-Type": "application/vnd.ms-sync.wbxml"},
                        timeout=120)
    resp.raise_for_status()
    return resp.content


def scan(data: bytes) -> tuple[str, bool, int]:
    """SyncKey, MoreAvailable and the number of Adds, read from the event stream."""
    dec = WbxmlDecoder()
    dec.feed(data)
    dec.close()
    key, more, adds = "", False, 0
    current = ""
    for event in dec.events():
        if isinstance(event, StartElement):
            current = event.tag.name
            if current == "MoreAvailable":
                more = True
            elif current == "Add":
                adds += 1
        elif isinstance(event, Text) and current == "SyncKey" and not key:
            key = event.text
        elif isinstance(event, EndElement):
            current = ""
    return key, more, adds


def bench_initial_sync(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp), "\n[activesync]\nrequire_provisioning = false\n")
        try:
            fill_seconds = fill(server, count)
            session = requests.Session()
            session.auth = ("bench@example.test", PASSWORD)
            tree = decode(post(session, server.url, "FolderSync", encode(make(
                "FolderHierarchy:FolderSync", make("FolderHierarchy:SyncKey", text="0"))),
                "bench1"))
            inbox = next(a.findtext("FolderHierarchy:ServerId") for a in tree.find(
                "FolderHierarchy:Changes").findall("FolderHierarchy:Add")
                if a.findtext("FolderHierarchy:Type") == "2")

            def sync(key: str) -> bytes:
                return post(session, server.url, "Sync", encode(make(
                    "AirSync:Sync", make("AirSync:Collections", make(
                        "AirSync:Collection", make("AirSync:SyncKey", text=key),
                        make("AirSync:CollectionId", text=inbox),
                        make("AirSync:WindowSize", text="512"),
                        make("AirSync:Options", make("AirSync:MIMESupport", text="2"),
                             make("AirSyncBase:BodyPreference",
                                  make("AirSyncBase:Type", text="4"),
                                  make("AirSyncBase:TruncationSize", text="5120"))))))),
                    "bench1")

            key, _more, _n = scan(sync("0"))
            rss_before = server.rss()
            peak = [rss_before]
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    peak[0] = max(peak[0], server.rss())
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample)
            sampler.start()
            server_time = 0.0
            items = 0
            rss_per_window: list[float] = []
            total_bytes = 0
            while True:
                t0 = time.perf_counter()
                body = sync(key)
                server_time += time.perf_counter() - t0
                total_bytes += len(body)
                key, more, adds = scan(body)
                items += adds
                rss_per_window.append(server.rss())
                if not more:
                    break
            stop.set()
            sampler.join()
            return {
                "messages": count, "fill_seconds": round(fill_seconds, 1),
                "items_synced": items, "server_seconds": round(server_time, 2),
                "items_per_second": round(items / server_time, 1),
                "responses": len(rss_per_window), "mb_transferred": round(total_bytes / 2**20, 1),
                "rss_before_mb": round(rss_before, 1), "rss_peak_mb": round(peak[0], 1),
                "rss_after_first_window_mb": round(rss_per_window[0], 1),
                "rss_after_last_window_mb": round(rss_per_window[-1], 1),
            }
        finally:
            server.stop()


class Conn:
    """One keep-alive HTTP/1.1 connection, as a phone holds one per long-poll."""

    def __init__(self, port: int, auth: str) -> None:
        self.port = port
        self.auth = auth
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, path: str, body: bytes, timeout: float) -> tuple[int, bytes, float]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Basic {self.auth}\r\nMS-ASProtocolVersion: 16.1\r\n"
                "Content-Type: application/vnd.ms-sync.wbxml\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        await self.writer.drain()
        raw = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
        at = time.perf_counter()
        status = int(raw.split(b" ", 2)[1])
        length = 0
        for line in raw.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        data = await self.reader.readexactly(length) if length else b""
        return status, data, at

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def bench_pings(n: int) -> dict[str, Any]:
    import base64

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * n + 1024)), hard))
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp), "\n[activesync]\nrequire_provisioning = false\n"
                        "min_heartbeat = 60\n")
        try:
            fill(server, 1)
            session = requests.Session()
            session.auth = ("bench@example.test", PASSWORD)
            folders = decode(post(session, server.url, "FolderSync", encode(make(
                "FolderHierarchy:FolderSync", make("FolderHierarchy:SyncKey", text="0"))),
                "mover"))
            by_type = {a.findtext("FolderHierarchy:Type"): a.findtext("FolderHierarchy:ServerId")
                       for a in folders.find("FolderHierarchy:Changes").findall(
                           "FolderHierarchy:Add")}
            inbox = by_type["2"]
            auth = base64.b64encode(f"bench@example.test:{PASSWORD}".encode()).decode()
            rss_idle = server.rss()

            def sync_body(key: str, folder: str) -> bytes:
                return encode(make("AirSync:Sync", make("AirSync:Collections", make(
                    "AirSync:Collection", make("AirSync:SyncKey", text=key),
                    make("AirSync:CollectionId", text=folder)))))

            ping_body = encode(make("Ping:Ping", make("Ping:HeartbeatInterval", text="600"),
                                    make("Ping:Folders", make("Ping:Folder", make(
                                        "Ping:Id", text=inbox), make("Ping:Class",
                                                                     text="Email")))))

            def path(device: str, cmd: str) -> str:
                return (f"/Microsoft-Server-ActiveSync?Cmd={cmd}&User=bench@example.test"
                        f"&DeviceId={device}&DeviceType=Bench")

            conns = [Conn(server.port, auth) for _ in range(n)]

            async def prepare(i: int, sem: asyncio.Semaphore) -> None:
                device = f"ping{i}"
                async with sem:
                    _s, body, _t = await conns[i].request(path(device, "Sync"),
                                                          sync_body("0", inbox), 60)
                    key = decode(body).find("AirSync:Collections").find(
                        "AirSync:Collection").findtext("AirSync:SyncKey")
                    status, _b, _t = await conns[i].request(path(device, "Sync"),
                                                            sync_body(key, inbox), 60)
                    assert status == 200

            async def main() -> dict[str, Any]:
                sem = asyncio.Semaphore(50)
                t0 = time.perf_counter()
                await asyncio.gather(*(prepare(i, sem) for i in range(n)))
                prepare_s = time.perf_counter() - t0
                tasks = [asyncio.ensure_future(conns[i].request(path(f"ping{i}", "Ping"),
                                                                ping_body, 120))
                         for i in range(n)]
                # Wait until the server has every Ping parked on the notifier.
                parked = 0
                for _ in range(600):
                    await asyncio.sleep(0.5)
                    parked = await asyncio.to_thread(_parked, server.port)
                    if parked >= n:
                        break
                waiting = parked
                rss_waiting = server.rss()
                # The change: a message delivered over LMTP into the Inbox.
                t_change = time.perf_counter()
                await asyncio.to_thread(_lmtp_deliver, server.lmtp_port)
                moved_ms = (time.perf_counter() - t_change) * 1000
                results = await asyncio.gather(*tasks)
                if os.environ.get("BENCH_PROFILE_PID"):
                    os.kill(int(os.environ["BENCH_PROFILE_PID"]), 12)
                for conn in conns:
                    conn.close()
                latencies = sorted(at - t_change for _s, _b, at in results)
                statuses = [decode(b).findtext("Ping:Status") for s, b, _a in results]
                return {
                    "pings": n, "parked_before_change": waiting,
                    "lmtp_transaction_ms": round(moved_ms, 1),
                    "prepare_seconds": round(prepare_s, 1),
                    "rss_idle_mb": round(rss_idle, 1),
                    "rss_with_pings_mb": round(rss_waiting, 1),
                    "status_2": statuses.count("2"),
                    "wake_p50_ms": round(statistics.median(latencies) * 1000, 1),
                    "wake_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
                    "wake_max_ms": round(latencies[-1] * 1000, 1),
                }

            return asyncio.run(main())
        finally:
            server.stop()


def _parked(port: int) -> int:
    """The server's gauge of long-polls waiting on the notifier (/metrics)."""
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith("groupware_activesync_waiting_long_polls "):
            return int(float(line.split()[1]))
    return -1


def _lmtp_deliver(port: int) -> None:
    import smtplib

    msg = EmailMessage()
    msg["From"] = "sender@example.org"
    msg["To"] = "bench@example.test"
    msg["Subject"] = "wake up"
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.org>"
    msg.set_content("A new message.\n")
    with smtplib.LMTP("127.0.0.1", port) as conn:
        conn.sendmail("sender@example.org", ["bench@example.test"], msg.as_bytes())


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 10_000
    pings = int(argv[1]) if len(argv) > 1 else 2_000
    print("initial sync:", json.dumps(bench_initial_sync(count)), flush=True)
    print("pings:", json.dumps(bench_pings(pings)), flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main(sys.argv[1:]))
