"""``tandem metrics list|get|endpoint``, over the CloudWatch API (JSON 1.0).

``get`` prints a statistics table and the metric over time as a terminal
chart; ``endpoint`` prints an endpoint's invocation metrics and where the time
goes, container by container (the seed's per-container latency view).
"""

from __future__ import annotations

import time
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from .client import ApiError, Client
from .common import client, console, fail, fmt_time, url_option
from .timespec import parse_since

__all__ = ["metrics"]

_STATS = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"]
_BLOCKS = " ▁▂▃▄▅▆▇█"


@click.group("metrics")
def metrics() -> None:
    """CloudWatch metrics: list series, statistics over time."""


def _dimensions(pairs: tuple[str, ...]) -> list[dict[str, str]]:
    out = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r}: use Name=Value", param_hint="--dimension")
        out.append({"Name": name, "Value": value})
    return out


@metrics.command("list")
@click.option("--namespace", default=None)
@click.option("--metric-name", default=None)
@click.option("--dimension", "-d", multiple=True, help="Name=Value, or Name= for any value.")
@url_option
def list_(
    namespace: str | None, metric_name: str | None, dimension: tuple[str, ...], url: str
) -> None:
    """List metric series."""
    body: dict[str, Any] = {}
    if namespace:
        body["Namespace"] = namespace
    if metric_name:
        body["MetricName"] = metric_name
    if dimension:
        body["Dimensions"] = [
            {"Name": d["Name"], **({"Value": d["Value"]} if d["Value"] else {})}
            for d in _dimensions(dimension)
        ]
    table = Table()
    for column in ("namespace", "metric", "dimensions"):
        table.add_column(column)
    api = client(url)
    try:
        token = None
        while True:
            page = api.call(
                "cloudwatch", "ListMetrics", dict(body, **({"NextToken": token} if token else {}))
            )
            for m in page.get("Metrics", []):
                dims = ", ".join(f"{d['Name']}={d['Value']}" for d in m.get("Dimensions", []))
                table.add_row(Text(m["Namespace"]), Text(m["MetricName"]), Text(dims))
            token = page.get("NextToken")
            if not token:
                break
    except ApiError as exc:
        fail(exc)
    console.print(table)


def _statistics(
    api: Client,
    namespace: str,
    name: str,
    dims: list[dict[str, str]],
    since: float,
    period: int,
    percentiles: list[str],
) -> list[dict[str, Any]]:
    now = time.time()
    body: dict[str, Any] = {
        "Namespace": namespace,
        "MetricName": name,
        "Dimensions": dims,
        "StartTime": now - since,
        "EndTime": now + 60,
        "Period": period,
        "Statistics": _STATS,
    }
    points = {
        p["Timestamp"]: p for p in api.call("cloudwatch", "GetMetricStatistics", body)["Datapoints"]
    }
    if percentiles:
        del body["Statistics"]
        body["ExtendedStatistics"] = percentiles
        for p in api.call("cloudwatch", "GetMetricStatistics", body)["Datapoints"]:
            points.setdefault(p["Timestamp"], {}).setdefault("ExtendedStatistics", {}).update(
                p.get("ExtendedStatistics", {})
            )
    return [points[t] for t in sorted(points)]


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.3g}"


def _chart(points: list[dict[str, Any]], stat: str) -> Text:
    values = [p.get(stat, p.get("ExtendedStatistics", {}).get(stat)) for p in points]
    known = [v for v in values if v is not None]
    if not known:
        return Text("(no data)")
    top = max(known) or 1.0
    bar = "".join(" " if v is None else _BLOCKS[max(1, round(v / top * 8))] for v in values)
    return Text(f"{stat} over time (max {_fmt(top)}): ") + Text(bar, style="green")


