"""CloudWatch wire benchmarks with real boto3 against a real ``tandem serve`` (a child process).

Each scenario runs twice in the same run: against tandem, and against a stub HTTP server
(another child process, ``bench.aws_api.replay``) that replays the response bodies recorded
from tandem, so the stub's time is boto3's own share (serialising, signing, HTTP, parsing).
``python -m bench.aws_api`` is the moto-versus-tandem benchmark of all six issue figures.

Run: ``.venv/bin/python -m bench.cloudwatch_bench [--protocol json|query|smithy-rpc-v2-cbor]``
(figures go to docs/performance/cloudwatch.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from bench.aws_api.replay import Recorder, make_client, run_stub, stub_server, timed
from tests.server_process import ServerProcess

UTC = dt.UTC


def client(url: str, protocol: str) -> Any:
    return make_client("cloudwatch", url, protocol)


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
            recorded = rec.save(Path(tmp) / "recorded.pickle")
        finally:
            srv.stop()
        with stub_server(recorded) as (url, _pid):
            sc = client(url, args.protocol)
            stub_runs = scenarios(sc, ns, start, end)
            stubbed = {}
            for name, fn in stub_runs.items():
                fn()
                stubbed[name] = timed(fn, counts.get(name, args.repeats))
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
