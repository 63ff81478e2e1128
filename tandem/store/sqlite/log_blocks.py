"""Message blocks: a second, columnar copy of each group's events, for FilterLogEvents terms.

Scanning rows for a term costs SQLite a record decode and an ``instr()`` per event (about
0.3-0.5 us each, so 150-500 ms over a million events). A block holds up to ``BLOCK_BYTES`` of a
group's messages as one UTF-8 text plus packed arrays (timestamp, seq, ingestion time, stream
id, and each message's offset in the text), so a term search is ``bytes.find`` over large
buffers (memchr speed) and only the events that hold the term are ever decoded. A UTF-8
needle can only match at character boundaries, so a byte match is a character match.

Blocks are written in the same transaction as the events (``BlockWriter.add`` then
``flush``): the newest block of a group grows until it is full, then a new one starts. Deletes
keep them exact: a swept time range or a deleted stream rewrites the blocks it touches. A
block is identified by (group, first seq) and indexed by its time span, so a filter reads
blocks in time order and stops once no unread block can hold an earlier event than the page.

The cost: messages are stored twice, and an append costs about 1-2 us more per event.
Deleting a stream reads every block of its group to find its events (rare, and off the request
path: the store's writer thread does it).
"""

from __future__ import annotations

import array
import itertools
import sqlite3
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from tandem.telemetry.logs.store import StoredEvent

__all__ = [
    "BLOCKS_MIGRATION",
    "BLOCK_BYTES",
    "BlockWriter",
    "backfill_blocks",
    "delete_stream_from_blocks",
    "search_blocks",
    "sweep_blocks",
]

BLOCK_BYTES = 128 * 1024  # a block stops growing past this much message text
BLOCK_EVENTS = 4096

BLOCKS_MIGRATION = """
    CREATE TABLE log_blocks (
        group_id INTEGER NOT NULL,
        first_seq INTEGER NOT NULL,
        min_ts INTEGER NOT NULL,
        max_ts INTEGER NOT NULL,
        columns BLOB NOT NULL,
        text BLOB NOT NULL,
        PRIMARY KEY (group_id, first_seq)
    ) WITHOUT ROWID;
    CREATE INDEX log_blocks_by_time ON log_blocks (group_id, max_ts, min_ts);
"""


@dataclass(slots=True)
class _Columns:
    """Events of one group as five columns (what a transaction adds, or what a block keeps)."""

    timestamps: list[int] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)
    ingestion: list[int] = field(default_factory=list)
    streams: list[int] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.seqs)


@dataclass(slots=True)
class _Block:
    """A block unpacked: four int64 columns and ``count + 1`` uint32 text offsets."""

    timestamps: array.array[int]
    seqs: array.array[int]
    ingestion: array.array[int]
    streams: array.array[int]
    offsets: array.array[int]
    text: bytes

    @classmethod
    def empty(cls) -> _Block:
        def q() -> array.array[int]:
            return array.array("q")

        return cls(q(), q(), q(), q(), array.array("I", [0]), b"")

    @classmethod
    def unpack(cls, columns: bytes, text: bytes) -> _Block:
        count = (len(columns) - 4) // 36
        cut = 8 * count
        arrays = []
        for i in range(4):
            a = array.array("q")
            a.frombytes(columns[i * cut : (i + 1) * cut])
            arrays.append(a)
        offsets = array.array("I")
        offsets.frombytes(columns[4 * cut :])
        timestamps, seqs, ingestion, streams = arrays
        return cls(timestamps, seqs, ingestion, streams, offsets, text)

    def pack(self) -> bytes:
        return b"".join(
            a.tobytes()
            for a in (self.timestamps, self.seqs, self.ingestion, self.streams, self.offsets)
        )

    def __len__(self) -> int:
        return len(self.seqs)

    def extend(self, cols: _Columns, start: int, end: int) -> None:
        """Append events ``start:end`` of ``cols``."""
        messages = cols.messages[start:end]
        joined = "".join(messages)
        encoded = joined.encode("utf-8")
        if len(encoded) == len(joined):  # all ASCII: byte lengths are character lengths
            lengths: Iterator[int] = map(len, messages)
        else:
            lengths = (len(m.encode("utf-8")) for m in messages)
        self.offsets.extend(itertools.accumulate(lengths, initial=self.offsets.pop()))
        self.timestamps.extend(cols.timestamps[start:end])
        self.seqs.extend(cols.seqs[start:end])
        self.ingestion.extend(cols.ingestion[start:end])
        self.streams.extend(cols.streams[start:end])
        self.text += encoded

    def keep(self, wanted: Sequence[bool]) -> _Block:
        """A block of the events whose flag is set, in the same order."""
        picked = [i for i in range(len(self)) if wanted[i]]
        cols = _Columns(
            [self.timestamps[i] for i in picked], [self.seqs[i] for i in picked],
            [self.ingestion[i] for i in picked], [self.streams[i] for i in picked],
            [self.message(i) for i in picked],
        )  # fmt: skip
        kept = _Block.empty()
        kept.extend(cols, 0, len(cols))
        return kept

    def message(self, index: int) -> str:
        return self.text[self.offsets[index] : self.offsets[index + 1]].decode("utf-8")


