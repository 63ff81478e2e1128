"""The handler runtime's spans and log stamps, driven through ``Handler.invoke`` with a real
OTLP receiver."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from tandem.runtime import Handler, RuntimeEnvironment
from tandem.runtime.tracing import TraceLogFilter, TraceSettings
from tests.tracing.receiver import OtlpReceiver, attributes

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


_HANDLERS: list[Handler] = []


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    rx = OtlpReceiver().start()
    yield rx
    while _HANDLERS:  # their export threads stop before the receiver goes
        tracing = _HANDLERS.pop().tracing
        assert tracing is not None
        tracing.exporter().stop(2.0)
    rx.close()


def _handler(receiver: OtlpReceiver, **functions: object) -> Handler:
    mod = ModuleType("inference")
    for name, fn in functions.items():
        setattr(mod, name, fn)
    env = RuntimeEnvironment(model_dir=Path("/m"), code_dir=Path("/m/code"))
    settings = TraceSettings.from_env({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver.url,
                                       "OTEL_BSP_SCHEDULE_DELAY": "50",
                                       "OTEL_SERVICE_NAME": "model"})
    handler = Handler(mod, dataclasses.replace(env, tracing=settings))
    handler.model = {}
    _HANDLERS.append(handler)
    return handler


def test_failing_predict_fn_is_an_error_span_and_its_log_line_names_the_trace(
        receiver: OtlpReceiver, caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("user.model")

    def predict_fn(data: object, model: object) -> object:
        log.warning("about to fail")
        raise ValueError("no")

    handler = _handler(receiver, predict_fn=predict_fn)
    stamp = TraceLogFilter()
    caplog.handler.addFilter(stamp)
    # pytest keeps one capture handler for the session: its formatter is put back after.
    formatter = caplog.handler.formatter
    caplog.handler.setFormatter(logging.Formatter("%(message)s%(trace_context)s"))
    try:
        result = handler.invoke(b'{"a": 1}', "application/json", "application/json",
                                {"traceparent": f"00-{TRACE}-{PARENT}-01"})
        lines = caplog.text.splitlines()
    finally:
        caplog.handler.removeFilter(stamp)
        caplog.handler.setFormatter(formatter)
    assert result.status == 500
    spans = receiver.wait_for(lambda s: len(s) >= 3)
    by_name = {span.name: span for _, span in spans}
    server = by_name["POST /invocations"]
    assert server.kind == Span.SPAN_KIND_SERVER and server.trace_id.hex() == TRACE
    assert server.parent_span_id.hex() == PARENT
    assert server.status.code == Status.STATUS_CODE_ERROR
    assert attributes(server)["http.response.status_code"] == 500
    assert {s for s, _ in spans} == {"model"}
    assert by_name["input_fn"].status.code == Status.STATUS_CODE_UNSET
    failed = by_name["predict_fn"]
    assert failed.status.code == Status.STATUS_CODE_ERROR
    assert attributes(failed)["error.type"] == "ValueError"
    assert "output_fn" not in by_name
    assert all(by_name[n].parent_span_id == server.span_id for n in ("input_fn", "predict_fn"))
    suffix = f" trace_id={TRACE} span_id={server.span_id.hex()} trace_flags=01"
    assert "about to fail" + suffix in lines
    assert any(line.startswith("answering 500: ValueError: no") and line.endswith(suffix)
               for line in lines)


def test_unsampled_request_exports_nothing_and_lines_outside_requests_are_plain(
        receiver: OtlpReceiver) -> None:
    handler = _handler(receiver, predict_fn=lambda data, model: data)
    result = handler.invoke(b'{"a": 1}', "application/json", "application/json",
                            {"traceparent": f"00-{TRACE}-{PARENT}-00"})
    assert result.status == 200
    handler.invoke(b"{}", "application/json", "application/json",
                   {"traceparent": f"00-{'1' * 32}-{PARENT}-01"})
    spans = receiver.wait_for(lambda s: len(s) >= 4)
    assert {span.trace_id.hex() for _, span in spans} == {"1" * 32}
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "plain", None, None)
    TraceLogFilter().filter(record)
    assert record.trace_context == ""  # type: ignore[attr-defined]
