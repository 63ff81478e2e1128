"""The MetricStore contract: SQLite and PostgreSQL pass the same tests.

Add an implementation by adding a param to ``metric_backend`` that yields an object with
``store`` and ``reopen()`` (close and open the same storage again).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tandem.store.sqlite.database import Database
from tandem.store.sqlite.metrics import SQLiteMetricStore
from tandem.telemetry.metrics import (
    BucketRow,
    ChangedWindow,
    DimensionFilter,
    Metric,
    MetricStore,
    SeriesKey,
)
from tests.postgres import empty_tables

T = 1_700_000_040


class _SQLite:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = Database(path)
        self.store: MetricStore = SQLiteMetricStore(self.db)

    def reopen(self) -> MetricStore:
        self.db.close()
        self.db = Database(self.path)
        self.store = SQLiteMetricStore(self.db)
        return self.store

    def close(self) -> None:
        self.db.close()


class _Postgres:
    def __init__(self, dsn: str) -> None:
        from tandem.store.postgres import PostgresDatabase, PostgresMetricStore

        self.dsn = dsn
        self.db = PostgresDatabase(dsn)
        self.store: MetricStore = PostgresMetricStore(self.db)

    def reopen(self) -> MetricStore:
        from tandem.store.postgres import PostgresDatabase, PostgresMetricStore

        self.db.close()
        self.db = PostgresDatabase(self.dsn)
        self.store = PostgresMetricStore(self.db)
        return self.store

    def close(self) -> None:
        self.db.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def metric_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[_SQLite | _Postgres]:
    if request.param == "sqlite":
        impl: _SQLite | _Postgres = _SQLite(tmp_path / "metrics.db")
    else:
        dsn = request.getfixturevalue("postgres_database")
        impl = _Postgres(dsn)
        empty_tables(dsn)
    yield impl
    impl.close()


def key(name="m", dims=(("a", "1"),), unit="None", namespace="ns") -> SeriesKey:
    return SeriesKey(namespace, name, tuple(sorted(dims)), unit)


def row(
    series=None,
    start=T,
    uid="w-1",
    n=1.0,
    total=1.0,
    lo=1.0,
    hi=1.0,
    res=60,
    sketch=b"\x01\x02",
    pct=True,
) -> BucketRow:
    return BucketRow(series or key(), res, start, uid, n, total, lo, hi, sketch, pct)


def read(store, series=None, unit=None, res=60, start=0, end=2**40):
    s = series or key()
    cols = store.read_buckets(
        Metric(s.namespace, s.metric_name, s.dimensions), unit, res, start, end
    )
    return list(
        zip(
            cols.units,
            cols.starts,
            cols.sample_counts,
            cols.sums,
            cols.minimums,
            cols.maximums,
            cols.sketches,
            cols.percentiles,
            strict=True,
        )
    )


def test_upsert_overwrites_the_same_bucket_uid(metric_backend) -> None:
    store = metric_backend.store
    store.write_buckets([row(n=1.0, total=2.0)])
    store.write_buckets([row(n=3.0, total=7.0, lo=0.5, hi=4.0, sketch=b"xyz", pct=False)])
    assert read(store) == [("None", T, 3.0, 7.0, 0.5, 4.0, b"xyz", False)]


def test_other_uids_and_minutes_are_separate_rows_in_start_order(metric_backend) -> None:
    store = metric_backend.store
    store.write_buckets([row(start=T + 60), row(uid="w-2", n=2.0), row()])
    got = [(r[1], r[2]) for r in read(store)]
    assert sorted(got[:2]) == [(T, 1.0), (T, 2.0)] and got[2] == (T + 60, 1.0)


def test_reads_match_dimensions_exactly_and_filter_unit_range_resolution(metric_backend) -> None:
    store = metric_backend.store
    store.write_buckets(
        [
            row(),
            row(series=key(unit="Seconds"), n=2.0),
            row(series=key(dims=()), n=3.0),
            row(series=key(dims=(("a", "1"), ("b", "2"))), n=4.0),
            row(start=T + 120, n=5.0),
            row(res=300, start=T - 40, n=6.0),
        ]
    )
    assert [r[2] for r in read(store, unit="None")] == [1.0, 5.0]
    assert sorted((r[0], r[2]) for r in read(store)) == [
        ("None", 1.0),
        ("None", 5.0),
        ("Seconds", 2.0),
    ]
    assert [r[2] for r in read(store, unit="None", start=T + 1, end=T + 121)] == [5.0]
    assert [r[2] for r in read(store, unit="None", start=T, end=T + 120)] == [1.0]
    assert [r[2] for r in read(store, series=key(dims=()))] == [3.0]
    assert [r[2] for r in read(store, res=300)] == [6.0]
    assert read(store, series=key(name="nope")) == []


def test_nothing_is_lost_across_close_and_reopen(metric_backend) -> None:
    metric_backend.store.write_buckets([row(n=2.0, sketch=b"\x00" * 12), row(start=T + 60)])
    metric_backend.store.set_mark("rollup:60:300", 7)
    store = metric_backend.reopen()
    assert [(r[1], r[2], r[6]) for r in read(store)] == [
        (T, 2.0, b"\x00" * 12),
        (T + 60, 1.0, b"\x01\x02"),
    ]
    assert store.get_mark("rollup:60:300") == 7
    store.write_buckets([row(n=9.0)])  # ids resolved again after reopening
    assert read(store)[0][2] == 9.0


def test_list_metrics_filters_pages_and_activity(metric_backend) -> None:
    store = metric_backend.store
    store.write_buckets(
        [
            row(series=key(dims=(("a", "1"), ("b", "2")))),
            row(series=key(dims=(("a", "2"),))),
            row(series=key(dims=(("a", "2"),), unit="Count")),
            row(series=key(name="x", dims=())),
            row(series=key(namespace="other")),
            row(series=key(name="old"), start=T - 86400),
        ]
    )

    def names(**kw):
        args = {
            "namespace": "ns",
            "metric_name": None,
            "dimensions": (),
            "active_since": None,
            "after": None,
            "limit": 100,
        } | kw
        return sorted((m.metric_name, m.dimensions) for m in store.list_metrics(**args).metrics)

    assert names() == [
        ("m", (("a", "1"), ("b", "2"))),
        ("m", (("a", "2"),)),
        ("old", (("a", "1"),)),
        ("x", ()),
    ]
    assert names(active_since=T - 3600) == [
        ("m", (("a", "1"), ("b", "2"))),
        ("m", (("a", "2"),)),
        ("x", ()),
    ]
    assert names(metric_name="m", dimensions=[DimensionFilter("b")]) == [
        ("m", (("a", "1"), ("b", "2")))
    ]
    assert names(dimensions=[DimensionFilter("a", "2")]) == [("m", (("a", "2"),))]
    page1 = store.list_metrics("ns", None, (), None, None, 2)
    page2 = store.list_metrics("ns", None, (), None, page1.cursor, 2)
    assert (len(page1.metrics), len(page2.metrics)) == (2, 2)
    assert (
        page2.cursor is None
        or store.list_metrics("ns", None, (), None, page2.cursor, 2).metrics == []
    )
    assert len({(m.metric_name, m.dimensions) for m in page1.metrics + page2.metrics}) == 4


def test_changed_windows_follow_writes_and_marks(metric_backend) -> None:
    store = metric_backend.store
    assert store.changed_windows(60, 300, 0) == ([], 0)
    store.write_buckets(
        [
            row(start=T),
            row(start=T + 60),
            row(start=T + 300),
            row(series=key(unit="Count"), start=T),
        ]
    )
    windows, mark = store.changed_windows(60, 300, 0)
    w0 = T // 300 * 300
    assert sorted(windows, key=lambda w: (w.series.unit, w.start)) == [
        ChangedWindow(key(unit="Count"), w0),
        ChangedWindow(key(), w0),
        ChangedWindow(key(), w0 + 300),
    ]
    # Nothing new is told; on PostgreSQL a window may be told again while any transaction in
    # the cluster (another database's too) is running (``MetricStore.changed_windows``).
    again, mark1 = store.changed_windows(60, 300, mark)
    assert mark1 >= mark and set(again) <= set(windows)
    if isinstance(metric_backend, _SQLite):
        assert (again, mark1) == ([], mark)
    store.write_buckets([row(start=T + 60, n=5.0)])  # an overwrite is a change too
    windows2, mark2 = store.changed_windows(60, 300, mark1)
    assert ChangedWindow(key(), w0 + 300) in windows2  # T + 60 opens w0 + 300
    assert set(windows2) <= set(windows) and mark2 >= mark1
    if isinstance(metric_backend, _SQLite):
        assert windows2 == [ChangedWindow(key(), w0 + 300)] and mark2 > mark1
    assert store.changed_windows(300, 3600, 0) == ([], 0)  # other resolutions are apart


def test_delete_before_removes_only_older_rows_of_that_resolution(metric_backend) -> None:
    store = metric_backend.store
    store.write_buckets([row(start=T), row(start=T + 60), row(start=T, res=300)])
    assert store.delete_before(60, T + 60) == 1
    assert [r[1] for r in read(store)] == [T + 60]
    assert [r[1] for r in read(store, res=300)] == [T]
    assert store.get_mark("never-set") == 0


def test_excluded_start_and_uid_pairs_are_left_out(metric_backend) -> None:
    store = metric_backend.store
    store.write_buckets(
        [row(uid="w-1"), row(uid="w-2", n=2.0), row(start=T + 60, uid="w-3", n=3.0)]
    )
    s = key()
    cols = store.read_buckets(
        Metric(s.namespace, s.metric_name, s.dimensions),
        None,
        60,
        0,
        2**40,
        exclude=[(T, "w-1"), (T + 60, "w-9")],
    )
    assert list(zip(cols.starts, cols.sample_counts, strict=True)) == [(T, 2.0), (T + 60, 3.0)]


def test_latest_starts_of_stored_metrics_only(metric_backend) -> None:
    store = metric_backend.store
    store.write_buckets([row(), row(start=T + 120, uid="w-2")])
    stored = Metric("ns", "m", (("a", "1"),))
    missing = Metric("ns", "other", ())
    assert store.latest_starts([stored, missing]) == {stored: T + 120}


def test_postgres_changes_committed_out_of_order_are_not_passed(postgres_database: str) -> None:
    """A writer that began first but commits after a later one: its rows were invisible when
    the reader took its mark, and the next read from that mark still finds them (a sequence
    number would have put them below the mark)."""
    import psycopg

    from tandem.store.postgres import PostgresDatabase, PostgresMetricStore

    empty_tables(postgres_database)
    db = PostgresDatabase(postgres_database)
    store = PostgresMetricStore(db)
    store.write_buckets([row(series=key(name="early")), row(series=key(name="late"))])
    _, mark = store.changed_windows(60, 300, 0)
    with psycopg.connect(postgres_database) as slow:  # one transaction until the commit below
        slow.execute(
            "UPDATE bucket SET sample_count = 9, xact = pg_current_xact_id()::text::bigint "
            "WHERE series_id = (SELECT s.id FROM series s JOIN metric m ON m.id = s.metric_id "
            "WHERE m.metric_name = 'early')")
        store.write_buckets([row(series=key(name="late"), n=2.0)])  # commits first
        seen, mark = store.changed_windows(60, 300, mark)
        # "early" may be told again too: the mark is the oldest transaction running anywhere
        # in the cluster (another database's, another suite's), and telling a window twice
        # only rolls it up twice. What must hold is below: its later commit is not passed.
        assert "late" in [w.series.metric_name for w in seen]
        slow.commit()
    seen, _ = store.changed_windows(60, 300, mark)
    assert "early" in [w.series.metric_name for w in seen]
    db.close()


def test_postgres_concurrent_writers_lose_no_change(postgres_database: str) -> None:
    """Four servers' writers and a rollup reader at once: every series written is reported
    changed by some read that followed the previous read's mark."""
    import threading

    from tandem.store.postgres import PostgresDatabase, PostgresMetricStore

    empty_tables(postgres_database)
    databases = [PostgresDatabase(postgres_database) for _ in range(5)]
    writers = [PostgresMetricStore(db) for db in databases[:4]]
    reader = PostgresMetricStore(databases[4])
    written: set[str] = set()
    seen: set[str] = set()
    done = threading.Event()

    def write(index: int) -> None:
        for i in range(60):
            name = f"w{index}-{i}"
            writers[index].write_buckets([row(series=key(name=name), uid=f"w-{index}")])
            written.add(name)

    def read() -> None:
        mark = 0
        while True:
            last = done.is_set()
            windows, mark = reader.changed_windows(60, 300, mark)
            seen.update(w.series.metric_name for w in windows)
            if last:
                return

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    follower = threading.Thread(target=read)
    follower.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    follower.join()
    for db in databases:
        db.close()
    assert len(written) == 240
    assert seen == written


