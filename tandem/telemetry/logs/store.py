"""The LogStore seam: what the logs service needs from persistence.

SQLite implements it today (``tandem.store.sqlite.logs``); a PostgreSQL store must pass the same
contract suite (``tests/store/test_log_store_contract.py``). Methods are synchronous and may
block; the service calls them off the event loop. Missing or duplicate resources raise the
typed errors of ``tandem.errors`` with the texts in ``tandem.telemetry.logs.validation``.

Events are ordered by ``(timestamp, seq)``: ``seq`` is a store-wide increasing number given at
commit, so it is also ingestion order. A ``Position`` is a point in that order; cursors compare
strictly (``after`` means key > position, ``before`` means key < position).

Several servers may share one store, each with caches of what exists (the logs service's
PutLogEvents targets). ``watch`` tells every one of them, whichever server made the change,
when a group or stream is deleted or a group's retention changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "LogStore", "GroupRecord", "StreamRecord", "StoredEvent", "EventBatch", "Position",
    "TargetChange",
]

Position = tuple[int, int]  # (timestamp ms, seq)
# Called with (group, stream) when a stream is deleted, (group, None) when a group is deleted
# or its retention changes, and (None, None) when anything may have changed (a feed that was
# interrupted, and may have missed changes, is back).
TargetChange = Callable[[str | None, str | None], None]


@dataclass(frozen=True)
class GroupRecord:
    name: str
    creation_time: int
    retention_days: int | None = None
    stored_bytes: int = 0
    kms_key_id: str | None = None
    log_group_class: str = "STANDARD"
    deletion_protection: bool = False


@dataclass(frozen=True)
class StreamRecord:
    name: str
    creation_time: int
    first_event_time: int | None = None
    last_event_time: int | None = None
    last_ingestion_time: int | None = None
    stored_bytes: int = 0


@dataclass(slots=True)  # built per row read: not frozen, for a cheaper __init__
class StoredEvent:
    seq: int
    stream_name: str
    timestamp: int
    ingestion_time: int
    message: str


@dataclass(frozen=True)
class EventBatch:
    """Events for one stream, in the order to store them: ``(timestamp ms, message)`` pairs;
    ``ingestion_time`` (ms) when they were accepted earlier than the ``append`` call.

    ``must_exist``: the events were accepted (PutLogEvents) for a stream the caller saw; if
    another writer has deleted it since, they went with it: ``append`` leaves them out instead
    of creating the stream again."""

    group: str
    stream: str
    events: Sequence[tuple[int, str]]
    ingestion_time: int | None = None
    must_exist: bool = False


class LogStore(Protocol):
    # -- groups --
    def create_group(
        self,
        name: str,
        creation_time: int,
        *,
        kms_key_id: str | None = None,
        log_group_class: str = "STANDARD",
        deletion_protection: bool = False,
    ) -> GroupRecord: ...
    def get_group(self, name: str) -> GroupRecord | None: ...
    def list_groups(
        self,
        *,
        prefix: str | None,
        contains: str | None,
        offset: int,
        limit: int,
        group_class: str | None = None,
    ) -> list[GroupRecord]:
        """Groups in ASCII order of name."""
        ...

    def delete_group(self, name: str) -> None: ...
    def set_retention(self, name: str, days: int | None) -> None: ...

    # -- streams --
    def create_stream(self, group: str, name: str, creation_time: int) -> StreamRecord: ...
    def ensure_stream(self, group: str, name: str, creation_time: int) -> None:
        """Create the group and the stream unless they exist."""
        ...

    def get_stream(self, group: str, name: str) -> StreamRecord | None: ...
    def list_streams(
        self,
        group: str,
        *,
        prefix: str | None,
        by_last_event: bool,
        descending: bool,
        offset: int,
        limit: int,
    ) -> list[StreamRecord]: ...
    def delete_stream(self, group: str, name: str) -> None: ...

    # -- events --
    def append(
        self, batches: Sequence[EventBatch], ingestion_time: int, *, create_missing: bool,
        gone: list[EventBatch] | None = None,
    ) -> int:  # fmt: skip
        """Store the batches in one transaction, each event with the next seq; returns the last
        seq given. Each batch's events get its ``ingestion_time``, or this call's. A missing
        group or stream is created when ``create_missing``, else ResourceNotFound (and nothing
        is stored). A ``must_exist`` batch whose stream is missing is not stored whatever
        ``create_missing`` says (its seqs are skipped, so the others' stay as counted) and is
        added to ``gone``."""
        ...

    def read_stream(
        self,
        group: str,
        stream: str,
        *,
        start: int | None,
        end: int | None,
        after: Position | None,
        before: Position | None,
        limit: int,
        newest_first: bool,
    ) -> list[StoredEvent]:
        """Events with start <= timestamp < end strictly between the cursors, ``limit`` of them
        from the oldest (or the newest) end, always returned in ascending order."""
        ...

    def filter_events(
        self,
        group: str,
        *,
        stream_names: Sequence[str] | None,
        stream_prefix: str | None,
        start: int | None,
        end: int | None,
        after: Position | None,
        terms: Sequence[str],
        limit: int,
    ) -> list[StoredEvent]:
        """Up to ``limit`` events of the group (start <= timestamp <= end) after the cursor,
        ascending, whose message contains every term (case-sensitive substring)."""
        ...

    def events_since(
        self,
        group: str,
        after_seq: int,
        *,
        stream_names: Sequence[str] | None,
        stream_prefix: str | None,
        terms: Sequence[str],
        limit: int,
    ) -> list[StoredEvent]:
        """Events committed after ``after_seq``, in seq order (for live tail)."""
        ...

    def last_seq(self) -> int: ...

    # -- sharing --
    def watch(self, callback: TargetChange) -> None:
        """Call ``callback`` after each deletion of a group or stream and each change of a
        group's retention, by this handle or any other writer of the same storage. It may be
        called on any thread, so it must only do quick, thread-safe work."""
        ...

    # -- retention --
    def sweep(self, now_ms: int, *, fence: int | None = None) -> tuple[int, int]:
        """Delete events older than their group's retention and streams left empty past it;
        returns (events deleted, streams deleted). ``fence``: the epoch of the leader that
        sweeps; a store shared by servers raises ``StaleLeader`` and deletes nothing unless
        it is still current (one server's own store ignores it)."""
        ...
