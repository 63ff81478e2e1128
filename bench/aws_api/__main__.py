"""boto3 against moto's server mode and tandem, call by call, and against stubs of each.

Run from the repository root:

    .venv/bin/python -m bench.aws_api            # the issue's sizes: 1,000,000 log events
    .venv/bin/python -m bench.aws_api --quick    # 100,000 events, fewer repeats
    .venv/bin/python -m bench.aws_api --postgres postgresql://USER:PASSWORD@HOST:PORT/postgres

With ``--postgres ADMIN_DSN`` a third server, ``tandem serve --store postgresql://...`` on a
scratch database (created through ADMIN_DSN's role, which needs CREATEDB, and dropped at the
end), is timed in the same rotation, beside its own stub.

For each figure, every repeat calls moto, tandem, a stub replaying moto's recorded bodies and
a stub replaying tandem's, in an order rotated each repeat, so machine noise hits all four
alike. Figures and the command go to docs/performance/aws-api.md; raw times to bench/results/.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import tempfile
import time
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psutil

from bench.aws_api.figures import (
    PERCENTILES,
    Clients,
    Figure,
    figures,
    make_day,
    seed,
    wait_for_day,
)
from bench.aws_api.percentiles import PercentileCheck, check_percentiles
from bench.aws_api.replay import Recorder, make_client, stub_server
from bench.aws_api.report import PG_TARGETS, TARGETS, Measured, render, summarize
from tests.api.differential.moto_server import MotoServer
from tests.postgres import scratch_database
from tests.server_process import ServerProcess

FULL = {"put": 200, "gms": 20, "list": 3, "get": 20, "filter": 3}
QUICK = {"put": 50, "gms": 8, "list": 1, "get": 8, "filter": 2}


def _clients(url: str) -> Clients:
    return Clients(make_client("cloudwatch", url), make_client("logs", url))


def _cpu(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def _machine() -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                  if line.startswith("model name")), platform.processor())
    return {
        "cores": os.cpu_count(), "cpu": model,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "boto3": version("boto3"), "botocore": version("botocore"), "moto": version("moto"),
        "loadavg_start": os.getloadavg(),
    }


def _measure(fig: Figure, servers: dict[str, Clients], pids: dict[str, int],
             recorders: dict[str, Recorder], tmp: Path) -> Measured:
    """Record each server's bodies on a first call, then time every target (each server and
    the stub replaying it) in turn."""
    paths = {}
    for name, c in servers.items():
        rec = recorders[name]
        rec.responses.clear()
        rec.on = True
        fig.call(c, fig.arg(0))
        rec.on = False
        paths[name] = rec.save(tmp / f"{fig.key}-{name}.pickle")
    with contextlib.ExitStack() as stack:
        clients = dict(servers)
        all_pids = dict(pids)
        for name, path in paths.items():
            url, pid = stack.enter_context(stub_server(path))
            clients[f"stub-{name}"], all_pids[f"stub-{name}"] = _clients(url), pid
        targets = TARGETS + (PG_TARGETS if "tandem-pg" in servers else ())
        for t in targets:
            if t.startswith("stub-"):
                fig.call(clients[t], fig.arg(0))  # warm: connection, botocore's lazy loading
        times: dict[str, list[float]] = {t: [] for t in targets}
        cpu = dict.fromkeys(targets, 0.0)
        n = len(targets)
        for i in range(fig.repeats):
            arg = fig.arg(i + 1)
            for t in targets[i % n:] + targets[: i % n]:
                # The process's CPU over its own calls only (read outside the timed region);
                # /proc counts in 10 ms ticks, so only the mean over many calls means much.
                c0 = _cpu(all_pids[t])
                t0 = time.perf_counter()
                fig.call(clients[t], arg)
                times[t].append(time.perf_counter() - t0)
                cpu[t] += _cpu(all_pids[t]) - c0
    cpu = {t: c / fig.repeats for t, c in cpu.items()}
    return Measured(fig.key, fig.title, fig.in_targets, fig.items_per_call, fig.item, times, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, help="log events to load (default 1,000,000; "
                        "100,000 with --quick); a multiple of 1,000")
    parser.add_argument("--series", type=int, default=10_000, help="series for ListMetrics")
    parser.add_argument("--quick", action="store_true", help="100,000 events, fewer repeats")
    parser.add_argument("--results", type=Path, default=Path("bench/results"))
    parser.add_argument("--only", help="comma-separated figure keys to time (e.g. "
                        "put_log_events,get_log_events); the others are skipped, except that "
                        "the log events are still loaded, untimed, when a log read is timed")
    parser.add_argument("--postgres", metavar="ADMIN_DSN",
                        help="also time tandem on --store postgresql://, in a scratch database "
                        "made and dropped through this DSN (its role needs CREATEDB), e.g. "
                        "postgresql://tandem_test:tandem_test@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    events = args.events or (100_000 if args.quick else 1_000_000)
    assert events % 1000 == 0 and events >= 2000, "--events: a multiple of 1,000, at least 2,000"
    repeats = QUICK if args.quick else FULL
    machine = _machine()
    print(f"# {machine['cores']} cores, {machine['cpu']}, {machine['python']}, boto3 "
          f"{machine['boto3']}, moto {machine['moto']}, load average "
          f"{' '.join(f'{x:.2f}' for x in machine['loadavg_start'])}", flush=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp_, contextlib.ExitStack() as stack:
        tmp = Path(tmp_)
        # tandem at its default flush intervals: durability is not traded for speed here.
        tandem = ServerProcess(tmp / "data", extra=()).start()
        stack.callback(tandem.stop)
        moto = MotoServer().start()
        stack.callback(moto.stop)
        tandem_pg = None
        if args.postgres:
            dsn = stack.enter_context(scratch_database(args.postgres, prefix="tandem_bench"))
            tandem_pg = ServerProcess(tmp / "data-pg", extra=("--store", dsn)).start()
            stack.callback(tandem_pg.stop)  # before the database is dropped
        assert tandem.proc is not None and moto.proc is not None
        servers = {"moto": _clients(moto.url), "tandem": _clients(tandem.url)}
        pids = {"moto": moto.proc.pid, "tandem": tandem.proc.pid}
        if tandem_pg is not None:
            assert tandem_pg.proc is not None
            servers["tandem-pg"] = _clients(tandem_pg.url)
            pids["tandem-pg"] = tandem_pg.proc.pid
        recorders = {n: Recorder(c.cloudwatch, c.logs) for n, c in servers.items()}
        day = make_day()
        for name, c in servers.items():
            t0 = time.perf_counter()
            seed(c, day, args.series)
            print(f"seeded {name} in {time.perf_counter() - t0:.1f} s", flush=True)
        for c in servers.values():
            wait_for_day(c, day)
        base_ms = int(time.time() * 1000) - 30 * 60 * 1000
        measured = []
        checks = {}
        for fig in figures(day, args.series, events, repeats, base_ms):
            if only is not None and fig.key not in only:
                if fig.key == "put_log_events" and only & {"get_log_events",
                                                           "filter_log_events"}:
                    for c in servers.values():
                        for i in range(fig.repeats + 1):
                            fig.call(c, fig.arg(i))
                continue
            if fig.key == "get_log_events":
                time.sleep(1.0)  # past tandem's 0.5 s logs flush: all events committed
            t0 = time.perf_counter()
            measured.append(_measure(fig, servers, pids, recorders, tmp))
            print(f"{fig.title}: {time.perf_counter() - t0:.1f} s", flush=True)
            if fig.key == "get_metric_statistics_percentiles":
                checks = {
                    name: check_percentiles(
                        c.cloudwatch.get_metric_statistics(
                            Namespace="Bench/day", MetricName="Latency",
                            StartTime=day.start, EndTime=day.end, Period=60,
                            ExtendedStatistics=list(PERCENTILES)),
                        day.minutes, day.values, PERCENTILES)
                    for name, c in servers.items()
                }
    summaries = [summarize(m) for m in measured]
    machine["loadavg_end"] = os.getloadavg()
    print(f"\n# events {events:,}, series {args.series:,}, repeats {repeats}, "
          f"{time.perf_counter() - started:.0f} s in all, load average at the end "
          f"{' '.join(f'{x:.2f}' for x in machine['loadavg_end'])}")
    print("# times in ms\n")
    print(render(summaries))
    print()
    for name, check in checks.items():
        print(_percentile_line(name, check))
    targets = [s for s in summaries if s.measured.in_targets]
    correct = checks["tandem"].correct if checks else "not timed"
    print(f"\nserver share >= 10x smaller than moto's on every figure: "
          f"{all(s.tenfold for s in targets)}; smaller than the client's own time on every "
          f"figure: {all(s.under_client for s in targets)}; percentiles answered and correct: "
          f"{correct}")
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"aws-api-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({
        "machine": machine, "events": events, "series": args.series, "repeats": repeats,
        "measured": [asdict(m) for m in measured],
        "percentiles": {n: asdict(c) | {"correct": c.correct} for n, c in checks.items()},
        "only": sorted(only) if only else None,
    }, indent=1))
    print(f"raw times: {out}")


def _percentile_line(name: str, c: PercentileCheck) -> str:
    if not c.answered:
        return (f"{name}: {c.datapoints} datapoints, no ExtendedStatistics in any of them "
                f"(0 of {c.expected} percentiles)")
    methods = ", ".join(f"{m} {e:.2%}" for m, e in c.by_method.items())
    return (f"{name}: {c.answered} of {c.expected} percentiles; max relative error "
            f"{c.max_error:.3%} to the nearer of numpy's lower/higher order statistics "
            f"(worst: {c.worst}); correct: {c.correct}. Max error against each numpy "
            f"method: {methods}")


if __name__ == "__main__":
    main()