def test_postgres_servers_creating_the_same_series_in_opposite_orders_do_not_deadlock(
    postgres_database: str,
) -> None:
    """Two servers' flushes creating the same new series, listed in opposite orders, at once:
    both commit (rows are written in one order whatever order they come in)."""
    import threading

    from tandem.store.postgres import PostgresDatabase, PostgresMetricStore

    empty_tables(postgres_database)
    databases = [PostgresDatabase(postgres_database) for _ in range(2)]
    stores = [PostgresMetricStore(db) for db in databases]
    failures: list[BaseException] = []
    try:
        for round_ in range(5):
            names = [f"r{round_}-s{i:02d}" for i in range(60)]
            batches = [[row(series=key(name=n), uid=f"w-{w}") for n in order]
                       for w, order in enumerate((names, names[::-1]))]
            start = threading.Barrier(2)

            def flush(index: int, batches: list = batches,
                      start: threading.Barrier = start) -> None:
                start.wait()
                try:
                    stores[index].write_buckets(batches[index])
                except BaseException as exc:  # noqa: BLE001 - reported below
                    failures.append(exc)

            threads = [threading.Thread(target=flush, args=(i,)) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert failures == []
        windows, _ = stores[0].changed_windows(60, 300, 0)
        assert len({w.series.metric_name for w in windows}) == 300
    finally:
        for db in databases:
            db.close()
