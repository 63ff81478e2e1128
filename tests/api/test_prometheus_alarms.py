"""GET /metrics exports each alarm's state as tandem_alarm_state{alarm, state}."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tandem.api.prometheus import TandemCollector
from tandem.api.prometheus import render as render_exposition
from tandem.clock import ManualClock
from tandem.telemetry.alarms import AlarmState, MetricAlarm
from tandem.telemetry.metrics import MetricRegistry

T0 = 1_700_000_040.0


def _alarm(name: str, state: AlarmState) -> MetricAlarm:
    return MetricAlarm(alarm_name=name, metric_name="Invocation5XXErrors",
                       namespace="AWS/SageMaker", statistic="Sum", period=60,
                       evaluation_periods=1, threshold=1.0,
                       comparison_operator="GreaterThanThreshold", state_value=state,
                       alarm_arn=f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{name}",
                       alarm_configuration_updated_timestamp=T0)  # fmt: skip


def test_alarm_state_gauge_has_one_for_the_current_state() -> None:
    alarms = [_alarm("high-5xx", AlarmState.ALARM), _alarm('q"uote', AlarmState.OK)]
    clock = ManualClock(T0)
    collector = TandemCollector(MetricRegistry(clock=clock), clock, alarms=lambda: alarms)
    body, _ = render_exposition(collector)
    [family] = [f for f in text_string_to_metric_families(body.decode())
                if f.name == "tandem_alarm_state"]  # fmt: skip
    samples = {(s.labels["alarm"], s.labels["state"]): s.value for s in family.samples}
    assert samples == {
        ("high-5xx", "OK"): 0.0, ("high-5xx", "ALARM"): 1.0,
        ("high-5xx", "INSUFFICIENT_DATA"): 0.0,
        ('q"uote', "OK"): 1.0, ('q"uote', "ALARM"): 0.0, ('q"uote', "INSUFFICIENT_DATA"): 0.0,
    }  # fmt: skip


def test_no_alarm_family_without_an_alarm_source() -> None:
    clock = ManualClock(T0)
    body, _ = render_exposition(TandemCollector(MetricRegistry(clock=clock), clock))
    assert b"tandem_alarm_state" not in body
