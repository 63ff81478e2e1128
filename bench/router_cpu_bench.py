"""Router CPU per request with one server and with three sharing one PostgreSQL store (issue 18:
no coordination cost on the request path, within 10%).

Run: ``.venv/bin/python -m bench.router_cpu_bench`` (``--invocations N``, ``--concurrency C``,
``--repeats R``;
``--dsn`` or ``TANDEM_BENCH_POSTGRES`` for the server, by default the test role on
127.0.0.1:5432; a scratch database is made and dropped; haproxy from Debian's package).

One scratch database, one endpoint of one stage container (the e2e tests' ``tests/fixtures/
stage``), then two configurations in one run:

1. the leader alone: N InvokeEndpoint requests sent straight to it;
2. the leader and two standbys behind haproxy (round robin, a config this bench writes): the
   same N requests through haproxy.

and, between them, two controls on the leader alone: behind haproxy (what the balancer's hop
changes), and sent straight to it by a third of the clients (each server's share of the
concurrency in (2)).

The figure is user + system CPU of the ``tandem serve`` processes themselves (psutil; their
container children are not counted), per request: the server's for (1), the three servers'
sum for (2). Each server also does background work whatever the traffic (metric and log
flushes, container pings, usage sampling, the standbys' snapshot resync, haproxy's health
checks in (2)), so each configuration is followed by an idle period as long as its load and
the figure is given both raw and less that idle CPU. Each configuration is measured R times
in a row (psutil's CPU times tick at 10 ms, about 1% of one server's CPU over 5,000
requests); the ratio is of the medians. The client is aiohttp on one event loop
(cheaper per request than boto3; the machine has 2 CPUs and the client and haproxy run on
them too): its CPU is not measured, but it competes.

With ``--rate R`` the run adds a comparison at equal load per server: open-loop clients send
R requests/s to the leader behind haproxy, then 3R requests/s to the three servers behind
haproxy (R each). Closed-loop clients at one concurrency give one busy server more requests
per event-loop wakeup than three servers sharing them, which is a cost of spreading the load,
not of coordination; at equal load per server the two configurations differ only in what
each server does beside its own requests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psutil

from bench.pg_log_store_bench import DEFAULT_DSN, _scratch_database
from tests.e2e.support import client, deploy, stage_container
from tests.server_process import ServerProcess
from tests.waiting import wait_until

ENDPOINT = "cpu"
REQUEST = b'{"instances": [1]}'
ANSWER = b'{"instances": [2], "seen": [["only", "application/json", "application/json"]]}'
WARMUP = 300


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of the process itself, its children not included."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Haproxy:
    """haproxy in the foreground, round robin over the servers, health-checking ``GET /ping``
    at its default interval (2 s), keep-alive to both sides."""

    def __init__(self, workdir: Path, servers: dict[str, str]) -> None:
        self.port = _free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / "haproxy.cfg"
        backends = "\n".join(
            f"    server {name} {url.removeprefix('http://')} check"
            for name, url in servers.items())  # fmt: skip
        self.config_path.write_text(f"""\
global
    maxconn 1000

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout check 2s

frontend balancer
    bind 127.0.0.1:{self.port}
    default_backend tandem

