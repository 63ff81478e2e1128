"""The alarm operations check their members against CloudWatch's service model before
anything is looked up, on every protocol, with CloudWatch's code (``ValidationError``) and
AWS's text naming the member in lowerCamel and the constraint."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from .support import cloudwatch_client

CASES = [
    ("describe_alarms", {"AlarmNamePrefix": "a" * 256},
     "Value 'aaaa", "at 'alarmNamePrefix' failed to satisfy constraint: "
     "Member must have length less than or equal to 255"),
    ("describe_alarms", {"MaxRecords": 0}, "Value '0' at 'maxRecords'",
     "Member must have value greater than or equal to 1"),
    ("describe_alarms", {"StateValue": "BAD"}, "Value 'BAD' at 'stateValue'",
     "Member must satisfy enum value set: [OK, ALARM, INSUFFICIENT_DATA]"),
    ("describe_alarms", {"ChildrenOfAlarmName": ""}, "Value '' at 'childrenOfAlarmName'",
     "Member must have length greater than or equal to 1"),
    ("describe_alarms_for_metric", {"MetricName": "m", "Namespace": "n", "Period": 0},
     "Value '0' at 'period'", "Member must have value greater than or equal to 1"),
    ("describe_alarms_for_metric", {"MetricName": "m", "Namespace": "n", "Unit": "Parsecs"},
     "Value 'Parsecs' at 'unit'", "Member must satisfy enum value set: ["),
    ("describe_alarm_history", {"ScanBy": "Sideways"}, "Value 'Sideways' at 'scanBy'",
     "Member must satisfy enum value set: [TimestampDescending, TimestampAscending]"),
    ("describe_alarm_history", {"AlarmName": ""}, "Value '' at 'alarmName'",
     "Member must have length greater than or equal to 1"),
    ("delete_alarms", {"AlarmNames": ["a"] * 101}, "at 'alarmNames'",
     "Member must have length less than or equal to 100"),
    ("enable_alarm_actions", {"AlarmNames": ["a" * 256]}, "at 'alarmNames.1.member'",
     "Member must have length less than or equal to 255"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "body", "where", "constraint"), CASES)
def test_alarm_members_outside_the_model_get_awss_text(
    server: Any, protocol: str, call: str, body: dict[str, Any], where: str, constraint: str
) -> None:
    cw = cloudwatch_client(server.url, protocol, parameter_validation=False)
    with pytest.raises(ClientError) as caught:
        getattr(cw, call)(**body)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert error["Message"].startswith("1 validation error detected: ")
    assert where in error["Message"]
    assert constraint in error["Message"]


def test_set_alarm_state_validates_before_looking_the_alarm_up(
    server: Any, protocol: str
) -> None:
    cw = cloudwatch_client(server.url, protocol, parameter_validation=False)
    with pytest.raises(ClientError) as caught:
        cw.set_alarm_state(AlarmName="no-such-alarm", StateValue="MAYBE", StateReason="r")
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert "Value 'MAYBE' at 'stateValue' failed to satisfy constraint" in error["Message"]
    with pytest.raises(ClientError) as missing:
        cw.set_alarm_state(AlarmName="no-such-alarm", StateValue="OK", StateReason="r")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFound"


def test_put_metric_alarm_members_are_checked_against_the_model(
    server: Any, protocol: str
) -> None:
    cw = cloudwatch_client(server.url, protocol, parameter_validation=False)
    with pytest.raises(ClientError) as caught:
        cw.put_metric_alarm(
            AlarmName="checked", MetricName="m", Namespace="n", Statistic="Average", Period=60,
            EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
            AlarmDescription="d" * 1025,
        )  # fmt: skip
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert "at 'alarmDescription' failed to satisfy constraint: " in error["Message"]
    assert "Member must have length less than or equal to 1024" in error["Message"]
    assert cw.describe_alarms(AlarmNames=["checked"])["MetricAlarms"] == []
