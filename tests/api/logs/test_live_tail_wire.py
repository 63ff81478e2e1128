"""StartLiveTail: the event-stream frames (decoded by botocore's own parser) and a real session
read by boto3 while a line is written."""

from __future__ import annotations

import time
import zlib

import pytest
from botocore.eventstream import EventStreamBuffer
from hypothesis import given
from hypothesis import strategies as st

from tandem.api.live_tail import encode_event, encode_message

from .server_thread import logs_client

_names = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=30)


@given(
    headers=st.lists(st.tuples(_names, st.text(max_size=50)), max_size=5),
    payload=st.binary(max_size=2000),
)
def test_frames_round_trip_through_botocore(headers, payload) -> None:  # type: ignore[no-untyped-def]
    headers = list(dict(headers).items())  # names are unique within a message
    buffer = EventStreamBuffer()
    buffer.add_data(encode_message(headers, payload))
    (message,) = list(buffer)
    assert message.headers == dict(headers)
    assert message.payload == payload


def test_prelude_and_message_checksums() -> None:
    frame = encode_event("initial-response", {})
    total, headers_len, prelude_crc = (int.from_bytes(frame[i : i + 4], "big") for i in (0, 4, 8))
    assert total == len(frame)
    assert prelude_crc == zlib.crc32(frame[:8])
    assert int.from_bytes(frame[-4:], "big") == zlib.crc32(frame[:-4])
    assert frame[12 + headers_len : -4] == b"{}"


def test_live_tail_streams_a_line_written_during_the_session(server, logs) -> None:  # type: ignore[no-untyped-def]
    group = "/tail/live"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="app/1")
    arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"
    tail_client = logs_client(server.url, inject_host_prefix=False, read_timeout=10)
    response = tail_client.start_live_tail(
        logGroupIdentifiers=[arn], logEventFilterPattern="needle"
    )
    assert (
        response["ResponseMetadata"]["HTTPHeaders"]["content-type"]
        == "application/vnd.amazon.eventstream"
    )
    stream = response["responseStream"]
    events = iter(stream)
    start = next(events)["sessionStart"]
    assert start["logGroupIdentifiers"] == [arn]
    assert start["logEventFilterPattern"] == "needle"
    assert start["sessionId"] and start["requestId"]

    # The session follows from its start: what is put once sessionStart arrives is in it.
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="app/1",
        logEvents=[
            {"timestamp": now, "message": "hay"},
            {"timestamp": now, "message": "a needle here"},
        ],
    )
    updates, results = 0, []
    started = time.monotonic()
    for event in events:
        update = event["sessionUpdate"]
        updates += 1
        assert update["sessionMetadata"] == {"sampled": False}
        results += update["sessionResults"]
        if results or time.monotonic() - started > 60:
            break
    stream.close()
    assert [(r["logStreamName"], r["logGroupIdentifier"], r["message"]) for r in results] == [
        ("app/1", arn, "a needle here")
    ]
    assert {"timestamp", "ingestionTime"} <= set(results[0])


def test_live_tail_checks_its_arguments_before_streaming(server) -> None:  # type: ignore[no-untyped-def]
    tail_client = logs_client(server.url, inject_host_prefix=False)
    with pytest.raises(tail_client.exceptions.ResourceNotFoundException):
        tail_client.start_live_tail(logGroupIdentifiers=["/tail/absent"])
    with pytest.raises(tail_client.exceptions.InvalidParameterException):
        tail_client.start_live_tail(
            logGroupIdentifiers=["/tail/a", "/tail/b"], logStreamNames=["s"]
        )


def test_stopping_the_server_ends_open_sessions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from .server_thread import ServerThread

    own = ServerThread(tmp_path).start()
    client = logs_client(own.url, inject_host_prefix=False, read_timeout=10)
    client.create_log_group(logGroupName="/tail/stop")
    events = iter(client.start_live_tail(logGroupIdentifiers=["/tail/stop"])["responseStream"])
    assert "sessionStart" in next(events)
    started = time.monotonic()
    own.stop()
    assert time.monotonic() - started < 30  # not aiohttp's 60 s shutdown timeout
    assert all("sessionUpdate" in e for e in events)  # the stream simply ends
