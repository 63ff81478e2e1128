"""One alarm in real time: a 1-minute alarm on the real clock goes to ALARM once the minute
holding a breaching datapoint closes (about a minute; the other alarm tests step a
ManualClock)."""

from __future__ import annotations

import json
import time

import pytest

from .support import ServerThread, cloudwatch_client, eventually, unique_namespace


@pytest.mark.slow
def test_one_minute_alarm_fires_after_the_minute_closes(server: ServerThread) -> None:
    cw = cloudwatch_client(server.url, "smithy-rpc-v2-cbor")
    ns = unique_namespace("Realtime")
    cw.put_metric_alarm(
        AlarmName=f"{ns}-errors", Namespace=ns, MetricName="Errors", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData="missing",
    )  # fmt: skip
    put_at = time.time()
    cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "Errors", "Value": 4.0}])

    def alarm() -> dict:  # type: ignore[type-arg]
        return cw.describe_alarms(AlarmNames=[f"{ns}-errors"])["MetricAlarms"][0]

    fired = eventually(alarm, lambda a: a["StateValue"] == "ALARM", timeout=150)
    assert fired["StateValue"] == "ALARM"
    # Not before the datapoint's minute closed.
    assert fired["StateTransitionedTimestamp"].timestamp() >= put_at // 60 * 60 + 60
    assert fired["StateReason"].startswith("Threshold Crossed: 1 datapoint [4.0 (")
    data = json.loads(fired["StateReasonData"])
    assert data["recentDatapoints"] == [4.0]
    assert data["evaluatedDatapoints"][0]["value"] == 4.0
