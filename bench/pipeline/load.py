"""The one load generator for every system: wrk with a Lua POST script.

wrk runs with one thread (enough for 64 connections on loopback, and it leaves the second
core to the system under test); its ``done`` hook prints the exact figures as one JSON line,
so nothing is parsed from the human report. ``--pin`` places wrk on one CPU with taskset.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

__all__ = ["LoadResult", "ensure_wrk", "run_wrk", "PAYLOAD"]

_INSTANCES = [[round(0.25 * (i * 6 + j), 2) for j in range(6)] for i in range(5)]
# ~200 bytes of JSON: {"instances": [[...] x5]} — each stage adds 1 to every number.
PAYLOAD = json.dumps({"instances": _INSTANCES}).encode()

_LUA = """
wrk.method = "POST"
wrk.body = [==[%s]==]
wrk.headers["Content-Type"] = "application/json"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "connect": %%d, "read": %%d, "write": %%d, ' ..
    '"status": %%d, "timeout": %%d, "p50": %%d, "p90": %%d, "p99": %%d, "max": %%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


@dataclasses.dataclass(frozen=True)
class LoadResult:
    concurrency: int
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int        # non-2xx (wrk counts status > 399) + socket errors
    status_errors: int = 0   # of which: HTTP status > 399
    timeouts: int = 0        # of which: no answer within wrk's --timeout

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def ensure_wrk(log=print) -> str | None:  # type: ignore[no-untyped-def]
    """The wrk binary, installed from Debian's package when missing (we run as root)."""
    found = shutil.which("wrk")
    if found:
        return found
    log("wrk missing: apt-get install wrk")
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        done = subprocess.run(argv, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            log(f"{' '.join(argv)} failed: {done.stderr.strip()[-200:]}")
            return None
    return shutil.which("wrk")


def write_script(directory: Path) -> Path:
    path = directory / "post.lua"
    path.write_text(_LUA % PAYLOAD.decode())
    return path


def run_wrk(wrk: str, url: str, script: Path, *, concurrency: int, seconds: float,
            pin: str | None = None, timeout_s: int = 10) -> LoadResult:
    argv = [wrk, "-t1", f"-c{concurrency}", f"-d{max(int(round(seconds)), 1)}s",
            f"--timeout={timeout_s}s", "--latency", "-s", str(script), url]
    if pin is not None:
        argv = ["taskset", "-c", pin, *argv]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result: {done.stdout[-400:]} {done.stderr[-400:]}")
    r = json.loads(line[len("WRKJSON "):])
    errors = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    return LoadResult(concurrency, r["requests"], r["duration_us"] / 1e6, r["p50"] / 1e3,
                      r["p90"] / 1e3, r["p99"] / 1e3, errors, r["status"], r["timeout"])
