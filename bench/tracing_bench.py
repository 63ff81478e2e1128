"""``python -m bench.tracing_bench``: what tracing costs the bench pipeline (issue 20).

The bench pipeline (bench/pipeline's three command containers) behind ``tandem serve`` with
tracing off, off once more (the control: the same configuration twice), on at 100 % sampling
and on at 1 % (``traceidratio``), exporting over OTLP/HTTP to a receiver in this process.
wrk measures each in short rounds: c=1 for the p50, c=16 for throughput, and the router
process's CPU per request over the c=16 run.

What makes the figures comparable on a small shared machine:

- Every round starts a fresh server per configuration (and stops them after it), so what
  differs between two processes of the same code (CPU placement, hash seed, allocator state,
  its containers' luck) is drawn anew each round instead of sticking to one configuration
  for the whole run (``--servers once`` keeps one server per configuration, for comparison).
- Within a round the configurations run in a shuffled order, so none is always first.
- Each configuration's figure is taken against off's in the same round (``value / off - 1``)
  and the rounds' changes are summarised by their median with a distribution-free 95 %
  confidence interval (bench/paired.py). "off again" gets the same treatment: its interval
  is the noise floor, in the same table. A change whose interval holds 0 is not measurable.

``--baseline-tree`` adds the tracing configurations once more, served from another checkout's
``tandem`` package (a before/after in the same run). ``--hang`` adds 100 % sampling with a
receiver that never answers.

Also, in-process (no HTTP, process CPU time): what one request of three hops costs the
tracer on the event loop and on the export thread (its send left out), at 100 % and 1 %
sampling; and the encoder's cost per span, hand-written bytes against building
opentelemetry-proto messages.

    .venv/bin/python -m bench.tracing_bench [--rounds 12] [--duration 3] [--warmup 1]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from bench.paired import Change, change
from bench.pipeline import systems
from bench.pipeline.load import ensure_wrk, run_wrk, write_script
from bench.pipeline.tandem_system import tandem_system
from tests.tracing.receiver import OtlpReceiver

_SAMPLED = ("--traces-sampler", "traceidratio", "--traces-sampler-arg")
CONFIGS = {
    "off": (),
    # The control: off's own configuration again, so the noise floor is measured, not assumed.
    "off again": (),
    "on 100%": (*_SAMPLED, "1.0"),
    "on 1%": (*_SAMPLED, "0.01"),
}
# A receiver that accepts the connection and never answers: the export thread waits out
# --otlp-timeout while the queue fills and drops.
HANG = {"on 100%, receiver hangs": (*_SAMPLED, "1.0", "--otlp-timeout", "30")}
# The target at 100 % sampling: at most this much added.
TARGET = 0.10
METRICS = ("p50", "rps", "cpu")


def _encode_costs(spans: int = 20_000) -> dict[str, float]:
    """µs per span: the hand-written encoder and opentelemetry-proto messages built directly."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    from tandem.telemetry.tracing import SpanData, SpanKind
    from tandem.telemetry.tracing.otlp import encode_export_request, encode_resource

    attrs = [("http.request.method", "POST"), ("url.full", "http://127.0.0.1:40001/invocations"),
             ("server.address", "127.0.0.1"), ("server.port", 40001),
             ("tandem.endpoint.name", "bench"), ("tandem.variant.name", "AllTraffic"),
             ("tandem.instance.id", "i-0123456789abcdef0"), ("http.response.status_code", 200)]
    # A list: every attribute looked up on its own (the router shares one tuple per hop and
    # instance, whose whole block is then one lookup; that path is measured as "shared").
    batch = [SpanData(2**127 + i, 2**63 + i, 7, "POST", SpanKind.CLIENT, 10**18, 10**18 + 5000,
                      attrs) for i in range(512)]
    resource = encode_resource([("service.name", "tandem")])
    rounds = spans // 512
    t = time.perf_counter()
    for _ in range(rounds):
        encode_export_request(resource, "tandem", "0.1", batch)
    hand = (time.perf_counter() - t) / (rounds * 512) * 1e6
    shared = [SpanData(s.trace_id, s.span_id, s.parent_id, s.name, s.kind, s.start_ns, s.end_ns,
                       tuple(attrs)) for s in batch]
    shared = [SpanData(s.trace_id, s.span_id, s.parent_id, s.name, s.kind, s.start_ns, s.end_ns,
                       shared[0].attributes) for s in shared]
    t = time.perf_counter()
    for _ in range(rounds):
        encode_export_request(resource, "tandem", "0.1", shared)
    hand_shared = (time.perf_counter() - t) / (rounds * 512) * 1e6
    t = time.perf_counter()
    for _ in range(rounds):
        request = ExportTraceServiceRequest()
        scope = request.resource_spans.add().scope_spans.add()
        for s in batch:
            span = scope.spans.add(
                trace_id=s.trace_id.to_bytes(16, "big"), span_id=s.span_id.to_bytes(8, "big"),
                parent_span_id=s.parent_id.to_bytes(8, "big"), name=s.name, kind=int(s.kind),
                start_time_unix_nano=s.start_ns, end_time_unix_nano=s.end_ns)
            for k, v in s.attributes:
                value = AnyValue(int_value=v) if isinstance(v, int) else AnyValue(string_value=v)
                span.attributes.append(KeyValue(key=k, value=value))
        request.SerializeToString()
    pb2 = (time.perf_counter() - t) / (rounds * 512) * 1e6
    del Span
    return {"hand-written": hand, "hand-written, shared attributes": hand_shared,
            "opentelemetry-proto": pb2}


