"""AlarmService over real SQLite stores, stepped minute by minute with a ManualClock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tandem.clock import ManualClock
from tandem.errors import InvalidFormat, ResourceNotFound, ValidationError
from tandem.store.sqlite import SQLiteStore
from tandem.telemetry.alarms import (
    AlarmInput,
    AlarmService,
    AlarmState,
    AlarmStateChange,
    MetricAlarm,
    MetricSource,
)
from tandem.telemetry.metrics import MetricFlusher, MetricQueries, MetricRegistry
from tests.waiting import wait_until_async

T0 = 1_700_000_040.0  # a minute boundary
DIMS = {"EndpointName": "ep", "VariantName": "AllTraffic"}
POLICY = "arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:abc:resource/sagemaker/x"


@dataclass
class Rig:
    clock: ManualClock
    store: SQLiteStore
    registry: MetricRegistry
    flusher: MetricFlusher
    service: AlarmService

    def errors(self, value: float) -> None:
        """One minute's Invocation5XXErrors (recorded at the clock's minute), flushed."""
        self.registry.series("AWS/SageMaker", "Invocation5XXErrors", DIMS).record(value)
        self.flusher.flush()

    async def minute(self, value: float | None) -> int:
        """Record this minute's value (None: nothing), close the minute, evaluate."""
        if value is not None:
            self.errors(value)
        self.clock.advance(60)
        return await self.service.evaluate()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = ManualClock(T0)
    store = SQLiteStore(tmp_path)
    registry = MetricRegistry(clock=clock)
    flusher = MetricFlusher(registry, store.metrics, interval=5, clock=clock)
    queries = MetricQueries(store.metrics, clock=clock)
    service = AlarmService(store.alarms, MetricSource(store.metrics, queries), clock=clock)
    await service.start(evaluate=False)
    yield Rig(clock, store, registry, flusher, service)
    await service.stop()
    store.close()


def _errors_alarm(name: str = "5xx", **changes: object) -> AlarmInput:
    fields: dict[str, object] = dict(
        alarm_name=name, metric_name="Invocation5XXErrors", namespace="AWS/SageMaker",
        dimensions=tuple(DIMS.items()), statistic="Sum", period=60, evaluation_periods=3,
        datapoints_to_alarm=2, threshold=1.0, comparison_operator="GreaterThanOrEqualToThreshold",
        treat_missing_data="notBreaching",
    )  # fmt: skip
    fields.update(changes)
    return AlarmInput(**fields)  # type: ignore[arg-type]


async def test_ok_to_alarm_after_m_of_n_breaching_minutes_and_back(rig: Rig) -> None:
    alarm = await rig.service.put_metric_alarm(_errors_alarm())
    assert alarm.state_value is AlarmState.INSUFFICIENT_DATA
    assert alarm.state_reason == "Unchecked: Initial alarm creation"
    assert await rig.minute(0) == 1  # notBreaching fill-ins: OK at once
    assert rig.service.get("5xx").state_value is AlarmState.OK  # type: ignore[union-attr]
    assert await rig.minute(3) == 0  # 1 of 3
    assert await rig.minute(0) == 0
    assert await rig.minute(2) == 1  # 2 of the last 3 breach
    alarm = rig.service.get("5xx")
    assert alarm is not None and alarm.state_value is AlarmState.ALARM
    assert "2 out of the last 3 datapoints" in alarm.state_reason
    assert await rig.minute(0) == 1  # the last 3 are 0 2 0: 1 breach, back to OK
    assert rig.service.get("5xx").state_value is AlarmState.OK  # type: ignore[union-attr]
    items, _ = await rig.service.describe_alarm_history("5xx", "StateUpdate")
    assert [i.history_summary for i in items] == [
        "Alarm updated from ALARM to OK",
        "Alarm updated from OK to ALARM",
        "Alarm updated from INSUFFICIENT_DATA to OK",
    ]
    data = json.loads(items[1].history_data)
    assert data["newState"]["stateReasonData"]["recentDatapoints"] == [0.0, 3.0, 0.0, 2.0]


