"""Traces of batch jobs: a root span per job, child spans as its parts end.

A transform job's trace has a CLIENT span per mini-batch request (its ``traceparent`` goes to
every container the mini-batch passes through, so traced containers join); a training job's
has an INTERNAL span per secondary status it went through (Starting, Downloading, Training,
Uploading...), from the same times DescribeTrainingJob's SecondaryStatusTransitions show.
Children are exported as they end; the root span when the job ends.
"""

from __future__ import annotations

from collections.abc import Sequence

from .context import RANDOM, SAMPLED, new_span_id, new_trace_id
from .requests import RequestTracer
from .spans import AttributeValue, SpanData, SpanKind, StatusCode

__all__ = ["JobTrace", "seconds_ns"]

# Children kept in memory for the dashboard per job (all are exported).
_KEEP = 1000


class JobTrace:
    """One job's trace: ids drawn when the job starts."""

    def __init__(self, tracer: RequestTracer) -> None:
        self.tracer = tracer
        self.trace_id = new_trace_id()
        self.span_id = new_span_id()
        self.sampled = tracer.sampler.sampled(self.trace_id, None)
        self.flags = RANDOM | (SAMPLED if self.sampled else 0)
        self._spans: list[SpanData] = []

    def traceparent(self, span_id: int) -> str:
        return f"00-{self.trace_id:032x}-{span_id:016x}-{self.flags:02x}"

    def child(self, name: str, kind: SpanKind, start_ns: int, end_ns: int,
              attributes: Sequence[tuple[str, AttributeValue]], *, error: str | None = None,
              span_id: int | None = None) -> None:
        span = SpanData(self.trace_id, span_id or new_span_id(), self.span_id, name, kind,
                        start_ns, end_ns, attributes,
                        status=StatusCode.ERROR if error is not None else StatusCode.UNSET,
                        status_message=error or "", flags=self.flags)
        if len(self._spans) < _KEEP:
            self._spans.append(span)
        if self.sampled and self.tracer.exporter is not None:
            self.tracer.exporter.submit([span])

    def finish(self, name: str, start_ns: int, end_ns: int,
               attributes: Sequence[tuple[str, AttributeValue]], *,
               error: str | None = None) -> None:
        root = SpanData(self.trace_id, self.span_id, 0, name, SpanKind.INTERNAL, start_ns, end_ns,
                        attributes,
                        status=StatusCode.ERROR if error is not None else StatusCode.UNSET,
                        status_message=error or "", flags=self.flags)
        self._spans.insert(0, root)
        if self.sampled and self.tracer.exporter is not None:
            self.tracer.exporter.submit([root])
        self.tracer.recent.add(self)

    def spans(self) -> list[SpanData]:
        return list(self._spans)


def seconds_ns(seconds: float) -> int:
    return round(seconds * 1e9)
