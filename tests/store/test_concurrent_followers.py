"""Writers whose transactions overlap, against the readers that follow "everything after mark
N": the log tail (``events_since`` from the last seq seen) and the metric rollups
(``changed_windows`` from the stored mark, through ``MetricRollups``).

Hypothesis draws each writer's batches and the interleaving. A writer's transaction runs up to
its commit and is held there while other writers begin (and wait, or run and are held too),
commit, and the follower reads; then it commits. On PostgreSQL each writer is a server of its
own (its own pool); on SQLite they are threads sharing the file's one writer, as a server's
request handlers do. Whatever the order, what the follower collected must equal exactly a
naive recomputation from everything the writers committed: every event once and none missed,
every rollup window merged from the final rows of every writer.

These examples are the shapes the example-based tests beside them pin by hand
(``test_postgres_logs.py``, ``test_metric_store_contract.py``): the trap of numbers handed out
in call order but committed in another.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tandem.clock import ManualClock
from tandem.store.sqlite.database import Database
from tandem.store.sqlite.logs import SQLiteLogStore
from tandem.store.sqlite.metrics import SQLiteMetricStore
from tandem.telemetry.logs.store import EventBatch, LogStore
from tandem.telemetry.metrics import BucketRow, Metric, MetricRollups, MetricStore, SeriesKey
from tandem.telemetry.metrics.sketch import encode_bins
from tests.postgres import empty_tables

WRITERS = 3
DAY_MS = 86_400_000
T = 1_700_000_100 // 300 * 300  # a 5-minute boundary
_EXAMPLES = itertools.count()
_current = threading.local()  # the _Turn a writer thread is running, if any


@dataclass
class _Turn:
    """One writer's operation: its transaction is held at its commit point until released."""

    op: Callable[[], None]
    after: _Turn | None = None  # the writer's previous turn, which this one waits for
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    pid: int | None = None  # the PostgreSQL backend running the transaction, once it runs
    error: BaseException | None = None

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        _current.turn = self
        try:
            # One batch of a writer at a time, as a server flushes (its flusher's lock): a
            # batch begun while the previous one still waits for a lock waits for it.
            if self.after is not None:
                self.after.done.wait()
            self.op()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            _current.turn = None
            self.done.set()

    def hold(self) -> None:
        """Called in the transaction, after the operation's statements, before the commit."""
        if not self.held.is_set():
            self.held.set()
            if not self.release.wait(30):
                raise TimeoutError("never released")

    @property
    def holding(self) -> bool:
        return self.held.is_set() and not self.release.is_set()


def _turn() -> _Turn | None:
    return getattr(_current, "turn", None)


class _HeldSQLite(Database):
    """The SQLite database whose writes, made for a turn, are held before they commit (the
    file's one writer thread waits, so every later write queues behind it)."""

    def submit(self, fn):  # type: ignore[no-untyped-def]
        turn = _turn()
        if turn is None:
            return super().submit(fn)

        def held(conn):  # type: ignore[no-untyped-def]
            value = fn(conn)
            turn.hold()
            return value

        return super().submit(held)


def _held_postgres(dsn: str) -> Any:
    from tandem.store.postgres import PostgresDatabase

    class HeldPostgres(PostgresDatabase):
        def transaction(self, fn):  # type: ignore[no-untyped-def]
            turn = _turn()
            if turn is None:
                return super().transaction(fn)

            def held(conn):  # type: ignore[no-untyped-def]
                turn.pid = conn.info.backend_pid
                value = fn(conn)
                turn.hold()
                return value

            return super().transaction(held)

    return HeldPostgres(dsn, max_size=2)


