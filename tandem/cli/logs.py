"""``tandem logs groups|streams|get|filter|tail``, over the CloudWatch Logs API.

Log content is untrusted: it is printed as plain text, never as markup.
``tail --follow`` polls FilterLogEvents from the last seen timestamp and
skips event ids already shown, as ``aws logs tail --follow`` does, so it
works against any CloudWatch Logs endpoint.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from .client import ApiError, Client
from .common import client, console, fail, fmt_time, url_option
from .timespec import parse_since

__all__ = ["logs"]


@click.group("logs")
def logs() -> None:
    """CloudWatch Logs: groups, streams, events, filters, live tail."""


def _pages(api: Client, operation: str, body: dict[str, Any], key: str) -> Iterator[dict[str, Any]]:
    token = None
    while True:
        request = dict(body, **({"nextToken": token} if token else {}))
        page = api.call("logs", operation, request)
        yield from page.get(key, [])
        new = page.get("nextToken")
        if not new or new == token:
            return
        token = new


def _event_line(event: dict[str, Any], stream: bool) -> Text:
    line = Text(fmt_time(event["timestamp"] / 1000), style="dim")
    if stream:
        line.append(f" {event['logStreamName']}", style="cyan")
    line.append(" ")
    line.append(event["message"].rstrip("\n"))
    return line


@logs.command("groups")
@click.option("--prefix", default=None, help="Only groups whose name starts with this.")
@url_option
def groups(prefix: str | None, url: str) -> None:
    """List log groups."""
    body = {"logGroupNamePrefix": prefix} if prefix else {}
    table = Table()
    for column in ("log group", "created", "retention", "stored bytes"):
        table.add_column(column)
    try:
        for group in _pages(client(url), "DescribeLogGroups", body, "logGroups"):
            retention = group.get("retentionInDays")
            table.add_row(
                Text(group["logGroupName"]),
                fmt_time(group["creationTime"] / 1000),
                f"{retention} days" if retention else "never expire",
                str(group.get("storedBytes", 0)),
            )
    except ApiError as exc:
        fail(exc)
    console.print(table)


@logs.command("streams")
@click.argument("group")
@click.option("--prefix", default=None, help="Only streams whose name starts with this.")
@click.option("--by-last-event", is_flag=True, help="Newest streams first.")
@url_option
def streams(group: str, prefix: str | None, by_last_event: bool, url: str) -> None:
    """List the streams of GROUP."""
    body: dict[str, Any] = {"logGroupName": group}
    if prefix:
        body["logStreamNamePrefix"] = prefix
    if by_last_event:
        body.update(orderBy="LastEventTime", descending=True)
    table = Table()
    table.add_column("log stream", overflow="fold")
    for column in ("first event", "last event"):
        table.add_column(column, no_wrap=True)
    try:
        for stream in _pages(client(url), "DescribeLogStreams", body, "logStreams"):
            first, last = stream.get("firstEventTimestamp"), stream.get("lastEventTimestamp")
            table.add_row(
                Text(stream["logStreamName"]),
                fmt_time(first / 1000) if first else "-",
                fmt_time(last / 1000) if last else "-",
            )
    except ApiError as exc:
        fail(exc)
    console.print(table)


@logs.command("get")
@click.argument("group")
@click.argument("stream")
@click.option("--head", is_flag=True, help="From the oldest event (default: the newest page).")
@click.option("--limit", type=int, default=100, show_default=True)
@url_option
def get(group: str, stream: str, head: bool, limit: int, url: str) -> None:
    """Print events of one stream."""
    try:
        page = client(url).call(
            "logs",
            "GetLogEvents",
            {
                "logGroupName": group,
                "logStreamName": stream,
                "limit": limit,
                "startFromHead": head,
            },
        )
    except ApiError as exc:
        fail(exc)
    for event in page["events"]:
        console.print(_event_line(event, stream=False), soft_wrap=True)


@logs.command("filter")
@click.argument("group")
@click.argument("pattern", default="")
@click.option("--stream-prefix", default=None)
@click.option("--since", default=None, help="Only events newer than this (e.g. 10m, 2h, 1d).")
@click.option("--limit", type=int, default=None, help="Stop after this many events.")
@url_option
def filter_(
    group: str,
    pattern: str,
    stream_prefix: str | None,
    since: str | None,
    limit: int | None,
    url: str,
) -> None:
    """Print events of GROUP matching a CloudWatch filter PATTERN, across its streams."""
    body: dict[str, Any] = {"logGroupName": group, "filterPattern": pattern}
    if stream_prefix:
        body["logStreamNamePrefix"] = stream_prefix
    if since:
        body["startTime"] = int((time.time() - parse_since(since)) * 1000)
    shown = 0
    try:
        for event in _pages(client(url), "FilterLogEvents", body, "events"):
            console.print(_event_line(event, stream=True), soft_wrap=True)
            shown += 1
            if limit is not None and shown >= limit:
                break
    except ApiError as exc:
        fail(exc)


@logs.command("tail")
@click.argument("group")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events as they arrive.")
@click.option("--filter", "pattern", default="", help="A CloudWatch filter pattern.")
@click.option("--stream-prefix", default=None)
@click.option("--since", default="10m", show_default=True, help="How far back to start.")
@click.option(
    "--interval",
    type=float,
    default=1.0,
    show_default=True,
    help="Seconds between polls with --follow.",
)
@url_option
def tail(
    group: str,
    follow: bool,
    pattern: str,
    stream_prefix: str | None,
    since: str,
    interval: float,
    url: str,
) -> None:
    """Print recent events of GROUP, and with --follow, new ones as they arrive."""
    api = client(url)
    start = int((time.time() - parse_since(since)) * 1000)
    seen: deque[str] = deque(maxlen=100_000)
    seen_set: set[str] = set()
    try:
        while True:
            body: dict[str, Any] = {
                "logGroupName": group,
                "filterPattern": pattern,
                "startTime": start,
            }
            if stream_prefix:
                body["logStreamNamePrefix"] = stream_prefix
            for event in _pages(api, "FilterLogEvents", body, "events"):
                if event["eventId"] in seen_set:
                    continue
                if len(seen) == seen.maxlen:
                    seen_set.discard(seen[0])
                seen.append(event["eventId"])
                seen_set.add(event["eventId"])
                start = max(start, event["timestamp"])
                console.print(_event_line(event, stream=True), soft_wrap=True)
            if not follow:
                return
            time.sleep(interval)
    except ApiError as exc:
        fail(exc)
    except KeyboardInterrupt:
        return
