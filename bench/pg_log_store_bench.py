"""The log store on PostgreSQL beside SQLite's, measured the same way in one run.

Run: ``.venv/bin/python -m bench.pg_log_store_bench`` (``--append-events``, ``--events`` to
scale; ``--dsn`` or ``TANDEM_BENCH_POSTGRES`` for the server, by default the test role on
127.0.0.1:5432; a scratch database is made and dropped).

Figures, each for SQLite (the baseline) and PostgreSQL:

- append: PutLogEvents-shaped ``store.append`` calls of 1,000 events to one stream, one
  writer, events/s. Both commit as durably as each other (SQLite WAL with synchronous=NORMAL,
  PostgreSQL ``synchronous_commit = off``: a killed tandem loses nothing, an OS crash the last
  fraction of a second).
- filter: FilterLogEvents (the logs service) for a term in 1% of 1,000,000 events of a group,
  every page to the end, with the API's default page (10,000) and with pages of 1,000.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tandem.store.postgres import PostgresDatabase, PostgresLogStore
from tandem.store.sqlite.database import Database
from tandem.store.sqlite.logs import SQLiteLogStore
from tandem.telemetry.logs import EventBatch, LogService
from tandem.telemetry.logs.store import LogStore

DEFAULT_DSN = "postgresql://tandem_test:tandem_test@127.0.0.1:5432/postgres"
BASE = 1_700_000_000_000
TERM = "OutOfMemoryError"


@contextmanager
def _scratch_database(admin_dsn: str) -> Iterator[str]:
    import psycopg

    name = f"tandem_bench_{secrets.token_hex(6)}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(admin_dsn)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _message(n: int) -> str:
    word = TERM if n % 100 == 0 else "served"  # 1% of events carry the term
    return f"2024-01-01 INFO worker-{n % 7} request {n} {word} in {n % 97} ms"


def bench_append(store: LogStore, events: int) -> float:
    store.ensure_stream("/append", "s", BASE)
    batches = [
        [(BASE + n, _message(n)) for n in range(start, start + 1000)]
        for start in range(0, events, 1000)
    ]
    started = time.perf_counter()
    for batch in batches:
        store.append([EventBatch("/append", "s", batch)], BASE, create_missing=False)
    elapsed = time.perf_counter() - started
    return len(batches) * 1000 / elapsed


def populate(store: LogStore, events: int, streams: int = 10) -> int:
    """``events`` in group /bench over ``streams`` streams; the count that hold the term."""
    per_call = 100_000
    for start in range(0, events, per_call):
        batches: dict[str, list[tuple[int, str]]] = {}
        for n in range(start, min(start + per_call, events)):
            batches.setdefault(f"stream-{n % streams}", []).append((BASE + n, _message(n)))
        store.append([EventBatch("/bench", s, evs) for s, evs in batches.items()],
                     BASE + start, create_missing=True)
    return len(range(0, events, 100))


async def bench_filter(store: LogStore, matches: int, page: int | None) -> tuple[float, int]:
    """Median seconds (of 3) to read every page; the number of pages."""
    logs = LogService(store, sweep_interval=None)
    await logs.start()
    times, pages = [], 0
    for _ in range(3):
        started = time.perf_counter()
        token, found, pages = None, 0, 0
        while True:
            result = await logs.filter_log_events(
                log_group_name="/bench", filter_pattern=TERM, next_token=token, limit=page)
            found += len(result.events)
            pages += 1
            token = result.next_token
            if token is None:
                break
        times.append(time.perf_counter() - started)
        assert found == matches, (found, matches)
    await logs.stop()
    return statistics.median(times), pages


def run(name: str, open_store: Callable[[], tuple[LogStore, Callable[[], None]]],
        append_events: int, events: int) -> dict[str, float]:
    store, close = open_store()
    figures = {"append_events_per_s": bench_append(store, append_events)}
    started = time.perf_counter()
    matches = populate(store, events)
    figures["populate_events_per_s"] = events / (time.perf_counter() - started)
    for page in (None, 1000):
        seconds, pages = asyncio.run(bench_filter(store, matches, page))
        figures[f"filter_s_page_{page or 10_000}"] = seconds
        figures[f"filter_pages_page_{page or 10_000}"] = pages
    close()
    print(f"{name:<10} append (1,000-event calls) {figures['append_events_per_s']:>10,.0f} "
          f"events/s   populate {figures['populate_events_per_s']:>8,.0f} events/s   "
          f"1% term over {events:,}, every page: "
          f"{figures['filter_s_page_10000'] * 1000:,.0f} ms "
          f"({figures['filter_pages_page_10000']:.0f} pages of 10,000), "
          f"{figures['filter_s_page_1000'] * 1000:,.0f} ms "
          f"({figures['filter_pages_page_1000']:.0f} pages of 1,000)", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--append-events", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dsn", default=os.environ.get("TANDEM_BENCH_POSTGRES", DEFAULT_DSN))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        def sqlite() -> tuple[LogStore, Callable[[], None]]:
            db = Database(Path(tmp) / "logs.db")
            return SQLiteLogStore(db), db.close

        run("SQLite", sqlite, args.append_events, args.events)
    with _scratch_database(args.dsn) as dsn:
        def postgres() -> tuple[LogStore, Callable[[], None]]:
            db = PostgresDatabase(dsn)
            return PostgresLogStore(db), db.close

        run("PostgreSQL", postgres, args.append_events, args.events)


if __name__ == "__main__":
    main()
