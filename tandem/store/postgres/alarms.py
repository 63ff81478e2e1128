"""AlarmStore on PostgreSQL: the SQLite alarm store's tables and contract (alarms as JSON
documents in creation order, history as rows paged by time)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ...telemetry.alarms.model import AlarmHistoryItem, HistoryItemType, MetricAlarm
from ..sqlite.alarms import alarm_document, alarm_from_document
from ..sqlite.database import bindable
from .database import PostgresDatabase

__all__ = ["PostgresAlarmStore"]

_MIGRATIONS = [
    """
    CREATE TABLE alarms (
        name TEXT PRIMARY KEY,
        seq BIGINT GENERATED ALWAYS AS IDENTITY,
        document JSON NOT NULL
    );
    CREATE TABLE alarm_history (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        alarm_name TEXT NOT NULL,
        timestamp DOUBLE PRECISION NOT NULL,
        item_type TEXT NOT NULL,
        summary TEXT NOT NULL,
        data TEXT NOT NULL,
        alarm_type TEXT NOT NULL
    );
    CREATE INDEX alarm_history_by_time ON alarm_history (timestamp, id);
    CREATE INDEX alarm_history_by_alarm ON alarm_history (alarm_name, timestamp, id);
    """,
]


def _item(row: tuple[Any, ...]) -> AlarmHistoryItem:
    _id, name, timestamp, item_type, summary, data, alarm_type = row
    return AlarmHistoryItem(alarm_name=name, timestamp=timestamp,
                            history_item_type=HistoryItemType(item_type),
                            history_summary=summary, history_data=data,
                            alarm_type=alarm_type)  # fmt: skip


def _append(conn: Any, history: Sequence[AlarmHistoryItem]) -> None:
    if not history:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO alarm_history (alarm_name, timestamp, item_type, summary, data, "
            "alarm_type) VALUES (%s, %s, %s, %s, %s, %s)",
            [(h.alarm_name, h.timestamp, h.history_item_type.value, h.history_summary,
              h.history_data, h.alarm_type) for h in history])  # fmt: skip


class PostgresAlarmStore:
    def __init__(self, database: PostgresDatabase) -> None:
        self._db = database
        database.migrate("alarms", _MIGRATIONS)

    def load_alarms(self) -> list[MetricAlarm]:
        rows = self._db.transaction(
            lambda c: c.execute("SELECT document FROM alarms ORDER BY seq").fetchall())
        return [alarm_from_document(r[0]) for r in rows]

    def save(self, alarms: Sequence[MetricAlarm], history: Sequence[AlarmHistoryItem]) -> None:
        docs = [(a.alarm_name, json.dumps(alarm_document(a), separators=(",", ":")))
                for a in alarms]  # fmt: skip

        def write(conn: Any) -> None:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO alarms (name, document) VALUES (%s, %s::json) "
                    "ON CONFLICT (name) DO UPDATE SET document = excluded.document", docs)
            _append(conn, history)

        self._db.transaction(write)

    def delete(self, names: Sequence[str], history: Sequence[AlarmHistoryItem]) -> None:
        def write(conn: Any) -> None:
            conn.execute("DELETE FROM alarms WHERE name = ANY(%s)", (list(names),))
            _append(conn, history)

        self._db.transaction(write)

    def read_history(
        self, alarm_name: str | None, item_type: str | None, start: float | None,
        end: float | None, ascending: bool, after: int | None, limit: int,
    ) -> tuple[list[AlarmHistoryItem], int | None]:  # fmt: skip
        if alarm_name is not None and not bindable(alarm_name):
            return [], None  # a lone surrogate (from JSON) is in no stored name
        where: list[str] = []
        args: list[object] = []
        for clause, value in (("alarm_name = %s", alarm_name), ("item_type = %s", item_type),
                              ("timestamp >= %s", start), ("timestamp < %s", end)):
            if value is not None:
                where.append(clause)
                args.append(value)
        order = "ASC" if ascending else "DESC"
        sql = ("SELECT id, alarm_name, timestamp, item_type, summary, data, alarm_type "
               "FROM alarm_history" + (" WHERE " + " AND ".join(where) if where else "")
               + f" ORDER BY timestamp {order}, id {order} LIMIT %s OFFSET %s")
        offset = after or 0
        rows = self._db.transaction(
            lambda c: c.execute(sql, [*args, limit + 1, offset]).fetchall())
        more = len(rows) > limit
        return [_item(r) for r in rows[:limit]], (offset + limit if more else None)

    def delete_history_before(self, before: float) -> int:
        return int(self._db.transaction(lambda c: c.execute(
            "DELETE FROM alarm_history WHERE timestamp < %s", (before,)).rowcount))