backend tandem
    balance roundrobin
    option httpchk GET /ping
    http-check expect status 200
    http-response set-header X-Served-By %s
{backends}
""")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Haproxy:
        executable = shutil.which("haproxy") or "/usr/sbin/haproxy"
        self.proc = subprocess.Popen([executable, "-db", "-f", str(self.config_path)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)  # fmt: skip
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


async def _invoke_all(url: str, count: int, concurrency: int) -> Counter[str]:
    """``count`` invocations from ``concurrency`` keep-alive clients; how many each server
    answered (X-Served-By; "" when sent straight to a server). Any other answer stops the run."""
    served: Counter[str] = Counter()
    remaining = count
    target = f"{url}/endpoints/{ENDPOINT}/invocations"
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one_client() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                async with session.post(target, data=REQUEST, headers=headers) as response:
                    body = await response.read()
                    if response.status != 200 or body != ANSWER:
                        raise SystemExit(f"unexpected answer {response.status}: {body[:200]!r}")
                    served[response.headers.get("X-Served-By", "")] += 1

        await asyncio.gather(*(one_client() for _ in range(concurrency)))
    return served


async def _invoke_paced(url: str, count: int, rate: float, ceiling: int = 256) -> Counter[str]:
    """``count`` invocations started at ``rate`` per second whatever the answers' pace (open
    loop), at most ``ceiling`` in flight; how many each server answered."""
    served: Counter[str] = Counter()
    target = f"{url}/endpoints/{ENDPOINT}/invocations"
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    in_flight = asyncio.Semaphore(ceiling)
    connector = aiohttp.TCPConnector(limit=ceiling)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            try:
                async with session.post(target, data=REQUEST, headers=headers) as response:
                    body = await response.read()
                    if response.status != 200 or body != ANSWER:
                        raise SystemExit(f"unexpected answer {response.status}: {body[:200]!r}")
                    served[response.headers.get("X-Served-By", "")] += 1
            finally:
                in_flight.release()

        loop = asyncio.get_running_loop()
        started = loop.time()
        tasks = []
        for i in range(count):
            delay = started + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await in_flight.acquire()
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return served


@dataclass
class Measured:
    seconds: float  # the load's wall time; the idle period after it is as long
    busy_s: dict[str, float]  # each server's CPU during the load
    idle_s: dict[str, float]  # each server's CPU during the idle period
    served: Counter[str]


def _measure(url: str, servers: dict[str, int], count: int, concurrency: int,
             rate: float | None = None) -> Measured:  # fmt: skip
    """Closed-loop clients at ``concurrency``, or open-loop at ``rate`` requests/s."""

    def load(n: int) -> Counter[str]:
        if rate is None:
            return asyncio.run(_invoke_all(url, n, concurrency))
        return asyncio.run(_invoke_paced(url, n, rate))

    load(WARMUP)
    before = {name: _cpu_s(pid) for name, pid in servers.items()}
    started = time.monotonic()
    served = load(count)
    seconds = time.monotonic() - started
    after = {name: _cpu_s(pid) for name, pid in servers.items()}
    time.sleep(1.0)  # the load's last flushes
    idle_before = {name: _cpu_s(pid) for name, pid in servers.items()}
    time.sleep(seconds)
    idle_after = {name: _cpu_s(pid) for name, pid in servers.items()}
    return Measured(seconds, {n: after[n] - before[n] for n in servers},
                    {n: idle_after[n] - idle_before[n] for n in servers}, served)  # fmt: skip


def _report(label: str, m: Measured, count: int) -> tuple[float, float]:
    """One measurement's line; its µs of server CPU per request, raw and less idle."""
    busy, idle = sum(m.busy_s.values()), sum(m.idle_s.values())
    raw_us, net_us = busy / count * 1e6, (busy - idle) / count * 1e6
    per_server = ", ".join(
        f"{name} {m.busy_s[name]:.2f} s busy / {m.idle_s[name]:.2f} s idle"
        + (f" / {m.served[name]} served" if name in m.served else "")
        for name in m.busy_s)  # fmt: skip
    print(f"{label}: {count} requests in {m.seconds:.1f} s ({count / m.seconds:.0f}/s); "
          f"server CPU {raw_us:.0f} µs/request raw, {net_us:.0f} µs/request less idle "
          f"({per_server})", flush=True)  # fmt: skip
    return raw_us, net_us


