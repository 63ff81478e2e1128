"""LogService: CloudWatch Logs semantics over a LogStore, plus the capture writer and live tail.

Operation methods take keyword arguments named after the wire members in snake_case
(``log_group_name`` for ``logGroupName``) and return the dataclasses of ``model``, so the
awsJson 1.1 layer maps requests and responses 1:1. Errors are ``tandem.errors`` types with
AWS's texts. Store calls block, so they run in worker threads.

PutLogEvents validates a batch, hands it to the batching writer and answers at once: the
writer commits within ``flush_interval`` (events are durable within 1 s of acceptance). Reads
of a group with events still queued flush the writer first, so a caller always sees its own
accepted events.

Several servers may share the store. Each keeps what it knows exists (``_known`` for the
capture path, ``_put_targets`` for PutLogEvents) without a store read per call; the store's
``watch`` evicts an entry when any server deletes its group or stream or changes a retention,
and the append itself refuses a PutLogEvents batch whose stream is gone by commit time
(EventBatch.must_exist), so a stale entry can never bring a deleted group back: at worst
events accepted in the instant before the eviction arrives go with the group they were for.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncGenerator, Callable, Sequence

from tandem.clock import Clock, SystemClock
from tandem.errors import InvalidParameterValue, ValidationException

from . import queries
from .filter_pattern import FilterPattern, parse_filter_pattern
from .ingest import LogWriter
from .model import (
    DescribeLogGroupsResult,
    DescribeLogStreamsResult,
    FilteredLogEvent,
    FilterLogEventsResult,
    GetLogEventsResult,
    InputLogEvent,
    InputLogEvents,
    LogGroup,
    LogStream,
    PutLogEventsResult,
    SweepResult,
)
from .store import EventBatch, GroupRecord, LogStore, StreamRecord
from .tail import follow
from .tokens import decode_offset_token, encode_offset_token
from .validation import (
    check_put_batch,
    group_not_found,
    is_unicode,
    resolve_group_name,
    stream_not_found,
    validate_group_name,
    validate_limit,
    validate_retention,
    validate_stream_name,
)

__all__ = ["LogService"]

_log = logging.getLogger(__name__)


class LogService:
    """Log groups, streams and events with CloudWatch Logs semantics."""

    def __init__(
        self,
        log_store: LogStore,
        clock: Clock | None = None,
        flush_interval: float = 0.5,
        *,
        region: str = "us-east-1",
        account_id: str = "000000000000",
        max_pending: int = 100_000,
        sweep_interval: float | None = 3600.0,
        tail_poll_interval: float = 1.0,
        epoch: Callable[[], int] | None = None,
    ) -> None:
        self.store = log_store
        # The epoch the leader sweeps under (retention is the leader's): None, unfenced.
        self.epoch = epoch
        self.clock = clock or SystemClock()
        self.region = region
        self.account_id = account_id
        self.sweep_interval = sweep_interval
        self.tail_poll_interval = tail_poll_interval
        self._writer = LogWriter(
            log_store, self.clock, flush_interval=flush_interval, max_pending=max_pending,
            on_commit=self._committed, on_gone=self._target_changed,
        )
        self._known: set[tuple[str, str]] = set()
        # (group, stream) -> the group's retention, for PutLogEvents' checks without a store
        # read per call; dropped wherever a group, a stream or a retention changes.
        self._put_targets: dict[tuple[str, str], int | None] = {}
        # Evictions come from the store's watch on any thread: they take this lock and bump
        # the generation, so a lookup that raced one does not cache what it read before it.
        self._targets_lock = threading.Lock()
        self._generation = 0
        self._watching = False
        self._commit_signal: asyncio.Event | None = None
        self._sweeper: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        self._commit_signal = asyncio.Event()
        if not self._watching:
            await asyncio.to_thread(self.store.watch, self._target_changed)
            self._watching = True
        self._writer.start(await asyncio.to_thread(self.store.last_seq))
        if self.sweep_interval:
            self._sweeper = asyncio.get_running_loop().create_task(
                self._sweep_periodically(self.sweep_interval), name="log-retention-sweeper"
            )

    async def stop(self) -> None:
        """Flush every captured line to the store, then stop background work."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            try:
                await self._sweeper
            except asyncio.CancelledError:
                pass
            self._sweeper = None
        await self._writer.stop()

    def _now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    def _committed(self) -> None:
        # Wake every tail waiting on the current signal; later waiters get a fresh one.
        if self._commit_signal is not None:
            self._commit_signal.set()
            self._commit_signal = asyncio.Event()

    # -- capture path --------------------------------------------------------

    def ensure_log_stream(self, group: str, stream: str) -> None:
        """Create the group and the stream unless they exist (a store write only the first time)."""
        key = (group, stream)
        if key in self._known:
            return
        validate_group_name(group)
        validate_stream_name(stream)
        generation = self._generation
        self.store.ensure_stream(group, stream, self._now_ms())
        with self._targets_lock:
            if generation == self._generation:
                self._known.add(key)

    async def write(self, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        """Queue ``(timestamp ms, message)`` events for the batching writer; awaits when full."""
        await self._writer.put(group, stream, list(events))  # the writer keeps what it gets

    async def flush(self) -> None:
        """Return once everything written before the call is committed."""
        await self._writer.flush()

    # -- groups and streams --------------------------------------------------

    async def create_log_group(
        self,
        log_group_name: str,
        kms_key_id: str | None = None,
        log_group_class: str | None = None,
        deletion_protection_enabled: bool | None = None,
    ) -> None:
        """Create a group; its options are kept and shown by DescribeLogGroups."""
        validate_group_name(log_group_name)
        if kms_key_id is not None and not is_unicode(kms_key_id):
            raise InvalidParameterValue(
                "1 validation error detected: Value at 'kmsKeyId' failed to satisfy constraint: "
                "Member must be Unicode text (it holds a lone surrogate)"
            )
        await asyncio.to_thread(
            lambda: self.store.create_group(
                log_group_name,
                self._now_ms(),
                kms_key_id=kms_key_id,
                log_group_class=log_group_class or "STANDARD",
                deletion_protection=bool(deletion_protection_enabled),
            )
        )

    async def delete_log_group(self, log_group_name: str) -> None:
        validate_group_name(log_group_name)
        record = await asyncio.to_thread(self.store.get_group, log_group_name)
        if record is not None and record.deletion_protection:
            raise ValidationException(
                "The log group has deletion protection enabled; disable it before deleting "
                "the log group."
            )
        await self._writer.flush()
        await asyncio.to_thread(self.store.delete_group, log_group_name)
        self._target_changed(log_group_name, None)

    async def create_log_stream(self, log_group_name: str, log_stream_name: str) -> None:
        validate_group_name(log_group_name)
        validate_stream_name(log_stream_name)
        await asyncio.to_thread(
            self.store.create_stream, log_group_name, log_stream_name, self._now_ms()
        )

    async def delete_log_stream(self, log_group_name: str, log_stream_name: str) -> None:
        validate_group_name(log_group_name)
        validate_stream_name(log_stream_name)
        await self._writer.flush()
        await asyncio.to_thread(self.store.delete_stream, log_group_name, log_stream_name)
        self._target_changed(log_group_name, log_stream_name)

    async def put_retention_policy(self, log_group_name: str, retention_in_days: int) -> None:
        validate_group_name(log_group_name)
        validate_retention(retention_in_days)
        await asyncio.to_thread(self.store.set_retention, log_group_name, retention_in_days)
        self._target_changed(log_group_name, None)

    async def delete_retention_policy(self, log_group_name: str) -> None:
        validate_group_name(log_group_name)
        await asyncio.to_thread(self.store.set_retention, log_group_name, None)
        self._target_changed(log_group_name, None)

    async def describe_log_groups(
        self,
        log_group_name_prefix: str | None = None,
        log_group_name_pattern: str | None = None,
        next_token: str | None = None,
        limit: int | None = None,
        log_group_class: str | None = None,
        log_group_identifiers: Sequence[str] | None = None,
    ) -> DescribeLogGroupsResult:
        if log_group_name_prefix is not None and log_group_name_pattern is not None:
            raise InvalidParameterValue(
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive "
                "parameters."
            )
        limit = validate_limit(limit, 50, 50)
        offset = 0 if next_token is None else decode_offset_token(next_token)
        await self._settle(None)
        if log_group_identifiers is not None:
            rows = await asyncio.to_thread(
                self._identified_groups, log_group_identifiers, log_group_name_prefix,
                log_group_name_pattern, log_group_class,
            )
            rows = rows[offset : offset + limit + 1]
        else:
            rows = await asyncio.to_thread(
                lambda: self.store.list_groups(
                    prefix=log_group_name_prefix, contains=log_group_name_pattern,
                    offset=offset, limit=limit + 1, group_class=log_group_class,
                )
            )
        token = encode_offset_token(offset + limit) if len(rows) > limit else None
        return DescribeLogGroupsResult([self._group(r) for r in rows[:limit]], token)

    def _identified_groups(
        self, identifiers: Sequence[str], prefix: str | None, contains: str | None,
        group_class: str | None,
    ) -> list[GroupRecord]:
        """The named groups (names or ARNs) that exist and pass the other filters, by name."""
        names = sorted({resolve_group_name(None, i) for i in identifiers})
        found = []
        for name in names:
            record = self.store.get_group(name)
            if record is None or (prefix and not name.startswith(prefix)):
                continue
            if (contains and contains not in name) or (
                group_class is not None and record.log_group_class != group_class
            ):
                continue
            found.append(record)
        return found

    async def describe_log_streams(
        self,
        log_group_name: str | None = None,
        log_group_identifier: str | None = None,
        log_stream_name_prefix: str | None = None,
        order_by: str | None = None,
        descending: bool | None = None,
        next_token: str | None = None,
        limit: int | None = None,
    ) -> DescribeLogStreamsResult:
        group = resolve_group_name(log_group_name, log_group_identifier)
        order_by = order_by or "LogStreamName"
        if order_by not in ("LogStreamName", "LastEventTime"):
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{order_by}' at 'orderBy' failed to "
                "satisfy constraint: Member must satisfy enum value set: "
                "[LogStreamName, LastEventTime]"
            )
        if log_stream_name_prefix and order_by == "LastEventTime":
            raise InvalidParameterValue(
                "Cannot order by LastEventTime with a logStreamNamePrefix."
            )
        limit = validate_limit(limit, 50, 50)
        offset = 0 if next_token is None else decode_offset_token(next_token)
        await self._settle(group)
        rows = await asyncio.to_thread(
            lambda: self.store.list_streams(
                group, prefix=log_stream_name_prefix, by_last_event=order_by == "LastEventTime",
                descending=bool(descending), offset=offset, limit=limit + 1,
            )
        )
        token = encode_offset_token(offset + limit) if len(rows) > limit else None
        return DescribeLogStreamsResult([self._stream(group, r) for r in rows[:limit]], token)

    def _group(self, record: GroupRecord) -> LogGroup:
        arn = f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{record.name}"
        return LogGroup(
            log_group_name=record.name, creation_time=record.creation_time, arn=arn + ":*",
            log_group_arn=arn, stored_bytes=record.stored_bytes,
            retention_in_days=record.retention_days, log_group_class=record.log_group_class,
            deletion_protection_enabled=record.deletion_protection, kms_key_id=record.kms_key_id,
        )

    def _stream(self, group: str, record: StreamRecord) -> LogStream:
        arn = (
            f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{group}"
            f":log-stream:{record.name}"
        )
        token = (
            None if record.last_ingestion_time is None else f"{record.last_ingestion_time:056d}"
        )
        return LogStream(
            log_stream_name=record.name, creation_time=record.creation_time, arn=arn,
            stored_bytes=record.stored_bytes, first_event_timestamp=record.first_event_time,
            last_event_timestamp=record.last_event_time,
            last_ingestion_time=record.last_ingestion_time, upload_sequence_token=token,
        )

    # -- events --------------------------------------------------------------

    async def put_log_events(
        self,
        log_group_name: str,
        log_stream_name: str,
        log_events: InputLogEvents | Sequence[InputLogEvent],
        sequence_token: str | None = None,
    ) -> PutLogEventsResult:
        """Accept a batch with PutLogEvents semantics; ``sequence_token`` is ignored.

        The kept events go to the batching writer, committed within ``flush_interval``; the
        returned token is the acceptance time, as DescribeLogStreams' uploadSequenceToken."""
        validate_group_name(log_group_name)
        validate_stream_name(log_stream_name)
        retention = await self._put_target(log_group_name, log_stream_name)
        now = self._now_ms()
        batch = InputLogEvents.of(log_events)
        first, end, rejected = check_put_batch(batch, now, retention)
        kept = _storable_events(batch[first:end])
        if kept:
            if self._writer.running:
                await self._writer.put(log_group_name, log_stream_name, kept, now,
                                       must_exist=True)
            else:  # not started (a bare service in a script): store before answering
                await asyncio.to_thread(
                    self.store.append,
                    [EventBatch(log_group_name, log_stream_name, kept)], now,
                    create_missing=False,
                )
                self._committed()
        return PutLogEventsResult(f"{now:056d}", rejected)

    async def _put_target(self, group: str, stream: str) -> int | None:
        """The group's retention in days, once the group and the stream are known to exist."""
        key = (group, stream)
        if key in self._put_targets:
            return self._put_targets[key]
        generation = self._generation

        def lookup() -> int | None:
            record = self.store.get_group(group)
            if record is None:
                raise group_not_found()
            if self.store.get_stream(group, stream) is None:
                raise stream_not_found()
            return record.retention_days

        retention = await asyncio.to_thread(lookup)
        with self._targets_lock:
            if generation == self._generation:
                self._put_targets[key] = retention
        return retention

    def _target_changed(self, group: str | None, stream: str | None) -> None:
        """Evict what a deleted group or stream, or a changed retention, made stale (the
        store's watch, on any thread; (None, None) evicts everything)."""
        with self._targets_lock:
            self._generation += 1
            if group is None:
                self._known.clear()
                self._put_targets.clear()
            elif stream is None:
                self._known = {k for k in self._known if k[0] != group}
                self._put_targets = {
                    k: v for k, v in self._put_targets.items() if k[0] != group}
            else:
                self._known.discard((group, stream))
                self._put_targets.pop((group, stream), None)

    async def _settle(self, group: str | None) -> None:
        """Read-your-writes: commit what is queued for ``group`` (any group when None)."""
        if self._writer.holds(group):
            await self._writer.flush()

    async def get_log_events(
        self,
        log_stream_name: str,
        log_group_name: str | None = None,
        log_group_identifier: str | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        next_token: str | None = None,
        limit: int | None = None,
        start_from_head: bool | None = None,
        unmask: bool | None = None,
    ) -> GetLogEventsResult:
        group = resolve_group_name(log_group_name, log_group_identifier)
        validate_stream_name(log_stream_name)
        limit = validate_limit(limit, 10_000, 10_000)
        await self._settle(group)
        return await asyncio.to_thread(
            lambda: queries.get_log_events(
                self.store, group, log_stream_name, start_time=start_time, end_time=end_time,
                next_token=next_token, limit=limit, start_from_head=bool(start_from_head),
            )
        )

    async def filter_log_events(
        self,
        log_group_name: str | None = None,
        log_group_identifier: str | None = None,
        log_stream_names: Sequence[str] | None = None,
        log_stream_name_prefix: str | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        filter_pattern: str | None = None,
        next_token: str | None = None,
        limit: int | None = None,
        interleaved: bool | None = None,
        unmask: bool | None = None,
        start_from_head: bool | None = None,
    ) -> FilterLogEventsResult:
        """``interleaved`` is ignored, as AWS does since 2019."""
        group = resolve_group_name(log_group_name, log_group_identifier)
        if start_from_head is False:
            raise InvalidParameterValue(
                "startFromHead=false (descending FilterLogEvents) is not supported by tandem."
            )
        names = _stream_filter(log_stream_names, log_stream_name_prefix)
        limit = validate_limit(limit, 10_000, 10_000)
        pattern = _parse_pattern(filter_pattern or "")
        await self._settle(group)
        return await asyncio.to_thread(
            lambda: queries.filter_log_events(
                self.store, group, pattern, stream_names=names,
                stream_prefix=log_stream_name_prefix, start_time=start_time,
                end_time=end_time, next_token=next_token, limit=limit,
            )
        )

    def tail(
        self,
        group: str,
        stream_names: Sequence[str] | None = None,
        stream_prefix: str | None = None,
        filter_pattern: str = "",
    ) -> AsyncGenerator[list[FilteredLogEvent], None]:
        """Yield batches of the events accepted after the call, as they are committed.

        The starting point is taken here, at the call, not at the first iteration: events
        written between the two are yielded, events accepted before the call are not. Bad
        arguments raise here too."""
        validate_group_name(group)
        names = _stream_filter(stream_names, stream_prefix)
        pattern = _parse_pattern(filter_pattern)
        return follow(
            self.store, group, names, stream_prefix, pattern,
            commit_signal=lambda: self._commit_signal, poll_interval=self.tail_poll_interval,
            start=self._writer.mark(), settle=self._writer.flush,
        )

    # -- retention -----------------------------------------------------------

    async def sweep_retention(self, now_ms: int | None = None) -> SweepResult:
        """Delete events older than their group's retention, and streams left empty."""
        await self._writer.flush()
        now = self._now_ms() if now_ms is None else now_ms
        fence = self.epoch() if self.epoch is not None else None
        events, streams = await asyncio.to_thread(self.store.sweep, now, fence=fence)
        if streams:
            self._target_changed(None, None)
        return SweepResult(events, streams)

    async def _sweep_periodically(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep_retention()
            except Exception:  # noqa: BLE001 - logged; the next sweep tries again
                _log.exception("log retention sweep failed")


def _stream_filter(names: Sequence[str] | None, prefix: str | None) -> list[str] | None:
    if names is not None and prefix is not None:
        raise InvalidParameterValue(
            "logStreamNames and logStreamNamePrefix are mutually exclusive parameters."
        )
    if names is None:
        return None
    if not 1 <= len(names) <= 100:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{list(names)}' at 'logStreamNames' failed to "
            "satisfy constraint: Member must have length between 1 and 100"
        )
    return [validate_stream_name(n, "logStreamNames") for n in names]


def _parse_pattern(text: str) -> FilterPattern:
    if len(text) > 1024:
        raise InvalidParameterValue(
            "1 validation error detected: Value at 'filterPattern' failed to satisfy "
            "constraint: Member must have length less than or equal to 1024"
        )
    return parse_filter_pattern(text)


def _storable_events(batch: InputLogEvents) -> InputLogEvents:
    # One encode of all messages finds whether any holds a lone surrogate (joining never
    # pairs them), instead of one encode per message.
    try:
        "".join(batch.messages).encode("utf-8")
    except UnicodeEncodeError:
        return InputLogEvents(batch.timestamps, list(map(_storable, batch.messages)))
    return batch


def _storable(message: str) -> str:
    """Lone surrogates (possible from JSON) cannot be stored as UTF-8; replace them."""
    try:
        message.encode("utf-8")
    except UnicodeEncodeError:
        return message.encode("utf-8", "replace").decode("utf-8")
    return message
