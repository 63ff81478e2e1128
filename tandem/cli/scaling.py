"""``tandem scaling [ENDPOINT]``: scalable targets, their policies and scaling activities."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table
from rich.text import Text

from .client import ApiError, Client
from .common import client, console, fail, fmt_time, url_option

__all__ = ["scaling"]

_NS = {"ServiceNamespace": "sagemaker"}


def _all(api: Client, operation: str, body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token = None
    while True:
        extra: dict[str, Any] = {"NextToken": token} if token else {}
        page = api.call("autoscaling", operation, {**body, **extra})
        items += page.get(key, [])
        token = page.get("NextToken")
        if not token:
            return items


def _mine(resource_id: str, endpoint: str | None) -> bool:
    return endpoint is None or resource_id.split("/")[1:2] == [endpoint]


@click.command("scaling")
@click.argument("endpoint", required=False)
@click.option("--limit", default=20, show_default=True, help="Activities to show per variant.")
@click.option(
    "--not-scaled/--no-not-scaled",
    default=False,
    help="Also show attempts that changed nothing (IncludeNotScaledActivities).",
)
@url_option
def scaling(endpoint: str | None, limit: int, not_scaled: bool, url: str) -> None:
    """Show autoscaling: each scalable variant's bounds, its policies and its latest scaling
    activities (newest first), for one endpoint or all."""
    api = client(url)
    try:
        targets = [
            t
            for t in _all(api, "DescribeScalableTargets", dict(_NS), "ScalableTargets")
            if _mine(t["ResourceId"], endpoint)
        ]
        if not targets:
            console.print(
                Text("no scalable targets" + (f" for endpoint {endpoint}" if endpoint else ""))
            )
            return
        policies = _all(api, "DescribeScalingPolicies", dict(_NS), "ScalingPolicies")
        table = Table(title="Scalable targets")
        for column in ("resource", "min", "max", "suspended", "policies"):
            table.add_column(column)
        for t in targets:
            suspended = [k for k, v in (t.get("SuspendedState") or {}).items() if v]
            names = [
                f"{p['PolicyName']} ({p['PolicyType']})"
                for p in policies
                if p["ResourceId"] == t["ResourceId"]
            ]
            table.add_row(
                Text(t["ResourceId"]),
                str(t["MinCapacity"]),
                str(t["MaxCapacity"]),
                ", ".join(suspended) or "-",
                Text("\n".join(names) or "-"),
            )
        console.print(table)
        for t in targets:
            body = {
                **_NS,
                "ResourceId": t["ResourceId"],
                "ScalableDimension": t["ScalableDimension"],
                "MaxResults": min(max(limit, 1), 50),
                "IncludeNotScaledActivities": not_scaled,
            }
            page = api.call("autoscaling", "DescribeScalingActivities", body)
            activities = page.get("ScalingActivities", [])[:limit]
            table = Table(title=Text(f"Scaling activities of {t['ResourceId']}"))
            for column in ("started", "ended", "status", "description", "cause"):
                table.add_column(column, overflow="fold")
            for a in activities:
                table.add_row(
                    fmt_time(a.get("StartTime")),
                    fmt_time(a.get("EndTime")),
                    Text(a["StatusCode"]),
                    Text(a["Description"]),
                    Text(a["Cause"]),
                )
            console.print(table)
    except ApiError as exc:
        fail(exc)
