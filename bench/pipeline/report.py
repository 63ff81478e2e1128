"""Render the results: one table of every system and concurrency, then the targets, each
checked against the figures of the same run (PASS/MISS, never rounded in our favour)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from .load import LoadResult

__all__ = ["SystemResult", "render_table", "check_targets"]

FLOOR_B = "floor B (aiohttp router)"
TANDEM_CMD = "tandem (command containers)"
TANDEM_RT = "tandem (handler runtime)"
RAY = "Ray Serve"
BENTOML = "BentoML"


@dataclasses.dataclass
class SystemResult:
    name: str
    loads: dict[int, LoadResult] = dataclasses.field(default_factory=dict)
    # CPU microseconds per request at each concurrency: the whole tree, and the front
    # process alone (the router, for the routed systems)
    cpu_us: dict[int, float] = dataclasses.field(default_factory=dict)
    front_cpu_us: dict[int, float] = dataclasses.field(default_factory=dict)
    startup_s: float | None = None
    idle_rss_mb: float | None = None
    processes: int | None = None
    error: str | None = None


def render_table(results: Sequence[SystemResult]) -> str:
    head = (f"{'system':30s} {'c':>3s} {'p50 ms':>8s} {'p90 ms':>8s} {'p99 ms':>8s} "
            f"{'req/s':>8s} {'errors':>7s} {'CPU us/req':>10s} {'idle RSS MB':>12s} "
            f"{'start s':>8s}")
    lines = [head, "-" * len(head)]
    for r in results:
        if r.error is not None:
            lines.append(f"{r.name:30s} {r.error}")
            continue
        extra = (f"{r.idle_rss_mb:8.0f} ({r.processes}p)" if r.idle_rss_mb is not None
                 else f"{'':>12s}")
        start = f"{r.startup_s:8.2f}" if r.startup_s is not None else ""
        for i, (c, load) in enumerate(sorted(r.loads.items())):
            tail = f" {extra:>12s} {start}" if i == 0 else ""
            lines.append(f"{r.name if i == 0 else '':30s} {c:3d} {load.p50_ms:8.2f} "
                         f"{load.p90_ms:8.2f} {load.p99_ms:8.2f} {load.throughput:8.0f} "
                         f"{load.errors:7d} {r.cpu_us.get(c, 0.0):10.0f}{tail}")
    return "\n".join(lines)


def _load(by_name: Mapping[str, SystemResult], name: str, c: int) -> LoadResult | None:
    r = by_name.get(name)
    return None if r is None or r.error else r.loads.get(c)


def check_targets(results: Sequence[SystemResult],
                  overhead: Mapping[str, float] | None) -> list[str]:
    """One line per target: PASS/MISS/n/a, the figures and the ratio."""
    by_name = {r.name: r for r in results}
    out: list[str] = []

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    cmd1, cmd16 = _load(by_name, TANDEM_CMD, 1), _load(by_name, TANDEM_CMD, 16)
    b1, b16 = _load(by_name, FLOOR_B, 1), _load(by_name, FLOOR_B, 16)
    if cmd1 and b1:
        ratio = cmd1.p50_ms / b1.p50_ms
        out.append(f"{verdict(ratio <= 1.1)} tandem p50 at c=1 <= 1.1 x floor B: "
                   f"{cmd1.p50_ms:.2f} vs {b1.p50_ms:.2f} ms = {ratio:.2f} x")
    if cmd16 and b16:
        ratio = cmd16.throughput / b16.throughput
        out.append(f"{verdict(ratio >= 0.9)} tandem req/s at c=16 >= 0.9 x floor B: "
                   f"{cmd16.throughput:.0f} vs {b16.throughput:.0f} = {ratio:.2f} x")
        router_b = by_name[FLOOR_B].front_cpu_us.get(16)
        for r in results:
            router_t = r.front_cpu_us.get(16)
            if r.name.startswith("tandem") and router_t and router_b:
                out.append(f"info router process CPU per request at c=16: {r.name} "
                           f"{router_t:.0f} us, floor B {router_b:.0f} us = "
                           f"{router_t / router_b:.2f} x")
    for peer in (RAY, BENTOML):
        p16 = _load(by_name, peer, 16)
        if cmd16 and p16:
            ratio = cmd16.throughput / max(p16.throughput, 1e-9)
            ok = ratio >= 10 and cmd16.errors == 0
            out.append(f"{verdict(ok)} tandem req/s at c=16 >= 10 x {peer}, zero errors: "
                       f"{cmd16.throughput:.0f} vs {p16.throughput:.0f} = {ratio:.1f} x, "
                       f"tandem errors {cmd16.errors} ({peer} errors {p16.errors})")
        else:
            reason = by_name[peer].error if peer in by_name else "not run"
            out.append(f"n/a  tandem vs {peer}: {reason}")
    rt1, rt16 = _load(by_name, TANDEM_RT, 1), _load(by_name, TANDEM_RT, 16)
    if rt1 and rt16 and cmd1 and cmd16:
        lat, thr = rt1.p50_ms / cmd1.p50_ms, cmd16.throughput / rt16.throughput
        out.append(f"{verdict(lat <= 1.2 and thr <= 1.2)} handler runtime within 1.2 x command "
                   f"containers: p50 c=1 {lat:.2f} x, req/s c=16 {1 / thr:.2f} x")
    if overhead:
        p50, p99 = overhead["overhead_p50_us"], overhead["overhead_p99_us"]
        out.append(f"{verdict(p50 <= 500 and p99 <= 2000)} OverheadLatency at c=1 "
                   f"(tandem's metrics): p50 {p50:.0f} us <= 500, p99 {p99:.0f} us <= 2000")
        gap = overhead["disagreement"]
        out.append(f"{verdict(gap <= 0.10)} honesty at c=1 ({overhead['requests']:.0f} requests, "
                   f"{overhead['source']}): client p50 {overhead['client_p50_us']:.0f} us - "
                   f"sum ContainerLatency p50 {overhead['containers_us']:.0f} us = "
                   f"{overhead['derived_us']:.0f} us vs OverheadLatency p50 {p50:.0f} us "
                   f"({gap:.0%} apart; ModelLatency p50 {overhead['model_p50_us']:.0f} us)")
    return out
