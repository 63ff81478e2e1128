"""Issue 17's performance figures for the Ray launcher, on emulated hosts, in one run.

Run as root (network namespaces): ``.venv/bin/python -m bench.multihost_bench``
(``--rounds N --seconds S --print-lines K --skip-logs``). It starts the multihost tests' rig
(tests/multihost/rig.py: a Ray head in the root namespace, two hosts each a Ray node) and two
``tandem serve`` processes bound to the rig's gateway: one ``--launcher local`` (the baseline:
instances on the router's host) and one ``--launcher ray://<gcs>`` (instances on the hosts).

1. Cross-host request overhead: the same 3-container pipeline (the tests' stage container)
   with one instance behind each server; wrk at c=1 against each, rounds interleaved; the
   medians of the rounds' p50 and p99, and the difference (target: <= 0.3 ms p50 added).
2. CreateEndpoint to InService of 4 instances: remote (Ray, over the 2 hosts) and local.
3. Log shipping from one remote instance: one request makes its container print K lines;
   lines/s from the request to the last line stored (every line counted back, in order).

Everything started is stopped: the servers here, the endpoints deleted first (a stopped
Ray server leaves its actors for the next one to attach), the Ray processes by the rig.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.pipeline.load import ensure_wrk, run_wrk, write_script
from tests.e2e.support import client, stage_container, wait_status
from tests.multihost.rig import RayCluster, ray_cluster
from tests.server_process import FAST_FLAGS, ServerProcess

_STAGES = ("first", "second", "third")
_BENCH_FLAGS = list(FAST_FLAGS)


@contextlib.contextmanager
def _server(rig: RayCluster, data: Path, launcher: str) -> Iterator[ServerProcess]:
    flags = [*_BENCH_FLAGS, "--host", rig.network.gateway, "--launcher", launcher]
    if launcher.startswith("ray://"):
        # ml.m5.large asks 2 vCPUs; a rig host has 2: half places two instances per host.
        flags += ["--ray-resource-scale", "0.5"]
    proc = ServerProcess(data, extra=flags, env={**os.environ, **rig.driver_env()})
    proc.start(timeout=120)
    try:
        yield proc
    finally:
        proc.stop(timeout=60)


def _create(sm: Any, name: str, instances: int, stages: tuple[str, ...] = _STAGES) -> None:
    sm.create_model(ModelName=name, Containers=[stage_container(s) for s in stages],
                    InferenceExecutionConfig={"Mode": "Serial"})  # fmt: skip
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": instances,
        "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}])  # fmt: skip
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)


def _delete(sm: Any, name: str, timeout: float = 120.0) -> None:
    sm.delete_endpoint(EndpointName=name)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            sm.describe_endpoint(EndpointName=name)
        except sm.exceptions.ClientError:
            break
        time.sleep(0.3)
    sm.delete_endpoint_config(EndpointConfigName=name)
    sm.delete_model(ModelName=name)


def _latency(servers: dict[str, ServerProcess], rounds: int, seconds: float) -> dict[str, Any]:
    wrk = ensure_wrk()
    if wrk is None:
        raise RuntimeError("wrk is needed (apt-get install wrk)")
    for label, srv in servers.items():
        _create(client(srv, "sagemaker"), f"lat-{label}", 1)
    for label, srv in servers.items():
        wait_status(client(srv, "sagemaker"), f"lat-{label}", "InService", timeout=300)
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in servers}
    with tempfile.TemporaryDirectory() as tmp:
        script = write_script(Path(tmp))
        for label, srv in servers.items():  # warm-up: connections, the containers' caches
            run_wrk(wrk, f"{srv.url}/endpoints/lat-{label}/invocations", script,
                    concurrency=1, seconds=1)  # fmt: skip
        for r in range(rounds):
            order = list(servers) if r % 2 == 0 else list(reversed(servers))
            for label in order:
                url = f"{servers[label].url}/endpoints/lat-{label}/invocations"
                got = run_wrk(wrk, url, script, concurrency=1, seconds=seconds)
                if got.errors:
                    raise RuntimeError(f"{label}: {got.errors} errors of {got.requests}")
                runs[label].append({"p50": got.p50_ms, "p99": got.p99_ms,
                                    "rps": got.throughput})  # fmt: skip
                print(f"  round {r + 1} {label}: p50 {got.p50_ms:.3f} ms p99 "
                      f"{got.p99_ms:.3f} ms, {got.requests} requests", flush=True)
    for label, srv in servers.items():
        _delete(client(srv, "sagemaker"), f"lat-{label}")
    return {label: {key: statistics.median(run[key] for run in rs) for key in ("p50", "p99", "rps")}
            | {"rounds": rs} for label, rs in runs.items()}  # fmt: skip


def _in_service(servers: dict[str, ServerProcess], rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {label: [] for label in servers}
    for r in range(rounds):
        order = list(servers) if r % 2 == 0 else list(reversed(servers))
        for label in order:
            sm = client(servers[label], "sagemaker")
            name = f"four-{label}-{r}"
            began = time.perf_counter()
            _create(sm, name, 4)
            wait_status(sm, name, "InService", timeout=600)
            times[label].append(time.perf_counter() - began)
            print(f"  round {r + 1} {label}: 4 instances InService in "
                  f"{times[label][-1]:.2f} s", flush=True)
            _delete(sm, name)
    return times


def _count_lines(logs: Any, group: str, stream: str, prefix: str) -> int:
    """Lines of this container's stream that start with ``prefix``, checked in order."""
    seen, token = 0, None
    while True:
        kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream,
                                  "startFromHead": True, "limit": 10000}  # fmt: skip
        if token:
            kwargs["nextToken"] = token
        page = logs.get_log_events(**kwargs)
        for event in page["events"]:
            if event["message"].startswith(prefix):
                expected = f"{prefix}{seen}"
                if event["message"].rstrip("\n") != expected:
                    raise RuntimeError(f"line {seen}: {event['message']!r}, not {expected!r}")
                seen += 1
        if page["nextForwardToken"] == token:
            return seen
        token = page["nextForwardToken"]


