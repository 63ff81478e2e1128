"""``GET /tandem/traces/{traceId}``: the span data tandem keeps for recent traces, as JSON.

The dashboard's log view follows a log line's trace id here to show the request's hops and
their timings. Ids, kinds and times are written as OTLP/JSON writes them (hex ids, integer
kinds, nanoseconds as decimal strings); ``durationMs`` is added for readers. 404 when tracing
is off or the trace is no longer kept.
"""

from __future__ import annotations

import re

import orjson
from aiohttp import web

from ..telemetry.tracing import RecentTraces, SpanData

__all__ = ["add_routes", "render_span"]

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def render_span(span: SpanData) -> dict[str, object]:
    return {
        "traceId": f"{span.trace_id:032x}",
        "spanId": f"{span.span_id:016x}",
        "parentSpanId": f"{span.parent_id:016x}" if span.parent_id else "",
        "name": span.name,
        "kind": int(span.kind),
        "startTimeUnixNano": str(span.start_ns),
        "endTimeUnixNano": str(span.end_ns),
        "durationMs": span.duration_ns / 1e6,
        "attributes": {key: value for key, value in span.attributes},
        "status": {"code": int(span.status), "message": span.status_message},
    }


def _not_found(message: str) -> web.Response:
    return web.Response(status=404, content_type="application/json",
                        body=orjson.dumps({"message": message}))


def add_routes(app: web.Application, recent: RecentTraces | None) -> None:
    async def trace(request: web.Request) -> web.Response:
        trace_id = request.match_info["trace_id"].lower()
        if not _TRACE_ID.match(trace_id):
            return web.Response(status=400, content_type="application/json",
                                body=orjson.dumps({"message": "a trace id is 32 hex digits"}))
        if recent is None:
            return _not_found("tracing is off (set --otlp-endpoint)")
        spans = recent.get(int(trace_id, 16))
        if not spans:
            return _not_found(f"trace {trace_id} is not among the {recent.limit} kept")
        return web.Response(content_type="application/json", body=orjson.dumps(
            {"traceId": trace_id, "spans": [render_span(s) for s in spans]}))

    app.router.add_get("/tandem/traces/{trace_id}", trace)
