"""Log shipping: lines/s from one child's pipe through a LogShipper to a real server.

Run: ``.venv/bin/python -m bench.log_shipping_bench [--seconds S] [--rounds N]``.
A child writes numbered log lines as fast as its pipe takes them for ``--seconds``;
``StreamCapture`` reads them into a ``LogShipper`` (SigV4-signed PutLogEvents to a
``tandem serve --auth`` child on 127.0.0.1) and the clock stops when the last line is
delivered. Every line is then read back with GetLogEvents and checked: the exact count,
in order, none twice. The baseline in the same run is local mode: the same child captured
into an in-process LogService on SQLite. CPU seconds of this process (the shipper) and of
the server say which side is the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import psutil
from botocore.config import Config

from tandem.store.sqlite.database import Database
from tandem.store.sqlite.logs import SQLiteLogStore
from tandem.telemetry.logs import LogService, StreamCapture
from tandem.telemetry.shipping import LogShipper, ShipperConfig
from tests.server_process import ServerProcess

_CHILD = """
import sys, time
seconds = float(sys.argv[1])
w = sys.stdout.write
end = time.monotonic() + seconds
i = 0
while time.monotonic() < end:
    w("".join(f"2024-01-01T00:00:00 INFO worker-3 request {n} served in 12 ms\\n"
              for n in range(i, i + 1000)))
    i += 1000
"""
_KEY, _SECRET = "AKIDBENCH", "bench-secret"
_GROUP, _STREAM = "/aws/sagemaker/Endpoints/bench", "AllTraffic/i-0bench"
_NUMBER = re.compile(r"request (\d+) served")


async def _spawn(seconds: float) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, str(seconds),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def bench_local(seconds: float, directory: Path) -> float:
    """Local mode: the same capture into an in-process LogService (SQLite)."""
    store = SQLiteLogStore(Database(directory / "local.db"))
    logs = LogService(store, sweep_interval=None)
    await logs.start()
    proc = await _spawn(seconds)
    assert proc.stdout is not None
    started = time.perf_counter()
    lines = await StreamCapture(logs, _GROUP, _STREAM).run(proc.stdout)
    await logs.flush()
    elapsed = time.perf_counter() - started
    await proc.wait()
    await logs.stop()
    return lines / elapsed


async def bench_shipped(
    seconds: float, server: ServerProcess, spool: Path
) -> tuple[float, int, Any, float, tuple[float, float, float]]:
    shipper = LogShipper(
        ShipperConfig(server.url, spool, access_key_id=_KEY, secret_access_key=_SECRET)
    )
    await shipper.start()
    server_proc = psutil.Process(server.pid)
    server_cpu = sum(server_proc.cpu_times()[:2])
    threads_before = {t.id: t.user_time + t.system_time for t in server_proc.threads()}
    own_cpu = _own_cpu()
    proc = await _spawn(seconds)
    assert proc.stdout is not None
    started = time.perf_counter()
    capture = StreamCapture(shipper, _GROUP, _STREAM)  # type: ignore[arg-type]
    lines = await capture.run(proc.stdout)
    await shipper.flush()
    elapsed = time.perf_counter() - started
    own_cpu = _own_cpu() - own_cpu
    server_cpu = sum(server_proc.cpu_times()[:2]) - server_cpu
    # The event loop is the main thread (its id is the pid); the rest is the store's writer
    # thread and worker threads.
    loop_cpu = 0.0
    for t in server_proc.threads():
        if t.id == server.pid:
            loop_cpu = t.user_time + t.system_time - threads_before.get(t.id, 0.0)
    stats = shipper.stats
    await proc.wait()
    await shipper.stop()
    return lines / elapsed, lines, stats, own_cpu / elapsed, (server_cpu, loop_cpu, elapsed)


def check_every_line(url: str, expected: int) -> None:
    logs = boto3.client(
        "logs", endpoint_url=url, region_name="us-east-1", aws_access_key_id=_KEY,
        aws_secret_access_key=_SECRET, config=Config(retries={"max_attempts": 1}),
    )
    kwargs: dict[str, Any] = {"logGroupName": _GROUP, "logStreamName": _STREAM,
                              "startFromHead": True}
    numbers: list[int] = []
    while True:
        page = logs.get_log_events(**kwargs)
        if not page["events"]:
            break
        numbers.extend(int(_NUMBER.search(e["message"]).group(1))  # type: ignore[union-attr]
                       for e in page["events"])
        kwargs["nextToken"] = page["nextForwardToken"]
    if numbers != list(range(expected)):
        missing = len(set(range(expected)) - set(numbers))
        raise SystemExit(
            f"LOSS: {len(numbers)} lines read back, {expected} written, {missing} missing"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        keys = root / "keys.toml"
        keys.write_text(f'[[keys]]\naccess_key_id = "{_KEY}"\nsecret_access_key = "{_SECRET}"\n')
        for round_ in range(args.rounds):
            local = await bench_local(args.seconds, root / f"local-{round_}")
            server = ServerProcess(root / f"data-{round_}", extra=("--auth", str(keys))).start()
            try:
                rate, lines, stats, own, srv = await bench_shipped(
                    args.seconds, server, root / f"spool-{round_}"
                )
                check_every_line(server.url, lines)
            finally:
                server.stop()
            print(
                f"round {round_ + 1}: shipped {rate:,.0f} lines/s ({lines:,} lines, all read "
                f"back in order, {stats.outbox.delivered_requests} PutLogEvents, "
                f"{stats.outbox.failed_attempts} retries); local capture {local:,.0f} lines/s; "
                f"shipped/local {rate / local:.2f}; CPU: shipper {own:.2f} cores, server "
                f"{srv[0] / srv[2]:.2f} cores ({srv[0] / lines * 1e6:.1f} us a line, its event "
                f"loop {srv[1] / srv[0]:.0%} of it); load {os.getloadavg()[0]:.1f}"
            )


if __name__ == "__main__":
    asyncio.run(main())
