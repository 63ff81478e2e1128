"""StreamCapture: a child process's merged stdout+stderr pipe into one log stream.

One event per line, timestamped when read; a partial last line at exit is kept; invalid UTF-8
is replaced, never dropped; a line over 256 KiB becomes several events. The pipe is read in
large chunks and whole chunks are decoded at once (a newline byte never sits inside a UTF-8
sequence, so this equals decoding line by line). Writing awaits when the service's buffer is
full, so a fast child blocks on its pipe rather than losing lines.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from .service import LogService

__all__ = ["StreamCapture", "MAX_LINE_BYTES", "split_message"]

MAX_LINE_BYTES = 256 * 1024
_READ_SIZE = 256 * 1024


def split_message(text: str, limit: int = MAX_LINE_BYTES) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` UTF-8 bytes, on character boundaries."""
    if len(text) * 4 <= limit:
        return [text]
    data = text.encode("utf-8")
    if len(data) <= limit:
        return [text]
    pieces = []
    start = 0
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end -= 1  # do not cut inside a character
        pieces.append(data[start:end].decode("utf-8"))
        start = end
    return pieces


def _cut_point(data: bytes | bytearray, limit: int) -> int:
    """A byte index <= limit that is not inside a UTF-8 sequence (for a partial line)."""
    end = limit
    for _ in range(4):
        if (data[end] & 0xC0) != 0x80:
            return end
        end -= 1
    return limit  # invalid bytes anyway; they will be replaced


class StreamCapture:
    """Copy lines from a pipe into ``group``/``stream`` until the pipe closes."""

    def __init__(
        self,
        logs: LogService,
        group: str,
        stream: str,
        keep_last: int = 20,
        on_line: Callable[[str, int], None] | None = None,
    ) -> None:
        self.logs = logs
        self.group = group
        self.stream = stream
        self.on_line = on_line
        self.last_lines: deque[str] = deque(maxlen=keep_last)
        self.lines = 0

    async def run(self, reader: asyncio.StreamReader) -> int:
        """Capture until EOF; returns the number of events written."""
        # The first ensure is a store write: keep it off the event loop.
        await asyncio.to_thread(self.logs.ensure_log_stream, self.group, self.stream)
        clock = self.logs.clock
        pending = bytearray()
        while True:
            chunk = await reader.read(_READ_SIZE)
            if not chunk:
                break
            timestamp = int(clock.time() * 1000)
            pending += chunk
            messages: list[str] = []
            newline = pending.rfind(b"\n")
            if newline >= 0:
                text = pending[:newline].decode("utf-8", "replace")
                del pending[: newline + 1]
                for line in text.split("\n"):
                    if len(line) * 4 > MAX_LINE_BYTES:
                        messages.extend(split_message(line))
                    else:
                        messages.append(line)
            while len(pending) > MAX_LINE_BYTES:
                cut = _cut_point(pending, MAX_LINE_BYTES)
                messages.extend(split_message(pending[:cut].decode("utf-8", "replace")))
                del pending[:cut]
            if messages:
                await self._emit(messages, timestamp)
        if pending:
            text = pending.decode("utf-8", "replace")
            await self._emit(split_message(text), int(clock.time() * 1000))
        return self.lines

    async def _emit(self, messages: list[str], timestamp: int) -> None:
        self.lines += len(messages)
        keep = self.last_lines.maxlen
        self.last_lines.extend(messages[-keep:] if keep else ())
        if self.on_line is not None:
            for message in messages:
                self.on_line(message, timestamp)
        await self.logs.write(self.group, self.stream, [(timestamp, m) for m in messages])