async def test_state_and_history_survive_a_restart(rig: Rig, tmp_path: Path) -> None:
    await rig.service.put_metric_alarm(_errors_alarm(tags=(("team", "ml"),)))
    await rig.minute(5)
    await rig.service.flush()
    again = AlarmService(rig.store.alarms, rig.service.source, clock=rig.clock)
    await again.start(evaluate=False)
    alarm = again.get("5xx")
    assert alarm is not None and alarm.state_value is AlarmState.OK
    assert alarm.tags == (("team", "ml"),)
    assert alarm.dimensions == tuple(sorted(DIMS.items()))
    await again.stop()


async def test_handlers_run_on_changes_and_scaling_actions_repeat_every_minute(rig: Rig) -> None:
    calls: list[AlarmStateChange] = []

    async def handler(alarm: MetricAlarm, change: AlarmStateChange) -> None:
        calls.append(change)

    async def broken(alarm: MetricAlarm, change: AlarmStateChange) -> None:
        raise RuntimeError("policy is gone")

    rig.service.register_action_handler("arn:aws:autoscaling:", handler)
    rig.service.register_action_handler("arn:aws:sns:", broken)
    sns = "arn:aws:sns:us-east-1:000000000000:topic"
    await rig.service.put_metric_alarm(
        _errors_alarm(alarm_actions=(f"{POLICY}:createdBy/1", sns), datapoints_to_alarm=1,
                      evaluation_periods=1)  # fmt: skip
    )
    await rig.minute(4)  # INSUFFICIENT_DATA -> ALARM
    await rig.minute(4)  # stays: the scaling action again
    await rig.minute(4)
    await wait_until_async(lambda: rig.service.actions.in_flight == 0, "the actions to end")
    assert [(c.old_state, c.new_state, c.repeated) for c in calls] == [
        (AlarmState.INSUFFICIENT_DATA, AlarmState.ALARM, False),
        (AlarmState.ALARM, AlarmState.ALARM, True),
        (AlarmState.ALARM, AlarmState.ALARM, True),
    ]
    assert calls[0].action_arn == f"{POLICY}:createdBy/1"
    items, _ = await rig.service.describe_alarm_history("5xx", "Action")
    assert sorted(i.history_summary for i in items) == [
        f"Failed to execute action {sns}. Reason: policy is gone",
        f"Successfully executed action {POLICY}:createdBy/1",
    ]
    # Disabled actions: evaluation and history go on, no handler runs.
    await rig.service.set_actions_enabled(["5xx"], False)
    await rig.minute(0)
    # An action would be in flight from the evaluation on, until its handler returned.
    await wait_until_async(lambda: rig.service.actions.in_flight == 0, "the actions to end")
    assert len(calls) == 3
    assert rig.service.get("5xx").state_value is AlarmState.OK  # type: ignore[union-attr]


async def test_owned_alarms_refuse_plain_changes(rig: Rig) -> None:
    await rig.service.put_metric_alarm(_errors_alarm("tt"), owner="application-autoscaling")
    with pytest.raises(ValidationError, match="managed by application-autoscaling"):
        await rig.service.put_metric_alarm(_errors_alarm("tt", threshold=9.0))
    with pytest.raises(ValidationError, match="managed by application-autoscaling"):
        await rig.service.delete_alarms(["tt"])
    await rig.service.put_metric_alarm(_errors_alarm("tt", threshold=9.0),
                                       owner="application-autoscaling")  # fmt: skip
    assert rig.service.get("tt").threshold == 9.0  # type: ignore[union-attr]
    await rig.service.delete_alarms(["tt", "absent"], owner="application-autoscaling")
    assert rig.service.get("tt") is None


