"""Read paths of CloudWatch Logs: GetLogEvents, FilterLogEvents, DescribeLogGroups/Streams.

Each function takes a LogStore and already-validated arguments and blocks; the service runs
them off the event loop. Paging rules (reference §3.3-3.5) live here.
"""

from __future__ import annotations

from collections.abc import Sequence

from tandem.errors import ResourceNotFound

from .filter_pattern import FilterPattern
from .model import FilteredLogEvent, FilterLogEventsResult, GetLogEventsResult, OutputLogEvent
from .store import LogStore, Position, StoredEvent
from .tokens import (
    AFTER_ALL,
    BEFORE_ALL,
    decode_filter_token,
    decode_stream_token,
    encode_filter_token,
    encode_stream_token,
)
from .validation import EVENT_OVERHEAD, MAX_BATCH_BYTES, group_not_found

__all__ = ["get_log_events", "filter_log_events", "event_id"]

# FilterLogEvents stops after this many candidate rows and returns a partial page with a
# token, so one call stays bounded however selective a pattern without terms is.
SCAN_BUDGET = 200_000
_CHUNK = 5_000


def event_id(seq: int) -> str:
    return f"{seq:056d}"


def get_log_events(
    store: LogStore,
    group: str,
    stream: str,
    *,
    start_time: int | None,
    end_time: int | None,
    next_token: str | None,
    limit: int,
    start_from_head: bool,
) -> GetLogEventsResult:
    direction, position = (None, None) if next_token is None else decode_stream_token(next_token)
    after = position if direction == "f" else None
    before = position if direction == "b" else None
    newest_first = direction == "b" or (direction is None and not start_from_head)
    rows = store.read_stream(
        group, stream, start=start_time, end=end_time, after=after, before=before,
        limit=limit, newest_first=newest_first,
    )
    rows = _fit_bytes(rows, keep_newest=newest_first)
    if rows:
        first = (rows[0].timestamp, rows[0].seq)
        last = (rows[-1].timestamp, rows[-1].seq)
        forward, backward = encode_stream_token("f", last), encode_stream_token("b", first)
    elif direction == "f" and position is not None:
        # The end: the same token back, and a backward token that includes the event at it.
        forward = next_token or ""
        backward = encode_stream_token("b", (position[0], position[1] + 1))
    elif direction == "b" and position is not None:
        backward = next_token or ""
        forward = encode_stream_token("f", (position[0], position[1] - 1))
    else:
        forward = encode_stream_token("f", BEFORE_ALL)
        backward = encode_stream_token("b", AFTER_ALL)
    events = [OutputLogEvent(r.timestamp, r.message, r.ingestion_time) for r in rows]
    return GetLogEventsResult(events, forward, backward)


def _fit_bytes(rows: list[StoredEvent], *, keep_newest: bool) -> list[StoredEvent]:
    """A page holds at most 1 MB of events (reference §3.3)."""
    # UTF-8 takes at most 4 bytes a character: most pages fit without encoding a message.
    if sum(len(r.message) for r in rows) * 4 + EVENT_OVERHEAD * len(rows) <= MAX_BATCH_BYTES:
        return rows
    total = 0
    order = range(len(rows) - 1, -1, -1) if keep_newest else range(len(rows))
    for taken, index in enumerate(order):
        total += len(rows[index].message.encode()) + EVENT_OVERHEAD
        if total > MAX_BATCH_BYTES and taken > 0:
            return rows[index + 1 :] if keep_newest else rows[:index]
    return rows


def filter_log_events(
    store: LogStore,
    group: str,
    pattern: FilterPattern,
    *,
    stream_names: Sequence[str] | None,
    stream_prefix: str | None,
    start_time: int | None,
    end_time: int | None,
    next_token: str | None,
    limit: int,
) -> FilterLogEventsResult:
    after: Position | None = None if next_token is None else decode_filter_token(next_token)
    if stream_names is not None:
        for name in stream_names:
            if store.get_stream(group, name) is None:
                raise ResourceNotFound("The specified log stream does not exist.")
    elif store.get_group(group) is None:
        raise group_not_found()
    terms = pattern.required_terms
    match_all, predicate = pattern.match_all, pattern.predicate
    matched: list[FilteredLogEvent] = []
    scanned = 0
    grow = 1
    while True:
        # One row past the page, so the last page is known to be the last. The SQL terms
        # usually decide alone, so ask for just that many candidates first (a bigger chunk
        # reads far past the page's end: 5,000 candidates of a 1% term is half of 1M events);
        # grow only while the parsed pattern keeps rejecting candidates.
        needed = limit - len(matched) + 1
        chunk = needed if match_all else min(_CHUNK, needed * grow)
        grow *= 2
        rows = store.filter_events(
            group, stream_names=stream_names, stream_prefix=stream_prefix,
            start=start_time, end=end_time, after=after, terms=terms, limit=chunk,
        )
        for index, row in enumerate(rows):
            after = (row.timestamp, row.seq)
            if match_all or predicate(row.message):
                matched.append(
                    FilteredLogEvent(
                        row.stream_name, row.timestamp, row.message, row.ingestion_time,
                        event_id(row.seq),
                    )
                )
                if len(matched) == limit:
                    more = index + 1 < len(rows) or len(rows) == chunk
                    token = encode_filter_token(after) if more else None
                    return FilterLogEventsResult(matched, token)
        scanned += len(rows)
        if len(rows) < chunk:
            return FilterLogEventsResult(matched, None)
        if scanned >= SCAN_BUDGET and after is not None:
            return FilterLogEventsResult(matched, encode_filter_token(after))
