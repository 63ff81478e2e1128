"""Webhook actions against real HTTP servers on 127.0.0.1: the SNS-style body, retries, and a
webhook that hangs or refuses holding up neither evaluation nor the other actions."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from tandem.clock import ManualClock
from tandem.store.sqlite import SQLiteStore
from tandem.telemetry.alarms import (
    WEBHOOK_PREFIX,
    AlarmInput,
    AlarmService,
    AlarmState,
    MetricSource,
    WebhookSender,
)
from tandem.telemetry.metrics import MetricFlusher, MetricQueries, MetricRegistry

T0 = 1_700_000_040.0
DIMS = {"EndpointName": "ep", "VariantName": "AllTraffic"}


class Hooks:
    """Three receivers: one answers 200, one hangs until released, one answers 500."""

    def __init__(self) -> None:
        self.received: list[dict] = []  # type: ignore[type-arg]
        self.headers: list[dict[str, str]] = []
        self.hanging = 0
        self.failed = 0
        self.release = asyncio.Event()

    async def ok(self, request: web.Request) -> web.Response:
        self.received.append(json.loads(await request.read()))
        self.headers.append(dict(request.headers))
        return web.Response(text="ok")

    async def hang(self, request: web.Request) -> web.Response:
        self.hanging += 1
        await self.release.wait()
        return web.Response(text="late")

    async def fail(self, request: web.Request) -> web.Response:
        self.failed += 1
        return web.Response(status=500)


@pytest.fixture
async def hooks() -> AsyncIterator[tuple[Hooks, str]]:
    h = Hooks()
    app = web.Application()
    app.router.add_post("/ok", h.ok)
    app.router.add_post("/hang", h.hang)
    app.router.add_post("/fail", h.fail)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield h, f"http://127.0.0.1:{port}"
    h.release.set()
    await runner.cleanup()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_hanging_and_refusing_webhooks_slow_nothing(
    tmp_path: Path, hooks: tuple[Hooks, str]
) -> None:
    h, base = hooks
    clock = ManualClock(T0)
    store = SQLiteStore(tmp_path)
    registry = MetricRegistry(clock=clock)
    flusher = MetricFlusher(registry, store.metrics, interval=5, clock=clock)
    service = AlarmService(store.alarms, MetricSource(store.metrics, MetricQueries(store.metrics,
                           clock=clock)), clock=clock)  # fmt: skip
    sender = WebhookSender("us-east-1", "000000000000", attempts=3, timeout=30, backoff=0.01)
    service.register_action_handler(WEBHOOK_PREFIX, sender)
    await service.start(evaluate=False)
    refused = f"{WEBHOOK_PREFIX}http://127.0.0.1:{_closed_port()}/x"
    actions = (f"{WEBHOOK_PREFIX}{base}/hang", refused, f"{WEBHOOK_PREFIX}{base}/fail",
               f"{WEBHOOK_PREFIX}{base}/ok")  # fmt: skip
    await service.put_metric_alarm(AlarmInput(
        alarm_name="5xx", metric_name="Invocation5XXErrors", namespace="AWS/SageMaker",
        dimensions=tuple(DIMS.items()), statistic="Sum", period=60, evaluation_periods=1,
        threshold=1.0, comparison_operator="GreaterThanOrEqualToThreshold",
        alarm_actions=actions, ok_actions=(f"{WEBHOOK_PREFIX}{base}/ok",),
        alarm_description="errors on ep"))  # fmt: skip
    try:
        registry.series("AWS/SageMaker", "Invocation5XXErrors", DIMS).record(3.0)
        flusher.flush()
        clock.advance(60)
        assert await service.evaluate() == 1
        # The good receiver gets its notification while the hanging one still holds a request.
        async with asyncio.timeout(30):
            while not h.received or h.failed < 3 or not h.hanging:
                await asyncio.sleep(0.01)
        assert h.hanging == 1 and not h.release.is_set()
        # The next minute evaluates while the webhook still hangs: back to OK, notified.
        registry.series("AWS/SageMaker", "Invocation5XXErrors", DIMS).record(0.0)
        flusher.flush()
        clock.advance(60)
        assert await service.evaluate() == 1
        assert service.get("5xx").state_value is AlarmState.OK  # type: ignore[union-attr]
        async with asyncio.timeout(30):
            while len(h.received) < 2:
                await asyncio.sleep(0.01)
        assert h.hanging == 1
        first = h.received[0]
        assert (first["Type"], first["TopicArn"]) == ("Notification", actions[3])
        assert first["Subject"] == 'ALARM: "5xx" in US East (N. Virginia)'
        assert h.headers[0]["x-amz-sns-message-type"] == "Notification"
        message = json.loads(first["Message"])
        assert (message["AlarmName"], message["OldStateValue"], message["NewStateValue"]) == (
            "5xx", "INSUFFICIENT_DATA", "ALARM")  # fmt: skip
        assert message["NewStateReason"].startswith("Threshold Crossed: 1 datapoint [3.0 (")
        assert message["Region"] == "US East (N. Virginia)"
        assert message["AlarmDescription"] == "errors on ep"
        assert message["Trigger"]["Statistic"] == "SUM"
        assert message["Trigger"]["Dimensions"] == [
            {"value": "ep", "name": "EndpointName"}, {"value": "AllTraffic", "name": "VariantName"}]
        assert json.loads(h.received[1]["Message"])["NewStateValue"] == "OK"
        # Outcomes in the history: the refused and failing URLs after their 3 attempts.
        async with asyncio.timeout(30):
            while True:
                items, _ = await service.describe_alarm_history("5xx", "Action")
                if len(items) >= 4:
                    break
                await asyncio.sleep(0.02)
        summaries = sorted(i.history_summary for i in items)
        assert summaries == sorted([
            f"Successfully executed action {actions[3]}",
            f"Successfully executed action {actions[3]}",
            f"Failed to execute action {refused}. Reason: the webhook could not be reached "
            "(ClientConnectorError) after 3 attempts",
            f"Failed to execute action {actions[2]}. Reason: the webhook answered HTTP 500 "
            "after 3 attempts",
        ])  # fmt: skip
    finally:
        h.release.set()
        await service.stop()
        await sender.close()
        store.close()


async def test_a_webhook_that_never_answers_times_out_per_attempt(
    hooks: tuple[Hooks, str],
) -> None:
    from tandem.telemetry.alarms import AlarmStateChange, MetricAlarm

    h, base = hooks
    sender = WebhookSender("eu-west-1", "123456789012", attempts=2, timeout=0.2, backoff=0.01)
    alarm = MetricAlarm(alarm_name="a", metric_name="M", namespace="N", statistic="Average",
                        period=60, evaluation_periods=1, threshold=1.0,
                        comparison_operator="GreaterThanThreshold",
                        alarm_arn="arn:aws:cloudwatch:eu-west-1:123456789012:alarm:a",
                        alarm_configuration_updated_timestamp=T0)  # fmt: skip
    change = AlarmStateChange(alarm_name="a", old_state=AlarmState.OK, new_state=AlarmState.ALARM,
                              reason="r", reason_data=None, timestamp=T0,
                              action_arn=f"{WEBHOOK_PREFIX}{base}/hang")  # fmt: skip
    with pytest.raises(RuntimeError, match="did not answer within 0.2 s after 2 attempts"):
        await sender(alarm, change)
    assert h.hanging == 2
    await sender.close()