def _request_costs(ratio: float, requests: int = 30_000) -> tuple[float, float]:
    """µs of process CPU per request of three hops: the tracer's calls on the event loop
    (begin, the hops' traceparent lines, a hop per container, end) and the export thread's work on
    what they queued (its HTTP send replaced by nothing)."""
    from tandem.telemetry.tracing import RecentTraces, RequestTracer, Sampler, SpanExporter

    exporter = SpanExporter("http://127.0.0.1:9/v1/traces", resource=[("service.name", "b")],
                            scope=("tandem", "0"), queue_size=2048, batch_size=512)
    exporter._send = lambda body: True  # type: ignore[method-assign]
    tracer = RequestTracer(Sampler("traceidratio", ratio), exporter, RecentTraces(2000))
    urls = [f"http://127.0.0.1:{40001 + i}/invocations" for i in range(3)]
    names = ["stage1", "stage2", "stage3"]
    perf, cpu = time.perf_counter, time.process_time

    def run(n: int) -> tuple[float, float]:
        loop = export = 0.0
        for k in range(n):
            t = cpu()
            # As the runtime API and the router call it.
            trace = tracer.begin(None, None, perf(), "bench", "127.0.0.1:8080")
            lines = trace.route("AllTraffic", "i-0123456789abcdef0", 3)
            hops = trace.hops
            for i in range(3):
                b"headers" + lines[i]
                hops.append((names[i], urls[i], perf(), perf(), 200, None))
            tracer.end(trace, perf(), 200)
            loop += cpu() - t
            if k % 128 == 127:  # a full batch of 512 spans
                t = cpu()
                exporter._drain()
                export += cpu() - t
        return loop / n * 1e6, export / n * 1e6

    def harness(n: int) -> float:
        """The same loop's own cost (clocks, stamps), taken off the tracer's."""
        loop = 0.0
        for _ in range(n):
            t = cpu()
            perf()
            for _i in range(3):
                perf(), perf()
            perf()
            loop += cpu() - t
        return loop / n * 1e6

    run(2000)
    loop, export = run(requests)
    return max(loop - harness(requests), 0.0), export


