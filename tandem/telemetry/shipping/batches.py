"""Pure batching: captured lines and metric samples cut into requests CloudWatch accepts.

PutLogEvents takes 1-10,000 events of one stream, at most 1,048,576 bytes counting each
event's UTF-8 message plus 26, spanning at most 24 h, in chronological order, no empty
message. PutMetricData takes at most 1,000 datums of one namespace in at most 1 MB, and at
most 150 distinct values per datum. No I/O here.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tandem.telemetry.logs.capture import MAX_LINE_BYTES, split_message

__all__ = [
    "LOG_BATCH_EVENTS",
    "LOG_BATCH_BYTES",
    "LOG_EVENT_OVERHEAD",
    "LOG_BATCH_SPAN_MS",
    "METRIC_BATCH_DATUMS",
    "METRIC_BATCH_BYTES",
    "METRIC_DATUM_VALUES",
    "PreparedEvents",
    "prepare_events",
    "event_size",
    "split_log_events",
    "MetricSample",
    "metric_datums",
    "split_metric_datums",
]

LOG_BATCH_EVENTS = 10_000
LOG_BATCH_BYTES = 1_048_576
LOG_EVENT_OVERHEAD = 26
LOG_BATCH_SPAN_MS = 24 * 3600 * 1000

METRIC_BATCH_DATUMS = 1000
# 1 MB is the documented payload limit; keep room for the envelope.
METRIC_BATCH_BYTES = 1_000_000
METRIC_DATUM_VALUES = 150


@dataclass(slots=True)
class PreparedEvents:
    """One stream's events ready to batch: non-decreasing timestamps, non-empty messages."""

    timestamps: list[int]
    messages: list[str]
    last_timestamp: int  # carry into the stream's next call, so order holds across batches
    skipped_empty: int


def prepare_events(
    events: Iterable[tuple[int, str]], last_timestamp: int = 0
) -> PreparedEvents:
    """Make a stream's captured lines acceptable to PutLogEvents, keeping their order.

    A timestamp older than the line before it (the wall clock stepped back) is raised to that
    line's: the lines' order is what a reader needs, and PutLogEvents refuses a batch out of
    order. Empty lines are skipped and counted (PutLogEvents refuses an empty message); a
    message over 256 KiB becomes several events, as the capture cuts them locally."""
    timestamps: list[int] = []
    messages: list[str] = []
    skipped = 0
    last = last_timestamp
    for timestamp, message in events:
        if not message:
            skipped += 1
            continue
        if timestamp < last:
            timestamp = last
        last = timestamp
        if len(message) * 4 > MAX_LINE_BYTES:
            pieces = split_message(message)
            timestamps.extend([timestamp] * len(pieces))
            messages.extend(pieces)
        else:
            timestamps.append(timestamp)
            messages.append(message)
    return PreparedEvents(timestamps, messages, last, skipped)


def event_size(message: str) -> int:
    """The bytes one event counts towards PutLogEvents' batch size."""
    if message.isascii():
        return len(message) + LOG_EVENT_OVERHEAD
    return len(message.encode("utf-8", "surrogatepass")) + LOG_EVENT_OVERHEAD


def split_log_events(
    timestamps: Sequence[int],
    messages: Sequence[str],
    *,
    max_events: int = LOG_BATCH_EVENTS,
    max_bytes: int = LOG_BATCH_BYTES,
    max_span_ms: int = LOG_BATCH_SPAN_MS,
) -> list[tuple[int, int]]:
    """``[start, end)`` index ranges of consecutive events, each range one valid batch.

    Events must already be prepared (chronological, each at most 256 KiB). A batch ends
    before the event that would break the count, the byte size or the 24 h span."""
    cuts: list[tuple[int, int]] = []
    start = 0
    size = 0
    first = timestamps[0] if timestamps else 0
    for i, message in enumerate(messages):
        n = len(message) + LOG_EVENT_OVERHEAD if message.isascii() else event_size(message)
        if i > start and (
            i - start >= max_events
            or size + n > max_bytes
            or timestamps[i] - first > max_span_ms
        ):
            cuts.append((start, i))
            start = i
            size = 0
            first = timestamps[i]
        size += n
    if start < len(messages):
        cuts.append((start, len(messages)))
    return cuts


@dataclass(frozen=True, slots=True)
class MetricSample:
    """One recorded value of a series (what ``Series.record`` takes locally)."""

    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    unit: str
    value: float
    timestamp: float


def metric_datums(samples: Iterable[MetricSample]) -> dict[str, list[dict[str, object]]]:
    """PutMetricData datums per namespace: a series' values of one minute as Values/Counts.

    Values and Counts keep every sample (percentiles stay available, unlike a statistic
    set); a minute with more than 150 distinct values becomes several datums."""
    grouped: dict[tuple[str, str, tuple[tuple[str, str], ...], str, int], list[MetricSample]]
    grouped = collections.defaultdict(list)
    for s in samples:
        minute = int(s.timestamp // 60)
        grouped[(s.namespace, s.metric_name, s.dimensions, s.unit, minute)].append(s)
    out: dict[str, list[dict[str, object]]] = collections.defaultdict(list)
    for (namespace, name, dims, unit, _), group in grouped.items():
        counts = collections.Counter(s.value for s in group)
        values = list(counts)
        for i in range(0, len(values), METRIC_DATUM_VALUES):
            chunk = values[i : i + METRIC_DATUM_VALUES]
            out[namespace].append(
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
                    "Unit": unit,
                    "Timestamp": group[0].timestamp,
                    "Values": chunk,
                    "Counts": [float(counts[v]) for v in chunk],
                }
            )
    return dict(out)


def split_metric_datums(
    datums: Sequence[dict[str, object]],
    sizes: Sequence[int],
    *,
    max_datums: int = METRIC_BATCH_DATUMS,
    max_bytes: int = METRIC_BATCH_BYTES,
) -> list[tuple[int, int]]:
    """``[start, end)`` ranges of datums, each within the count and (encoded) byte limits."""
    cuts: list[tuple[int, int]] = []
    start = 0
    size = 0
    for i in range(len(datums)):
        if i > start and (i - start >= max_datums or size + sizes[i] > max_bytes):
            cuts.append((start, i))
            start = i
            size = 0
        size += sizes[i]
    if start < len(datums):
        cuts.append((start, len(datums)))
    return cuts
