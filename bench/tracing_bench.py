"""``python -m bench.tracing_bench``: what tracing costs the bench pipeline.

Three ``tandem serve`` processes with bench/pipeline's 3-stage command-container pipeline:
tracing off, on at 100 % sampling and on at 1 % (``traceidratio``), both exporting over
OTLP/HTTP to a receiver in this process (it decodes every body with opentelemetry-proto, as a
collector would, so the export is real). wrk loads them in turn, round after round (the
configurations alternate, so a shared machine's load falls on all three alike): c=1 for the
p50 and c=16 for throughput. Per configuration the median of the rounds is reported, with
the load average before and after, and the router process's CPU per request at c=16 (the
steadier figure on a shared machine), split into its event loop's thread and the others
(the export thread). ``--baseline-tree`` adds the tracing configurations once more, served
from another checkout's ``tandem`` package (a before/after in the same run).

Also, in-process (no HTTP, process CPU time): what one request of three hops costs the
tracer on the event loop and on the export thread (its send left out), at 100 % and 1 %
sampling; and the encoder's cost per span, hand-written bytes against building
opentelemetry-proto messages.

    .venv/bin/python -m bench.tracing_bench [--rounds 5] [--duration 5] [--warmup 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bench.pipeline import systems
from bench.pipeline.load import ensure_wrk, run_wrk, write_script
from bench.pipeline.tandem_system import tandem_system
from tests.tracing.receiver import OtlpReceiver

CONFIGS = {
    "off": (),
    "on 100%": ("--traces-sampler", "traceidratio", "--traces-sampler-arg", "1.0"),
    "on 1%": ("--traces-sampler", "traceidratio", "--traces-sampler-arg", "0.01"),
    # A receiver that accepts the connection and never answers: the export thread waits out
    # --otlp-timeout while the queue fills and drops.
    "on 100%, receiver hangs": ("--traces-sampler", "traceidratio", "--traces-sampler-arg",
                                "1.0", "--otlp-timeout", "30"),
}


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
    (begin, a traceparent and a hop per container, end) and the export thread's work on
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
            trace = tracer.begin(None, None, perf())
            trace.endpoint, trace.host = "bench", "127.0.0.1:8080"
            trace.variant, trace.instance_id = "AllTraffic", "i-0123456789abcdef0"
            for i in range(3):
                trace.propagation_headers()
                trace.hop(names[i], urls[i], perf(), perf(), 200)
            trace.status = 200
            tracer.end(trace, perf())
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.tracing_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--pin", default="none", help="CPU list for wrk (taskset -c) or none")
    p.add_argument("--no-hang", action="store_true",
                   help="leave out the hung-receiver configuration (a shorter run)")
    p.add_argument("--skip-encoder", action="store_true",
                   help="leave out the encoder and in-process micro-benchmarks")
    p.add_argument("--baseline-tree", type=Path, default=None,
                   help="a checkout whose tandem package serves the tracing configurations "
                        "once more, as 'before'")
    p.add_argument("--receiver", choices=("decode", "discard"), default="decode",
                   help="decode: the receiver parses every body with opentelemetry-proto, on "
                        "the same CPUs as the router (a collector beside tandem); discard: it "
                        "answers without parsing (a collector elsewhere: tandem's cost alone)")
    args = p.parse_args(argv)
    configs = {name: flags for name, flags in CONFIGS.items()
               if not (args.no_hang and "hangs" in name)}
    # Every server runs this checkout's package (PYTHONPATH): the venv's ``tandem`` script may
    # name another checkout's interpreter and with it that checkout's package.
    here = Path(__file__).resolve().parents[1]
    trees: dict[str, Path | None] = {name: here for name in configs}
    if args.baseline_tree is not None:
        for name, flags in list(configs.items()):
            if name.startswith("on") and "hangs" not in name:
                configs[f"before: {name}"] = flags
                trees[f"before: {name}"] = args.baseline_tree.resolve()
    pin = None if args.pin == "none" else args.pin
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
    hung = OtlpReceiver(mode="hang").start()
    load_before = os.getloadavg()
    results: dict[str, dict[int, list[tuple[float, float]]]] = {
        name: {1: [], 16: []} for name in configs}
    p99: dict[str, list[float]] = {name: [] for name in configs}
    # The router process's CPU per request at c=16: what tracing costs, less sensitive than
    # latency to what else the machine runs.
    cpu: dict[str, list[float]] = {name: [] for name in configs}
    # Of it, the threads other than the busiest one (the event loop's): the export thread.
    others: dict[str, list[float]] = {name: [] for name in configs}
    with tempfile.TemporaryDirectory(prefix="tandem-tracing-bench-") as tmp:
        work = Path(tmp)
        script = write_script(work)
        containers = systems.command_containers(work)
        running = []
        try:
            for name, flags in configs.items():
                target = hung if "hangs" in name else receiver
                extra = flags if not flags else (
                    "--otlp-endpoint", target.url, "--trace-export-interval", "1", *flags)
                system = tandem_system(work, f"tandem tracing {name}", containers,
                                       tree=trees[name], flags=tuple(extra))
                system.start()
                running.append((name, system, system.url))
            for r in range(args.rounds):
                # Each round starts one configuration later, so none is always measured first.
                shift = r % len(running)
                for name, system, url in running[shift:] + running[:shift]:
                    for c in (1, 16):
                        run_wrk(wrk, url, script, concurrency=c, seconds=args.warmup, pin=pin)
                        pid = system.extra["server_pid"]
                        assert isinstance(pid, int)
                        before = systems.process_cpu_s(pid)
                        threads = _thread_cpu_s(pid)
                        res = run_wrk(wrk, url, script, concurrency=c, seconds=args.duration,
                                      pin=pin)
                        used = systems.process_cpu_s(pid) - before
                        per_thread = sorted((t - threads.get(k, 0.0)
                                             for k, t in _thread_cpu_s(pid).items()),
                                            reverse=True)
                        assert res.errors == 0, f"{name} c={c}: {res.errors} errors"
                        results[name][c].append((res.p50_ms, res.throughput))
                        if c == 1:
                            p99[name].append(res.p99_ms)
                        if c == 16 and res.requests:
                            cpu[name].append(used / res.requests * 1e6)
                            others[name].append(sum(per_thread[1:]) / res.requests * 1e6)
                print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
        finally:
            for _name, system, _url in running:
                system.stop()
    received = (f"receiver got {len(receiver.spans())} spans" if args.receiver == "decode"
                else f"receiver discarded {len(receiver.statuses)} export requests unparsed")
    receiver.close()
    hung.close()
    load_after = os.getloadavg()
    base_p50 = statistics.median(p for p, _ in results["off"][1])
    base_rps = statistics.median(t for _, t in results["off"][16])
    print(f"load average before {load_before[0]:.2f} {load_before[1]:.2f}, after "
          f"{load_after[0]:.2f} {load_after[1]:.2f}; {os.cpu_count()} CPUs; "
          f"{args.rounds} rounds x {args.duration:.0f} s; {received}")
    base_cpu = statistics.median(cpu["off"])
    print("| tracing | c=1 p50 (ms) | vs off | c=1 p99 (ms) | c=16 req/s | vs off | "
          "router CPU µs/request (c=16) | vs off | of it, other threads |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in configs:
        p50 = statistics.median(p for p, _ in results[name][1])
        rps = statistics.median(t for _, t in results[name][16])
        us = statistics.median(cpu[name])
        tail = statistics.median(p99[name])
        print(f"| {name} | {p50:.3f} | {100 * (p50 / base_p50 - 1):+.1f}% | {tail:.2f} | "
              f"{rps:.0f} | "
              f"{100 * (rps / base_rps - 1):+.1f}% | {us:.0f} | "
              f"{100 * (us / base_cpu - 1):+.1f}% | {statistics.median(others[name]):.0f} |")
    # The same figure as a ratio to off's in the same round, then the median of those: the
    # machine's load changes less within a round than across the run.
    paired = {name: statistics.median(c / o for c, o in zip(cpu[name], cpu["off"], strict=True))
              for name in configs if name != "off"}
    print("router CPU per request against off's in the same round, median of the rounds: " +
          ", ".join(f"{name} {100 * (ratio - 1):+.1f}%" for name, ratio in paired.items()))
    for name in configs:
        print(f"{name}: c=1 p50 per round {[round(p, 3) for p, _ in results[name][1]]}; "
              f"c=16 req/s per round {[round(t) for _, t in results[name][16]]}; "
              f"CPU µs/request per round {[round(u) for u in cpu[name]]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
