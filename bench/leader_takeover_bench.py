"""Leader takeover on a shared PostgreSQL store: two real ``tandem serve --store
postgresql://...`` on one scratch database, the leader SIGKILLed, and the time until the
standby answers GET /ping and a SageMaker ListEndpoints.

Run from the repository root:

    .venv/bin/python -m bench.leader_takeover_bench [--rounds 5] [--postgres ADMIN_DSN]

Each round starts a standby (it waits for the advisory lock and binds no port until it
leads), kills the leader, and polls the standby's port every 10 ms. A thread watching
``pg_locks`` every 5 ms splits the time: until PostgreSQL released the dead leader's lock
(its backend saw the socket close), until the standby's next campaign took it, until the
standby, now started, answers. The standby of one round is the leader of the next. The
database is made through ADMIN_DSN's role (CREATEDB) and dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

from tests.postgres import ADMIN_DSN, scratch_database
from tests.server_process import ServerProcess

__all__ = ["main"]


@dataclass
class Round:
    released: float  # seconds from the SIGKILL: the dead leader's lock gone from pg_locks
    acquired: float  # the standby holds the lock
    ping: float  # the standby answers GET /ping with 200
    listed: float  # and a SageMaker ListEndpoints


class LockWatch:
    """Who holds the leadership lock, sampled every 5 ms: (monotonic time, backend pid or
    None) at each change."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        self._conn = psycopg.connect(dsn, autocommit=True)
        self.changes: list[tuple[float, int | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        holder: int | None = -1
        while not self._stop.is_set():
            row = self._conn.execute(
                "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted "
                "AND a.application_name LIKE 'tandem leader %%'").fetchone()
            now = time.monotonic()
            pid = row[0] if row else None
            if pid != holder:
                self.changes.append((now, pid))
                holder = pid
            time.sleep(0.005)

    def first_after(self, t0: float, held: bool) -> float:
        """When, after ``t0``, the lock was first seen free (``held`` False) or held."""
        for at, pid in self.changes:
            if at >= t0 and (pid is not None) == held:
                return at
        return float("nan")

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._conn.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pings(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=0.5) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def _standby(tmp: Path, dsn: str, name: str) -> tuple[ServerProcess, threading.Thread]:
    server = ServerProcess(tmp / name, extra=("--store", dsn), port=_free_port())
    started = threading.Thread(target=server.start, kwargs={"timeout": 180}, daemon=True)
    started.start()
    deadline = time.monotonic() + 120
    while not any("standby" in line for line in server.output):
        if time.monotonic() > deadline:
            raise RuntimeError("the standby never said it waits:\n" + "".join(server.output))
        time.sleep(0.05)
    return server, started


def _round(leader: ServerProcess, standby: ServerProcess, watch: LockWatch) -> Round:
    url = f"http://127.0.0.1:{standby.port}"
    sagemaker = boto3.client(
        "sagemaker", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, connect_timeout=0.5, read_timeout=5))
    time.sleep(1.0)  # both settled: the standby campaigning, the leader idle
    killed = time.monotonic()
    os.kill(leader.pid, signal.SIGKILL)
    while not _pings(url):
        if time.monotonic() - killed > 120:
            raise RuntimeError("no answer from the standby:\n" + "".join(standby.output))
        time.sleep(0.01)
    ping = time.monotonic()
    while True:
        with contextlib.suppress(Exception):
            sagemaker.list_endpoints()
            break
        time.sleep(0.01)
    listed = time.monotonic()
    time.sleep(0.1)  # the watch's last samples
    return Round(watch.first_after(killed, held=False) - killed,
                 watch.first_after(killed, held=True) - killed, ping - killed, listed - killed)


def _reap(server: ServerProcess) -> None:
    assert server.proc is not None
    server.proc.wait()
    with contextlib.suppress(AssertionError):  # a stall it reported under load: not ours
        server._close()


def _row(name: str, xs: list[float]) -> str:
    return (f"| {name} | {statistics.median(xs) * 1e3:,.0f} | {max(xs) * 1e3:,.0f} | "
            + ", ".join(f"{x * 1e3:,.0f}" for x in xs) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", default=ADMIN_DSN, metavar="ADMIN_DSN",
                        help="role with CREATEDB to make and drop the scratch database")
    args = parser.parse_args()
    print(f"# {os.cpu_count()} cores, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory() as tmp_, \
            scratch_database(args.postgres, prefix="tandem_bench") as dsn:
        tmp = Path(tmp_)
        watch = LockWatch(dsn)
        leader = ServerProcess(tmp / "first", extra=("--store", dsn)).start(timeout=120)
        standby: ServerProcess | None = None
        started: threading.Thread | None = None
        try:
            for n in range(args.rounds):
                standby, started = _standby(tmp, dsn, f"s{n}")
                r = _round(leader, standby, watch)
                print(f"round {n + 1}: lock released {r.released * 1e3:.0f} ms, taken "
                      f"{r.acquired * 1e3:.0f} ms, /ping {r.ping * 1e3:.0f} ms, ListEndpoints "
                      f"{r.listed * 1e3:.0f} ms after the SIGKILL", flush=True)
                rounds.append(r)
                _reap(leader)
                started.join(30)
                leader, standby = standby, None
        finally:
            for server in (leader, standby):
                if server is not None and server.proc is not None:
                    with contextlib.suppress(AssertionError):
                        server.stop()
            if started is not None:
                started.join(30)
            watch.close()
    print(f"\n# {len(rounds)} rounds, load average at the end "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; ms after the leader's SIGKILL\n")
    print("| until | p50 | max | each round |\n|---|---|---|---|")
    print(_row("the dead leader's lock is released", [r.released for r in rounds]))
    print(_row("the standby holds the lock", [r.acquired for r in rounds]))
    print(_row("the standby answers GET /ping", [r.ping for r in rounds]))
    print(_row("the standby answers ListEndpoints", [r.listed for r in rounds]))


if __name__ == "__main__":
    main()
