"""Put, then read at once, through boto3 on each CloudWatch protocol: a server that flushes
metrics only every hour still answers with what was just written (current and past minutes,
GetMetricStatistics, GetMetricData and ListMetrics)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from .support import PROTOCOLS, ServerThread, cloudwatch_client, unique_namespace


@pytest.fixture(scope="module")
def slow_flush(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    server = ServerThread(tmp_path_factory.mktemp("tandem-ryw"), flush_interval=3600.0).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("minutes_ago", [0, 90])
def test_a_put_datapoint_is_read_back_at_once(
    slow_flush: ServerThread, protocol: str, minutes_ago: int
) -> None:
    cw: Any = cloudwatch_client(slow_flush.url, protocol)
    ns = unique_namespace()
    now = dt.datetime.now(dt.UTC)
    when = (now - dt.timedelta(minutes=minutes_ago)).replace(second=5, microsecond=0)
    dims = [{"Name": "Host", "Value": "a"}]
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {"MetricName": "M", "Dimensions": dims, "Value": v, "Timestamp": when}
            for v in (3.0, 5.0)
        ],
    )
    window = {
        "StartTime": when - dt.timedelta(minutes=5),
        "EndTime": now + dt.timedelta(minutes=2),
    }
    stats = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="M",
        Dimensions=dims,
        Period=60,
        Statistics=["SampleCount", "Sum", "Maximum"],
        **window,
    )
    minute = when.replace(second=0)
    assert [
        (p["Timestamp"], p["SampleCount"], p["Sum"], p["Maximum"]) for p in stats["Datapoints"]
    ] == [(minute, 2.0, 8.0, 5.0)]
    data = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {"Namespace": ns, "MetricName": "M", "Dimensions": dims},
                    "Period": 60,
                    "Stat": "Average",
                },
            }
        ],
        **window,
    )
    [result] = data["MetricDataResults"]
    assert (result["Timestamps"], result["Values"]) == ([minute], [4.0])
    listed = cw.list_metrics(Namespace=ns)["Metrics"]
    assert listed == [{"Namespace": ns, "MetricName": "M", "Dimensions": dims}]
    # Read twice and again after a flush: the same answer, the datapoints counted once.
    slow_flush.server.flusher.flush()
    again = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="M",
        Dimensions=dims,
        Period=60,
        Statistics=["SampleCount", "Sum", "Maximum"],
        **window,
    )
    assert again["Datapoints"] == stats["Datapoints"]
    assert cw.list_metrics(Namespace=ns)["Metrics"] == listed