def _write(conn: sqlite3.Connection, group_id: int, block: _Block, *, replace: int | None) -> None:
    """Store ``block`` (replacing the block first at ``replace``, when given)."""
    if replace is not None:
        conn.execute(
            "DELETE FROM log_blocks WHERE group_id = ? AND first_seq = ?", (group_id, replace)
        )
    if len(block) == 0:
        return
    conn.execute(
        "INSERT INTO log_blocks (group_id, first_seq, min_ts, max_ts, columns, text) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (group_id, block.seqs[0], min(block.timestamps), max(block.timestamps), block.pack(),
         block.text),
    )  # fmt: skip


class BlockWriter:
    """Collects one transaction's rows per group, then writes them into blocks once."""

    def __init__(self) -> None:
        self._groups: dict[int, _Columns] = defaultdict(_Columns)

    def add(
        self, group_id: int, stream_id: int, ingestion: int, first_seq: int,
        timestamps: Sequence[int], messages: Sequence[str],
    ) -> None:  # fmt: skip
        cols, n = self._groups[group_id], len(timestamps)
        cols.timestamps.extend(timestamps)
        cols.seqs.extend(range(first_seq, first_seq + n))
        cols.ingestion.extend(itertools.repeat(ingestion, n))
        cols.streams.extend(itertools.repeat(stream_id, n))
        cols.messages.extend(messages)

    def flush(self, conn: sqlite3.Connection) -> None:
        for group_id, cols in self._groups.items():
            _append(conn, group_id, cols)
        self._groups.clear()



def _append(conn: sqlite3.Connection, group_id: int, cols: _Columns) -> None:
    last = conn.execute(
        "SELECT first_seq, columns, text FROM log_blocks WHERE group_id = ? "
        "ORDER BY first_seq DESC LIMIT 1",
        (group_id,),
    ).fetchone()
    if last is not None and len(last[2]) < BLOCK_BYTES:
        block, replace = _Block.unpack(last[1], last[2]), last[0]
    else:
        block, replace = _Block.empty(), None
    ends = list(itertools.accumulate(map(len, cols.messages)))  # characters: about the bytes
    start, count = 0, len(cols)
    while start < count:
        # Take events while the block has room: the one that fills it goes in too, so an
        # empty block takes at least one event, however big.
        room_events = BLOCK_EVENTS - len(block)
        if room_events > 0:
            base = ends[start - 1] if start else 0
            fill = bisect_left(ends, base + BLOCK_BYTES - len(block.text), lo=start)
            end = min(fill + 1, start + room_events, count)
            block.extend(cols, start, end)
            _write(conn, group_id, block, replace=replace)
            start = end
        block, replace = _Block.empty(), None


