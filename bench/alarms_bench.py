"""Alarm evaluation: one pass over 1,000 alarms on a store of 10,000 series (target <= 1 s).

Run: ``.venv/bin/python -m bench.alarms_bench`` (figures go to docs/performance.md).

10,000 series of ``AWS/SageMaker`` metrics hold 40 minutes of one-minute rows in a real
SQLite store. 1,000 alarms watch 1,000 of them with a mix of configurations (N 1-5, M <= N,
Sum/Average/Maximum and 10% p99, periods 60 and 300 s, every TreatMissingData). Each pass is
``AlarmService.evaluate`` for the next minute, everything included: the reads, the
evaluation, the state changes, their history and their store writes. The baseline in the
same run is the bare store reads the pass has to make (``read_buckets`` per alarm).
"""

from __future__ import annotations

import asyncio
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

from tandem.clock import ManualClock
from tandem.store.sqlite import SQLiteStore
from tandem.telemetry.alarms import AlarmInput, AlarmService, MetricSource, evaluation_range
from tandem.telemetry.metrics import Metric, MetricFlusher, MetricQueries, MetricRegistry

SERIES = 10_000
ALARMS = 1_000
MINUTES = 40
PASSES = 7
T0 = 1_700_000_040.0
METRICS = ("Invocations", "Invocation5XXErrors", "ModelLatency", "InvocationsPerInstance")


def _series_dims(i: int) -> dict[str, str]:
    return {"EndpointName": f"ep-{i // 4:05d}", "VariantName": "AllTraffic"}


def _fill(store: SQLiteStore, clock: ManualClock) -> MetricRegistry:
    rng = random.Random(7)
    registry = MetricRegistry(clock=clock)
    flusher = MetricFlusher(registry, store.metrics, interval=5, clock=clock)
    handles = [registry.series("AWS/SageMaker", METRICS[i % 4], _series_dims(i))
               for i in range(SERIES)]  # fmt: skip
    for minute in range(MINUTES):
        ts = T0 + minute * 60
        for i, h in enumerate(handles):
            if (i + minute) % 7 == 0:
                continue  # some minutes have no data
            for _ in range(3):
                h.record(rng.uniform(0, 10), ts + 5)
        flusher.flush()
    return registry


def _alarms() -> list[AlarmInput]:
    rng = random.Random(11)
    out = []
    for k in range(ALARMS):
        i = k * (SERIES // ALARMS)
        n = rng.randint(1, 5)
        percentile = k % 10 == 0
        out.append(AlarmInput(
            alarm_name=f"alarm-{k:04d}", namespace="AWS/SageMaker", metric_name=METRICS[i % 4],
            dimensions=tuple(_series_dims(i).items()),
            statistic=None if percentile else rng.choice(["Sum", "Average", "Maximum"]),
            extended_statistic="p99" if percentile else None,
            period=300 if k % 5 == 0 else 60, evaluation_periods=n,
            datapoints_to_alarm=rng.randint(1, n), threshold=rng.uniform(3, 12),
            comparison_operator=rng.choice(["GreaterThanThreshold", "LessThanThreshold"]),
            treat_missing_data=rng.choice(["missing", "notBreaching", "breaching", "ignore"]),
        ))  # fmt: skip
    return out


async def _run(data_dir: Path) -> dict[str, float]:
    clock = ManualClock(T0)
    store = SQLiteStore(data_dir)
    t = time.perf_counter()
    _fill(store, clock)
    fill_s = time.perf_counter() - t
    clock.now = T0 + 20 * 60
    queries = MetricQueries(store.metrics, clock=clock)
    service = AlarmService(store.alarms, MetricSource(store.metrics, queries), clock=clock)
    await service.start(evaluate=False)
    alarms = _alarms()
    for alarm in alarms:
        await service.put_metric_alarm(alarm)
    passes, changes = [], []
    for _ in range(PASSES):
        clock.advance(60)
        t = time.perf_counter()
        changes.append(await service.evaluate())
        passes.append(time.perf_counter() - t)
    # Baseline: the reads alone, the same ranges.
    reads = []
    for _ in range(3):
        minute = int(clock.now // 60 * 60)
        t = time.perf_counter()
        for a in alarms:
            period = a.period or 60
            store.metrics.read_buckets(
                Metric(a.namespace or "", a.metric_name or "", tuple(sorted(a.dimensions))),
                None, 60, minute - evaluation_range(a.evaluation_periods) * period, minute,
                sketches=a.extended_statistic is not None,
            )  # fmt: skip
        reads.append(time.perf_counter() - t)
    await service.stop()
    store.close()
    return {
        "fill_s": fill_s,
        "pass_median_s": statistics.median(passes),
        "pass_best_s": min(passes),
        "pass_worst_s": max(passes),
        "changes_first": changes[0],
        "changes_median": statistics.median(changes),
        "reads_best_s": min(reads),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        r = asyncio.run(_run(Path(tmp)))
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"store: {SERIES} series x {MINUTES} min (filled in {r['fill_s']:.1f} s)")
    print(f"one pass of {ALARMS} alarms: median {r['pass_median_s'] * 1e3:.0f} ms, "
          f"best {r['pass_best_s'] * 1e3:.0f} ms, worst {r['pass_worst_s'] * 1e3:.0f} ms "
          f"({r['pass_median_s'] / ALARMS * 1e6:.0f} µs per alarm per minute)")  # fmt: skip
    print(f"state changes: {r['changes_first']} in the first pass, "
          f"median {r['changes_median']:.0f}")  # fmt: skip
    print(f"baseline, the bare store reads of a pass: best {r['reads_best_s'] * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
