"""StartLiveTail over the AWS event-stream encoding (``application/vnd.amazon.eventstream``).

The frame encoder is pure: ``encode_event`` builds one message — prelude
(total length, headers length, CRC32 of those 8 bytes), string headers,
payload, CRC32 of everything before — as botocore's ``EventStreamBuffer``
decodes it. ``LiveTailSession`` is the HTTP edge built on
``LogService.tail``: it writes ``initial-response`` first (botocore refuses
a stream that does not start with it), then ``sessionStart``, then a
``sessionUpdate`` about every second with at most 500 events (``sampled``
when more arrived), until the client goes away, the server stops, or the
session reaches its maximum length (``SessionTimeoutException``, as AWS
after 3 hours).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
import uuid
import zlib
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from aiohttp import web

from ..telemetry.logs.model import FilteredLogEvent
from .aws_json import Streaming

__all__ = ["LiveTailSession", "encode_event", "encode_message", "MAX_EVENTS_PER_UPDATE"]

_log = logging.getLogger(__name__)

MAX_EVENTS_PER_UPDATE = 500
# Events buffered between two updates; beyond this they are dropped and the update is sampled.
_BUFFER_LIMIT = 10_000
_STRING = 7


def encode_message(headers: Sequence[tuple[str, str]], payload: bytes) -> bytes:
    """One event-stream message with string headers (type 7)."""
    encoded = bytearray()
    for name, value in headers:
        raw_name, raw_value = name.encode(), value.encode()
        encoded += struct.pack(">B", len(raw_name)) + raw_name
        encoded += struct.pack(">BH", _STRING, len(raw_value)) + raw_value
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + bytes(encoded) + payload
    return message + struct.pack(">I", zlib.crc32(message))


def encode_event(event_type: str, payload: Any) -> bytes:
    """A JSON event (``:message-type: event``)."""
    return encode_message(
        [
            (":message-type", "event"),
            (":event-type", event_type),
            (":content-type", "application/json"),
        ],
        json.dumps(payload).encode(),
    )


def encode_exception(exception_type: str, message: str) -> bytes:
    return encode_message(
        [
            (":message-type", "exception"),
            (":exception-type", exception_type),
            (":content-type", "application/json"),
        ],
        json.dumps({"message": message}).encode(),
    )


class LiveTailSession(Streaming):
    """One StartLiveTail response: the tails of the requested groups merged into updates."""

    def __init__(
        self,
        tails: Sequence[tuple[str, AsyncGenerator[list[FilteredLogEvent], None]]],
        start: dict[str, Any],
        *,
        prefixes: Sequence[str] | None,
        closing: asyncio.Event,
        update_interval: float = 1.0,
        max_duration: float = 3 * 3600.0,
    ) -> None:
        self.tails = list(tails)  # (logGroupIdentifier, tail)
        self.start = start
        self.prefixes = tuple(prefixes) if prefixes else None
        self.closing = closing
        self.update_interval = update_interval
        self.max_duration = max_duration
        self._buffer: list[dict[str, Any]] = []
        self._dropped = 0

    async def _follow(
        self, identifier: str, tail: AsyncGenerator[list[FilteredLogEvent], None]
    ) -> None:
        async for events in tail:
            for e in events:
                if self.prefixes and not e.log_stream_name.startswith(self.prefixes):
                    continue
                if len(self._buffer) >= _BUFFER_LIMIT:
                    self._dropped += 1
                    continue
                self._buffer.append(
                    {
                        "logStreamName": e.log_stream_name,
                        "logGroupIdentifier": identifier,
                        "message": e.message,
                        "timestamp": e.timestamp,
                        "ingestionTime": e.ingestion_time,
                    }
                )

    def _update(self) -> dict[str, Any]:
        events, self._buffer = self._buffer, []
        sampled = self._dropped > 0 or len(events) > MAX_EVENTS_PER_UPDATE
        self._dropped = 0
        events.sort(key=lambda e: (e["timestamp"], e["ingestionTime"]))
        if len(events) > MAX_EVENTS_PER_UPDATE:
            step = len(events) / MAX_EVENTS_PER_UPDATE
            events = [events[int(i * step)] for i in range(MAX_EVENTS_PER_UPDATE)]
        return {"sessionMetadata": {"sampled": sampled}, "sessionResults": events}

    async def respond(self, request: web.Request, request_id: str) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/vnd.amazon.eventstream",
                "x-amzn-RequestId": request_id,
            }
        )
        await response.prepare(request)
        followers = [
            asyncio.create_task(self._follow(i, t), name=f"live-tail-{i}") for i, t in self.tails
        ]
        loop = asyncio.get_running_loop()
        ends_at = loop.time() + self.max_duration
        try:
            await response.write(encode_event("initial-response", {}))
            await response.write(
                encode_event(
                    "sessionStart",
                    {"requestId": request_id, "sessionId": str(uuid.uuid4()), **self.start},
                )
            )
            while not self.closing.is_set():
                if loop.time() >= ends_at:
                    await response.write(
                        encode_exception(
                            "SessionTimeoutException", "The session has reached its maximum length."
                        )
                    )
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.closing.wait(), self.update_interval)
                if self.closing.is_set():
                    break
                for task in followers:
                    if task.done() and (error := task.exception()) is not None:
                        raise error
                await response.write(encode_event("sessionUpdate", self._update()))
        except ConnectionError:
            pass  # the client went away: the session ends
        except Exception:  # noqa: BLE001 - the stream is open: report in it, then end
            _log.exception("live tail failed")
            with contextlib.suppress(ConnectionError):
                await response.write(
                    encode_exception(
                        "SessionStreamingException", "The session failed; the server log has why."
                    )
                )
        finally:
            for task in followers:
                task.cancel()
            await asyncio.gather(*followers, return_exceptions=True)
            for _, tail in self.tails:
                with contextlib.suppress(Exception):
                    await tail.aclose()
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response
