"""The OTLP/HTTP span exporter: a bounded queue filled on the request path, drained by a thread.

The request path only appends to a ``deque`` (or counts spans dropped when the queue is full:
it never waits): a finished request's spans already encoded (``requests.py``), finished
spans, or a source whose ``SpanData`` records the export thread builds itself. A daemon
thread wakes every ``interval`` seconds, or as soon as a batch is full, encodes what is not
yet encoded of up to ``batch_size`` spans (``otlp.py``), frames them and POSTs them with
``http.client`` on a keep-alive connection. Retries follow OTLP/HTTP: 429, 502, 503 and 504
and connection failures are retried with exponential backoff and jitter (``Retry-After``
honoured), every other status is final, and the whole of one batch's attempts is bounded by
``timeout``. A receiver that is down or hangs therefore holds only this thread; spans that
arrive meanwhile fill the queue and are dropped and counted.
"""

from __future__ import annotations

import collections
import dataclasses
import gzip
import http.client
import logging
import random
import socket
import threading
import time
from collections.abc import Sequence
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from .otlp import encode_export_request, encode_resource, encode_span_fields
from .recent import TraceSource
from .spans import AttributeValue, SpanData

__all__ = ["ExporterStats", "SpanExporter"]

_log = logging.getLogger(__name__)
_RETRYABLE = frozenset({429, 502, 503, 504})
_MAX_ATTEMPTS = 6
# Encode this many spans, then let the event loop's thread have the interpreter.
_ENCODE_CHUNK = 64
# Seconds the export at shutdown may wait on a new connection's answer.
_LAST_TRY = 2.0


@dataclasses.dataclass(slots=True)
class ExporterStats:
    """Counters since start: spans accepted by the receiver, dropped because the queue was
    full, lost because their batch failed, and spans waiting now."""

    exported: int
    dropped: int
    failed: int
    queued: int