def _log_shipping(srv: ServerProcess, lines: int) -> dict[str, float]:
    sm, logs = client(srv, "sagemaker"), client(srv, "logs")
    runtime = client(srv, "sagemaker-runtime")
    name = "ship"
    _create(sm, name, 1, stages=("first",))
    wait_status(sm, name, "InService", timeout=300)
    group = f"/aws/sagemaker/Endpoints/{name}"
    stream = ""
    deadline = time.monotonic() + 120
    while not stream:  # the stream comes with the first shipped line, after InService
        with contextlib.suppress(logs.exceptions.ResourceNotFoundException):
            # One container: its stream is the instance's, AllTraffic/<instance id>.
            stream = next((s["logStreamName"] for s in logs.describe_log_streams(
                logGroupName=group)["logStreams"]), "")  # fmt: skip
        if not stream and time.monotonic() > deadline:
            raise RuntimeError(f"no log stream in {group}")
        time.sleep(0.2)
    began = time.perf_counter()
    runtime.invoke_endpoint(EndpointName=name, ContentType="application/json",
                            Body=json.dumps({"instances": [[0]], "print": lines}))  # fmt: skip
    answered = time.perf_counter() - began
    counted, last_change, last = 0, time.perf_counter(), -1
    # Counted until every line is in, or nothing new came for 30 s (a loss).
    while counted < lines and time.perf_counter() - last_change < 30:
        counted = _count_lines(logs, group, stream, "first: line ")
        if counted != last:
            last, last_change = counted, time.perf_counter()
        if counted < lines:
            time.sleep(0.1)
    stored = time.perf_counter() - began
    _delete(sm, name)
    return {"lines": lines, "counted": counted, "answered_s": answered, "stored_s": stored,
            "lines_per_s": counted / stored}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="latency rounds per server")
    parser.add_argument("--seconds", type=float, default=5.0, help="wrk seconds per round")
    parser.add_argument("--start-rounds", type=int, default=2,
                        help="CreateEndpoint-to-InService rounds per server")  # fmt: skip
    parser.add_argument("--print-lines", type=int, default=200_000)
    parser.add_argument("--skip-logs", action="store_true")
    args = parser.parse_args()
    print(f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, "
          f"load average {os.getloadavg()[0]:.2f} at start", flush=True)  # fmt: skip
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, ray_cluster(2, Path(tmp)) as rig:
        work = Path(tmp)
        with _server(rig, work / "local", "local") as local, \
                _server(rig, work / "ray", f"ray://{rig.gcs_address}") as ray:  # fmt: skip
            servers = {"local": local, "ray": ray}
            print("1. c=1 InvokeEndpoint, 3-container pipeline, 1 instance", flush=True)
            lat = results["latency"] = _latency(servers, args.rounds, args.seconds)
            print("2. CreateEndpoint to InService, 4 instances", flush=True)
            results["in_service"] = _in_service(servers, args.start_rounds)
            if not args.skip_logs:
                print("3. log shipping from one remote instance", flush=True)
                results["logs"] = _log_shipping(ray, args.print_lines)
    print(f"load average {os.getloadavg()[0]:.2f} at end")
    print("\n| server | p50 ms | p99 ms | req/s |\n|---|---|---|---|")
    for label in ("local", "ray"):
        print(f"| {label} | {lat[label]['p50']:.3f} | {lat[label]['p99']:.3f} | "
              f"{lat[label]['rps']:.0f} |")
    print(f"added by the remote host: p50 {lat['ray']['p50'] - lat['local']['p50']:+.3f} ms "
          f"(target <= 0.3 ms), p99 {lat['ray']['p99'] - lat['local']['p99']:+.3f} ms")
    for label, times in results["in_service"].items():
        print(f"4 instances {label}: " + ", ".join(f"{t:.2f} s" for t in times)
              + f" (median {statistics.median(times):.2f} s)")
    if "logs" in results:
        got = results["logs"]
        print(f"log shipping: {got['counted']}/{got['lines']} lines in {got['stored_s']:.2f} s "
              f"= {got['lines_per_s']:.0f} lines/s (request answered in {got['answered_s']:.2f} s;"
              f" loss {got['lines'] - got['counted']})")
    out = Path("bench/results")
    out.mkdir(exist_ok=True)
    (out / "multihost.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
