"""Logs benchmarks: capture throughput, a term filter over 1M events, one page of a 1M stream.

Run: ``.venv/bin/python -m bench.logs_bench`` (``--seconds``, ``--events`` to scale).
Each figure is printed beside a baseline measured in the same run on the same machine:
reading the same child's pipe without storing anything, and a plain Python substring scan
over the same messages held in memory.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tandem.store.sqlite.database import Database
from tandem.store.sqlite.logs import SQLiteLogStore
from tandem.telemetry.logs import EventBatch, LogService, StreamCapture

_CHILD = """
import sys, time
seconds = float(sys.argv[1])
w = sys.stdout.write
end = time.monotonic() + seconds
i = 0
while time.monotonic() < end:
    w("".join(f"2024-01-01T00:00:00 INFO worker-3 request {n} served in 12 ms\\n"
              for n in range(i, i + 1000)))
    i += 1000
"""


async def _spawn(seconds: float) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, str(seconds),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )


async def bench_pipe_baseline(seconds: float) -> float:
    proc = await _spawn(seconds)
    assert proc.stdout is not None
    lines = 0
    started = time.perf_counter()
    while chunk := await proc.stdout.read(256 * 1024):
        lines += chunk.count(b"\n")
    await proc.wait()
    return lines / (time.perf_counter() - started)


async def bench_capture(seconds: float, directory: Path) -> tuple[float, int]:
    db = Database(directory / "capture.db")
    store = SQLiteLogStore(db)
    logs = LogService(store, sweep_interval=None)
    await logs.start()
    proc = await _spawn(seconds)
    assert proc.stdout is not None
    started = time.perf_counter()
    lines = await StreamCapture(logs, "/bench", "capture").run(proc.stdout)
    await proc.wait()
    await logs.flush()  # to disk: the figure counts committed lines only
    elapsed = time.perf_counter() - started
    stored = store.last_seq()
    await logs.stop()
    db.close()
    assert stored == lines, (stored, lines)
    return lines / elapsed, lines


def _populate(store: SQLiteLogStore, events: int, streams: int) -> list[str]:
    messages = []
    base = 1_700_000_000_000
    per_batch = 100_000
    for start in range(0, events, per_batch):
        batches: dict[str, list[tuple[int, str]]] = {}
        for n in range(start, min(start + per_batch, events)):
            # One event in 10,000 carries the rare term, so a filter scans the whole group.
            word = "OutOfMemoryError" if n % 10_000 == 0 else "served"
            message = f"2024-01-01 INFO worker-{n % 7} request {n} {word} in {n % 97} ms"
            messages.append(message)
            batches.setdefault(f"stream-{n % streams}", []).append((base + n, message))
        store.append(
            [EventBatch("/bench", s, evs) for s, evs in batches.items()], base + start,
            create_missing=True,
        )
    return messages


async def _timed(repeats: int, fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def bench_queries(events: int, directory: Path) -> dict[str, float]:
    db = Database(directory / "query.db")
    store = SQLiteLogStore(db)
    started = time.perf_counter()
    messages = _populate(store, events, streams=10)
    populate_s = time.perf_counter() - started
    single = [(1_700_000_000_000 + n, m) for n, m in enumerate(messages)]
    store.append([EventBatch("/one", "big", single)], 1, create_missing=True)
    logs = LogService(store, sweep_interval=None)
    await logs.start()
    figures: dict[str, float] = {"populate_events_per_s": events / populate_s}

    started = time.perf_counter()
    naive = [m for m in messages if "OutOfMemoryError" in m]
    figures["baseline_python_scan_s"] = time.perf_counter() - started

    async def term_filter() -> None:
        result = await logs.filter_log_events(
            log_group_name="/bench", filter_pattern="OutOfMemoryError"
        )
        assert len(result.events) == len(naive) and result.next_token is None

    figures["term_filter_s"] = await _timed(3, term_filter)

    async def phrase_filter() -> None:
        result = await logs.filter_log_events(
            log_group_name="/bench", filter_pattern='"request 99999 "'
        )
        assert len(result.events) == (1 if events > 99_999 else 0)

    figures["phrase_filter_s"] = await _timed(3, phrase_filter)

    async def newest_page() -> None:
        page = await logs.get_log_events(log_group_name="/one", log_stream_name="big", limit=1000)
        assert len(page.events) == 1000

    head = await logs.get_log_events(
        log_group_name="/one", log_stream_name="big", limit=1000, start_from_head=True
    )
    middle_token = head.next_forward_token
    for _ in range(events // 2000):
        page = await logs.get_log_events(log_group_name="/one", log_stream_name="big",
                                         limit=1000, start_from_head=True,
                                         next_token=middle_token)
        middle_token = page.next_forward_token

    async def middle_page() -> None:
        page = await logs.get_log_events(log_group_name="/one", log_stream_name="big",
                                         limit=1000, start_from_head=True,
                                         next_token=middle_token)
        assert len(page.events) == 1000

    figures["page_newest_s"] = await _timed(20, newest_page)
    figures["page_middle_s"] = await _timed(20, middle_page)

    def raw_page() -> None:
        store.read_stream("/one", "big", start=None, end=None, after=None, before=None,
                          limit=1000, newest_first=True)

    started = time.perf_counter()
    for _ in range(20):
        raw_page()
    figures["page_store_only_s"] = (time.perf_counter() - started) / 20
    await logs.stop()
    db.close()
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        baseline = await bench_pipe_baseline(args.seconds)
        rate, lines = await bench_capture(args.seconds, directory)
        print(f"pipe read only (baseline)        {baseline:12,.0f} lines/s")
        print(f"capture to disk, {args.seconds:.0f} s sustained   {rate:12,.0f} lines/s "
              f"({lines:,} lines, {rate / baseline:.0%} of baseline)")
        figures = await bench_queries(args.events, directory)
    print(f"populate {args.events:,} events (store.append) {figures['populate_events_per_s']:,.0f}"
          " events/s")
    print(f"python substring scan (baseline) {figures['baseline_python_scan_s'] * 1000:9.1f} ms")
    print(f"term filter, {args.events:,} events      {figures['term_filter_s'] * 1000:9.1f} ms")
    print(f"quoted-phrase filter              {figures['phrase_filter_s'] * 1000:9.1f} ms")
    print(f"1,000-event page, newest          {figures['page_newest_s'] * 1000:9.2f} ms")
    print(f"1,000-event page, middle (token)  {figures['page_middle_s'] * 1000:9.2f} ms")
    print(f"1,000-event page, store only      {figures['page_store_only_s'] * 1000:9.2f} ms")


if __name__ == "__main__":
    asyncio.run(main())
