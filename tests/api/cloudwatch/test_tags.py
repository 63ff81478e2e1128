"""CloudWatch's TagResource / UntagResource / ListTagsForResource through boto3 on each
protocol, on real alarms: PutMetricAlarm's Tags kept on creation (ignored on an update, as
AWS does), tags changed by ARN, gone with DeleteAlarms; an ARN of nothing that exists is
ResourceNotFoundException; AWS's limits."""

from __future__ import annotations

from typing import Any

import pytest

ARN = "arn:aws:cloudwatch:us-east-1:000000000000:alarm:"


def _alarm(cw: Any, name: str, **extra: Any) -> None:
    cw.put_metric_alarm(
        AlarmName=name, Namespace="Tags", MetricName="M", Statistic="Average", Period=60,
        EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold", **extra,
    )  # fmt: skip


def _error(info: pytest.ExceptionInfo[Any]) -> tuple[str, int]:
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_alarm_tags_round_trip(cw: Any, protocol: str) -> None:
    name = f"tagged-{protocol}"
    _alarm(cw, name, Tags=[{"Key": "team", "Value": "ml"}, {"Key": "env", "Value": "test"}])
    arn = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]
    assert arn == ARN + name
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "team", "Value": "ml"}, {"Key": "env", "Value": "test"},
    ]  # fmt: skip
    cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "team", "Value": "infra"}])
    cw.untag_resource(ResourceARN=arn, TagKeys=["env", "absent"])
    _alarm(cw, name, Tags=[{"Key": "ignored", "Value": "on update"}])
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "team", "Value": "infra"}
    ]
    cw.delete_alarms(AlarmNames=[name])
    with pytest.raises(cw.exceptions.ResourceNotFoundException) as info:
        cw.list_tags_for_resource(ResourceARN=arn)
    assert _error(info) == ("ResourceNotFoundException", 404)
    _alarm(cw, name)  # the same name again starts without tags
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == []
    cw.delete_alarms(AlarmNames=[name])


def test_unknown_resources_and_bad_tags(cw: Any, protocol: str) -> None:
    for arn in (ARN + "never-created", "arn:aws:cloudwatch:us-east-1:000000000000:rule:r",
                "arn:aws:cloudwatch:eu-west-1:000000000000:alarm:x"):  # fmt: skip
        with pytest.raises(cw.exceptions.ResourceNotFoundException) as info:
            cw.list_tags_for_resource(ResourceARN=arn)
        assert _error(info) == ("ResourceNotFoundException", 404)
    name = f"limits-{protocol}"
    with pytest.raises(cw.exceptions.InvalidParameterValueException):
        _alarm(cw, name, Tags=[{"Key": "aws:x", "Value": "v"}])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []  # refused whole
    _alarm(cw, name)
    with pytest.raises(cw.exceptions.InvalidParameterValueException):
        cw.tag_resource(ResourceARN=ARN + name, Tags=[{"Key": "aws:x", "Value": "v"}])
    with pytest.raises(cw.exceptions.InvalidParameterValueException):
        cw.tag_resource(
            ResourceARN=ARN + name, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)]
        )
    assert cw.list_tags_for_resource(ResourceARN=ARN + name)["Tags"] == []
    cw.delete_alarms(AlarmNames=[name])
