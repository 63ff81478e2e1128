"""MetricStore on PostgreSQL: the SQLite metric store's tables and contract, for servers
sharing one database.

Each server writes its own rows: a bucket is keyed (series, resolution, start, uid) and a uid
names one writer's bucket, so servers never overwrite each other and every read merges them
(counts, sums, min, max and sketches are merged by the metrics core, as on SQLite).

Rollups follow changes by transaction, not by a sequence: PostgreSQL hands out sequence numbers
in call order, not commit order, so a reader that passed number N could miss a row numbered
N-1 that commits later. Each row records the id of the transaction that last wrote it
(``pg_current_xact_id()``), and ``changed_windows`` returns as its mark the oldest transaction
still running when it read (``pg_snapshot_xmin``): every transaction below the mark had ended
by then, so its rows were visible, and any row written later carries an id at or above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tandem.store.sqlite.database import bindable
from tandem.telemetry.metrics.model import Metric
from tandem.telemetry.metrics.series import BucketRow, SeriesKey
from tandem.telemetry.metrics.store import (
    BucketColumns,
    ChangedWindow,
    DimensionFilter,
    MetricPage,
)

from .database import PostgresDatabase
from .leadership import fence as fence_epoch

__all__ = ["PostgresMetricStore"]

_XACT = "pg_current_xact_id()::text::bigint"

_MIGRATIONS = [
    f"""
    CREATE TABLE metric (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        namespace TEXT NOT NULL,
        metric_name TEXT NOT NULL,
        dimensions TEXT NOT NULL,
        last_start BIGINT NOT NULL DEFAULT 0,
        UNIQUE (namespace, metric_name, dimensions)
    );
    CREATE INDEX metric_page_by_namespace ON metric (namespace, id);
    CREATE INDEX metric_page_by_name ON metric (namespace, metric_name, id);
    CREATE TABLE metric_dimension (
        metric_id BIGINT NOT NULL REFERENCES metric(id),
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (metric_id, name)
    );
    CREATE INDEX metric_dimension_by_name ON metric_dimension (name, value);
    CREATE TABLE series (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        metric_id BIGINT NOT NULL REFERENCES metric(id),
        unit TEXT NOT NULL,
        UNIQUE (metric_id, unit)
    );
    CREATE TABLE bucket (
        series_id BIGINT NOT NULL REFERENCES series(id),
        resolution INTEGER NOT NULL,
        start BIGINT NOT NULL,
        uid TEXT NOT NULL,
        sample_count DOUBLE PRECISION NOT NULL,
        sum DOUBLE PRECISION NOT NULL,
        minimum DOUBLE PRECISION NOT NULL,
        maximum DOUBLE PRECISION NOT NULL,
        percentiles BOOLEAN NOT NULL,
        sketch BYTEA NOT NULL,
        xact BIGINT NOT NULL DEFAULT {_XACT},
        PRIMARY KEY (series_id, resolution, start, uid)
    );
    CREATE INDEX bucket_by_age ON bucket (resolution, start);
    CREATE INDEX bucket_by_xact ON bucket (resolution, xact);
    CREATE TABLE metric_mark (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
    """,
]

_SEP = "\x1f"  # as on SQLite: names and values hold no control characters


def _encode_dims(dims: tuple[tuple[str, str], ...]) -> str:
    return _SEP.join(_SEP.join(pair) for pair in sorted(dims))


def _decode_dims(text: str) -> tuple[tuple[str, str], ...]:
    if not text:
        return ()
    parts = iter(text.split(_SEP))
    return tuple(zip(parts, parts))  # noqa: B905 - pairs up one iterator


def _storable(*texts: str | None) -> bool:
    return all(bindable(t) for t in texts if isinstance(t, str))


class PostgresMetricStore:
    def __init__(self, database: PostgresDatabase) -> None:
        self.db = database
        database.migrate("metrics", _MIGRATIONS)
        # SeriesKey -> (series id, metric id); ids never change once made.
        self._ids: dict[SeriesKey, tuple[int, int]] = {}

    def _series_id(self, conn: Any, key: SeriesKey) -> tuple[int, int]:
        ids = self._ids.get(key)
        if ids is not None:
            return ids
        dims = _encode_dims(key.dimensions)
        # ON CONFLICT DO NOTHING then SELECT: another server making the same metric at once
        # makes this INSERT wait for its commit, and the SELECT then sees its row.
        conn.execute(
            "INSERT INTO metric (namespace, metric_name, dimensions) VALUES (%s, %s, %s) "
            "ON CONFLICT DO NOTHING", (key.namespace, key.metric_name, dims))
        (metric_id,) = conn.execute(
            "SELECT id FROM metric WHERE namespace = %s AND metric_name = %s "
            "AND dimensions = %s", (key.namespace, key.metric_name, dims)).fetchone()
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO metric_dimension (metric_id, name, value) VALUES (%s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                [(metric_id, name, value) for name, value in key.dimensions])
        conn.execute("INSERT INTO series (metric_id, unit) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                     (metric_id, key.unit))
        (series_id,) = conn.execute(
            "SELECT id FROM series WHERE metric_id = %s AND unit = %s",
            (metric_id, key.unit)).fetchone()
        return int(series_id), int(metric_id)

    def write_buckets(self, rows: Sequence[BucketRow], *, fence: int | None = None) -> None:
        if not rows:
            if fence is not None:  # a stale leader learns it even with nothing to write
                self.db.transaction(lambda conn: fence_epoch(conn, fence))
            return
        made: dict[SeriesKey, tuple[int, int]] = {}

        # In one order on every server: two servers creating the same new series in different
        # orders would each wait for the other's row lock (PostgreSQL aborts one after its
        # deadlock_timeout; the flush retried at the next tick).
        ordered = sorted(rows, key=lambda r: (r.series.namespace, r.series.metric_name,
                                              r.series.dimensions, r.series.unit,
                                              r.resolution, r.start, r.uid))

        def write(conn: Any) -> None:
            if fence is not None:
                fence_epoch(conn, fence)
            params = []
            latest: dict[int, int] = {}
            for r in ordered:
                ids = made.get(r.series) or self._series_id(conn, r.series)
                made[r.series] = ids
                series_id, metric_id = ids
                latest[metric_id] = max(latest.get(metric_id, -1), r.start)
                params.append((series_id, r.resolution, r.start, r.uid, r.sample_count, r.sum,
                               r.minimum, r.maximum, bool(r.percentiles), r.sketch))
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO bucket (series_id, resolution, start, uid, sample_count, sum, "
                    "minimum, maximum, percentiles, sketch) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (series_id, resolution, start, uid) DO UPDATE SET "
                    "sample_count = excluded.sample_count, sum = excluded.sum, "
                    "minimum = excluded.minimum, maximum = excluded.maximum, "
                    "percentiles = excluded.percentiles, sketch = excluded.sketch, "
                    f"xact = {_XACT}", params)
                cur.executemany(
                    "UPDATE metric SET last_start = greatest(last_start, %s) WHERE id = %s",
                    [(start, metric_id) for metric_id, start in sorted(latest.items())])

        self.db.transaction(write)
        # Only ids whose rows committed are kept (a rolled-back transaction made none).
        self._ids.update(made)

    def set_mark(self, name: str, value: int, *, fence: int | None = None) -> None:
        def write(conn: Any) -> None:
            if fence is not None:
                fence_epoch(conn, fence)
            conn.execute("INSERT INTO metric_mark (name, value) VALUES (%s, %s) "
                         "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (name, value))

        self.db.transaction(write)

    def get_mark(self, name: str) -> int:
        row = self.db.transaction(lambda conn: conn.execute(
            "SELECT value FROM metric_mark WHERE name = %s", (name,)).fetchone())
        return int(row[0]) if row else 0

    def delete_before(self, resolution: int, before: int, *, fence: int | None = None) -> int:
        def delete(conn: Any) -> int:
            if fence is not None:
                fence_epoch(conn, fence)
            return int(conn.execute("DELETE FROM bucket WHERE resolution = %s AND start < %s",
                                    (resolution, before)).rowcount)

        return int(self.db.transaction(delete))

    def read_buckets(
        self, metric: Metric, unit: str | None, resolution: int, start: int, end: int,
        sketches: bool = True, exclude: Sequence[tuple[int, str]] = (),
    ) -> BucketColumns:  # fmt: skip
        dims = metric.dimensions
        if not _storable(metric.namespace, metric.metric_name, unit,
                         *(t for pair in dims for t in pair)):
            return BucketColumns()
        sketch = "b.sketch" if sketches else "''::bytea"
        sql = (
            f"SELECT s.unit, b.start, b.sample_count, b.sum, b.minimum, b.maximum, {sketch}, "
            "b.percentiles FROM metric m JOIN series s ON s.metric_id = m.id "
            "JOIN bucket b ON b.series_id = s.id "
            "WHERE m.namespace = %s AND m.metric_name = %s AND m.dimensions = %s "
            "AND b.resolution = %s AND b.start >= %s AND b.start < %s")
        args: list[object] = [metric.namespace, metric.metric_name, _encode_dims(dims),
                              resolution, start, end]
        if unit is not None:
            sql += " AND s.unit = %s"
            args.append(unit)
        if exclude:
            sql += " AND (b.start, b.uid) NOT IN (SELECT * FROM unnest(%s::bigint[], %s::text[]))"
            args += [[s for s, _ in exclude], [u for _, u in exclude]]
        sql += " ORDER BY s.unit, b.start"
        rows = self.db.transaction(lambda conn: conn.execute(sql, args).fetchall())
        if not rows:
            return BucketColumns()
        units, starts, counts, sums, lows, highs, blobs, pcts = zip(*rows, strict=True)
        return BucketColumns(units, [int(s) for s in starts], counts, sums, lows, highs,
                             [bytes(b) for b in blobs], [bool(p) for p in pcts])

    def list_metrics(
        self, namespace: str | None, metric_name: str | None,
        dimensions: Sequence[DimensionFilter], active_since: float | None, after: int | None,
        limit: int,
    ) -> MetricPage:  # fmt: skip
        if not _storable(namespace, metric_name, *(t for f in dimensions
                                                   for t in (f.name, f.value))):
            return MetricPage([], None)
        sql = "SELECT id, namespace, metric_name, dimensions FROM metric WHERE id > %s"
        args: list[object] = [after or 0]
        if namespace is not None:
            sql += " AND namespace = %s"
            args.append(namespace)
        if metric_name is not None:
            sql += " AND metric_name = %s"
            args.append(metric_name)
        if active_since is not None:
            sql += " AND last_start >= %s"
            args.append(int(active_since) // 60 * 60)
        for f in dimensions:
            sql += (" AND EXISTS (SELECT 1 FROM metric_dimension d"
                    " WHERE d.metric_id = metric.id AND d.name = %s")
            args.append(f.name)
            if f.value is not None:
                sql += " AND d.value = %s"
                args.append(f.value)
            sql += ")"
        sql += " ORDER BY id LIMIT %s"
        args.append(limit + 1)
        rows = self.db.transaction(lambda conn: conn.execute(sql, args).fetchall())
        more = len(rows) > limit
        rows = rows[:limit]
        metrics = [Metric(ns, name, _decode_dims(dims)) for _id, ns, name, dims in rows]
        return MetricPage(metrics, int(rows[-1][0]) if more else None)

    def latest_starts(self, metrics: Sequence[Metric]) -> dict[Metric, int]:
        wanted = {
            (m.namespace, m.metric_name, _encode_dims(m.dimensions)): m for m in metrics
            if _storable(m.namespace, m.metric_name, *(t for p in m.dimensions for t in p))
        }
        if not wanted:
            return {}
        keys = list(wanted)
        rows = self.db.transaction(lambda conn: conn.execute(
            "SELECT m.namespace, m.metric_name, m.dimensions, m.last_start FROM metric m "
            "JOIN unnest(%s::text[], %s::text[], %s::text[]) AS w(ns, name, dims) "
            "ON m.namespace = w.ns AND m.metric_name = w.name AND m.dimensions = w.dims",
            ([k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys])).fetchall())
        return {wanted[(ns, name, dims)]: int(last) for ns, name, dims, last in rows}

    def changed_windows(
        self, resolution: int, window: int, after: int
    ) -> tuple[list[ChangedWindow], int]:
        def read(conn: Any) -> tuple[list[ChangedWindow], int]:
            # One snapshot for the mark and the rows (the transaction's first statement
            # takes it).
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            (mark,) = conn.execute(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint").fetchone()
            rows = conn.execute(
                "SELECT m.namespace, m.metric_name, m.dimensions, s.unit, "
                "(b.start / %s) * %s AS w FROM bucket b "
                "JOIN series s ON s.id = b.series_id JOIN metric m ON m.id = s.metric_id "
                "WHERE b.resolution = %s AND b.xact >= %s "
                "GROUP BY m.namespace, m.metric_name, m.dimensions, s.unit, w",
                (window, window, resolution, after)).fetchall()
            windows = [ChangedWindow(SeriesKey(ns, name, _decode_dims(dims), unit), int(w))
                       for ns, name, dims, unit, w in rows]
            # Nothing new: the mark stays (an empty store's is 0, as on SQLite).
            return windows, int(mark) if windows else after

        return self.db.transaction(read)
