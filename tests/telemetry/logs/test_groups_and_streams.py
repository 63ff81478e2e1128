"""Log groups and streams through LogService: CloudWatch Logs rules and exact error texts."""

from __future__ import annotations

import pytest

from tandem.clock import ManualClock
from tandem.errors import (
    InvalidParameterValue,
    ResourceAlreadyExists,
    ResourceNotFound,
    ValidationException,
)
from tandem.telemetry.logs import InputLogEvent, LogService

NOW_MS = 1_700_000_000_000  # the ManualClock of conftest


async def test_create_describe_delete_group_fields(logs: LogService) -> None:
    await logs.create_log_group(log_group_name="/aws/sagemaker/Endpoints/e1")
    result = await logs.describe_log_groups()
    assert result.next_token is None
    (group,) = result.log_groups
    assert group.log_group_name == "/aws/sagemaker/Endpoints/e1"
    assert group.arn == (
        "arn:aws:logs:us-east-1:000000000000:log-group:/aws/sagemaker/Endpoints/e1:*"
    )
    assert group.log_group_arn == group.arn[:-2]
    assert (group.creation_time, group.stored_bytes, group.retention_in_days) == (NOW_MS, 0, None)
    assert (group.metric_filter_count, group.log_group_class) == (0, "STANDARD")
    await logs.delete_log_group(log_group_name="/aws/sagemaker/Endpoints/e1")
    assert (await logs.describe_log_groups()).log_groups == []


async def test_duplicate_and_missing_resources_use_aws_texts(logs: LogService) -> None:
    await logs.create_log_group("/g")
    with pytest.raises(ResourceAlreadyExists) as exc:
        await logs.create_log_group("/g")
    assert exc.value.message == "The specified log group already exists"
    assert exc.value.code == "ResourceAlreadyExistsException"
    await logs.create_log_stream("/g", "s")
    with pytest.raises(ResourceAlreadyExists) as exc:
        await logs.create_log_stream("/g", "s")
    assert exc.value.message == "The specified log stream already exists"
    with pytest.raises(ResourceNotFound) as missing:
        await logs.delete_log_group("/nope")
    assert missing.value.message == "The specified log group does not exist."
    with pytest.raises(ResourceNotFound) as missing:
        await logs.delete_log_stream("/g", "nope")
    assert missing.value.message == "The specified log stream does not exist."
    with pytest.raises(ResourceNotFound, match="^The specified log group does not exist.$"):
        await logs.create_log_stream("/nope", "s")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("x" * 513, "Invalid LogGroup or LogStream, both must have length less than or equal "
                    "to 512."),
        ("bad name", "1 validation error detected: Value 'bad name' at 'logGroupName' failed "
                     "to satisfy constraint: Member must satisfy regular expression pattern: "
                     "[\\.\\-_/#A-Za-z0-9]+"),
        ("", "1 validation error detected: Value '' at 'logGroupName' failed to satisfy "
             "constraint: Member must have length greater than or equal to 1"),
    ],
)
async def test_bad_group_names_are_rejected(logs: LogService, name: str, message: str) -> None:
    with pytest.raises(InvalidParameterValue) as exc:
        await logs.create_log_group(name)
    assert exc.value.message == message


async def test_group_name_limits_accept_512_and_the_full_alphabet(logs: LogService) -> None:
    await logs.create_log_group("a" * 512)
    await logs.create_log_group("/A.b-c_d/#9")
    assert len((await logs.describe_log_groups()).log_groups) == 2


@pytest.mark.parametrize("name", ["a:b", "a*b", "s" * 513, ""])
async def test_bad_stream_names_are_rejected(logs: LogService, name: str) -> None:
    await logs.create_log_group("/g")
    with pytest.raises(InvalidParameterValue):
        await logs.create_log_stream("/g", name)


async def test_retention_policy(logs: LogService) -> None:
    await logs.create_log_group("/g")
    await logs.put_retention_policy("/g", 14)
    assert (await logs.describe_log_groups()).log_groups[0].retention_in_days == 14
    await logs.delete_retention_policy("/g")
    assert (await logs.describe_log_groups()).log_groups[0].retention_in_days is None
    with pytest.raises(InvalidParameterValue) as exc:
        await logs.put_retention_policy("/g", 2)
    assert exc.value.message.startswith(
        "1 validation error detected: Value '2' at 'retentionInDays' failed to satisfy "
        "constraint: Member must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120,"
    )
    with pytest.raises(ResourceNotFound):
        await logs.put_retention_policy("/nope", 1)