class SpanExporter:
    """Batches spans off the request path to one OTLP/HTTP traces endpoint."""

    def __init__(self, endpoint: str, *, resource: Sequence[tuple[str, AttributeValue]],
                 scope: tuple[str, str], headers: Sequence[tuple[str, str]] = (),
                 timeout: float | None = 10.0, compression: str = "none",
                 queue_size: int = 2048, batch_size: int = 512, interval: float = 5.0) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"OTLP endpoint {endpoint!r} must be an http(s) URL")
        self.endpoint = endpoint
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._headers = {"Content-Type": "application/x-protobuf",
                         "User-Agent": "tandem-otlp-exporter", **dict(headers)}
        if compression == "gzip":
            self._headers["Content-Encoding"] = "gzip"
        self._gzip = compression == "gzip"
        self._timeout = timeout
        self.resource = resource
        self._scope = scope
        self.queue_size = queue_size
        self.batch_size = min(batch_size, queue_size)
        self.interval = interval
        # Spans, sources of spans built on the export thread, or (count, encoded spans).
        self._queue: collections.deque[SpanData | TraceSource | tuple[int, bytes]] = (
            collections.deque())
        # Spans queued (under ``_submit_lock``: the handler runtime submits from several
        # threads) and taken off the queue (only by the export thread); queued = the
        # difference.
        self._submit_lock = threading.Lock()
        self._submitted = 0
        self._taken = 0
        self._wake = threading.Event()
        self._halt = threading.Event()  # set by stop(): cuts a retry's backoff short
        self._stopping = False
        self._flushes = 0  # flush() calls: the export thread compares with those it served
        self._thread: threading.Thread | None = None
        self._conn: http.client.HTTPConnection | None = None
        self.exported = 0
        self.dropped = 0
        self.failed = 0

    # -- the request path ----------------------------------------------------------

    def submit(self, spans: Sequence[SpanData]) -> None:
        """Queue finished spans; drop (and count) them when the queue is full. Never blocks."""
        count = len(spans)
        with self._submit_lock:
            queued = self._submitted - self._taken + count
            if queued > self.queue_size:
                self.dropped += count
                return
            self._queue.extend(spans)
            self._submitted += count
        if queued >= self.batch_size and not self._wake.is_set():
            self._wake.set()

    def submit_source(self, source: TraceSource, count: int) -> None:
        """Queue the ``count`` spans ``source.spans()`` will build; the export thread builds
        them, so the request path pays one append. Dropped (and counted) when full."""
        with self._submit_lock:
            queued = self._submitted - self._taken + count
            if queued > self.queue_size:
                self.dropped += count
                return
            self._queue.append(source)
            self._submitted += count
        if queued >= self.batch_size and not self._wake.is_set():
            self._wake.set()

    def room(self, count: int) -> bool:
        """Whether ``count`` more spans fit in the queue now; when not, they are counted as
        dropped (a caller asks before encoding spans it may not queue)."""
        if self._submitted - self._taken + count <= self.queue_size:
            # Read without the lock: at worst spans are encoded that submit_encoded, which
            # checks again under it, then drops (and counts).
            return True
        with self._submit_lock:
            if self._submitted - self._taken + count > self.queue_size:
                self.dropped += count
                return False
        return True

    def submit_encoded(self, fields: bytes, count: int) -> None:
        """Queue ``count`` spans already encoded as ``ScopeSpans.spans`` fields
        (``otlp.scope_span_fields``): the export thread only frames and sends them. Dropped
        (and counted) when full."""
        with self._submit_lock:
            queued = self._submitted - self._taken + count
            if queued > self.queue_size:
                self.dropped += count
                return
            self._queue.append((count, fields))
            self._submitted += count
        if queued >= self.batch_size and not self._wake.is_set():
            self._wake.set()

    @property
    def resource(self) -> tuple[tuple[str, AttributeValue], ...]:
        """The attributes of the Resource every batch carries."""
        return self._resource_attributes

    @resource.setter
    def resource(self, attributes: Sequence[tuple[str, AttributeValue]]) -> None:
        # Encoded once; the export thread reads the bytes per batch, so a new resource applies
        # to every batch sent after it (spans queued earlier included).
        self._resource_attributes = tuple(attributes)
        self._resource = encode_resource(self._resource_attributes)

    def stats(self) -> ExporterStats:
        return ExporterStats(self.exported, self.dropped, self.failed,
                             max(self._submitted - self._taken, 0))

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="otlp-exporter", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Export what is queued (one try, each request bounded by ``timeout``) and stop the
        thread; a request still waiting on the receiver then is cut off."""
        self._stopping = True
        self._halt.set()
        self._wake.set()
        thread = self._thread
        self._thread = None
        if thread is not None:
            thread.join(timeout)
            conn = self._conn
            if thread.is_alive() and conn is not None and conn.sock is not None:
                # Blocked on a receiver that does not answer: shutting the socket down wakes
                # its recv (closing it from this thread would not).
                try:
                    conn.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                thread.join(timeout)
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def flush(self) -> None:
        """Ask for an export now (used by tests and at shutdown)."""
        self._flushes += 1
        self._wake.set()

    # -- the export thread ---------------------------------------------------------

    def _run(self) -> None:
        served = 0
        while True:
            # Woken early only by a full batch, a flush or stop().
            waited = not self._wake.wait(self.interval)
            self._wake.clear()
            stopping = self._stopping
            flushes = self._flushes
            everything = waited or stopping or flushes != served
            served = flushes
            try:
                self._drain(everything)
            except Exception:  # noqa: BLE001 - the thread must outlive any one bad batch
                _log.exception("OTLP export failed")
            if stopping:
                return

    def _drain(self, everything: bool = True) -> None:
        """Send what is queued now when ``everything`` (the interval is up, a flush, stop),
        and after that only full batches: spans that arrive while a batch is being sent
        wait for the next interval or a full batch, rather than each going out in a small
        request of its own (a request costs the same work whatever its size)."""
        queue = self._queue
        until = self._submitted if everything else self._taken
        while queue:
            if (self._taken >= until and self._submitted - self._taken < self.batch_size
                    and not self._stopping):
                return
            batch: list[SpanData] = []
            encoded: list[bytes] = []
            count = 0
            while queue and count < self.batch_size:
                item = queue.popleft()
                if isinstance(item, tuple):
                    count += item[0]
                    encoded.append(item[1])
                elif isinstance(item, SpanData):
                    batch.append(item)
                    count += 1
                else:
                    spans = item.spans()  # a request's trace: its spans built here
                    batch += spans
                    count += len(spans)
            self._taken += count
            body = self._encode(batch, encoded)
            if self._send(body):
                self.exported += count
                continue
            self.failed += count
            if self._stopping:
                # Shutting down and the receiver did not take a batch: give up on the rest.
                rest = self._submitted - self._taken
                queue.clear()
                self._taken += rest
                self.failed += rest
                return

    def _encode(self, batch: list[SpanData], encoded: list[bytes]) -> bytes:
        name, version = self._scope
        # Each part is a whole request; concatenated they are one valid request (repeated
        # fields concatenate: one ResourceSpans per part). Spans already encoded are framed
        # as one part; the rest are encoded in chunks, and the event loop's thread gets the
        # interpreter between chunks.
        parts = []
        if encoded:
            parts.append(encode_span_fields(self._resource, name, version, *encoded))
        for i in range(0, len(batch), _ENCODE_CHUNK):
            parts.append(encode_export_request(self._resource, name, version,
                                               batch[i:i + _ENCODE_CHUNK]))
            time.sleep(0)
        body = b"".join(parts) if len(parts) != 1 else parts[0]
        return gzip.compress(body, 6) if self._gzip else body

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            timeout = self._timeout
            if self._stopping:  # the last try at shutdown waits less
                timeout = min(timeout or _LAST_TRY, _LAST_TRY)
            self._conn = cls(self._host, self._port, timeout=timeout)
        return self._conn

    def _send(self, body: bytes) -> bool:
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        for attempt in range(_MAX_ATTEMPTS):
            delay = 2 ** attempt * random.uniform(0.8, 1.2)
            try:
                conn = self._connection()
                conn.request("POST", self._path, body=body, headers=self._headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.will_close:
                    self._close()
                if 200 <= status < 300:
                    return True
                if status not in _RETRYABLE:
                    _log.warning("OTLP receiver %s refused a batch: HTTP %d", self.endpoint,
                                 status)
                    return False
                delay = _retry_after(response.getheader("Retry-After"), delay)
            except (OSError, http.client.HTTPException) as exc:
                self._close()
                _log.debug("OTLP export to %s failed: %r", self.endpoint, exc)
            if self._stopping:
                return False  # one last try at shutdown, no backoff
            if deadline is not None and time.monotonic() + delay > deadline:
                break
            if self._halt.wait(delay):
                return False
        _log.warning("OTLP receiver %s did not take a batch; its spans are lost", self.endpoint)
        return False

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _retry_after(value: str | None, default: float) -> float:
    if not value:
        return default
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return default