@metrics.command("get")
@click.argument("namespace")
@click.argument("metric_name")
@click.option(
    "--dimension", "-d", multiple=True, help="Name=Value (all of the series' dimensions)."
)
@click.option("--since", default="1h", show_default=True)
@click.option("--period", type=int, default=60, show_default=True)
@click.option("--percentile", "-p", multiple=True, default=("p50", "p99"), show_default=True)
@click.option(
    "--chart",
    "chart_stat",
    default="Average",
    show_default=True,
    help="Statistic drawn as the terminal chart.",
)
@url_option
def get(
    namespace: str,
    metric_name: str,
    dimension: tuple[str, ...],
    since: str,
    period: int,
    percentile: tuple[str, ...],
    chart_stat: str,
    url: str,
) -> None:
    """Statistics of one series over time, as a table and a chart."""
    try:
        points = _statistics(
            client(url),
            namespace,
            metric_name,
            _dimensions(dimension),
            parse_since(since),
            period,
            list(percentile),
        )
    except ApiError as exc:
        fail(exc)
    table = Table(title=f"{namespace} {metric_name}")
    table.add_column("period start (UTC)", no_wrap=True)
    for column in _STATS + list(percentile):
        table.add_column(column, justify="right")
    for p in points:
        ext = p.get("ExtendedStatistics", {})
        table.add_row(
            fmt_time(p["Timestamp"]),
            *(_fmt(p.get(s)) for s in _STATS),
            *(_fmt(ext.get(q)) for q in percentile),
        )
    console.print(table)
    console.print(_chart(points, chart_stat))


def _window(api: Client, name: str, dims: list[dict[str, str]], seconds: float) -> dict[str, Any]:
    """One datapoint summarising the whole window (Period = the window, in whole minutes)."""
    period = max(60, int(-(-seconds // 60)) * 60)
    end = (int(time.time()) // 60 + 1) * 60
    body: dict[str, Any] = {
        "Namespace": "AWS/SageMaker",
        "MetricName": name,
        "Dimensions": dims,
        "StartTime": end - period,
        "EndTime": end,
        "Period": period,
    }
    merged: dict[str, Any] = {}
    for key, value in (("Statistics", _STATS), ("ExtendedStatistics", ["p50", "p99"])):
        for point in api.call("cloudwatch", "GetMetricStatistics", {**body, key: value})[
            "Datapoints"
        ]:
            merged.update(point)
    return merged


def _containers(api: Client, config_name: str, variant: str) -> list[str]:
    config = api.call("sagemaker", "DescribeEndpointConfig", {"EndpointConfigName": config_name})
    for v in config["ProductionVariants"]:
        if v["VariantName"] == variant:
            model = api.call("sagemaker", "DescribeModel", {"ModelName": v["ModelName"]})
            containers = model.get("Containers") or []
            return [
                c.get("ContainerHostname", f"container-{i + 1}") for i, c in enumerate(containers)
            ]
    return []


@metrics.command("endpoint")
@click.argument("endpoint")
@click.option("--since", default="1h", show_default=True)
@url_option
def endpoint(endpoint: str, since: str, url: str) -> None:
    """An endpoint's invocations, errors and latency per variant, and where the time goes,
    container by container."""
    api = client(url)
    seconds = parse_since(since)
    try:
        desc = api.call("sagemaker", "DescribeEndpoint", {"EndpointName": endpoint})
        for variant in desc.get("ProductionVariants", []):
            vname = variant["VariantName"]
            dims = [
                {"Name": "EndpointName", "Value": endpoint},
                {"Name": "VariantName", "Value": vname},
            ]
            table = Table(title=f"{endpoint} / {vname} (last {since}, latencies in µs)")
            for column in ("metric", "container", "samples", "sum", "average", "p50", "p99"):
                table.add_column(
                    column,
                    justify="left" if column in ("metric", "container") else "right",
                    no_wrap=True,
                )
            for name in ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors"):
                point = _window(api, name, dims, seconds)
                table.add_row(
                    name, "", _fmt(point.get("SampleCount")), _fmt(point.get("Sum")), "", "", ""
                )
            rows = [("ModelLatency", "", dims), ("OverheadLatency", "", dims)]
            for container in _containers(api, desc["EndpointConfigName"], vname):
                rows.append(
                    (
                        "ContainerLatency",
                        container,
                        dims + [{"Name": "ContainerName", "Value": container}],
                    )
                )
            for name, container, d in rows:
                point = _window(api, name, d, seconds)
                ext = point.get("ExtendedStatistics", {})
                table.add_row(
                    name,
                    Text(container),
                    _fmt(point.get("SampleCount")),
                    _fmt(point.get("Sum")),
                    _fmt(point.get("Average")),
                    _fmt(ext.get("p50")),
                    _fmt(ext.get("p99")),
                )
            console.print(table)
    except ApiError as exc:
        fail(exc)
