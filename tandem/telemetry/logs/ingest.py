"""The batching log writer: captured lines and accepted PutLogEvents batches in, one store
transaction per flush out.

Lines wait in a bounded in-memory buffer. A flush happens ``flush_interval`` seconds after the
first pending line (so a line is durable within about twice that), or at once when
``flush_size`` lines are pending. When ``max_pending`` lines are waiting, ``put`` awaits, so a
capture stops reading its pipe and the child blocks on write: backpressure, never a drop.
A failed flush is logged and retried with the same lines. Flush deadlines use the event loop's
clock; the injected Clock gives ingestion times only. Readers that must see what was queued
(read-your-writes for PutLogEvents) ask ``holds(group)`` and ``flush()`` first.

Events are committed in the order of their puts, each commit with consecutive seqs, so the
writer can say, without store I/O, from which seq on the events queued after a moment lie
(``mark``): live tails start there.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tandem.clock import Clock

from .store import EventBatch, LogStore

__all__ = ["LogWriter"]

_log = logging.getLogger(__name__)
_RETRY_DELAY = 1.0


@dataclass
class _Pending:
    group: str
    stream: str
    ingestion_time: int | None
    events: Sequence[tuple[int, str]]  # a list, or a PutLogEvents batch's columns
    must_exist: bool = False  # EventBatch.must_exist


class LogWriter:
    def __init__(
        self,
        store: LogStore,
        clock: Clock,
        *,
        flush_interval: float = 0.5,
        flush_size: int = 20_000,
        max_pending: int = 100_000,
        on_commit: Callable[[], None] | None = None,
        on_gone: Callable[[str, str], None] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.flush_interval = flush_interval
        self.flush_size = flush_size
        self.max_pending = max_pending
        self.on_commit = on_commit
        self.on_gone = on_gone
        # Batches in arrival order; a put joins the last batch only when it is for the same
        # stream and ingestion time, so the store gives seqs in exactly the order of the puts.
        self._pending: list[_Pending] = []
        self._inflight: frozenset[str] = frozenset()  # groups of the flush being committed
        self._count = 0
        self._first_at = 0.0
        self._signal = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._waiters: list[asyncio.Future[None]] = []
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # Events accepted and events committed, counted since the writer was made; the last
        # seq the store gave (None until known); marks waiting for a commit.
        self._accepted = 0
        self._committed = 0
        self._last_seq: int | None = None
        self._marks: list[tuple[int, asyncio.Future[int]]] = []

    @property
    def pending(self) -> int:
        return self._count

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self, last_seq: int | None = None) -> None:
        """Start flushing; ``last_seq`` is the store's last seq now, which ``mark`` needs."""
        if self._task is None:
            self._stopping = False
            self._last_seq = last_seq
            self._task = asyncio.get_running_loop().create_task(self._run(), name="log-writer")

    async def stop(self) -> None:
        """Flush everything pending, then end the flush task."""
        task = self._task
        if task is None:
            return
        self._stopping = True
        self._signal.set()
        await task
        self._task = None
        # Lines it could not store never get a seq: marks behind them start at the last one.
        for _, future in self._marks:
            if not future.done():
                future.set_result(self._last_seq or 0)
        self._marks = []

    def mark(self) -> asyncio.Future[int] | None:
        """The seq after which the events queued from now on are stored: known at once when
        every queued event is committed, else when the commit holding the last of them ends
        (``flush()`` hastens it). None while the writer does not know the store's seqs."""
        if self._task is None or self._last_seq is None:
            return None
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        if self._committed == self._accepted:
            future.set_result(self._last_seq)
        else:
            self._marks.append((self._accepted, future))
        return future

    def holds(self, group: str | None = None) -> bool:
        """Whether events of ``group`` (of any group when None) are queued or being committed."""
        if group is None:
            return bool(self._pending or self._inflight)
        return group in self._inflight or any(p.group == group for p in self._pending)

    async def put(
        self,
        group: str,
        stream: str,
        events: Sequence[tuple[int, str]],
        ingestion_time: int | None = None,
        *,
        must_exist: bool = False,
    ) -> None:
        """Queue events for one stream; waits while the buffer is full. ``ingestion_time``
        (ms) is the time the events were accepted; None means the time of the flush. With
        ``must_exist`` a stream deleted meanwhile is not created again: the events are left
        out and ``on_gone`` told (EventBatch.must_exist); else it is created."""
        if self._task is None:
            raise RuntimeError("LogService is not started")
        while self._count >= self.max_pending:
            self._space.clear()
            await self._space.wait()
        if not events:
            return
        self._accepted += len(events)
        if self._count == 0:
            self._first_at = asyncio.get_running_loop().time()
            self._signal.set()
        last = self._pending[-1] if self._pending else None
        if last is not None and (
            last.group, last.stream, last.ingestion_time, last.must_exist
        ) == (group, stream, ingestion_time, must_exist):
            if type(last.events) is not list:  # a PutLogEvents batch: made a list once
                last.events = list(last.events)
            last.events.extend(events)
        else:
            # Kept as given, not copied: the caller hands the events over.
            self._pending.append(_Pending(group, stream, ingestion_time, events, must_exist))
        before = self._count
        self._count += len(events)
        if before < self.flush_size <= self._count:
            self._signal.set()

    async def flush(self) -> None:
        """Return once everything queued before the call is committed."""
        if self._task is None:
            return
        future = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        self._signal.set()
        await future

    async def _run(self) -> None:
        while True:
            if not self._pending and not self._waiters:
                if self._stopping:
                    return
                self._signal.clear()
                await self._signal.wait()
                continue
            urgent = self._waiters or self._stopping or self._count >= self.flush_size
            delay = self._first_at + self.flush_interval - asyncio.get_running_loop().time()
            if not urgent and delay > 0:
                self._signal.clear()
                try:
                    await asyncio.wait_for(self._signal.wait(), delay)
                except TimeoutError:
                    pass
                continue
            waiters, self._waiters = self._waiters, []
            if await self._flush_once():
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)
            else:
                self._waiters = waiters + self._waiters
                if self._stopping:
                    _log.error("log writer stopping with %d lines it could not store", self._count)
                    for waiter in self._waiters:
                        if not waiter.done():
                            waiter.set_result(None)
                    return
                await asyncio.sleep(_RETRY_DELAY)

    async def _flush_once(self) -> bool:
        if not self._pending:
            return True
        pending, count = self._pending, self._count
        self._pending, self._count = [], 0
        self._inflight = frozenset(p.group for p in pending)
        self._space.set()
        batches = [
            EventBatch(p.group, p.stream, p.events, p.ingestion_time, p.must_exist)
            for p in pending
        ]
        ingestion = int(self.clock.time() * 1000)
        gone: list[EventBatch] = []
        try:
            last = await asyncio.to_thread(
                functools.partial(self.store.append, batches, ingestion, create_missing=True,
                                  gone=gone)
            )
        except Exception:  # noqa: BLE001 - kept and retried, never dropped
            _log.exception("storing %d log lines failed; will retry", count)
            self._pending = pending + self._pending
            self._count += count
            self._first_at = asyncio.get_running_loop().time()
            return False
        finally:
            self._inflight = frozenset()
        self._committed += count  # left-out events' seqs are skipped: marks stay exact
        self._last_seq = last
        self._resolve_marks()
        for batch in gone:
            _log.warning("%d log events for %s %s were left out: the stream was deleted "
                         "after they were accepted", len(batch.events), batch.group,
                         batch.stream)  # fmt: skip
            if self.on_gone is not None:
                self.on_gone(batch.group, batch.stream)
        if self.on_commit is not None:
            self.on_commit()
        return True

    def _resolve_marks(self) -> None:
        # The commit gave events up to number ``_committed`` (in put order) seqs ending at
        # ``_last_seq``; a mark at or before that number lies in it or at its start.
        if not self._marks or self._last_seq is None:
            return
        waiting = []
        for at, future in self._marks:
            if at <= self._committed:
                if not future.done():
                    future.set_result(self._last_seq - (self._committed - at))
            else:
                waiting.append((at, future))
        self._marks = waiting
