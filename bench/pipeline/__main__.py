"""``python -m bench.pipeline``: the side-by-side pipeline benchmark, one table.

Starts every system (floors A and B, tandem with command and handler-runtime containers,
Ray Serve and BentoML in their own venvs under bench/.peers/, installed on first use), loads
each with wrk at every concurrency after a warm-up, checks tandem's OverheadLatency against
a precise client, optionally profiles tandem's server at c=16, reruns the telemetry
benches, and prints the table and the targets. Raw results go to bench/results/.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from . import report, systems
from .honesty import check_overhead
from .load import PAYLOAD, LoadResult, ensure_wrk, run_wrk, write_script
from .profile import start_profile, summarize
from .tandem_system import tandem_system
from .telemetry import run_telemetry_benches
from .venvs import ensure_peer

RESULTS = Path(__file__).resolve().parent.parent / "results"


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of load before each run")
    p.add_argument("--concurrency", default="1,16,64")
    p.add_argument("--rounds", type=int, default=2,
                   help="rounds over our systems (interleaved); the best round is reported")
    p.add_argument("--quick", action="store_true", help="a short smoke run (2 s, 1 round)")
    p.add_argument("--pin", default="1",
                   help="CPU list for wrk (taskset -c), or 'none' (default: CPU 1)")
    p.add_argument("--honesty-requests", type=int, default=3000)
    p.add_argument("--profile", action="store_true",
                   help="py-spy the tandem server during an extra c=16 run")
    p.add_argument("--compare-tree", type=Path, default=None,
                   help="also run tandem (command containers) from another checkout's tree "
                        "(e.g. a `git archive` of the commit before a change)")
    p.add_argument("--skip-peers", action="store_true")
    p.add_argument("--skip-telemetry", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.rounds = 2.0, 1.0, 1
        args.honesty_requests = min(args.honesty_requests, 500)
    args.levels = [int(c) for c in args.concurrency.split(",")]
    args.pin = None if args.pin == "none" else args.pin
    return args


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _machine() -> dict[str, str]:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": str(os.cpu_count()), "cpu": model, "python": platform.python_version(),
            "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def _better(a: LoadResult | None, b: LoadResult) -> LoadResult:
    return b if a is None or b.throughput > a.throughput else a


def _measure(system: systems.System, result: report.SystemResult, args: argparse.Namespace,
             wrk: str, script: Path, levels: list[int]) -> None:
    front = system.front_pid
    for c in levels:
        run_wrk(wrk, system.url, script, concurrency=c, seconds=args.warmup, pin=args.pin)
        cpu0, front0 = systems.tree_cpu_s(system.pids), systems.process_cpu_s(front)
        load = run_wrk(wrk, system.url, script, concurrency=c, seconds=args.duration,
                       pin=args.pin)
        cpu1, front1 = systems.tree_cpu_s(system.pids), systems.process_cpu_s(front)
        if load is _better(result.loads.get(c), load):
            result.loads[c] = load
            n = max(load.requests, 1)
            result.cpu_us[c] = (cpu1 - cpu0) / n * 1e6
            result.front_cpu_us[c] = (front1 - front0) / n * 1e6
        _say(f"  {system.name:30s} c={c:<3d} p50 {load.p50_ms:7.2f} ms  "
             f"{load.throughput:7.0f} req/s  errors {load.errors} (status {load.status_errors}, "
             f"timeouts {load.timeouts})")


def _start(system: systems.System) -> report.SystemResult:
    result = report.SystemResult(system.name)
    try:
        system.start()
    except Exception as exc:  # noqa: BLE001 - a system that cannot start is a row, not a crash
        system.stop()
        result.error = f"did not start: {exc}"[:200]
        return result
    result.startup_s, result.idle_rss_mb = system.startup_s, system.idle_rss_mb
    result.processes = system.process_count
    _say(f"  {system.name}: first 200 after {system.startup_s:.2f} s, idle RSS "
         f"{system.idle_rss_mb:.0f} MB in {system.process_count} processes")
    return result


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    machine = _machine()
    wrk = ensure_wrk(_say)
    if wrk is None:
        _say("wrk is not installed and could not be installed; nothing to measure")
        return 1
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results: list[report.SystemResult] = []
    overhead: dict[str, float] | None = None
    other_overhead: dict[str, float] | None = None
    profile: dict[str, object] | None = None
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        work = Path(tmp)
        script = write_script(work)
        ours = [systems.floor_a(work), systems.floor_b(work),
                tandem_system(work, report.TANDEM_CMD, systems.command_containers(work)),
                tandem_system(work, report.TANDEM_RT, systems.handler_containers())]
        if args.compare_tree is not None:
            ours.append(tandem_system(work, f"tandem cmd @{args.compare_tree.name}",
                                      systems.command_containers(work), args.compare_tree))
        _say(f"payload {len(PAYLOAD)} bytes; wrk pinned to CPU {args.pin or 'none'}; "
             f"load average {machine['load_before']}")
        started = [(s, _start(s)) for s in ours]
        results.extend(r for _, r in started)
        live = [(s, r) for s, r in started if r.error is None]
        try:
            # Our systems idle side by side and are loaded in turn, round after round, so
            # slow drifts in the shared machine's load hit them alike.
            for round_no in range(args.rounds):
                _say(f"round {round_no + 1}/{args.rounds}")
                for c in args.levels:
                    for system, result in live:
                        _measure(system, result, args, wrk, script, [c])
            cmd = next((s for s, r in live if s.name == report.TANDEM_CMD), None)
            if cmd is not None:
                _say("honesty check: precise client at c=1 on a fresh endpoint")
                overhead = _honesty(cmd, work, args.honesty_requests)
            other = next((s for s, r in live if args.compare_tree is not None
                          and s.name == f"tandem cmd @{args.compare_tree.name}"), None)
            if other is not None:
                _say(f"honesty check of {other.name}")
                other_overhead = _honesty(other, work, args.honesty_requests)
                if args.profile:
                    profile = _profile(cmd, args, wrk, script, work)
        finally:
            for system, _ in started:
                system.stop()
        if not args.skip_peers:
            results.extend(_run_peer(name, factory, args, wrk, script, work)
                           for name, factory in ((report.RAY, systems.ray_serve),
                                                 (report.BENTOML, systems.bentoml)))
    telemetry = [] if args.skip_telemetry else run_telemetry_benches()
    machine["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    peers = {name: ensure_peer(name).versions for name in ("ray", "bentoml")
             if not args.skip_peers}
    print(f"\nmachine: {machine['cores']} cores, {machine['cpu']}, Python {machine['python']}; "
          f"load average before {machine['load_before']}, after {machine['load_after']}")
    print(f"wrk -t1, {args.warmup:.0f} s warm-up + {args.duration:.0f} s per run, "
          f"pinned to CPU {args.pin or 'none'}; best of {args.rounds} round(s); payload "
          f"{len(PAYLOAD)} B")
    for name, versions in peers.items():
        print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print()
    print(report.render_table(results))
    print()
    for line in report.check_targets(results, overhead):
        print(line)
    if other_overhead:
        print(f"honesty of tandem cmd @{args.compare_tree.name}: "
              f"{other_overhead['derived_us']:.0f} us derived vs OverheadLatency p50 "
              f"{other_overhead['overhead_p50_us']:.0f} us "
              f"({other_overhead['disagreement']:.0%} apart)")
    if profile:
        print(f"\nprofile of the tandem server at c=16 ({profile['samples']} samples, "
              f"{profile['path']}): top self time")
        for frame, share in profile["self"]:  # type: ignore[union-attr]
            print(f"  {share:6.1%}  {frame}")
    if telemetry:
        print("\ntelemetry benches:")
        for line in telemetry:
            print(f"  {line}")
    out = RESULTS / f"pipeline-{stamp}.json"
    out.write_text(json.dumps({
        "machine": machine, "args": {k: v for k, v in vars(args).items()},
        "peers": peers, "overhead": overhead, "compare_overhead": other_overhead,
        "profile": profile, "telemetry": telemetry,
        "results": [dataclasses.asdict(r) | {"loads": {c: dataclasses.asdict(x) | {
            "throughput": x.throughput} for c, x in r.loads.items()}} for r in results],
    }, indent=1, default=str))
    print(f"\nraw results: {out}")
    return 0


def _honesty(cmd: systems.System, work: Path, requests: int) -> dict[str, float] | None:
    try:
        h = check_overhead(str(cmd.extra["url"]), Path(str(cmd.extra["data_dir"])),
                           systems.command_containers(work), requests)
    except Exception as exc:  # noqa: BLE001 - reported, the rest of the run goes on
        _say(f"honesty check failed: {exc}")
        return None
    return {"requests": h.requests, "client_p50_us": h.client_p50_us,
            "containers_us": sum(h.container_p50_us), "derived_us": h.derived_overhead_us,
            "model_p50_us": h.model_p50_us, "overhead_p50_us": h.overhead_p50_us,
            "overhead_p99_us": h.overhead_p99_us, "disagreement": h.disagreement,
            "source": h.source}  # type: ignore[dict-item]


def _run_peer(name: str, factory: Callable[[Path, Path], systems.System],
              args: argparse.Namespace, wrk: str, script: Path,
              work: Path) -> report.SystemResult:
    env = ensure_peer("ray" if name == report.RAY else "bentoml", log=_say)
    if env.python is None:
        return report.SystemResult(name, error=f"not installed: {env.error}")
    system = factory(work, env.python)
    result = _start(system)
    if result.error is None:
        try:
            # Started alone and stopped after: a peer's background processes would otherwise
            # take CPU from the systems measured after it.
            for _ in range(args.rounds):
                _measure(system, result, args, wrk, script, args.levels)
        except Exception as exc:  # noqa: BLE001 - a failed peer is a row, not a crash
            result.error = f"failed under load: {exc}"[:200]
        finally:
            system.stop()
    return result


def _profile(system: systems.System, args: argparse.Namespace, wrk: str, script: Path,
             work: Path) -> dict[str, object] | None:
    pid = int(str(system.extra["server_pid"]))
    path = RESULTS / f"profile-{time.strftime('%Y%m%d-%H%M%S')}.txt"
    spy = start_profile(pid, args.duration, path)
    if spy is None:
        _say("py-spy not found; no profile")
        return None
    time.sleep(0.5)
    run_wrk(wrk, system.url, script, concurrency=16, seconds=args.duration + 1, pin=args.pin)
    spy.wait(args.duration + 30)
    samples, by_self, inclusive = summarize(path)
    return {"path": str(path), "samples": samples, "self": by_self, "inclusive": inclusive}


if __name__ == "__main__":
    raise SystemExit(main())
