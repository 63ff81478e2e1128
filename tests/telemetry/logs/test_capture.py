"""StreamCapture with real child processes: complete, ordered, never dropping a byte."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tandem.store.sqlite.database import Database
from tandem.store.sqlite.logs import SQLiteLogStore
from tandem.telemetry.logs import LogService, StreamCapture, split_message

KIB = 1024


async def _run_child(logs: LogService, code: str, **capture_kw: object) -> StreamCapture:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env={},
    )
    assert proc.stdout is not None
    capture = StreamCapture(logs, "/g", "s", **capture_kw)  # type: ignore[arg-type]
    await capture.run(proc.stdout)
    assert await proc.wait() == 0
    await logs.flush()
    return capture


async def _all_messages(logs: LogService) -> list[str]:
    messages: list[str] = []
    token = None
    while True:
        page = await logs.get_log_events(
            log_group_name="/g", log_stream_name="s", start_from_head=True, next_token=token
        )
        if page.next_forward_token == token:
            return messages
        messages += [e.message for e in page.events]
        token = page.next_forward_token


async def test_burst_of_100000_lines_arrives_complete_and_in_order(
    tmp_path: Path,
) -> None:
    # A small buffer forces backpressure: the child must block, not lose lines.
    db = Database(tmp_path / "logs.db")
    store = SQLiteLogStore(db)
    flushed: list[int] = []
    append = store.append

    def counting_append(batches, ingestion_time, **options):  # type: ignore[no-untyped-def]
        flushed.append(sum(len(b.events) for b in batches))
        return append(batches, ingestion_time, **options)

    store.append = counting_append  # type: ignore[method-assign]
    logs = LogService(store, flush_interval=0.05, max_pending=5_000, sweep_interval=None)
    await logs.start()
    try:
        capture = await _run_child(
            logs,
            "import sys\nw = sys.stdout.write\nfor i in range(100000): w(f'line {i}\\n')",
        )
        assert capture.lines == 100_000
        assert await _all_messages(logs) == [f"line {i}" for i in range(100_000)]
        assert list(capture.last_lines) == [f"line {i}" for i in range(99_980, 100_000)]
        # Bounded: no flush held more than the buffer plus one pipe read (256 KiB of lines,
        # each at least 7 bytes).
        assert sum(flushed) == 100_000 and max(flushed) <= 5_000 + 256 * KIB // 7
    finally:
        await logs.stop()
        db.close()


async def test_stdout_and_stderr_interleave_into_one_stream(logs: LogService) -> None:
    await _run_child(
        logs,
        "import sys\nprint('out', flush=True)\nprint('err', file=sys.stderr, flush=True)\n"
        "print('out2', flush=True)",
    )
    assert await _all_messages(logs) == ["out", "err", "out2"]


async def test_partial_last_line_and_empty_lines_are_kept(logs: LogService) -> None:
    capture = await _run_child(logs, "import sys\nsys.stdout.write('a\\n\\nb\\nno newline')")
    assert await _all_messages(logs) == ["a", "", "b", "no newline"]
    assert capture.lines == 4 and list(capture.last_lines) == ["a", "", "b", "no newline"]


async def test_invalid_utf8_is_replaced_not_dropped(logs: LogService) -> None:
    await _run_child(
        logs,
        "import sys\nsys.stdout.buffer.write(b'ok \\xc3\\xa9\\nbad \\xff\\xfe end\\n"
        "cut \\xe2\\x82\\n')",
    )
    assert await _all_messages(logs) == ["ok é", "bad \ufffd\ufffd end", "cut \ufffd"]


async def test_300_kib_line_is_split_into_events(logs: LogService) -> None:
    await _run_child(
        logs,
        "import sys\nsys.stdout.write('x' * (300 * 1024) + '\\nafter\\n' + 'y' * (300 * 1024))",
    )
    messages = await _all_messages(logs)
    assert [len(m) for m in messages] == [256 * KIB, 44 * KIB, 5, 256 * KIB, 44 * KIB]
    assert messages[0] + messages[1] == "x" * 300 * KIB and messages[2] == "after"


async def test_keep_last_and_on_line_callback(logs: LogService) -> None:
    seen: list[tuple[str, int]] = []
    capture = await _run_child(
        logs, "for i in range(5): print(i)", keep_last=2,
        on_line=lambda message, ts: seen.append((message, ts)),
    )
    assert list(capture.last_lines) == ["3", "4"]
    assert [m for m, _ in seen] == ["0", "1", "2", "3", "4"]
    assert all(ts == 1_700_000_000_000 for _, ts in seen)  # the injected clock, at read


def test_split_message_respects_character_boundaries() -> None:
    text = "é" * 10  # 2 bytes each
    pieces = split_message(text, limit=5)
    assert pieces == ["éé"] * 5
    assert split_message("a" + "€" * 3, limit=4) == ["a€", "€", "€"]
    assert split_message("short", limit=5) == ["short"]


async def test_writing_before_start_is_an_error(log_store: SQLiteLogStore) -> None:
    logs = LogService(log_store, sweep_interval=None)
    with pytest.raises(RuntimeError, match="not started"):
        await logs.write("/g", "s", [(1, "x")])
