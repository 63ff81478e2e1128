"""AlarmStore on SQLite (in catalog.db): alarms as JSON documents, history as rows."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from ...telemetry.alarms.model import AlarmHistoryItem, AlarmState, HistoryItemType, MetricAlarm
from ...telemetry.metrics.model import Metric, MetricDataQuery, MetricStat
from .database import Database, bindable

__all__ = ["SQLiteAlarmStore", "alarm_document", "alarm_from_document"]

_MIGRATIONS = [
    """
    CREATE TABLE alarms (
        name TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        document TEXT NOT NULL
    );
    CREATE TABLE alarm_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        alarm_name TEXT NOT NULL,
        timestamp REAL NOT NULL,
        item_type TEXT NOT NULL,
        summary TEXT NOT NULL,
        data TEXT NOT NULL,
        alarm_type TEXT NOT NULL
    );
    CREATE INDEX alarm_history_by_time ON alarm_history (timestamp, id);
    CREATE INDEX alarm_history_by_alarm ON alarm_history (alarm_name, timestamp, id);
    """,
]


def _query_document(q: MetricDataQuery) -> dict[str, Any]:
    return dataclasses.asdict(q)


def _query_from(d: dict[str, Any]) -> MetricDataQuery:
    ms = d.get("metric_stat")
    stat = None
    if ms is not None:
        m = ms["metric"]
        stat = MetricStat(
            Metric(m["namespace"], m["metric_name"], tuple(map(tuple, m["dimensions"]))),
            ms["period"], ms["stat"], ms.get("unit"),
        )  # fmt: skip
    return MetricDataQuery(d["id"], stat, d.get("expression"), d.get("label"),
                           d.get("return_data", True), d.get("period"))  # fmt: skip


def alarm_document(alarm: MetricAlarm) -> dict[str, Any]:
    doc = {f.name: getattr(alarm, f.name) for f in dataclasses.fields(alarm)}
    doc["metrics"] = [_query_document(q) for q in alarm.metrics]
    doc["state_value"] = alarm.state_value.value
    return doc


def alarm_from_document(doc: dict[str, Any]) -> MetricAlarm:
    known = {f.name for f in dataclasses.fields(MetricAlarm)}
    values = {k: v for k, v in doc.items() if k in known}
    for name in ("ok_actions", "alarm_actions", "insufficient_data_actions"):
        values[name] = tuple(values.get(name) or ())
    values["dimensions"] = tuple(tuple(d) for d in values.get("dimensions") or ())
    values["tags"] = tuple(tuple(t) for t in values.get("tags") or ())
    values["metrics"] = tuple(_query_from(q) for q in values.get("metrics") or ())
    values["state_value"] = AlarmState(values["state_value"])
    return MetricAlarm(**values)


def _item(row: tuple[Any, ...]) -> AlarmHistoryItem:
    _id, name, timestamp, item_type, summary, data, alarm_type = row
    return AlarmHistoryItem(alarm_name=name, timestamp=timestamp,
                            history_item_type=HistoryItemType(item_type),
                            history_summary=summary, history_data=data,
                            alarm_type=alarm_type)  # fmt: skip


def _append(conn: sqlite3.Connection, history: Sequence[AlarmHistoryItem]) -> None:
    conn.executemany(
        "INSERT INTO alarm_history (alarm_name, timestamp, item_type, summary, data, alarm_type)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(h.alarm_name, h.timestamp, h.history_item_type.value, h.history_summary,
          h.history_data, h.alarm_type) for h in history],
    )  # fmt: skip


class SQLiteAlarmStore:
    def __init__(self, database: Database) -> None:
        self._db = database
        database.migrate("alarms", _MIGRATIONS)

    def load_alarms(self) -> list[MetricAlarm]:
        rows = self._db.read(
            lambda c: c.execute("SELECT document FROM alarms ORDER BY seq").fetchall()
        )
        return [alarm_from_document(json.loads(r[0])) for r in rows]

    def save(self, alarms: Sequence[MetricAlarm], history: Sequence[AlarmHistoryItem]) -> None:
        docs = [(a.alarm_name, json.dumps(alarm_document(a), separators=(",", ":")))
                for a in alarms]  # fmt: skip

        def write(conn: sqlite3.Connection) -> None:
            for name, text in docs:
                updated = conn.execute(
                    "UPDATE alarms SET document = ? WHERE name = ?", (text, name)
                ).rowcount
                if not updated:
                    conn.execute(
                        "INSERT INTO alarms (name, seq, document) VALUES "
                        "(?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM alarms), ?)",
                        (name, text),
                    )
            _append(conn, history)

        self._db.write(write)

    def delete(self, names: Sequence[str], history: Sequence[AlarmHistoryItem]) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM alarms WHERE name = ?", [(n,) for n in names])
            _append(conn, history)

        self._db.write(write)

    def read_history(
        self,
        alarm_name: str | None,
        item_type: str | None,
        start: float | None,
        end: float | None,
        ascending: bool,
        after: int | None,
        limit: int,
    ) -> tuple[list[AlarmHistoryItem], int | None]:
        if alarm_name is not None and not bindable(alarm_name):
            return [], None  # a lone surrogate (from JSON) is in no stored name
        where: list[str] = []
        args: list[object] = []
        if alarm_name is not None:
            where.append("alarm_name = ?")
            args.append(alarm_name)
        if item_type is not None:
            where.append("item_type = ?")
            args.append(item_type)
        if start is not None:
            where.append("timestamp >= ?")
            args.append(start)
        if end is not None:
            where.append("timestamp < ?")
            args.append(end)
        order = "ASC" if ascending else "DESC"
        sql = (
            "SELECT * FROM alarm_history"
            + (" WHERE " + " AND ".join(where) if where else "")
            + f" ORDER BY timestamp {order}, id {order} LIMIT ? OFFSET ?"
        )
        offset = after or 0
        rows = self._db.read(lambda c: c.execute(sql, [*args, limit + 1, offset]).fetchall())
        more = len(rows) > limit
        return [_item(r) for r in rows[:limit]], (offset + limit if more else None)

    def delete_history_before(self, before: float) -> int:
        return self._db.write(
            lambda c: c.execute("DELETE FROM alarm_history WHERE timestamp < ?", (before,)).rowcount
        )