def _thread_cpu_s(pid: int) -> dict[int, float]:
    try:
        return {t.id: t.user_time + t.system_time for t in psutil.Process(pid).threads()}
    except psutil.NoSuchProcess:
        return {}


def _load(system: systems.System, wrk: str, script: Path, c: int, seconds: int,
          pin: str | None) -> dict[str, float]:
    """One wrk run against ``system``: its figures and the router's CPU over it."""
    pid = system.extra["server_pid"]
    assert isinstance(pid, int)
    before = systems.process_cpu_s(pid)
    threads = _thread_cpu_s(pid)
    res = run_wrk(wrk, system.url, script, concurrency=c, seconds=seconds, pin=pin)
    used = systems.process_cpu_s(pid) - before
    if res.errors:
        raise RuntimeError(f"{system.name} c={c}: {res.errors} errors")
    if c == 1:
        return {"p50": res.p50_ms, "p99": res.p99_ms}
    # The threads other than the busiest (the event loop's): the export thread, the metrics
    # flusher, the store's writer.
    per_thread = sorted((t - threads.get(k, 0.0) for k, t in _thread_cpu_s(pid).items()),
                        reverse=True)
    return {"rps": res.throughput, "cpu": used / res.requests * 1e6,
            "others": sum(per_thread[1:]) / res.requests * 1e6}


def _measure(group: list[systems.System], wrk: str, script: Path, args: argparse.Namespace,
             pin: str | None) -> list[dict[str, float]]:
    """c=1 p50 and p99, c=16 req/s and the router's CPU of each system in ``group``, all of
    them loaded at the same time (each by its own wrk), after a warm-up alike."""
    out: list[dict[str, float]] = [{} for _ in group]
    with ThreadPoolExecutor(len(group)) as pool:
        for c in (1, 16):
            for seconds, keep in ((args.warmup, False), (args.duration, True)):
                runs = [pool.submit(_load, s, wrk, script, c, seconds, pin) for s in group]
                for figures, run in zip(out, runs, strict=True):
                    if keep:
                        figures.update(run.result())
                    else:
                        run.result()
    return out


def _start_all(work: Path, tag: str, configs: dict[str, tuple[str, ...]],
               trees: dict[str, Path], containers: list[dict[str, object]],
               receiver: OtlpReceiver, hung: OtlpReceiver | None) -> dict[str, systems.System]:
    """One server per configuration, started side by side (before any is measured)."""
    made: dict[str, systems.System] = {}
    for name, flags in configs.items():
        target = hung if "hangs" in name else receiver
        assert target is not None
        extra = flags if not flags else (
            "--otlp-endpoint", target.url, "--trace-export-interval", "1", *flags)
        made[name] = tandem_system(work, f"tandem tracing {tag} {name}", containers,
                                   tree=trees[name], flags=tuple(extra))
    with ThreadPoolExecutor(len(made)) as pool:
        failures = [f.exception() for f in [pool.submit(s.start) for s in made.values()]]
    if any(failures):
        _stop_all(made)
        raise next(e for e in failures if e is not None)
    return made


def _stop_all(running: dict[str, systems.System]) -> None:
    with ThreadPoolExecutor(max(len(running), 1)) as pool:
        list(pool.map(lambda s: s.stop(), running.values()))
    for system in running.values():
        data_dir = system.extra.get("data_dir")
        if isinstance(data_dir, Path):
            shutil.rmtree(data_dir, ignore_errors=True)


def _verdict_100(p50: Change, rps: Change) -> str:
    """Met when the interval's worst end adds at most TARGET; not met when its best end
    adds more; otherwise the run cannot tell."""
    if p50.confidence < 0.9:
        return f"too few rounds ({p50.confidence:.0%} intervals)"
    worst = max(p50.high, -rps.low)
    best = max(p50.low, -rps.high)
    if worst <= TARGET:
        return f"met (at worst +{100 * p50.high:.1f}% p50, {100 * rps.low:+.1f}% req/s)"
    if best > TARGET:
        return "not met"
    return "not shown either way (an interval reaches past 10%)"


