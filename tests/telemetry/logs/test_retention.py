"""The retention sweeper deletes expired events and emptied streams per group retention."""

from __future__ import annotations

from tandem.clock import ManualClock
from tandem.telemetry.logs import InputLogEvent, LogService, SweepResult

NOW_MS = 1_700_000_000_000
DAY = 86_400_000


async def test_sweep_follows_each_groups_retention(logs: LogService, clock: ManualClock) -> None:
    for group in ("/one-day", "/forever"):
        logs.ensure_log_stream(group, "a")
        logs.ensure_log_stream(group, "b")
        await logs.put_log_events(group, "a", [InputLogEvent(NOW_MS - 10, "a-old")])
        await logs.put_log_events(group, "b", [InputLogEvent(NOW_MS - 10, "b-old")])
    await logs.put_retention_policy("/one-day", 1)
    clock.advance(0.5 * 86_400)
    await logs.put_log_events("/one-day", "b", [InputLogEvent(NOW_MS + DAY // 2, "b-new")])
    assert await logs.sweep_retention() == SweepResult(0, 0)

    clock.advance(0.6 * 86_400)  # a day and a bit after the first events
    assert await logs.sweep_retention() == SweepResult(events_deleted=2, streams_deleted=1)
    streams = await logs.describe_log_streams(log_group_name="/one-day")
    assert [s.log_stream_name for s in streams.log_streams] == ["b"]
    kept = await logs.filter_log_events(log_group_name="/one-day")
    assert [e.message for e in kept.events] == ["b-new"]
    group = (await logs.describe_log_groups(log_group_name_prefix="/one-day")).log_groups[0]
    assert group.stored_bytes == len("b-new")
    forever = await logs.filter_log_events(log_group_name="/forever")
    assert [e.message for e in forever.events] == ["a-old", "b-old"]


async def test_captured_lines_are_swept_too(logs: LogService, clock: ManualClock) -> None:
    logs.ensure_log_stream("/g", "s")
    await logs.put_retention_policy("/g", 3)
    await logs.write("/g", "s", [(NOW_MS, "captured")])
    await logs.flush()
    clock.advance(4 * 86_400)
    assert await logs.sweep_retention() == SweepResult(1, 1)
    # The capture path re-creates a swept stream on its next line.
    logs.ensure_log_stream("/g", "s")
    await logs.write("/g", "s", [(NOW_MS + 4 * DAY, "again")])
    await logs.flush()
    page = await logs.get_log_events(log_group_name="/g", log_stream_name="s")
    assert [e.message for e in page.events] == ["again"]


async def test_sweep_flushes_pending_lines_first(logs: LogService, clock: ManualClock) -> None:
    logs.ensure_log_stream("/g", "s")
    await logs.put_retention_policy("/g", 1)
    await logs.write("/g", "s", [(NOW_MS - 2 * DAY, "expired on arrival")])
    assert await logs.sweep_retention() == SweepResult(1, 0)
