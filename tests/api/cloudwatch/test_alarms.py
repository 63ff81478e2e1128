"""CloudWatch alarms through boto3 on each protocol and through the AWS CLI, against a real
server whose clock is a ManualClock: each minute is recorded, closed and evaluated by hand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tandem.clock import ManualClock

from .support import PROTOCOLS, ServerThread, cloudwatch_client, eventually

T0 = 1_700_000_040.0  # a minute boundary
AWS = Path(sys.executable).parent / "aws"


@pytest.fixture(scope="module")
def clocked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, ManualClock]]:
    clock = ManualClock(T0 + 30)
    server = ServerThread.__new__(ServerThread)
    super(ServerThread, server).__init__(
        tmp_path_factory.mktemp("alarms"), clock=clock, metrics_flush_interval=0.2
    )
    server.start()
    yield server, clock
    server.stop()


class Minutes:
    """Records Invocation5XXErrors per minute, closes the minute and evaluates the alarms."""

    def __init__(self, server: ServerThread, clock: ManualClock, endpoint: str) -> None:
        self.server, self.clock = server, clock
        self.cw = cloudwatch_client(server.url, "json")
        self.dims = [{"Name": "EndpointName", "Value": endpoint},
                     {"Name": "VariantName", "Value": "AllTraffic"}]  # fmt: skip

    def step(self, errors: float) -> None:
        minute = self.clock.now // 60 * 60
        # AWS/ namespaces are closed to PutMetricData: record as the router does, on the loop.
        dims = {d["Name"]: d["Value"] for d in self.dims}

        async def record() -> None:
            series = self.server.server.registry.series(
                "AWS/SageMaker", "Invocation5XXErrors", dims)
            series.record(errors, minute + 5)

        self.server.call(record())

        def stats() -> list[Any]:
            return self.cw.get_metric_statistics(
                Namespace="AWS/SageMaker", MetricName="Invocation5XXErrors",
                Dimensions=self.dims, StartTime=minute, EndTime=minute + 60, Period=60,
                Statistics=["Sum"])["Datapoints"]  # fmt: skip

        assert eventually(stats, lambda d: bool(d) and d[0]["Sum"] == errors)
        self.clock.advance(60)
        self.server.call(self.server.server.alarms.evaluate())


def _put(cw: Any, name: str, dims: list[dict[str, str]], **extra: Any) -> None:
    cw.put_metric_alarm(
        AlarmName=name, Namespace="AWS/SageMaker", MetricName="Invocation5XXErrors",
        Dimensions=dims, Statistic="Sum", Period=60, EvaluationPeriods=3, DatapointsToAlarm=2,
        Threshold=1.0, ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching", **extra,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_5xx_alarm_goes_ok_alarm_ok_with_history(
    clocked: tuple[ServerThread, ManualClock], protocol: str
) -> None:
    server, clock = clocked
    cw = cloudwatch_client(server.url, protocol)
    name = f"errors-{protocol}"
    minutes = Minutes(server, clock, f"ep-{protocol}")
    _put(cw, name, minutes.dims, AlarmDescription="5xx on ep", Tags=[{"Key": "t", "Value": "1"}])
    [alarm] = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["StateReason"] == "Unchecked: Initial alarm creation"
    assert alarm["AlarmArn"] == f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{name}"
    assert (alarm["DatapointsToAlarm"], alarm["EvaluationPeriods"]) == (2, 3)
    assert alarm["Threshold"] == 1.0
    states = []
    for errors in (0, 3, 0, 2, 0):
        minutes.step(errors)
        states.append(cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"])
    assert states == ["OK", "OK", "OK", "ALARM", "OK"]
    history = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")
    items = history["AlarmHistoryItems"]
    assert [i["HistorySummary"] for i in items] == [
        "Alarm updated from ALARM to OK",
        "Alarm updated from OK to ALARM",
        "Alarm updated from INSUFFICIENT_DATA to OK",
    ]
    data = json.loads(items[1]["HistoryData"])
    assert data["oldState"]["stateValue"] == "OK"
    reason = data["newState"]["stateReason"]
    assert reason.startswith("Threshold Crossed: 2 out of the last 3 datapoints [2.0 (")
    assert reason.endswith("were greater than or equal to the threshold (1.0) (minimum 2 "
                           "datapoints for OK -> ALARM transition).")  # fmt: skip
    reason_data = data["newState"]["stateReasonData"]
    assert reason_data["recentDatapoints"] == [0.0, 3.0, 0.0, 2.0]
    assert [p["value"] for p in reason_data["evaluatedDatapoints"]] == [2.0, 3.0]
    assert (reason_data["statistic"], reason_data["period"], reason_data["threshold"]) == (
        "Sum", 60, 1.0)  # fmt: skip
    created = cw.describe_alarm_history(AlarmName=name, HistoryItemType="ConfigurationUpdate")
    assert [i["HistorySummary"] for i in created["AlarmHistoryItems"]] == [
        f'Alarm "{name}" created']
    # DescribeAlarmsForMetric finds it by its metric; a filter by state and prefix too.
    found = cw.describe_alarms_for_metric(
        Namespace="AWS/SageMaker", MetricName="Invocation5XXErrors", Dimensions=minutes.dims)
    assert [a["AlarmName"] for a in found["MetricAlarms"]] == [name]
    ok = cw.describe_alarms(AlarmNamePrefix="errors-", StateValue="OK")["MetricAlarms"]
    assert name in [a["AlarmName"] for a in ok]
    assert cw.describe_alarms(AlarmNames=[name])["CompositeAlarms"] == []
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="testing",
                       StateReasonData='{"by": "test"}')  # fmt: skip
    [alarm] = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert (alarm["StateValue"], alarm["StateReason"], alarm["StateReasonData"]) == (
        "ALARM", "testing", '{"by": "test"}')  # fmt: skip
    cw.delete_alarms(AlarmNames=[name, "never-existed"])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []
    # History outlives the alarm.
    assert cw.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]


@pytest.mark.slow
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_bad_alarm_input_gets_aws_error_codes(
    clocked: tuple[ServerThread, ManualClock], protocol: str
) -> None:
    server, _clock = clocked
    cw = cloudwatch_client(server.url, protocol)
    dims = [{"Name": "EndpointName", "Value": "bad"}]
    cases = [
        ({"Period": 90}, "ValidationError"),
        ({"Statistic": "Median"}, "ValidationError"),
        ({"DatapointsToAlarm": 5}, "ValidationError"),
        ({"ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold"}, "ValidationError"),
        ({"TreatMissingData": "sometimes"}, "ValidationError"),
    ]
    for extra, code in cases:
        args = dict(AlarmName="bad", Namespace="AWS/SageMaker", MetricName="Invocation5XXErrors",
                    Dimensions=dims, Statistic="Sum", Period=60, EvaluationPeriods=3,
                    Threshold=1.0, ComparisonOperator="GreaterThanThreshold")  # fmt: skip
        args.update(extra)
        with pytest.raises(ClientError) as caught:
            cw.put_metric_alarm(**args)
        assert caught.value.response["Error"]["Code"] == code, extra
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as caught:
        cw.set_alarm_state(AlarmName="no-such-alarm", StateValue="OK", StateReason="x")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFound"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    _put(cw, f"fmt-{protocol}", dims)
    with pytest.raises(ClientError) as caught:
        cw.set_alarm_state(AlarmName=f"fmt-{protocol}", StateValue="OK", StateReason="x",
                           StateReasonData="{not json")  # fmt: skip
    assert caught.value.response["Error"]["Code"] == "InvalidFormat"
    with pytest.raises(ClientError) as caught:
        cw.describe_alarms(NextToken="garbage")
    assert caught.value.response["Error"]["Code"] == "InvalidNextToken"


@pytest.mark.slow
def test_describe_alarms_pages_with_the_paginator(
    clocked: tuple[ServerThread, ManualClock]
) -> None:
    server, _clock = clocked
    cw = cloudwatch_client(server.url, "query")
    dims = [{"Name": "EndpointName", "Value": "paged"}]
    for i in range(7):
        _put(cw, f"page-{i}", dims, AlarmActions=[f"arn:aws:sns:us-east-1:000000000000:t{i % 2}"])
    pages = list(cw.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix="page-", PaginationConfig={"PageSize": 3}))  # fmt: skip
    assert [len(p["MetricAlarms"]) for p in pages] == [3, 3, 1]
    names = [a["AlarmName"] for p in pages for a in p["MetricAlarms"]]
    assert names == [f"page-{i}" for i in range(7)]
    odd = cw.describe_alarms(ActionPrefix="arn:aws:sns:us-east-1:000000000000:t1")
    assert [a["AlarmName"] for a in odd["MetricAlarms"]] == ["page-1", "page-3", "page-5"]
    assert cw.describe_alarms(AlarmNamePrefix="page-", AlarmTypes=["CompositeAlarm"]) [
        "MetricAlarms"] == []  # fmt: skip
    both = cw.describe_alarms(AlarmNamePrefix="page-", AlarmTypes=["MetricAlarm", "LogAlarm"])
    assert len(both["MetricAlarms"]) == 7 and both["CompositeAlarms"] == []
    with pytest.raises(ClientError) as caught:
        cw.describe_alarms(AlarmTypes=["SometimesAlarm"])
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    cw.disable_alarm_actions(AlarmNames=["page-0"])
    assert cw.describe_alarms(AlarmNames=["page-0"])["MetricAlarms"][0]["ActionsEnabled"] is False
    cw.enable_alarm_actions(AlarmNames=["page-0"])
    assert cw.describe_alarms(AlarmNames=["page-0"])["MetricAlarms"][0]["ActionsEnabled"] is True


def _aws(server: ServerThread, *args: str) -> dict[str, Any]:
    env = {
        "PATH": os.environ.get("PATH", ""), "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_MAX_ATTEMPTS": "1",
    }  # fmt: skip
    done = subprocess.run(
        [str(AWS), "--endpoint-url", server.url, "--output", "json", "cloudwatch", *args],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout or "{}")


@pytest.mark.slow
@pytest.mark.skipif(not AWS.exists(), reason="the AWS CLI is not installed")
def test_aws_cli_alarm_goes_ok_alarm_ok(clocked: tuple[ServerThread, ManualClock]) -> None:
    server, clock = clocked
    minutes = Minutes(server, clock, "ep-cli")
    _aws(server, "put-metric-alarm", "--alarm-name", "cli-5xx", "--namespace", "AWS/SageMaker",
         "--metric-name", "Invocation5XXErrors", "--dimensions",
         "Name=EndpointName,Value=ep-cli", "Name=VariantName,Value=AllTraffic",
         "--statistic", "Sum", "--period", "60", "--evaluation-periods", "3",
         "--datapoints-to-alarm", "2", "--threshold", "1",
         "--comparison-operator", "GreaterThanOrEqualToThreshold",
         "--treat-missing-data", "notBreaching")  # fmt: skip
    states = []
    for errors in (0, 5, 1, 0, 0):
        minutes.step(errors)
        out = _aws(server, "describe-alarms", "--alarm-names", "cli-5xx")
        states.append(out["MetricAlarms"][0]["StateValue"])
    assert states == ["OK", "OK", "ALARM", "ALARM", "OK"]
    history = _aws(server, "describe-alarm-history", "--alarm-name", "cli-5xx",
                   "--history-item-type", "StateUpdate", "--scan-by", "TimestampAscending")
    assert [i["HistorySummary"] for i in history["AlarmHistoryItems"]] == [
        "Alarm updated from INSUFFICIENT_DATA to OK",
        "Alarm updated from OK to ALARM",
        "Alarm updated from ALARM to OK",
    ]
    data = json.loads(history["AlarmHistoryItems"][1]["HistoryData"])
    assert data["newState"]["stateReasonData"]["recentDatapoints"] == [0.0, 5.0, 1.0]


@pytest.mark.slow
def test_tandem_alarms_lists_states_and_history(clocked: tuple[ServerThread, ManualClock]) -> None:
    server, _clock = clocked
    cw = cloudwatch_client(server.url, "json")
    _put(cw, "cli-view-<b>", [{"Name": "EndpointName", "Value": "view"}])
    cw.set_alarm_state(AlarmName="cli-view-<b>", StateValue="ALARM", StateReason="drill [x]")
    env = dict(os.environ, COLUMNS="250", TANDEM_URL=server.url)

    def tandem(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "tandem", "alarms", *args], env=env,
                              capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    listing = tandem("list", "--prefix", "cli-view-")
    [row] = [line for line in listing.splitlines() if "cli-view-<b>" in line]
    assert "ALARM" in row and ">= 1.0 for 2 of 3 x 60s" in row
    assert "AWS/SageMaker Invocation5XXErrors Sum [EndpointName=view]" in row
    assert "cli-view-<b>" in tandem()  # the default is the list
    history = tandem("history", "cli-view-<b>")
    assert "Alarm updated from INSUFFICIENT_DATA to ALARM" in history
    assert "drill [x]" in history  # shown as text, not as markup
    assert 'Alarm "cli-view-<b>" created' in history


@pytest.mark.slow
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_metric_math_alarm_round_trips(
    clocked: tuple[ServerThread, ManualClock], protocol: str
) -> None:
    server, _clock = clocked
    cw = cloudwatch_client(server.url, protocol)
    metrics = [
        {"Id": "errors", "ReturnData": False, "MetricStat": {
            "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocation5XXErrors",
                       "Dimensions": [{"Name": "EndpointName", "Value": "m"}]},
            "Period": 60, "Stat": "Sum"}},
        {"Id": "calls", "ReturnData": False, "MetricStat": {
            "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocations",
                       "Dimensions": [{"Name": "EndpointName", "Value": "m"}]},
            "Period": 60, "Stat": "Sum"}},
        {"Id": "rate", "Expression": "100 * errors / calls", "Label": "error rate",
         "ReturnData": True},
    ]  # fmt: skip
    cw.put_metric_alarm(AlarmName=f"rate-{protocol}", Metrics=metrics, EvaluationPeriods=3,
                        Threshold=5.0, ComparisonOperator="GreaterThanThreshold")  # fmt: skip
    [alarm] = cw.describe_alarms(AlarmNames=[f"rate-{protocol}"])["MetricAlarms"]
    assert alarm["Metrics"] == metrics
    assert "Dimensions" not in alarm and "Period" not in alarm and "DatapointsToAlarm" not in alarm
    with pytest.raises(ClientError) as caught:
        cw.put_metric_alarm(AlarmName="two-returns", EvaluationPeriods=1, Threshold=1.0,
                            ComparisonOperator="GreaterThanThreshold",
                            Metrics=[{**m, "ReturnData": True} for m in metrics])  # fmt: skip
    assert caught.value.response["Error"]["Code"] == "ValidationError"
