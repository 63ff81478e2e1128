"""Real boto3 against a real tandem, once per protocol (awsJson1_0, query, rpc-v2-cbor):
the differential cases of reference §6 items 1-15 with AWS's expected values."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pytest

from .support import eventually, unique_namespace

UTC = dt.UTC
NOW = dt.datetime.now(UTC)
# A whole minute well inside the accepted window, so every test's data shares it.
MINUTE = (NOW - dt.timedelta(minutes=30)).replace(second=0, microsecond=0)
WINDOW = {
    "StartTime": MINUTE - dt.timedelta(minutes=1),
    "EndTime": MINUTE + dt.timedelta(minutes=2),
}


def _gms(cw: Any, ns: str, wait_for: int = 1, **kw: Any) -> dict[str, Any]:
    args = {"Namespace": ns, "MetricName": "M", "Period": 60, **WINDOW, **kw}
    return eventually(
        lambda: cw.get_metric_statistics(**args), lambda r: len(r["Datapoints"]) >= wait_for
    )


def _wait_for_samples(cw: Any, ns: str, n: float) -> None:
    """Until all ``n`` samples are stored: a flush may land in the middle of one request."""
    eventually(
        lambda: cw.get_metric_statistics(
            Namespace=ns, MetricName="M", Period=60, Statistics=["SampleCount"], **WINDOW
        )["Datapoints"],
        lambda points: sum(p["SampleCount"] for p in points) == n,
    )


def test_values_with_counts_give_aws_statistics(cw: Any) -> None:
    ns = unique_namespace()
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[{"MetricName": "M", "Values": [1, 10], "Counts": [2, 4], "Timestamp": MINUTE}],
    )
    r = _gms(cw, ns, Statistics=["SampleCount", "Sum", "Maximum", "Minimum", "Average"])
    assert r["Label"] == "M"
    [p] = r["Datapoints"]
    assert (p["SampleCount"], p["Sum"], p["Maximum"], p["Minimum"], p["Average"]) == (
        6.0,
        42.0,
        10.0,
        1.0,
        7.0,
    )
    assert p["Unit"] == "None"
    assert p["Timestamp"] == MINUTE and p["Timestamp"].second == 0


def test_value_and_values_is_invalid_parameter_combination(cw: Any) -> None:
    with pytest.raises(cw.exceptions.InvalidParameterCombinationException) as e:
        cw.put_metric_data(
            Namespace=unique_namespace(),
            MetricData=[{"MetricName": "M", "Value": 1, "Values": [1]}],
        )
    err = e.value.response["Error"]
    assert err["Code"] == "InvalidParameterCombination" and err["Type"] == "Sender"
    assert err["Message"] == (
        "The parameters MetricData.member.1.Value and "
        "MetricData.member.1.Values are mutually exclusive and you have "
        "specified both."
    )


def test_values_counts_of_different_sizes_rejected(cw: Any) -> None:
    with pytest.raises(cw.exceptions.InvalidParameterValueException) as e:
        cw.put_metric_data(
            Namespace=unique_namespace(),
            MetricData=[{"MetricName": "M", "Values": [1, 10], "Counts": [2, 4, 5]}],
        )
    assert e.value.response["Error"]["Message"] == (
        "The parameters MetricData.member.1.Values and MetricData.member.1.Counts must be of "
        "the same size."
    )


def test_values_and_statistic_values_together_are_accepted(cw: Any) -> None:
    ns = unique_namespace()
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {
                "MetricName": "M",
                "Values": [2.0],
                "Timestamp": MINUTE,
                "StatisticValues": {"SampleCount": 3, "Sum": 9, "Minimum": 1, "Maximum": 5},
            }
        ],
    )
    _wait_for_samples(cw, ns, 4)
    [p] = _gms(cw, ns, Statistics=["SampleCount", "Sum"])["Datapoints"]
    assert (p["SampleCount"], p["Sum"]) == (4.0, 11.0)


@pytest.mark.parametrize(
    "datum, fragment",
    [
        ({"Value": math.nan}, "MetricData.member.1.Value"),
        ({"Value": math.inf}, "MetricData.member.1.Value"),
        ({"Values": [1.0, -math.inf]}, "MetricData.member.1.Values.member.2"),
        ({"Value": 1, "Unit": "Parsecs"}, "MetricData.member.1.Unit"),
        ({"Value": 1, "StorageResolution": 5}, "StorageResolution"),
        ({"Value": 1, "Timestamp": NOW - dt.timedelta(days=15)}, "two weeks"),
        ({"Value": 1, "Timestamp": NOW + dt.timedelta(hours=3)}, "two hours"),
        ({"Values": [float(i) for i in range(151)]}, "more than 150 members"),
        (
            {"Value": 1, "Dimensions": [{"Name": f"d{i}", "Value": "v"} for i in range(11)]},
            "greater than 10",
        ),
    ],
)
def test_put_metric_data_limits(cw: Any, datum: dict[str, Any], fragment: str) -> None:
    with pytest.raises(cw.exceptions.InvalidParameterValueException) as e:
        cw.put_metric_data(Namespace=unique_namespace(), MetricData=[{"MetricName": "M", **datum}])
    assert fragment in e.value.response["Error"]["Message"]


def test_more_than_1000_datums_rejected_and_nothing_recorded(cw: Any) -> None:
    ns = unique_namespace()
    with pytest.raises(cw.exceptions.InvalidParameterValueException) as e:
        cw.put_metric_data(
            Namespace=ns, MetricData=[{"MetricName": f"m{i}", "Value": 1.0} for i in range(1001)]
        )
    assert "more than 1000" in e.value.response["Error"]["Message"]


def test_three_units_in_one_minute_give_three_datapoints(cw: Any) -> None:
    ns = unique_namespace()
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {"MetricName": "M", "Value": 1, "Unit": "Seconds", "Timestamp": MINUTE},
            {"MetricName": "M", "Value": 5, "Unit": "Count", "Timestamp": MINUTE},
            {"MetricName": "M", "Value": 10, "Timestamp": MINUTE},
        ],
    )
    points = _gms(cw, ns, wait_for=3, Statistics=["Average"])["Datapoints"]
    assert sorted((p["Unit"], p["Average"]) for p in points) == [
        ("Count", 5.0),
        ("None", 10.0),
        ("Seconds", 1.0),
    ]
    only = cw.get_metric_statistics(
        Namespace=ns, MetricName="M", Period=60, Unit="Seconds", Statistics=["Sum"], **WINDOW
    )["Datapoints"]
    assert [(p["Unit"], p["Sum"]) for p in only] == [("Seconds", 1.0)]


def test_start_equal_end_error_text(cw: Any) -> None:
    with pytest.raises(cw.exceptions.InvalidParameterValueException) as e:
        cw.get_metric_statistics(
            Namespace="N",
            MetricName="M",
            StartTime=MINUTE,
            EndTime=MINUTE,
            Period=60,
            Statistics=["Sum"],
        )
    assert e.value.response["Error"]["Message"] == (
        "The parameter StartTime must be less than the parameter EndTime."
    )


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (
            MINUTE + dt.timedelta(minutes=1),
            MINUTE,
            "The parameter EndTime must be greater than StartTime.",
        ),
        (MINUTE, MINUTE, "The parameter StartTime must not equal parameter EndTime."),
    ],
)
def test_get_metric_data_refuses_an_empty_range_with_validation_error(
    cw: Any, start: dt.datetime, end: dt.datetime, message: str
) -> None:
    query = {
        "Id": "m1",
        "MetricStat": {
            "Metric": {"Namespace": "N", "MetricName": "M"},
            "Period": 60,
            "Stat": "Sum",
        },
    }
    with pytest.raises(cw.exceptions.ClientError) as e:
        cw.get_metric_data(MetricDataQueries=[query], StartTime=start, EndTime=end)
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert e.value.response["Error"]["Message"] == message
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_one_day_at_period_one_exceeds_1440(cw: Any) -> None:
    with pytest.raises(cw.exceptions.InvalidParameterCombinationException) as e:
        cw.get_metric_statistics(
            Namespace="N",
            MetricName="M",
            StartTime=MINUTE - dt.timedelta(days=1),
            EndTime=MINUTE,
            Period=1,
            Statistics=["Sum"],
        )
    assert e.value.response["Error"]["Message"] == (
        "You have requested up to 86400 datapoints, which exceeds the limit of 1440. You may "
        "reduce the datapoints requested by increasing Period, or decreasing the time range."
    )


def test_extended_statistics_match_numpy_percentiles(cw: Any) -> None:
    ns = unique_namespace()
    values = np.random.default_rng(7).lognormal(3.0, 1.0, 3000).round(6)
    data = [
        {"MetricName": "M", "Values": chunk.tolist(), "Timestamp": MINUTE}
        for chunk in np.array_split(values, 20)
    ]  # 150 values each
    cw.put_metric_data(Namespace=ns, MetricData=data)
    _wait_for_samples(cw, ns, 3000)
    r = cw.get_metric_statistics(
        Namespace=ns, MetricName="M", Period=60, ExtendedStatistics=["p50", "p99"], **WINDOW
    )
    [p] = r["Datapoints"]
    assert set(p) == {"Timestamp", "Unit", "ExtendedStatistics"}
    for name, q in (("p50", 50), ("p99", 99)):
        assert p["ExtendedStatistics"][name] == pytest.approx(np.percentile(values, q), rel=0.01)


def _series(cw: Any, ns: str, n: int, metric: str = "metric1") -> None:
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {
                "MetricName": metric,
                "Value": float(i),
                "Timestamp": MINUTE - dt.timedelta(minutes=n - 1 - i),
            }
            for i in range(n)
        ],
    )


def _stat(ns: str, stat: str = "Sum", period: int = 60, dims: list | None = None) -> dict:  # type: ignore[type-arg]
    return {
        "Metric": {"Namespace": ns, "MetricName": "metric1", "Dimensions": dims or []},
        "Period": period,
        "Stat": stat,
    }


def test_get_metric_data_order_and_paging(cw: Any) -> None:
    ns = unique_namespace()
    _series(cw, ns, 20)
    span = {
        "StartTime": MINUTE - dt.timedelta(minutes=30),
        "EndTime": MINUTE + dt.timedelta(minutes=1),
    }
    q = [{"Id": "m1", "MetricStat": _stat(ns)}]

    def values(**kw: Any) -> list[float]:
        return cw.get_metric_data(MetricDataQueries=q, **span, **kw)["MetricDataResults"][0][
            "Values"
        ]

    default = eventually(values, lambda v: len(v) == 20)
    assert default == values(ScanBy="TimestampDescending") == [float(i) for i in range(19, -1, -1)]
    assert values(ScanBy="TimestampAscending") == default[::-1]
    first = cw.get_metric_data(MetricDataQueries=q, MaxDatapoints=10, **span)
    [r] = first["MetricDataResults"]
    assert (r["Values"], r["StatusCode"]) == ([float(i) for i in range(19, 9, -1)], "PartialData")
    assert first["Messages"] == [] and first["NextToken"]
    second = cw.get_metric_data(
        MetricDataQueries=q, MaxDatapoints=10, NextToken=first["NextToken"], **span
    )
    [r2] = second["MetricDataResults"]
    assert (r2["Values"], r2["StatusCode"]) == ([float(i) for i in range(9, -1, -1)], "Complete")
    assert "NextToken" not in second
    pages = cw.get_paginator("get_metric_data").paginate(
        MetricDataQueries=q, MaxDatapoints=7, **span
    )
    assert [v for page in pages for v in page["MetricDataResults"][0]["Values"]] == default
    with pytest.raises(cw.exceptions.InvalidNextToken):
        cw.get_metric_data(MetricDataQueries=q, NextToken="bogus", **span)


def test_get_metric_data_labels_expressions_and_return_data(cw: Any) -> None:
    ns = unique_namespace()
    _series(cw, ns, 3)
    span = {
        "StartTime": MINUTE - dt.timedelta(minutes=10),
        "EndTime": MINUTE + dt.timedelta(minutes=1),
    }
    eventually(
        lambda: cw.get_metric_data(
            MetricDataQueries=[{"Id": "m", "MetricStat": _stat(ns)}], **span
        )["MetricDataResults"][0]["Values"],
        lambda v: len(v) == 3,
    )
    single = cw.get_metric_data(MetricDataQueries=[{"Id": "m1", "MetricStat": _stat(ns)}], **span)
    assert single["MetricDataResults"][0]["Label"] == "metric1"
    two = cw.get_metric_data(
        MetricDataQueries=[
            {"Id": "a", "MetricStat": _stat(ns, "Sum", 60)},
            {"Id": "b", "MetricStat": _stat(ns, "Minimum", 120)},
        ],
        **span,
    )["MetricDataResults"]
    assert [r["Label"] for r in two] == ["metric1 Sum 60", "metric1 Minimum 120"]
    stats = cw.get_metric_data(
        MetricDataQueries=[
            {"Id": "a", "MetricStat": _stat(ns, "Average")},
            {"Id": "b", "MetricStat": _stat(ns, "Sum"), "ReturnData": False},
            {"Id": "e", "Expression": "b * 2", "Label": "doubled"},
        ],
        **span,
    )["MetricDataResults"]
    assert [(r["Id"], r["Label"]) for r in stats] == [("a", "metric1 Average"), ("e", "doubled")]
    assert stats[1]["Values"] == [4.0, 2.0, 0.0]


def test_get_metric_data_dimension_set_must_match_exactly(cw: Any) -> None:
    ns = unique_namespace()
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {
                "MetricName": "metric1",
                "Value": 1.0,
                "Timestamp": MINUTE,
                "Dimensions": [{"Name": "foo", "Value": "bar"}],
            }
        ],
    )
    q = lambda dims: [{"Id": "m1", "MetricStat": _stat(ns, dims=dims)}]  # noqa: E731
    found = eventually(
        lambda: cw.get_metric_data(
            MetricDataQueries=q([{"Name": "foo", "Value": "bar"}]), **WINDOW
        )["MetricDataResults"][0]["Values"],
        bool,
    )
    assert found == [1.0]
    [r] = cw.get_metric_data(MetricDataQueries=q([]), **WINDOW)["MetricDataResults"]
    assert (r["Values"], r["Timestamps"], r["StatusCode"]) == ([], [], "Complete")


def test_get_metric_data_mixed_units_pick_one_and_say_so(cw: Any) -> None:
    ns = unique_namespace()
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {"MetricName": "metric1", "Value": 1, "Unit": "Seconds", "Timestamp": MINUTE},
            {"MetricName": "metric1", "Value": 7, "Unit": "Count", "Timestamp": MINUTE},
        ],
    )
    r = eventually(
        lambda: cw.get_metric_data(
            MetricDataQueries=[{"Id": "m1", "MetricStat": _stat(ns)}], **WINDOW
        )["MetricDataResults"][0],
        lambda r: len(r.get("Messages", [])) == 1,
    )
    assert r["Values"] == [7.0]
    assert r["Messages"] == [
        {"Code": "MultipleUnits", "Value": "Multiple units returned: '[Count, Seconds]'"}
    ]


def test_list_metrics_filters(cw: Any) -> None:
    ns = unique_namespace()
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {
                "MetricName": "x",
                "Value": 1,
                "Dimensions": [{"Name": "a", "Value": "1"}, {"Name": "b", "Value": "2"}],
            },
            {"MetricName": "y", "Value": 1, "Dimensions": [{"Name": "b", "Value": "3"}]},
        ],
    )
    eventually(lambda: cw.list_metrics(Namespace=ns)["Metrics"], lambda m: len(m) == 2)
    by_name = cw.list_metrics(Namespace=ns, Dimensions=[{"Name": "a"}])["Metrics"]
    assert [
        (m["MetricName"], sorted((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in by_name
    ] == [("x", [("a", "1"), ("b", "2")])]
    by_value = cw.list_metrics(Namespace=ns, Dimensions=[{"Name": "b", "Value": "3"}])["Metrics"]
    assert [m["MetricName"] for m in by_value] == ["y"]
    assert [m["MetricName"] for m in cw.list_metrics(Namespace=ns, MetricName="x")["Metrics"]] == [
        "x"
    ]
    assert len(cw.list_metrics(Namespace=ns, RecentlyActive="PT3H")["Metrics"]) == 2
    with pytest.raises(cw.exceptions.InvalidParameterValueException):
        cw.list_metrics(Namespace=ns, RecentlyActive="PT1H")


def test_list_metrics_pages_of_500(cw: Any) -> None:
    ns = unique_namespace()
    cw.put_metric_data(
        Namespace=ns, MetricData=[{"MetricName": f"m{i:03d}", "Value": 1.0} for i in range(501)]
    )
    eventually(
        lambda: [
            m for p in cw.get_paginator("list_metrics").paginate(Namespace=ns) for m in p["Metrics"]
        ],
        lambda metrics: len(metrics) == 501,
    )
    first = cw.list_metrics(Namespace=ns)
    assert len(first["Metrics"]) == 500 and first["NextToken"]
    second = cw.list_metrics(Namespace=ns, NextToken=first["NextToken"])
    assert len(second["Metrics"]) == 1 and "NextToken" not in second
    names = [
        m["MetricName"]
        for page in cw.get_paginator("list_metrics").paginate(Namespace=ns)
        for m in page["Metrics"]
    ]
    assert sorted(names) == [f"m{i:03d}" for i in range(501)]


def test_gzip_request_of_150_metrics(cw: Any) -> None:
    ns = unique_namespace()
    sent: list[str | None] = []
    cw.meta.events.register(
        "before-send.cloudwatch.PutMetricData",
        lambda request, **_: sent.append(request.headers.get("Content-Encoding")),
    )
    try:
        cw.put_metric_data(
            Namespace=ns,
            MetricData=[
                {
                    "MetricName": f"metric-{i:03d}",
                    "Value": float(i),
                    "Dimensions": [{"Name": "Endpoint", "Value": f"endpoint-{i}"}],
                }
                for i in range(150)
            ],
        )
    finally:
        cw.meta.events.unregister("before-send.cloudwatch.PutMetricData")
    assert sent == [b"gzip"] or sent == ["gzip"]
    metrics = eventually(
        lambda: [
            m for p in cw.get_paginator("list_metrics").paginate(Namespace=ns) for m in p["Metrics"]
        ],
        lambda m: len(m) == 150,
    )
    assert len(metrics) == 150