class _Rig:
    """Databases for WRITERS writers and a follower, and how to tell a writer that waits."""

    def __init__(self, backend: str, tmp_path: Path, dsn: str | None) -> None:
        self.backend = backend
        self.dsn = dsn
        self.closers: list[Callable[[], None]] = []
        self._admin: Any = None
        if dsn is not None:
            import psycopg

            empty_tables(dsn)
            self._admin = psycopg.connect(dsn, autocommit=True)
            self.closers.append(self._admin.close)
        else:
            self.sqlite = _HeldSQLite(tmp_path / "store.db")
            self.closers.append(self.sqlite.close)

    def databases(self) -> list[Any]:
        """One per writer, then the follower's: separate servers on PostgreSQL, the one file's
        handle on SQLite."""
        if self.dsn is None:
            return [self.sqlite] * (WRITERS + 1)
        dbs = [_held_postgres(self.dsn) for _ in range(WRITERS + 1)]
        self.closers += [db.close for db in dbs]
        return dbs

    def waiting(self, turn: _Turn, turns: list[_Turn]) -> bool:
        """Whether ``turn`` cannot go on until another turn commits."""
        if turn.after is not None and not turn.after.done.is_set():
            return True
        if self._admin is None:
            # One writer thread: while another turn holds it, this one is queued.
            return any(t is not turn and t.holding for t in turns)
        if turn.pid is None:
            return False
        row = self._admin.execute(
            "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (turn.pid,)
        ).fetchone()
        return row is not None and row[0] == "Lock"

    def describe(self, turns: list[_Turn]) -> str:
        """Why the turns are stuck, for the failure message."""
        lines = [f"a writer neither committed, held nor waited: {len(turns)} turns"]
        for t in turns:
            activity = None
            if self._admin is not None and t.pid is not None:
                activity = self._admin.execute(
                    "SELECT state, wait_event_type, wait_event, query FROM pg_stat_activity "
                    "WHERE pid = %s", (t.pid,)).fetchone()
            lines.append(f"held={t.held.is_set()} released={t.release.is_set()} "
                         f"done={t.done.is_set()} pid={t.pid} {activity}")
        return "\n".join(lines)

    def close(self) -> None:
        for close in reversed(self.closers):
            close()


