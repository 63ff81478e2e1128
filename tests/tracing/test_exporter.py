"""The span exporter against a real receiver: retries as OTLP/HTTP says, drops and counts when
the receiver is down or hangs, and never makes its caller wait."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest

from tandem.telemetry.tracing import SpanData, SpanExporter, SpanKind
from tests.tracing.receiver import OtlpReceiver


def _spans(n: int, start: int = 1) -> list[SpanData]:
    return [SpanData(i, i, 0, f"s{i}", SpanKind.SERVER, 10, 20) for i in range(start, start + n)]


def _exporter(url: str, **kwargs: object) -> SpanExporter:
    options: dict[str, object] = {"queue_size": 64, "batch_size": 16, "interval": 0.05,
                                  "timeout": 5.0}
    options.update(kwargs)
    return SpanExporter(url, resource=[("service.name", "test")], scope=("tandem", "0"),
                        **options)  # type: ignore[arg-type]


def _until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.02)


@pytest.fixture
def exporter_factory() -> Iterator[Callable[..., SpanExporter]]:
    made: list[SpanExporter] = []

    def make(url: str, **kwargs: object) -> SpanExporter:
        exporter = _exporter(url, **kwargs)
        made.append(exporter)
        exporter.start()
        return exporter

    yield make
    for exporter in made:
        exporter.stop(1.0)


def test_retryable_statuses_are_retried_and_others_are_not(
        exporter_factory: Callable[..., SpanExporter]) -> None:
    rx = OtlpReceiver(answers=[503, 429, 200, 400]).start()
    try:
        exporter = exporter_factory(rx.url)
        exporter.submit(_spans(10))
        _until(lambda: exporter.stats().exported == 10)
        assert rx.statuses == [503, 429, 200]
        exporter.submit(_spans(5, 100))
        _until(lambda: exporter.stats().failed == 5)
        assert rx.statuses == [503, 429, 200, 400]
        names = sorted(span.name for _, span in rx.spans())
        assert names == sorted(f"s{i}" for i in range(1, 11))
    finally:
        rx.close()


def test_full_batches_go_out_at_once(exporter_factory: Callable[..., SpanExporter]) -> None:
    rx = OtlpReceiver().start()
    try:
        exporter = exporter_factory(rx.url, interval=3600.0, batch_size=8)
        exporter.submit(_spans(8))
        _until(lambda: exporter.stats().exported == 8)  # counted once the receiver answered
        assert len(rx.spans()) == 8
    finally:
        rx.close()


def test_down_receiver_drops_and_counts(exporter_factory: Callable[..., SpanExporter]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        exporter = exporter_factory(f"http://127.0.0.1:{port}/v1/traces", timeout=1.0)
        for i in range(200):
            exporter.submit(_spans(1, i + 1))
        # The thread holds at most one batch (16) while it retries; the queue holds 64.
        stats = exporter.stats()
        assert stats.dropped >= 200 - 64 - 16
        assert stats.dropped + stats.queued <= 200
        _until(lambda: exporter.stats().failed > 0)
        assert exporter.stats().exported == 0


def test_hung_receiver_holds_only_the_export_thread(
        exporter_factory: Callable[..., SpanExporter]) -> None:
    rx = OtlpReceiver(mode="hang").start()
    try:
        exporter = exporter_factory(rx.url, timeout=30.0)
        exporter.submit(_spans(16))
        _until(lambda: rx.held == 1)
        # The thread now waits on the receiver; the caller does not.
        for i in range(200):
            exporter.submit(_spans(1, 1000 + i))
        stats = exporter.stats()
        assert stats.queued == 64 and stats.dropped == 200 - 64
        assert rx.held == 1 and stats.exported == 0
    finally:
        rx.close()


class _Source:
    """A finished request's trace as the exporter sees it: its spans built when taken."""

    def __init__(self, spans: list[SpanData]) -> None:
        self.trace_id = spans[0].trace_id
        self._spans = spans
        self.built = 0

    def spans(self) -> list[SpanData]:
        self.built += 1
        return self._spans


def test_queued_traces_are_built_on_the_export_thread_and_bounded_by_spans(
        exporter_factory: Callable[..., SpanExporter]) -> None:
    rx = OtlpReceiver(mode="hang").start()
    try:
        exporter = exporter_factory(rx.url, timeout=30.0)
        exporter.submit(_spans(16))
        _until(lambda: rx.held == 1)
        # The export thread is held: sources wait unbuilt, counted by their spans.
        sources = [_Source(_spans(4, 100 + 4 * i)) for i in range(20)]
        for source in sources:
            exporter.submit_source(source, 4)
        stats = exporter.stats()
        assert stats.queued == 64 and stats.dropped == 80 - 64
        assert all(source.built == 0 for source in sources)
    finally:
        rx.close()
    rx = OtlpReceiver().start()
    try:
        exporter = exporter_factory(rx.url)
        source = _Source(_spans(4, 500))
        exporter.submit_source(source, 4)
        exporter.submit(_spans(2, 600))
        _until(lambda: exporter.stats().exported == 6)
        assert source.built == 1 and exporter.stats().queued == 0
        assert sorted(span.name for _, span in rx.spans()) == sorted(
            ["s500", "s501", "s502", "s503", "s600", "s601"])
    finally:
        rx.close()
