"""CloudWatch wire benchmarks with real boto3 against a real ``tandem serve`` (a child process).

Each scenario runs twice in the same run: against tandem, and against a stub HTTP server
(another child process) that replays the response bodies recorded from tandem, so the
stub's time is boto3's own share (serialising, signing, HTTP, parsing).

Run: ``.venv/bin/python -m bench.cloudwatch_bench [--protocol json|query|smithy-rpc-v2-cbor]``
(figures go to docs/performance/cloudwatch.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.server
import pickle
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import botocore.model
from botocore.config import Config

from tests.server_process import ServerProcess

UTC = dt.UTC


def client(url: str, protocol: str) -> Any:
    saved = botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS
    botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = (protocol,)
    try:
        session = boto3.session.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
        )
        c = session.client(
            "cloudwatch", endpoint_url=url, config=Config(retries={"max_attempts": 1})
        )
        assert c.meta.service_model.resolved_protocol == protocol
        return c
    finally:
        botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = saved


class Recorder:
    """Keeps every raw response (status, headers, body) per operation, in call order."""

    def __init__(self, c: Any) -> None:
        self.responses: dict[str, list[tuple[int, dict[str, str], bytes]]] = defaultdict(list)
        self.on = False
        c.meta.events.register("before-parse.cloudwatch.*", self._keep)

    def _keep(self, operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        if self.on:
            headers = {
                k: v
                for k, v in response_dict["headers"].items()
                if k.lower() not in ("content-length", "date", "server", "connection")
            }
            self.responses[operation_model.name].append(
                (response_dict["status_code"], headers, response_dict["body"])
            )


def _operation_of(handler: http.server.BaseHTTPRequestHandler, body: bytes) -> str:
    target = handler.headers.get("X-Amz-Target")
    if target:
        return target.rpartition(".")[2]
    if "/operation/" in handler.path:
        return handler.path.rstrip("/").rsplit("/", 1)[1]
    import gzip
    from urllib.parse import parse_qs

    if (handler.headers.get("Content-Encoding") or "").lower() == "gzip":
        body = gzip.decompress(body)
    return parse_qs(body.decode())["Action"][0]


def run_stub(recorded: Path) -> None:
    """Replay ``recorded`` (a pickle of Recorder.responses) cyclically per operation."""
    responses = pickle.loads(recorded.read_bytes())
    position: dict[str, int] = defaultdict(int)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Without this, headers and body in two writes meet delayed ACKs (40 ms stalls).
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            op = _operation_of(self, body)
            bodies = responses[op]
            status, headers, payload = bodies[position[op] % len(bodies)]
            position[op] += 1
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    print(f"stub on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def scenarios(
    c: Any, ns: str, start: dt.datetime, end: dt.datetime
) -> dict[str, Callable[[], Any]]:
    counter = iter(range(10**9))
    batch = [
        {
            "MetricName": "Invocations",
            "Value": 1.0,
            "Unit": "Count",
            "Dimensions": [{"Name": "EndpointName", "Value": f"ep-{i}"}],
        }
        for i in range(20)
    ]

    def put() -> None:
        next(counter)
        c.put_metric_data(Namespace=ns + "/put", MetricData=batch)

    def gms() -> None:
        c.get_metric_statistics(
            Namespace=ns + "/day",
            MetricName="Latency",
            StartTime=start,
            EndTime=end,
            Period=60,
            Statistics=["SampleCount", "Average", "Sum", "Minimum", "Maximum"],
        )

    def gms_p99() -> None:
        c.get_metric_statistics(
            Namespace=ns + "/day",
            MetricName="Latency",
            StartTime=start,
            EndTime=end,
            Period=60,
            ExtendedStatistics=["p99"],
        )

    def list_all() -> None:
        pages = c.get_paginator("list_metrics").paginate(Namespace=ns + "/many")
        assert sum(len(p["Metrics"]) for p in pages) == 10_000

    return {
        "PutMetricData x20": put,
        "GetMetricStatistics 1 day/60 s (5 stats)": gms,
        "GetMetricStatistics 1 day/60 s (p99)": gms_p99,
        "ListMetrics 10,000 (20 pages)": list_all,
    }


def seed(c: Any, ns: str, end: dt.datetime) -> None:
    minutes = [end - dt.timedelta(minutes=m + 1) for m in range(1440)]
    day = [
        {
            "MetricName": "Latency",
            "Unit": "Milliseconds",
            "Timestamp": t,
            "Values": [float(v) for v in range(1, 11)],
            "Counts": [1.0] * 10,
        }
        for t in minutes
    ]
    for i in range(0, len(day), 500):
        c.put_metric_data(Namespace=ns + "/day", MetricData=day[i : i + 500])
    many = [
        {
            "MetricName": f"m{i // 100}",
            "Value": 1.0,
            "Dimensions": [{"Name": "Host", "Value": f"h{i % 100}"}],
        }
        for i in range(10_000)
    ]
    for i in range(0, len(many), 1000):
        c.put_metric_data(Namespace=ns + "/many", MetricData=many[i : i + 1000])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--protocol", default="json")
    parser.add_argument("--stub", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--moto", action="store_true", help="also time moto's server mode")
    args = parser.parse_args()
    if args.stub:
        run_stub(args.stub)
        return
    counts = {"PutMetricData x20": args.repeats * 10, "ListMetrics 10,000 (20 pages)": 5}
    with tempfile.TemporaryDirectory() as tmp:
        srv = ServerProcess(Path(tmp) / "data", extra=("--metrics-flush-interval", "0.5")).start()
        try:
            c = client(srv.url, args.protocol)
            rec = Recorder(c)
            ns = "Bench"
            end = dt.datetime.now(UTC).replace(second=0, microsecond=0) - dt.timedelta(minutes=5)
            start = end - dt.timedelta(days=1)
            seed(c, ns, end)
            time.sleep(1.5)  # two flushes
            runs = scenarios(c, ns, start, end)
            points = len(
                c.get_metric_statistics(
                    Namespace=ns + "/day",
                    MetricName="Latency",
                    StartTime=start,
                    EndTime=end,
                    Period=60,
                    Statistics=["Sum"],
                )["Datapoints"]
            )
            assert points == 1440, points
            tandem: dict[str, list[float]] = {}
            rec.on = True
            for name, fn in runs.items():
                fn()  # warm
                tandem[name] = timed(fn, counts.get(name, args.repeats))
            rec.on = False
            recorded = Path(tmp) / "recorded.pickle"
            recorded.write_bytes(pickle.dumps(dict(rec.responses)))
        finally:
            srv.stop()
        stub = subprocess.Popen(
            [sys.executable, "-m", "bench.cloudwatch_bench", "--stub", str(recorded)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert stub.stdout is not None
            url = stub.stdout.readline().split()[-1]
            sc = client(url, args.protocol)
            stub_runs = scenarios(sc, ns, start, end)
            stubbed = {}
            for name, fn in stub_runs.items():
                fn()
                stubbed[name] = timed(fn, counts.get(name, args.repeats))
        finally:
            stub.terminate()
            stub.wait()
        moto = run_moto(args.protocol, ns, start, end, counts, args.repeats) if args.moto else {}
    print(
        f"# {platform.python_implementation()} {platform.python_version()}, "
        f"protocol {args.protocol}, boto3 {boto3.__version__}"
    )
    moto_head = " moto p50 (ms) |" if moto else ""
    print(
        f"| scenario | tandem p50 (ms) | tandem calls/s | stub p50 (ms) | boto3 share |{moto_head}"
    )
    print("|---|---|---|---|---|" + ("---|" if moto else ""))
    for name, times in tandem.items():
        p50, s50 = statistics.median(times) * 1e3, statistics.median(stubbed[name]) * 1e3
        rate = len(times) / sum(times)
        extra = f" {statistics.median(moto[name]) * 1e3:.2f} |" if name in moto else ""
        print(f"| {name} | {p50:.2f} | {rate:.0f} | {s50:.2f} | {s50 / p50:.0%} |{extra}")


def run_moto(
    protocol: str,
    ns: str,
    start: dt.datetime,
    end: dt.datetime,
    counts: dict[str, int],
    repeats: int,
) -> dict[str, list[float]]:
    """The same scenarios against ``python -m moto.server`` (JSON and query only)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = ""
        while not url:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("moto.server did not start")
            if "Running on " in line:
                url = line.split("Running on ")[1].split()[0]
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep the pipe drained
        c = client(url, protocol)
        seed(c, ns, end)
        out = {}
        for name, fn in scenarios(c, ns, start, end).items():
            fn()
            out[name] = timed(fn, counts.get(name, repeats))
        return out
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