@pytest.fixture(params=["sqlite", "postgresql"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[_Rig]:
    dsn = request.getfixturevalue("postgres_database") if request.param == "postgresql" else None
    made = _Rig(request.param, tmp_path, dsn)
    yield made
    made.close()


def _settle(rig: _Rig, turns: list[_Turn]) -> None:
    """Wait until every started turn is held at its commit, done, or waiting for another's
    commit: the interleaving is then the one drawn, whatever the threads' speed."""
    deadline = time.monotonic() + 20
    while not all(t.done.is_set() or t.holding or rig.waiting(t, turns) for t in turns):
        assert time.monotonic() < deadline, rig.describe(turns)
        time.sleep(0.002)


FOLLOW = -1


@st.composite
def _interleavings(draw: st.DrawFn, batches: st.SearchStrategy[list[Any]]) -> Any:
    """Each writer's batches, and one order of every step: a writer's number stands twice for
    each of its batches (begin it, then commit it), FOLLOW for a read of the follower."""
    per_writer = draw(st.lists(batches, min_size=WRITERS, max_size=WRITERS))
    tokens = [w for w in range(WRITERS) for _ in range(2 * len(per_writer[w]))]
    tokens += [FOLLOW] * draw(st.integers(2, 8))
    return per_writer, draw(st.permutations(tokens))


def _play(rig: _Rig, steps: list[int], ops: list[list[Callable[[], None]]],
          follow: Callable[[], None]) -> None:
    """Run the drawn interleaving (``_interleavings``). The follower runs on a
    thread of its own, one read at a time (a rollup writes its rows: it may wait for a held
    writer, as the leader's rollup job would); a follow step while it is busy is skipped."""
    pending = [list(reversed(o)) for o in ops]
    open_: dict[int, _Turn] = {}
    last: dict[int, _Turn] = {}
    turns: list[_Turn] = []
    follower: _Turn | None = None
    try:
        for step in steps:
            if step == FOLLOW:
                if follower is None or follower.done.is_set():
                    follower = _Turn(follow)
                    follower.release.set()  # nothing of its own to hold
                    turns.append(follower)
                    follower.start()
            elif step in open_:
                open_.pop(step).release.set()
            else:
                turn = _Turn(pending[step].pop(), after=last.get(step))
                open_[step] = last[step] = turn
                turns.append(turn)
                turn.start()
            _settle(rig, [t for t in turns if not t.done.is_set()])
    finally:  # a failed example leaves no transaction open for the next
        for turn in turns:
            turn.release.set()
        finished = [turn.done.wait(30) for turn in turns]
    assert all(finished), "a writer never finished"
    assert [t.error for t in turns if t.error is not None] == []


# -- the log tail ---------------------------------------------------------------------


def _log_stores(rig: _Rig) -> list[LogStore]:
    if rig.dsn is None:
        stores: list[LogStore] = [SQLiteLogStore(db) for db in rig.databases()[:1]]
        return stores * (WRITERS + 1)
    from tandem.store.postgres import PostgresLogStore

    made = [PostgresLogStore(db) for db in rig.databases()]
    rig.closers += [s.close for s in made]
    return list(made)


# A batch: 1-3 events, each in stream a or b, on day 0-2 (days are partitions on PostgreSQL,
# made on demand by whichever writer first needs one).
_log_batches = st.lists(
    st.lists(st.tuples(st.sampled_from("ab"), st.integers(0, 2)), min_size=1, max_size=3),
    min_size=1, max_size=3,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(drawn=_interleavings(_log_batches), page=st.integers(1, 4))
def test_the_log_tail_follower_collects_every_committed_event_once(
    rig: _Rig, drawn: tuple[list[list[list[tuple[str, int]]]], list[int]], page: int,
) -> None:
    batches, steps = drawn
    stores = getattr(rig, "log_stores", None)
    if stores is None:
        stores = rig.log_stores = _log_stores(rig)  # type: ignore[attr-defined]
    writers, follower = stores[:WRITERS], stores[WRITERS]
    group = f"/tail{next(_EXAMPLES)}"
    for stream in "ab":
        follower.ensure_stream(group, stream, 0)
    committed: list[tuple[str, str]] = []  # (stream, message), appended once a write returns
    seen: list[tuple[int, str, str]] = []  # (seq, stream, message) as the follower read them
    after = follower.last_seq()

    def op(writer: int, index: int, events: list[tuple[str, int]]) -> Callable[[], None]:
        by_stream: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for k, (stream, day) in enumerate(events):
            by_stream[stream].append((day * DAY_MS + k, f"w{writer}-{index}-{k}"))

        def write() -> None:
            batch = [EventBatch(group, s, evs) for s, evs in sorted(by_stream.items())]
            writers[writer].append(batch, 1, create_missing=False)
            committed.extend((s, m) for s, evs in by_stream.items() for _, m in evs)

        return write

    def follow() -> None:
        nonlocal after
        while True:
            rows = follower.events_since(group, after, stream_names=None, stream_prefix=None,
                                         terms=(), limit=page)
            seen.extend((r.seq, r.stream_name, r.message) for r in rows)
            if rows:
                after = rows[-1].seq
            if len(rows) < page:
                return

    ops = [[op(w, i, b) for i, b in enumerate(batches[w])] for w in range(WRITERS)]
    _play(rig, steps, ops, follow)
    follow()
    assert sorted(committed) == sorted((s, m) for _, s, m in seen)  # each once, none missed
    seqs = [seq for seq, _, _ in seen]
    assert seqs == sorted(set(seqs))
    everything = follower.events_since(group, 0, stream_names=None, stream_prefix=None,
                                       terms=(), limit=1000)
    assert [(r.seq, r.stream_name, r.message) for r in everything] == seen


# -- the rollups ----------------------------------------------------------------------


def _metric_stores(rig: _Rig) -> list[MetricStore]:
    if rig.dsn is None:
        stores: list[MetricStore] = [SQLiteMetricStore(db) for db in rig.databases()[:1]]
        return stores * (WRITERS + 1)
    from tandem.store.postgres import PostgresMetricStore

    return [PostgresMetricStore(db) for db in rig.databases()]


# A batch: 1-4 buckets, each (metric, minute 0-9 = two 5-minute windows, a value). The metric
# is counted from the writer's own (writer 0's first is a, writer 1's b, ...): the simplest
# draws then give writers different metrics, which do not wait for each other's commit
# (writers of one metric do: its row is updated in the same transaction).
METRICS = "abcd"
_metric_batches = st.lists(
    st.lists(st.tuples(st.integers(0, len(METRICS) - 1), st.integers(0, 9), st.integers(1, 20)),
             min_size=1, max_size=4),
    min_size=1, max_size=3,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(drawn=_interleavings(_metric_batches))
def test_rollups_following_the_mark_merge_every_committed_bucket(
    rig: _Rig, drawn: tuple[list[list[list[tuple[str, int, int]]]], list[int]],
) -> None:
    batches, steps = drawn
    stores = getattr(rig, "metric_stores", None)
    if stores is None:
        stores = rig.metric_stores = _metric_stores(rig)  # type: ignore[attr-defined]
    writers, follower = stores[:WRITERS], stores[WRITERS]
    namespace = f"ns{next(_EXAMPLES)}"
    rollups = MetricRollups(follower, clock=ManualClock(T + 3600))
    while rollups.rollup(60, 300):  # earlier examples' windows are rolled up already
        pass
    final: dict[tuple[str, int, str], BucketRow] = {}  # (metric, start, uid) -> last committed
    serial = itertools.count(1)

    def op(writer: int, buckets: list[tuple[int, int, int]]) -> Callable[[], None]:
        rows: dict[tuple[str, int], BucketRow] = {}
        for metric, minute, value in buckets:
            name = METRICS[(writer + metric) % len(METRICS)]
            n = float(next(serial))  # every write's count differs: a stale read shows
            rows[(name, minute)] = BucketRow(
                SeriesKey(namespace, name, (), "None"), 60, T + minute * 60, f"w{writer}",
                n, n * value, float(value), float(value) + n, encode_bins({value: n}), True)
        # Series in one order in every batch, as the flusher's registry gives them: the
        # writers' row locks are then taken in one order, and they never deadlock.
        batch = [rows[k] for k in sorted(rows)]

        def write() -> None:
            writers[writer].write_buckets(batch)
            final.update({(r.series.metric_name, r.start, r.uid): r for r in batch})

        return write

    ops = [[op(w, b) for b in batches[w]] for w in range(WRITERS)]
    _play(rig, steps, ops, lambda: rollups.rollup(60, 300))
    for _ in range(3):
        if not rollups.rollup(60, 300):
            break
    expected: dict[tuple[str, int], list[BucketRow]] = defaultdict(list)
    for (name, start, _), r in final.items():
        expected[(name, start // 300 * 300)].append(r)
    got = {}
    for name in METRICS:
        cols = follower.read_buckets(Metric(namespace, name), "None", 300, 0, 2**40)
        for i, start in enumerate(cols.starts):
            got[(name, start)] = (cols.sample_counts[i], cols.sums[i], cols.minimums[i],
                                  cols.maximums[i], cols.sketches[i])
    want = {}
    for key, rows in expected.items():
        bins: dict[int, float] = defaultdict(float)
        for r in rows:
            bins[int(r.minimum)] += r.sample_count
        want[key] = (math.fsum(r.sample_count for r in rows), math.fsum(r.sum for r in rows),
                     min(r.minimum for r in rows), max(r.maximum for r in rows),
                     encode_bins(dict(bins)))
    assert got == want
