"""The AlarmStore contract on SQLite and PostgreSQL: alarms round-trip whole, deletes keep
history, history pages by time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tandem.store.postgres import PostgresAlarmStore, PostgresDatabase
from tandem.store.sqlite.alarms import SQLiteAlarmStore
from tandem.store.sqlite.database import Database
from tandem.telemetry.alarms import AlarmHistoryItem, AlarmState, HistoryItemType, MetricAlarm
from tandem.telemetry.alarms.store import AlarmStore
from tandem.telemetry.metrics import Metric, MetricDataQuery, MetricStat
from tests.postgres import empty_tables


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AlarmStore]:
    if request.param == "sqlite":
        db: Database | PostgresDatabase = Database(tmp_path / "catalog.db")
        yield SQLiteAlarmStore(db)
    else:
        dsn = request.getfixturevalue("postgres_database")
        db = PostgresDatabase(dsn)
        empty_tables(dsn)
        yield PostgresAlarmStore(db)
    db.close()


def _alarm(name: str, **changes: object) -> MetricAlarm:
    fields: dict[str, object] = dict(
        alarm_name=name, metric_name="M", namespace="N", statistic="Sum", period=60,
        evaluation_periods=3, threshold=1.5, comparison_operator="GreaterThanThreshold",
        dimensions=(("A", "1"),), tags=(("k", "v"),), alarm_actions=("arn:x",),
        alarm_arn=f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{name}",
        alarm_configuration_updated_timestamp=100.0, owner="application-autoscaling",
    )  # fmt: skip
    fields.update(changes)
    return MetricAlarm(**fields)  # type: ignore[arg-type]


def _item(
    name: str, t: float, kind: HistoryItemType = HistoryItemType.STATE_UPDATE
) -> AlarmHistoryItem:
    return AlarmHistoryItem(alarm_name=name, timestamp=t, history_item_type=kind,
                            history_summary=f"{name}@{t}", history_data="{}")  # fmt: skip


def test_alarms_round_trip_whole_in_creation_order(store: AlarmStore) -> None:
    math = _alarm("b-math", metric_name=None, namespace=None, statistic=None, period=None,
                  dimensions=(), metrics=(
                      MetricDataQuery("m1", MetricStat(Metric("N", "M", (("A", "1"),)), 60, "p99"),
                                      return_data=False),
                      MetricDataQuery("e1", expression="m1 * 2", label="x"),
                  ))  # fmt: skip
    plain = _alarm("a-plain", state_value=AlarmState.ALARM, state_reason_data='{"x": 1}')
    store.save([math, plain], [])
    assert store.load_alarms() == [math, plain]
    updated = _alarm("b-math", threshold=9.0)
    store.save([updated], [])
    assert store.load_alarms() == [updated, plain]  # an update keeps the creation order


def test_history_outlives_deletion_and_pages_in_time_order(store: AlarmStore) -> None:
    store.save([_alarm("a")], [_item("a", t) for t in (5.0, 1.0, 3.0)])
    store.delete(["a"], [_item("a", 7.0, HistoryItemType.CONFIGURATION_UPDATE)])
    assert store.load_alarms() == []
    page, cursor = store.read_history("a", None, None, None, False, None, 3)
    assert [i.timestamp for i in page] == [7.0, 5.0, 3.0] and cursor is not None
    rest, end = store.read_history("a", None, None, None, False, cursor, 3)
    assert [i.timestamp for i in rest] == [1.0] and end is None
    ascending, _ = store.read_history(None, "StateUpdate", 2.0, 6.0, True, None, 10)
    assert [i.timestamp for i in ascending] == [3.0, 5.0]
    assert store.read_history("a\ud800", None, None, None, False, None, 10) == ([], None)
    assert store.delete_history_before(4.0) == 2
    remaining, _ = store.read_history(None, None, None, None, True, None, 10)
    assert [i.timestamp for i in remaining] == [5.0, 7.0]