def _fmt(c: Change) -> str:
    return f"{100 * c.median:+.1f}% [{100 * c.low:+.1f}, {100 * c.high:+.1f}]"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.tracing_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--duration", type=int, default=3, help="seconds of each measured wrk run")
    p.add_argument("--warmup", type=int, default=1, help="seconds of wrk before each")
    p.add_argument("--servers", choices=("per-round", "once"), default="per-round",
                   help="per-round: fresh servers every round; once: one server per "
                        "configuration for the whole run")
    p.add_argument("--load", choices=("together", "in-turn"), default="together",
                   help="together: every configuration loaded at the same time, each by its "
                        "own wrk (the machine's other work falls on all alike); in-turn: "
                        "one configuration at a time, in a shuffled order")
    p.add_argument("--seed", type=int, default=None, help="for the order within rounds")
    p.add_argument("--pin", default="none", help="CPU list for wrk (taskset -c) or none")
    p.add_argument("--hang", action="store_true",
                   help="add 100%% sampling with a receiver that never answers")
    p.add_argument("--skip-encoder", action="store_true",
                   help="leave out the encoder and in-process micro-benchmarks")
    p.add_argument("--baseline-tree", type=Path, default=None,
                   help="a checkout whose tandem package serves the tracing configurations "
                        "once more, as 'before'")
    p.add_argument("--receiver", choices=("decode", "discard"), default="discard",
                   help="discard: the receiver answers without parsing (a collector "
                        "elsewhere: tandem's cost alone); decode: it parses every body with "
                        "opentelemetry-proto on the same CPUs (a collector beside tandem)")
    args = p.parse_args(argv)
    configs = dict(CONFIGS, **(HANG if args.hang else {}))
    # Every server runs this checkout's package (PYTHONPATH): the venv's ``tandem`` script may
    # name another checkout's interpreter and with it that checkout's package.
    here = Path(__file__).resolve().parents[1]
    trees: dict[str, Path] = {name: here for name in configs}
    if args.baseline_tree is not None:
        for name, flags in list(configs.items()):
            if name.startswith("on") and "hangs" not in name:
                configs[f"before: {name}"] = flags
                trees[f"before: {name}"] = args.baseline_tree.resolve()
    pin = None if args.pin == "none" else args.pin
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    order_rng = random.Random(seed)
    wrk = ensure_wrk(lambda text: print(text, file=sys.stderr))
    if wrk is None:
        print("wrk is needed", file=sys.stderr)
        return 1
    if not args.skip_encoder:
        costs = _encode_costs()
        print("encoder, µs per span (batch 512, 8 attributes): " +
              ", ".join(f"{k} {v:.1f}" for k, v in costs.items()))
        for ratio in (1.0, 0.01):
            loop, export = _request_costs(ratio)
            print(f"in-process, µs of CPU per request of 3 hops at {ratio:.0%} sampling: "
                  f"event loop {loop:.2f}, export thread {export:.2f}")
    receiver = OtlpReceiver(mode="ok" if args.receiver == "decode" else "discard").start()
    hung = OtlpReceiver(mode="hang").start() if args.hang else None
    load_before = os.getloadavg()
    started = time.time()
    # results[name][metric]: one value per round
    results: dict[str, dict[str, list[float]]] = {name: {} for name in configs}
    loads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="tandem-tracing-bench-") as tmp:
        work = Path(tmp)
        script = write_script(work)
        containers = systems.command_containers(work)
        running: dict[str, systems.System] = {}
        try:
            if args.servers == "once":
                running = _start_all(work, "all", configs, trees, containers, receiver, hung)
            for r in range(args.rounds):
                if args.servers == "per-round":
                    running = _start_all(work, f"r{r}", configs, trees, containers,
                                         receiver, hung)
                order = list(configs)
                order_rng.shuffle(order)
                # together: every configuration loaded at once; in turn: one after another.
                groups = [order] if args.load == "together" else [[n] for n in order]
                for group in groups:
                    measured = _measure([running[n] for n in group], wrk, script, args, pin)
                    for name, figures in zip(group, measured, strict=True):
                        for metric, value in figures.items():
                            results[name].setdefault(metric, []).append(value)
                loads.append(os.getloadavg()[0])
                if args.servers == "per-round":
                    _stop_all(running)
                    running = {}
                print(f"round {r + 1}/{args.rounds} done ({', '.join(order)}; load average "
                      f"{loads[-1]:.2f})", file=sys.stderr, flush=True)
        finally:
            _stop_all(running)
    received = (f"receiver got {len(receiver.spans())} spans" if args.receiver == "decode"
                else f"receiver discarded {len(receiver.statuses)} export requests unparsed")
    receiver.close()
    if hung is not None:
        hung.close()
    load_after = os.getloadavg()
    minutes = (time.time() - started) / 60
    print(f"{os.cpu_count()} CPUs; load average before {load_before[0]:.2f} "
          f"{load_before[1]:.2f}, per round {min(loads):.2f}-{max(loads):.2f}, after "
          f"{load_after[0]:.2f} {load_after[1]:.2f}; {args.rounds} rounds x {len(configs)} "
          f"configurations loaded {args.load}, servers {args.servers}, {args.duration} s "
          f"per figure, "
          f"{minutes:.1f} min; order seed {seed}; {received}")
    off = results["off"]
    changes = {name: {m: change(results[name][m], off[m]) for m in METRICS}
               for name in configs if name != "off"}
    print("\nMedians of the rounds (min-max); change: median of the rounds' value / off's in "
          "the same round - 1, [95% interval of that median]")
    print("| tracing | c=1 p50 (ms) | change | c=16 req/s | change | router CPU µs/request "
          "(c=16) | change | of it, other threads | c=1 p99 (ms) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in configs:
        row = results[name]

        def spread(metric: str, digits: int, row: dict[str, list[float]] = row) -> str:
            v = row[metric]
            return (f"{statistics.median(v):.{digits}f} "
                    f"({min(v):.{digits}f}-{max(v):.{digits}f})")

        ch = changes.get(name)
        print(f"| {name} | {spread('p50', 3)} | {_fmt(ch['p50']) if ch else '—'} | "
              f"{spread('rps', 0)} | {_fmt(ch['rps']) if ch else '—'} | {spread('cpu', 0)} | "
              f"{_fmt(ch['cpu']) if ch else '—'} | {statistics.median(row['others']):.0f} | "
              f"{statistics.median(row['p99']):.2f} |")
    confidence = changes["off again"]["p50"].confidence
    print(f"\n(intervals: {confidence:.1%} coverage with {args.rounds} rounds)")
    floor = changes["off again"]
    print("noise floor, off again against off: " +
          ", ".join(f"{m} {_fmt(floor[m])}" for m in METRICS))
    full, low = changes["on 100%"], changes["on 1%"]
    print(f"on 100%, target at most +10%: {_verdict_100(full['p50'], full['rps'])}")
    seen = [m for m in ("p50", "rps") if low[m].excludes_zero()]
    print("on 1%, target not measurable: " +
          (f"too few rounds ({confidence:.0%} intervals)" if confidence < 0.9 else
           f"measurable on {', '.join(seen)}" if seen else
           "met (the intervals of c=1 p50 and c=16 req/s hold 0)") +
          f"; router CPU {_fmt(low['cpu'])}")
    print("\nper round:")
    for name in configs:
        row = results[name]
        print(f"{name}: c=1 p50 {[round(v, 3) for v in row['p50']]}; "
              f"c=16 req/s {[round(v) for v in row['rps']]}; "
              f"CPU µs/request {[round(v) for v in row['cpu']]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
