"""``tandem alarms [list]|history``, over the CloudWatch API (JSON 1.0).

``list`` prints every metric alarm with its state, metric, condition and when the state last
changed; ``history NAME`` prints an alarm's history (state changes with their reasons,
configuration changes, actions), newest first.
"""

from __future__ import annotations

import json
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from .client import ApiError
from .common import client, console, fail, fmt_time, url_option

__all__ = ["alarms"]

_STATE_STYLE = {"OK": "green", "ALARM": "bold red", "INSUFFICIENT_DATA": "yellow"}
_OPERATORS = {
    "GreaterThanOrEqualToThreshold": ">=",
    "GreaterThanThreshold": ">",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
}


def _pages(url: str, operation: str, body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    api = client(url)
    out: list[dict[str, Any]] = []
    token = None
    try:
        while True:
            page = api.call("cloudwatch", operation, dict(body, **({"NextToken": token} if token
                                                                   else {})))  # fmt: skip
            out.extend(page.get(key, []))
            token = page.get("NextToken")
            if not token:
                return out
    except ApiError as exc:
        fail(exc)


def _metric(alarm: dict[str, Any]) -> str:
    if alarm.get("Metrics"):
        returned = [m for m in alarm["Metrics"] if m.get("ReturnData", True)]
        return f"math: {returned[0].get('Expression') or returned[0]['Id']}" if returned else "math"
    dims = ",".join(f"{d['Name']}={d['Value']}" for d in alarm.get("Dimensions", []))
    stat = alarm.get("Statistic") or alarm.get("ExtendedStatistic")
    return f"{alarm.get('Namespace')} {alarm.get('MetricName')} {stat} [{dims}]"


def _condition(alarm: dict[str, Any]) -> str:
    op = _OPERATORS.get(alarm.get("ComparisonOperator", ""), alarm.get("ComparisonOperator"))
    n = alarm.get("EvaluationPeriods")
    m = alarm.get("DatapointsToAlarm", n)
    period = alarm.get("Period") or next(
        (q["MetricStat"]["Period"] for q in alarm.get("Metrics", []) if "MetricStat" in q), 60
    )
    return f"{op} {alarm.get('Threshold')} for {m} of {n} x {period}s"


@click.group("alarms", invoke_without_command=True)
@click.pass_context
@url_option
def alarms(ctx: click.Context, url: str) -> None:
    """CloudWatch alarms: their states (the default) and history."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_, url=url, state=None, prefix=None)


@alarms.command("list")
@click.option("--state", type=click.Choice(["OK", "ALARM", "INSUFFICIENT_DATA"]), default=None)
@click.option("--prefix", default=None, help="Only alarms whose name starts with this.")
@url_option
def list_(state: str | None, prefix: str | None, url: str) -> None:
    """Every metric alarm with its state."""
    body: dict[str, Any] = {}
    if state:
        body["StateValue"] = state
    if prefix:
        body["AlarmNamePrefix"] = prefix
    found = _pages(url, "DescribeAlarms", body, "MetricAlarms")
    table = Table()
    for column in ("alarm", "state", "since", "metric", "condition", "actions"):
        table.add_column(column)
    for a in found:
        state_value = a.get("StateValue", "")
        table.add_row(
            Text(a["AlarmName"]),
            Text(state_value, style=_STATE_STYLE.get(state_value, "")),
            fmt_time(a.get("StateTransitionedTimestamp") or a.get("StateUpdatedTimestamp")),
            Text(_metric(a)),
            Text(_condition(a)),
            "on" if a.get("ActionsEnabled", True) else "off",
        )
    console.print(table)
    if not found:
        console.print("no alarms")


@alarms.command("history")
@click.argument("name")
@click.option(
    "--type", "item_type", default=None,
    type=click.Choice(["StateUpdate", "ConfigurationUpdate", "Action"]),
)  # fmt: skip
@click.option("--limit", default=50, show_default=True, help="Newest items to show.")
@url_option
def history(name: str, item_type: str | None, limit: int, url: str) -> None:
    """An alarm's history, newest first."""
    body: dict[str, Any] = {"AlarmName": name, "MaxRecords": min(max(limit, 1), 100)}
    if item_type:
        body["HistoryItemType"] = item_type
    items = _pages(url, "DescribeAlarmHistory", body, "AlarmHistoryItems")[:limit]
    table = Table()
    for column in ("time", "type", "summary", "reason"):
        table.add_column(column)
    for item in items:
        reason = ""
        if item.get("HistoryItemType") == "StateUpdate":
            try:
                reason = json.loads(item.get("HistoryData", "{}"))["newState"]["stateReason"]
            except (ValueError, KeyError, TypeError):
                reason = ""
        table.add_row(fmt_time(item.get("Timestamp")), item.get("HistoryItemType", ""),
                      Text(item.get("HistorySummary", "")), Text(reason))  # fmt: skip
    console.print(table)
    if not items:
        console.print(f"no history for {name}")