async def test_describe_groups_sorted_prefix_pattern_and_paging(logs: LogService) -> None:
    for name in ["/b/2", "/a/1", "/b/1", "B", "/c"]:
        await logs.create_log_group(name)
    result = await logs.describe_log_groups()
    assert [g.log_group_name for g in result.log_groups] == ["/a/1", "/b/1", "/b/2", "/c", "B"]
    result = await logs.describe_log_groups(log_group_name_prefix="/b/")
    assert [g.log_group_name for g in result.log_groups] == ["/b/1", "/b/2"]
    result = await logs.describe_log_groups(log_group_name_pattern="1")
    assert [g.log_group_name for g in result.log_groups] == ["/a/1", "/b/1"]
    page1 = await logs.describe_log_groups(limit=2)
    page2 = await logs.describe_log_groups(limit=2, next_token=page1.next_token)
    page3 = await logs.describe_log_groups(limit=2, next_token=page2.next_token)
    names = [g.log_group_name for p in (page1, page2, page3) for g in p.log_groups]
    assert names == ["/a/1", "/b/1", "/b/2", "/c", "B"]
    assert page3.next_token is None
    with pytest.raises(InvalidParameterValue) as exc:
        await logs.describe_log_groups(log_group_name_prefix="/a", log_group_name_pattern="a")
    assert exc.value.message == (
        "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
    )
    for limit in (0, 51):
        with pytest.raises(InvalidParameterValue, match="at 'limit' failed"):
            await logs.describe_log_groups(limit=limit)
    with pytest.raises(InvalidParameterValue, match="^The specified nextToken is invalid.$"):
        await logs.describe_log_groups(next_token="garbage")


async def test_describe_streams_order_and_fields(logs: LogService, clock: ManualClock) -> None:
    await logs.create_log_group("/g")
    for name in ["b", "a", "c"]:
        await logs.create_log_stream("/g", name)
    await logs.put_log_events("/g", "a", [InputLogEvent(NOW_MS - 5, "x")])
    await logs.put_log_events(
        "/g", "c", [InputLogEvent(NOW_MS - 9, "x"), InputLogEvent(NOW_MS - 1, "yz")]
    )
    result = await logs.describe_log_streams(log_group_name="/g")
    assert [s.log_stream_name for s in result.log_streams] == ["a", "b", "c"]
    c = result.log_streams[2]
    assert c.arn == "arn:aws:logs:us-east-1:000000000000:log-group:/g:log-stream:c"
    assert (c.first_event_timestamp, c.last_event_timestamp, c.last_ingestion_time) == (
        NOW_MS - 9, NOW_MS - 1, NOW_MS
    )
    assert c.stored_bytes == 3 and c.upload_sequence_token is not None
    b = result.log_streams[1]
    assert (b.first_event_timestamp, b.last_event_timestamp, b.upload_sequence_token) == (
        None, None, None
    )
    latest = await logs.describe_log_streams(
        log_group_name="/g", order_by="LastEventTime", descending=True
    )
    assert [s.log_stream_name for s in latest.log_streams] == ["c", "a", "b"]
    desc = await logs.describe_log_streams(log_group_name="/g", descending=True, limit=2)
    assert [s.log_stream_name for s in desc.log_streams] == ["c", "b"]
    rest = await logs.describe_log_streams(
        log_group_name="/g", descending=True, limit=2, next_token=desc.next_token
    )
    assert [s.log_stream_name for s in rest.log_streams] == ["a"] and rest.next_token is None
    by_arn = await logs.describe_log_streams(
        log_group_identifier="arn:aws:logs:us-east-1:000000000000:log-group:/g:*",
        log_stream_name_prefix="b",
    )
    assert [s.log_stream_name for s in by_arn.log_streams] == ["b"]


async def test_describe_streams_bad_combinations(logs: LogService) -> None:
    await logs.create_log_group("/g")
    with pytest.raises(InvalidParameterValue) as exc:
        await logs.describe_log_streams(
            log_group_name="/g", log_stream_name_prefix="a", order_by="LastEventTime"
        )
    assert exc.value.message == "Cannot order by LastEventTime with a logStreamNamePrefix."
    with pytest.raises(ValidationException) as both:
        await logs.describe_log_streams(log_group_name="/g", log_group_identifier="/g")
    assert both.value.message == "LogGroup name and LogGroup ARN are mutually exclusive parameters."
    with pytest.raises(ResourceNotFound, match="log group does not exist"):
        await logs.describe_log_streams(log_group_name="/nope")
    with pytest.raises(InvalidParameterValue, match="orderBy"):
        await logs.describe_log_streams(log_group_name="/g", order_by="Size")


async def test_ensure_log_stream_is_idempotent_and_creates_the_group(logs: LogService) -> None:
    logs.ensure_log_stream("/aws/sagemaker/Endpoints/e", "AllTraffic/i-0123/c1")
    logs.ensure_log_stream("/aws/sagemaker/Endpoints/e", "AllTraffic/i-0123/c1")
    groups = await logs.describe_log_groups()
    assert [g.log_group_name for g in groups.log_groups] == ["/aws/sagemaker/Endpoints/e"]
    streams = await logs.describe_log_streams(log_group_name="/aws/sagemaker/Endpoints/e")
    assert [s.log_stream_name for s in streams.log_streams] == ["AllTraffic/i-0123/c1"]
    with pytest.raises(InvalidParameterValue):
        logs.ensure_log_stream("/g", "a:b")


async def test_deleting_a_group_deletes_its_streams_and_events(logs: LogService) -> None:
    logs.ensure_log_stream("/g", "s")
    await logs.put_log_events("/g", "s", [InputLogEvent(NOW_MS, "m")])
    await logs.delete_log_group("/g")
    logs.ensure_log_stream("/g", "s")  # the cache forgot it: the group comes back empty
    result = await logs.get_log_events(log_group_name="/g", log_stream_name="s")
    assert result.events == []
