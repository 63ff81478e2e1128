"""Live tail: follow a log group's newly committed events, as an async iterator.

Each round reads the events committed after the last one seen (by seq, so nothing committed
after the start is missed or repeated), then waits for the service's next commit signal, or
``poll_interval`` at most so writers in other processes are seen too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence

from .filter_pattern import FilterPattern
from .model import FilteredLogEvent
from .queries import event_id
from .store import LogStore

__all__ = ["follow"]

_BATCH = 10_000


async def follow(
    store: LogStore,
    group: str,
    stream_names: Sequence[str] | None,
    stream_prefix: str | None,
    pattern: FilterPattern,
    *,
    commit_signal: Callable[[], asyncio.Event | None],
    poll_interval: float,
    start: asyncio.Future[int] | None = None,
    settle: Callable[[], Awaitable[None]] | None = None,
) -> AsyncGenerator[list[FilteredLogEvent], None]:
    """Events of ``group`` with seqs after ``start`` (the writer's mark, taken when the tail
    was asked for), or, without one, after the store's last seq at the first iteration.
    ``settle`` commits the events accepted before the start, so the start is known."""
    match_all, predicate = pattern.match_all, pattern.predicate
    if start is not None:
        if not start.done() and settle is not None:
            await settle()
        cursor = await start
    else:
        if settle is not None:
            await settle()
        cursor = await asyncio.to_thread(store.last_seq)
    while True:
        # Take the signal before reading, so a commit in between is not missed.
        signal = commit_signal()
        rows = await asyncio.to_thread(
            store.events_since, group, cursor, stream_names=stream_names,
            stream_prefix=stream_prefix, terms=pattern.required_terms, limit=_BATCH,
        )
        if rows:
            cursor = rows[-1].seq
            batch = [
                FilteredLogEvent(
                    r.stream_name, r.timestamp, r.message, r.ingestion_time, event_id(r.seq)
                )
                for r in rows
                if match_all or predicate(r.message)
            ]
            if batch:
                yield batch
            if len(rows) == _BATCH:
                continue
        if signal is None:
            await asyncio.sleep(poll_interval)
            continue
        try:
            await asyncio.wait_for(signal.wait(), poll_interval)
        except TimeoutError:
            pass