def search_blocks(
    conn: sqlite3.Connection,
    group_id: int,
    terms: Sequence[str],
    *,
    streams: Mapping[int, str],
    lower: int | None,
    upper: int | None,
    after: tuple[int, int] | None,
    limit: int,
) -> list[StoredEvent]:
    """The first ``limit`` events in (timestamp, seq) order with lower <= timestamp <= upper,
    after the cursor, of the given streams (id -> name), holding every term."""
    # A lone surrogate (possible from JSON) stays unpaired bytes no stored text holds.
    needles = sorted((t.encode("utf-8", "surrogatepass") for t in terms), key=len, reverse=True)
    first, rest = needles[0], needles[1:]
    low = -(2**63) if lower is None else lower
    high = 2**63 - 1 if upper is None else upper
    span = conn.execute(
        "SELECT first_seq, min_ts FROM log_blocks WHERE group_id = ? AND max_ts >= ? "
        "AND min_ts <= ?",
        (group_id, low, high),
    ).fetchall()
    span.sort(key=lambda b: b[1])
    hits: list[StoredEvent] = []
    for first_seq, min_ts in span:
        if len(hits) >= limit:
            hits.sort(key=lambda h: (h.timestamp, h.seq))
            del hits[limit:]
            # Blocks are read by their first timestamp: none left can hold an earlier event.
            if min_ts > hits[-1].timestamp:
                break
        columns, text = conn.execute(
            "SELECT columns, text FROM log_blocks WHERE group_id = ? AND first_seq = ?",
            (group_id, first_seq),
        ).fetchone()
        block = _Block.unpack(columns, text)
        offsets, timestamps, seqs = block.offsets, block.timestamps, block.seqs
        size = len(first)
        at = text.find(first)
        while at >= 0:
            k = bisect_right(offsets, at) - 1
            end = offsets[k + 1]
            if at + size > end:  # runs into the next message: look on from here
                at = text.find(first, at + 1)
                continue
            ts = timestamps[k]
            name = streams.get(block.streams[k])
            if low <= ts <= high and name is not None and (after is None or (ts, seqs[k]) > after):
                message = text[offsets[k] : end]
                if not rest or all(n in message for n in rest):
                    hits.append(StoredEvent(seqs[k], name, ts, block.ingestion[k],
                                            message.decode("utf-8")))  # fmt: skip
            at = text.find(first, end)
    hits.sort(key=lambda h: (h.timestamp, h.seq))
    return hits[:limit]


def _rewrite(
    conn: sqlite3.Connection,
    group_id: int,
    where: str,
    args: Sequence[object],
    keep: Callable[[int, int], bool],
) -> None:
    """Rewrite the group's blocks selected by ``where`` (a constant of this module), keeping
    the events for which ``keep(timestamp, stream_id)`` is true."""
    rows = conn.execute(
        f"SELECT first_seq, columns, text FROM log_blocks WHERE group_id = ? AND {where}",
        (group_id, *args),
    ).fetchall()
    for first_seq, columns, text in rows:
        block = _Block.unpack(columns, text)
        wanted = [keep(ts, sid) for ts, sid in zip(block.timestamps, block.streams, strict=True)]
        if not all(wanted):
            _write(conn, group_id, block.keep(wanted), replace=first_seq)


def sweep_blocks(conn: sqlite3.Connection, group_id: int, cutoff: int) -> None:
    """Drop the events older than ``cutoff`` (ms), as the sweep drops their rows."""
    conn.execute("DELETE FROM log_blocks WHERE group_id = ? AND max_ts < ?", (group_id, cutoff))
    _rewrite(conn, group_id, "min_ts < ?", (cutoff,), lambda ts, _sid: ts >= cutoff)


def delete_stream_from_blocks(conn: sqlite3.Connection, group_id: int, stream_id: int) -> None:
    _rewrite(conn, group_id, "1", (), lambda _ts, sid: sid != stream_id)


def backfill_blocks(conn: sqlite3.Connection) -> None:
    """Build the blocks of events stored before blocks existed (a one-time migration step)."""
    groups = [r[0] for r in conn.execute("SELECT id FROM log_groups")]
    for group_id in groups:
        cursor = conn.execute(
            "SELECT timestamp, seq, ingestion_time, stream_id, message FROM log_events "
            "WHERE group_id = ? ORDER BY seq",
            (group_id,),
        )
        while chunk := cursor.fetchmany(10_000):
            _append(conn, group_id, _Columns(*map(list, zip(*chunk, strict=True))))
