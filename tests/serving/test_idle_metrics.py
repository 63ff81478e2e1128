"""Idle variants publish zeros: a closed minute without a request gets one 0 in Invocations
and InvocationsPerInstance; a busy minute, and the minute the variant became routable in,
are left alone."""

from __future__ import annotations

from tandem.clock import ManualClock
from tandem.serving.idle_metrics import IdleMetrics
from tandem.serving.model import ExecutionMode, RoutingStrategy
from tandem.serving.router import RoutedEndpoint, RoutedInstance, RoutedVariant, Router
from tandem.telemetry.metrics import MetricRegistry


def _setup() -> tuple[ManualClock, Router, RoutedVariant, IdleMetrics]:
    clock = ManualClock(now=1_700_000_070.0)  # 30 s into a minute
    registry = MetricRegistry(clock=clock)
    router = Router(registry, account_id="000000000000", region="us-east-1")
    series = router.variant_series("ep", "AllTraffic", ["c"], False, False)
    variant = RoutedVariant(
        "AllTraffic", 1.0, [RoutedInstance("i-1", ["http://127.0.0.1:1/invocations"])],
        RoutingStrategy.LEAST_OUTSTANDING_REQUESTS, series, mode=ExecutionMode.SERIAL,
        containers=["c"], primary_only=False,
    )  # fmt: skip
    router.publish(RoutedEndpoint("ep", [variant], region="us-east-1", account_id="0" * 12))
    return clock, router, variant, IdleMetrics(router, clock=clock)


def _state(series, minute: int) -> tuple[bool, float | None, float | None]:  # type: ignore[no-untyped-def]
    rows = [(b.start, b.count, b.sum) for b, _ in series.snapshot() if b.start == minute]
    return (bool(rows), rows[0][1] if rows else None, rows[0][2] if rows else None)


def test_an_idle_minute_gets_one_zero_and_a_busy_one_none() -> None:
    clock, _, variant, idle = _setup()
    first = 1_700_000_040
    assert idle.tick() == 0  # the minute has not closed
    clock.advance(40)  # into the next minute
    assert idle.tick() == 0  # the variant became routable half-way through the first
    assert _state(variant.series.invocations, first) == (False, None, None)
    clock.advance(60)  # the second minute, routable throughout, closed without a request
    assert idle.tick() == 1
    for s in (variant.series.invocations, variant.series.per_instance):
        assert _state(s, first + 60) == (True, 1.0, 0.0)
    assert idle.tick() == 0  # each minute once
    variant.series.invocations.record(1.0)
    variant.series.per_instance.record(1.0)
    clock.advance(60)
    assert idle.tick() == 0  # busy: untouched
    assert _state(variant.series.invocations, first + 120) == (True, 1.0, 1.0)
