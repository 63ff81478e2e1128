"""Day partitions of ``log_events`` on PostgreSQL: made on demand, dropped whole by retention.

``log_events`` is partitioned by range of event timestamp, one UTC day per partition, named
``log_events_d<day>`` (``log_events_dm<n>`` before 1970). A partition is made by the first
append that needs it and dropped by the sweep once every row in it is past its group's
retention, which frees the day without a row-by-row delete (no per-row WAL, nothing left for
vacuum). A day that some group still keeps (no retention, or a cutoff inside the day) stays,
and the sweep deletes only the expired groups' rows in it.

Both run under the log store's writers' lock (``PostgresLogStore``), so no two servers make
the same partition at once and none is dropped while an append writes to it.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["PARTITION_MS", "partitions", "make_partitions", "drop_expired_partitions"]

PARTITION_MS = 86_400_000  # one partition per UTC day of event timestamp
_NAME = re.compile(r"^log_events_d(m?)(\d+)$")


def _name(day: int) -> str:
    return f"log_events_d{'m' if day < 0 else ''}{abs(day)}"


def _day(name: str) -> int | None:
    match = _NAME.match(name)
    if match is None:
        return None
    return -int(match[2]) if match[1] else int(match[2])


def partitions(conn: Any) -> dict[int, str]:
    """The partitions that exist, by day."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'log_events'::regclass").fetchall()
    days = {_day(name): name for (name,) in rows}
    return {day: name for day, name in days.items() if day is not None}


def make_partitions(conn: Any, days: set[int], known: set[int]) -> None:
    """Make the partitions of ``days`` that are missing; ``known`` days are taken to exist
    without asking the catalogue."""
    missing = days - known
    if not missing:
        return
    existing = partitions(conn)
    for day in sorted(missing):
        if day not in existing:
            conn.execute(
                f"CREATE TABLE {_name(day)} PARTITION OF log_events "
                f"FOR VALUES FROM ({day * PARTITION_MS}) TO ({(day + 1) * PARTITION_MS})")


def drop_expired_partitions(conn: Any, cutoffs: dict[int, int]) -> set[int]:
    """Drop every partition whose rows are all past their group's retention (``cutoffs``:
    group id -> oldest timestamp kept); the days dropped."""
    if not cutoffs:
        return set()
    latest = max(cutoffs.values())
    everyone = [int(g) for (g,) in conn.execute("SELECT id FROM log_groups").fetchall()]
    dropped: set[int] = set()
    for day, name in sorted(partitions(conn).items()):
        end = (day + 1) * PARTITION_MS
        if end > latest:
            break
        # Groups that keep some of this day: no retention, or a cutoff inside it.
        keepers = [g for g in everyone if cutoffs.get(g, end - 1) < end]
        if keepers and conn.execute(
            f"SELECT 1 FROM {name} WHERE group_id = ANY(%s) LIMIT 1", (keepers,)
        ).fetchone():
            continue
        conn.execute(f"DROP TABLE {name}")
        dropped.add(day)
    return dropped
