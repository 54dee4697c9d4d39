"""Start-up time and idle memory of ``groupware serve`` on the embedded default.

Targets (foundation issue): start to all listeners ready < 1.5 s after installation;
idle resident memory with all current listeners < 120 MB.

Measures from process spawn until the ready file appears (all listeners bound), over
several runs, then the RSS of an idle server after a few /healthz probes.
Run: ``python -m bench.bench_startup [runs]``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from groupware.config.sections import DEFAULT_LISTENERS

GROUPWARE = str(Path(sys.executable).parent / "groupware")
# Every default listener of this version, but on free loopback ports so the run never
# collides with a live server.
ENV = {**os.environ, "GROUPWARE__LISTENERS": json.dumps([
    {"protocol": d.protocol.value, "address": "127.0.0.1", "port": 0, "tls": d.tls.value}
    for d in DEFAULT_LISTENERS if d.available
])}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_run(workdir: Path) -> tuple[float, float]:
    ready = workdir / "ready.json"
    ready.unlink(missing_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen([GROUPWARE, "--data-dir", str(workdir / "var"), "serve", "--quiet",
                             "--ready-file", str(ready)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir,
                            env=ENV)
    try:
        while not ready.exists():
            if proc.poll() is not None:
                raise RuntimeError("server exited")
            time.sleep(0.005)
        elapsed = time.perf_counter() - t0
        info = json.loads(ready.read_text())
        port = next(lst["port"] for lst in info["listeners"]
                    if lst["protocol"] == "http" and lst["tls"] == "none")
        for _ in range(20):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as resp:
                resp.read()
        time.sleep(1.0)
        return elapsed, rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 7
    workdir = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    try:
        subprocess.run([GROUPWARE, "--data-dir", str(workdir / "var"), "init"], check=True,
                       capture_output=True, cwd=workdir)
        results = [one_run(workdir) for _ in range(runs)]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    starts = sorted(r[0] for r in results)
    rss = [r[1] for r in results]
    print(f"start to ready: median {statistics.median(starts):.3f} s, "
          f"max {starts[-1]:.3f} s over {runs} runs (target < 1.5 s)")
    print(f"listeners: {len(json.loads(ENV['GROUPWARE__LISTENERS']))}")
    print(f"idle RSS: median {statistics.median(rss):.1f} MB, max {max(rss):.1f} MB "
          "(target < 120 MB)")


if __name__ == "__main__":
    main()