async def test_set_alarm_state_checks_its_input(rig: Rig) -> None:
    with pytest.raises(ResourceNotFound):
        await rig.service.set_alarm_state("nope", AlarmState.ALARM, "test", None)
    await rig.service.put_metric_alarm(_errors_alarm())
    with pytest.raises(InvalidFormat):
        await rig.service.set_alarm_state("5xx", AlarmState.ALARM, "test", "{not json")
    await rig.service.set_alarm_state("5xx", AlarmState.ALARM, "test", '{"a": 1}')
    alarm = rig.service.get("5xx")
    assert alarm is not None and alarm.state_value is AlarmState.ALARM
    assert alarm.state_reason_data == '{"a": 1}'


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"period": 90}, "multiple of 60"),
        ({"period": 30}, "multiple of 60"),
        ({"statistic": "Median"}, "Member must satisfy enum value set"),
        ({"datapoints_to_alarm": 4},
         "DatapointsToAlarm must be less than or equal to EvaluationPeriods"),
        ({"comparison_operator": "GreaterThanUpperThreshold"}, "Anomaly detection"),
        ({"comparison_operator": "Bigger"}, "Member must satisfy enum value set"),
        ({"treat_missing_data": "skip"}, "Member must satisfy enum value set"),
        ({"threshold": None}, "Threshold is required"),
        ({"alarm_actions": ("sns-topic",)}, "Invalid arn syntax"),
        ({"alarm_actions": ("arn:tandem:webhook:ftp://x",)}, "http:// or https://"),
    ],
)  # fmt: skip
async def test_bad_input_gets_validation_errors(rig: Rig, changes: dict, error: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValidationError, match=error):
        await rig.service.put_metric_alarm(_errors_alarm(**changes))


async def test_metric_math_alarm_evaluates_its_returned_expression(rig: Rig) -> None:
    from tandem.telemetry.metrics import Metric, MetricDataQuery, MetricStat

    metric = Metric("AWS/SageMaker", "Invocation5XXErrors", tuple(sorted(DIMS.items())))
    await rig.service.put_metric_alarm(AlarmInput(
        alarm_name="math", evaluation_periods=2, datapoints_to_alarm=2, threshold=10.0,
        comparison_operator="GreaterThanThreshold",
        metrics=(MetricDataQuery("m1", MetricStat(metric, 60, "Sum"), return_data=False),
                 MetricDataQuery("e1", expression="m1 * 4", label="scaled")),
    ))  # fmt: skip
    await rig.minute(3)  # 12 > 10: one breach of the M = 2 needed
    alarm = rig.service.get("math")
    assert alarm is not None and alarm.state_value is AlarmState.OK
    await rig.minute(2)  # 12, 8: still one breach
    await rig.minute(5)  # 8, 20: one breach
    await rig.minute(4)  # 20, 16: two
    alarm = rig.service.get("math")
    assert alarm is not None and alarm.state_value is AlarmState.ALARM
    assert "[16.0 (" in alarm.state_reason and "20.0 (" in alarm.state_reason
    assert "statistic" not in json.loads(alarm.state_reason_data or "{}")


async def test_percentile_alarm_ignores_low_sample_counts_when_asked(rig: Rig) -> None:
    await rig.service.put_metric_alarm(_errors_alarm(
        "p99", statistic=None, extended_statistic="p99", evaluation_periods=1,
        datapoints_to_alarm=None, evaluate_low_sample_count_percentile="ignore",
        treat_missing_data="missing"))  # fmt: skip
    await rig.service.put_metric_alarm(_errors_alarm(
        "p99-evaluate", statistic=None, extended_statistic="p99", evaluation_periods=1,
        datapoints_to_alarm=None, treat_missing_data="missing"))  # fmt: skip
    await rig.minute(5)  # one sample: far fewer than the 1,000 p99 needs
    assert rig.service.get("p99").state_value is AlarmState.INSUFFICIENT_DATA  # type: ignore[union-attr]
    assert rig.service.get("p99-evaluate").state_value is AlarmState.ALARM  # type: ignore[union-attr]
    series = rig.registry.series("AWS/SageMaker", "Invocation5XXErrors", DIMS)
    for _ in range(1000):
        series.record(0.5)
    rig.flusher.flush()
    rig.clock.advance(60)
    await rig.service.evaluate()
    assert rig.service.get("p99").state_value is AlarmState.OK  # type: ignore[union-attr]


