"""Per-figure statistics, server shares, the issue's targets, and the markdown table: pure."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

__all__ = ["TARGETS", "PG_TARGETS", "Measured", "Summary", "summarize", "render"]

TARGETS = ("moto", "tandem", "stub-moto", "stub-tandem")
# With --postgres: tandem on a PostgreSQL store, and the stub replaying its bodies.
PG_TARGETS = ("tandem-pg", "stub-tandem-pg")
SPEEDUP = 10.0  # tandem's server share must be at least this many times smaller than moto's


@dataclass
class Measured:
    """Seconds per call for each target, and each process's CPU seconds per call."""

    key: str
    title: str
    in_targets: bool
    items_per_call: int
    item: str
    times: dict[str, list[float]]
    cpu: dict[str, float]


@dataclass
class Summary:
    measured: Measured
    p50: dict[str, float]
    p90: dict[str, float]
    rate: dict[str, float]  # items per second over all calls (0 when the figure has no items)
    moto_share: float  # moto p50 minus the p50 of the stub replaying moto's bodies
    tandem_share: float
    ratio: float  # moto_share / tandem_share; inf when tandem's share is not measurable
    pg_share: float | None = None  # tandem-pg p50 minus its stub's, when it ran

    @property
    def tenfold(self) -> bool:
        return self.ratio >= SPEEDUP

    @property
    def under_client(self) -> bool:
        return self.tandem_share < self.p50["stub-tandem"]


def _p90(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=10)[-1] if len(xs) >= 2 else xs[0]


def summarize(m: Measured) -> Summary:
    p50 = {t: statistics.median(xs) for t, xs in m.times.items()}
    p90 = {t: _p90(xs) for t, xs in m.times.items()}
    rate = {t: m.items_per_call * len(xs) / sum(xs) if m.items_per_call else 0.0
            for t, xs in m.times.items()}
    moto_share = p50["moto"] - p50["stub-moto"]
    tandem_share = p50["tandem"] - p50["stub-tandem"]
    ratio = moto_share / tandem_share if tandem_share > 0 else math.inf
    pg_share = p50["tandem-pg"] - p50["stub-tandem-pg"] if "tandem-pg" in p50 else None
    return Summary(m, p50, p90, rate, moto_share, tandem_share, ratio, pg_share)


def _ms(s: float) -> str:
    ms = s * 1e3
    if abs(ms) >= 1000:
        return f"{ms:,.0f}"
    return f"{ms:.1f}" if abs(ms) >= 10 else f"{ms:.2f}"


def _ratio(r: float) -> str:
    return "inf (tandem share <= 0)" if math.isinf(r) else f"{r:,.0f}x" if r >= 10 else f"{r:.1f}x"


def render(summaries: list[Summary]) -> str:
    """Two tables: time per call (p50 / p90, ms) for the four targets, then shares and targets."""
    lines = [
        "| figure | calls | moto p50 / p90 | tandem p50 / p90 | stub-of-moto p50 / p90 "
        "| stub-of-tandem p50 / p90 | moto rate | tandem rate |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        m = s.measured
        cells = [f"{_ms(s.p50[t])} / {_ms(s.p90[t])}" for t in TARGETS]
        rates = ([f"{s.rate[t]:,.0f} {m.item}/s" for t in ("moto", "tandem")]
                 if m.items_per_call else ["", ""])
        lines.append(f"| {m.title} | {len(m.times['tandem'])} | " + " | ".join(cells + rates)
                     + " |")
    lines += [
        "",
        "| figure | moto share | tandem share | moto/tandem share | share 10x smaller "
        "| tandem share < client | server CPU per call: moto / tandem |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        m = s.measured
        holds = [("yes" if s.tenfold else "**no**"), ("yes" if s.under_client else "**no**")]
        if not m.in_targets:
            holds = [f"({h}, not a target)" for h in holds]
        lines.append(
            f"| {m.title} | {_ms(s.moto_share)} | {_ms(s.tandem_share)} | {_ratio(s.ratio)} | "
            + " | ".join(holds)
            + f" | {_ms(m.cpu['moto'])} / {_ms(m.cpu['tandem'])} |"
        )
    if any(s.pg_share is not None for s in summaries):
        lines += ["", render_postgres(summaries)]
    return "\n".join(lines)


def render_postgres(summaries: list[Summary]) -> str:
    """tandem on SQLite beside tandem on PostgreSQL (same run, same calls): p50 / p90 (ms),
    rates, each one's server share and CPU per call."""
    lines = [
        "| figure | tandem SQLite p50 / p90 | tandem PostgreSQL p50 / p90 | stub-of-PostgreSQL "
        "p50 / p90 | SQLite rate | PostgreSQL rate | share: SQLite / PostgreSQL "
        "| server CPU per call: SQLite / PostgreSQL |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        m = s.measured
        if s.pg_share is None:
            continue
        cells = [f"{_ms(s.p50[t])} / {_ms(s.p90[t])}" for t in ("tandem", *PG_TARGETS)]
        rates = ([f"{s.rate[t]:,.0f} {m.item}/s" for t in ("tandem", "tandem-pg")]
                 if m.items_per_call else ["", ""])
        lines.append(
            f"| {m.title} | " + " | ".join(cells + rates)
            + f" | {_ms(s.tandem_share)} / {_ms(s.pg_share)}"
            + f" | {_ms(m.cpu['tandem'])} / {_ms(m.cpu['tandem-pg'])} |"
        )
    return "\n".join(lines)
