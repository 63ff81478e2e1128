"""The spool keeps requests in order within its bound, drops the oldest first and counts what
it dropped; a new spool on the same directory carries on; backoff grows and is jittered."""

from __future__ import annotations

from pathlib import Path

from tandem.telemetry.shipping import ShipRequest, Spool
from tandem.telemetry.shipping.outbox import backoff_delay


def _request(i: int, size: int = 1000) -> ShipRequest:
    return ShipRequest("logs", "PutLogEvents", b"x" * size, items=10 + i, group="g", stream="s")


def test_requests_come_back_in_order_and_whole(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1_000_000)
    spool.push([_request(i) for i in range(3)])
    assert (len(spool), spool.items) == (3, 10 + 11 + 12)
    seen = []
    while (head := spool.peek()) is not None:
        seq, request = head
        seen.append(request)
        spool.pop(seq)
    assert seen == [_request(i) for i in range(3)]
    assert (len(spool), spool.bytes, list(tmp_path.iterdir())) == (0, 0, [])


def test_full_spool_drops_oldest_and_counts(tmp_path: Path) -> None:
    one = len(_request(0).to_bytes())
    spool = Spool(tmp_path, 5 * one)
    for i in range(8):
        spool.push([_request(i)])
        assert sum(f.stat().st_size for f in tmp_path.iterdir()) <= 5 * one
    assert (spool.dropped_requests, spool.dropped_items) == (3, 10 + 11 + 12)
    head = spool.peek()
    assert head is not None and head[1] == _request(3)


def test_a_new_spool_carries_on_where_the_last_left(tmp_path: Path) -> None:
    Spool(tmp_path, 1_000_000).push([_request(0), _request(1)])
    (tmp_path / "0000000000000009-5.tmp").write_bytes(b"half a write")
    again = Spool(tmp_path, 1_000_000)
    again.push([_request(2)])
    order = []
    while (head := again.peek()) is not None:
        order.append(head[1].items)
        again.pop(head[0])
    assert order == [10, 11, 12]
    assert list(tmp_path.iterdir()) == []  # the torn write was cleared


def test_backoff_doubles_to_its_cap_with_half_jitter() -> None:
    assert [backoff_delay(n, 0.1, 2.0, lambda: 0.0) for n in range(6)] == [
        0.05, 0.1, 0.2, 0.4, 0.8, 1.0
    ]
    assert [backoff_delay(n, 0.1, 2.0, lambda: 1.0) for n in range(6)] == [
        0.1, 0.2, 0.4, 0.8, 1.6, 2.0
    ]