async def test_late_data_changes_later_evaluations_never_past_transitions(rig: Rig) -> None:
    await rig.service.put_metric_alarm(_errors_alarm(evaluation_periods=2, datapoints_to_alarm=2))
    await rig.minute(5)  # one breach, the other slot a fill-in: OK
    late_minute = rig.clock.now // 60 * 60
    await rig.minute(None)  # nothing yet for this minute: still OK
    assert rig.service.get("5xx").state_value is AlarmState.OK  # type: ignore[union-attr]
    before, _ = await rig.service.describe_alarm_history("5xx", "StateUpdate")
    # The minute's data arrives late (a remote agent's spool): the next evaluation sees it.
    rig.registry.series("AWS/SageMaker", "Invocation5XXErrors", DIMS).record(4.0, late_minute + 30)
    rig.flusher.flush()
    rig.clock.advance(60)
    assert await rig.service.evaluate() == 1
    assert rig.service.get("5xx").state_value is AlarmState.ALARM  # type: ignore[union-attr]
    after, _ = await rig.service.describe_alarm_history("5xx", "StateUpdate")
    assert after[1:] == before  # the earlier transition is untouched
    assert after[0].history_summary == "Alarm updated from OK to ALARM"


async def test_the_evaluation_loop_runs_each_minute_of_the_clock(tmp_path: Path) -> None:
    clock = ManualClock(T0 + 10)
    store = SQLiteStore(tmp_path)
    queries = MetricQueries(store.metrics, clock=clock)
    service = AlarmService(store.alarms, MetricSource(store.metrics, queries), clock=clock,
                           evaluation_delay=2.0)  # fmt: skip
    await service.put_metric_alarm(_errors_alarm(treat_missing_data="breaching"))
    await service.start()
    try:
        async with asyncio.timeout(30):
            while service.passes < 1:  # the minute that closed before the start
                await asyncio.sleep(0.01)
        clock.advance(53)  # T0 + 63: the next minute closed 3 s ago, past the 2 s delay
        async with asyncio.timeout(30):
            while service.passes < 2:
                await asyncio.sleep(0.01)
        alarm = service.get("5xx")
        assert alarm is not None and alarm.state_value is AlarmState.ALARM
    finally:
        await service.stop()
        store.close()


async def test_alarms_on_one_metric_share_a_read_and_decide_alone(rig: Rig) -> None:
    reads = []
    store = rig.service.source.store  # type: ignore[attr-defined]
    read = store.read_buckets

    def counting(*args: object, **kwargs: object) -> object:
        reads.append(args[4])  # the start of the range read
        return read(*args, **kwargs)

    store.read_buckets = counting
    # A target-tracking pair: high over 3 of 3, low under 15 of 15, on the same metric.
    await rig.service.put_metric_alarm(_errors_alarm("high", datapoints_to_alarm=None,
                                                     treat_missing_data="missing"))  # fmt: skip
    await rig.service.put_metric_alarm(_errors_alarm(
        "low", evaluation_periods=15, datapoints_to_alarm=None, threshold=0.5,
        comparison_operator="LessThanThreshold", treat_missing_data="missing"))  # fmt: skip
    for value in [0.0] * 14 + [3.0, 3.0, 3.0]:
        await rig.minute(value)
    assert len(reads) == 17  # one read a pass, for the wider range
    high, low = rig.service.get("high"), rig.service.get("low")
    assert high is not None and high.state_value is AlarmState.ALARM
    assert low is not None and low.state_value is AlarmState.OK  # the last 15: 12 zeros, 3 threes
    # The same pass with each alarm alone decides the same.
    minute = int(rig.clock.now // 60 * 60)
    for alarm in (high, low):
        [(_, alone)] = rig.service._evaluate_all([alarm], minute, rig.clock.now)
        [(_, together)] = [r for r in rig.service._evaluate_all([high, low], minute, rig.clock.now)
                           if r[0] is alarm]  # fmt: skip
        assert alone == together