def run(dsn: str, root: Path, count: int, concurrency: int, repeats: int,
        rate: float | None = None) -> None:  # fmt: skip
    flags = ["--store", dsn]
    a = ServerProcess(root / "a", extra=flags)
    b = ServerProcess(root / "b", extra=flags)
    c = ServerProcess(root / "c", extra=flags)
    balancer: Haproxy | None = None
    try:
        a.start(60)
        deploy(client(a, "sagemaker"), ENDPOINT, [stage_container("only")])
        one = [_measure(a.url, {"a": a.pid}, count, concurrency) for _ in range(repeats)]
        # Two controls that separate what three servers change besides coordination: haproxy
        # in the path, and each server's share of the concurrency (fewer requests per loop
        # wakeup).
        alone = Haproxy(root / "alone", {"a": a.url}).start()
        try:
            wait_until(lambda: _up(alone.url + "/ping"), "haproxy in front of a", timeout=30)
            one_behind = [_measure(alone.url, {"a": a.pid}, count, concurrency)
                          for _ in range(repeats)]  # fmt: skip
            one_paced = [_measure(alone.url, {"a": a.pid}, count, concurrency, rate)
                         for _ in range(repeats if rate else 0)]  # fmt: skip
        finally:
            alone.stop()
        share = max(1, round(concurrency / 3))
        one_share = [_measure(a.url, {"a": a.pid}, count, share) for _ in range(repeats)]
        for standby in (b, c):
            standby.start(60, standby=True)
        balancer = Haproxy(root, {"a": a.url, "b": b.url, "c": c.url}).start()
        probe = balancer.url + "/ping"

        def every_server_answers() -> bool:
            served = asyncio.run(_invoke_all(balancer.url, 30, 1)) if _up(probe) else {}
            return set(served) == {"a", "b", "c"}

        wait_until(every_server_answers, "haproxy to send to a, b and c", timeout=30)
        pids = {"a": a.pid, "b": b.pid, "c": c.pid}
        three = [_measure(balancer.url, pids, count, concurrency) for _ in range(repeats)]
        three_paced = [_measure(balancer.url, pids, 3 * count, concurrency, 3 * rate)
                       for _ in range(repeats)] if rate else []  # fmt: skip
    finally:
        if balancer is not None:
            balancer.stop()
        for server in (c, b, a):
            if server.proc is not None and server.proc.poll() is None:
                server.stop()
    raw1, net1 = (statistics.median(f) for f in zip(
        *(_report("one server", m, count) for m in one), strict=True))  # fmt: skip
    for label, measured in ((f"one server behind haproxy, {concurrency} clients", one_behind),
                            (f"one server, {share} clients", one_share)):
        raw, net = (statistics.median(f) for f in zip(
            *(_report(label, m, count) for m in measured), strict=True))  # fmt: skip
        print(f"  control median: {raw:.0f} µs/request raw, {net:.0f} less idle; "
              f"{raw / raw1:.3f} of one server's", flush=True)  # fmt: skip
    raw3, net3 = (statistics.median(f) for f in zip(
        *(_report("three servers behind haproxy", m, count) for m in three),
        strict=True))  # fmt: skip
    print(f"medians: one server {raw1:.0f} µs/request raw, {net1:.0f} less idle; "
          f"three servers {raw3:.0f} raw, {net3:.0f} less idle", flush=True)
    print(f"three / one: {raw3 / raw1:.3f} raw, {net3 / net1:.3f} less idle "
          f"(target: within 10%); load average {os.getloadavg()[0]:.2f}", flush=True)
    if rate:
        raw1p, net1p = (statistics.median(f) for f in zip(*(
            _report(f"one server behind haproxy at {rate:.0f}/s", m, count)
            for m in one_paced), strict=True))  # fmt: skip
        raw3p, net3p = (statistics.median(f) for f in zip(*(
            _report(f"three servers behind haproxy at {3 * rate:.0f}/s", m, 3 * count)
            for m in three_paced), strict=True))  # fmt: skip
        print(f"equal load per server ({rate:.0f}/s each): three / one: {raw3p / raw1p:.3f} "
              f"raw, {net3p / net1p:.3f} less idle (target: within 10%)", flush=True)


def _up(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invocations", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rate", type=float, default=None,
                        help="also compare at equal load per server: R requests/s each")
    parser.add_argument("--dsn", default=os.environ.get("TANDEM_BENCH_POSTGRES", DEFAULT_DSN))
    args = parser.parse_args()
    with _scratch_database(args.dsn) as dsn, tempfile.TemporaryDirectory() as tmp:
        run(dsn, Path(tmp), args.invocations, args.concurrency, args.repeats, args.rate)


if __name__ == "__main__":
    main()
