"""Leader takeover on a shared PostgreSQL store: two real ``tandem serve --store
postgresql://...`` on one scratch database, the leader SIGKILLed, and the time until the
standby answers GET /ping and a SageMaker ListEndpoints.

Run from the repository root:

    .venv/bin/python -m bench.leader_takeover_bench [--rounds 5] [--postgres ADMIN_DSN]

Each round starts a standby (it waits for the advisory lock and binds no port until it
leads), kills the leader, and polls the standby's port every 10 ms. The epoch row's
timestamp (``leader.since``, written as the standby took the advisory lock) splits the time:
until the standby's campaign took the lock PostgreSQL released when the dead leader's backend
saw its socket close, then until the standby, now started, answers. The standby of one round
is the leader of the next. The database is made through ADMIN_DSN's role (CREATEDB) and
dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
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
    acquired: float  # seconds from the SIGKILL: the standby's epoch bump, as it took the lock
    ping: float  # the standby answers GET /ping with 200
    listed: float  # and a SageMaker ListEndpoints


def _epoch_since(dsn: str) -> float:
    """When the current leader took the lock: its epoch bump's timestamp (this machine's
    clock, which the database shares)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT extract(epoch FROM since)::float8 FROM leader").fetchone()
    return float(row[0])


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


def _round(leader: ServerProcess, standby: ServerProcess, dsn: str) -> Round:
    url = f"http://127.0.0.1:{standby.port}"
    sagemaker = boto3.client(
        "sagemaker", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, connect_timeout=0.5, read_timeout=5))
    # Both settled (the standby campaigning, the leader idle), then a kill at a random point
    # of the standby's 0.5 s campaign interval: a fixed wait would always land at one point.
    time.sleep(1.0 + random.uniform(0, 0.5))
    killed_at = time.time()  # the database's clock is this machine's: comparable
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
    return Round(_epoch_since(dsn) - killed_at, ping - killed, listed - killed)


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
        leader = ServerProcess(tmp / "first", extra=("--store", dsn)).start(timeout=120)
        standby: ServerProcess | None = None
        started: threading.Thread | None = None
        try:
            for n in range(args.rounds):
                standby, started = _standby(tmp, dsn, f"s{n}")
                r = _round(leader, standby, dsn)
                print(f"round {n + 1}: lock taken "
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
    print(f"\n# {len(rounds)} rounds, load average at the end "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; ms after the leader's SIGKILL\n")
    print("| until | p50 | max | each round |\n|---|---|---|---|")
    print(_row("the standby takes the lock (its epoch bump)", [r.acquired for r in rounds]))
    print(_row("the standby answers GET /ping", [r.ping for r in rounds]))
    print(_row("the standby answers ListEndpoints", [r.listed for r in rounds]))


if __name__ == "__main__":
    main()
