"""CloudWatch Logs through boto3 against a real server: reference §6 cases 16-24 with exact texts,
batch limits, rejectedLogEventsInfo, retention, deletes, and the three paginators."""

from __future__ import annotations

import time

import botocore.exceptions
import pytest

DAY_MS = 86_400_000


def _now_ms() -> int:
    return int(time.time() * 1000)


def _error(info: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> tuple[str, str, int]:
    response = info.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


@pytest.fixture
def stream(logs, request) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    group = f"/test/{request.node.name[:60].replace('[', '-').replace(']', '')}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    return group, "s"


def test_16_out_of_order_batch_is_refused(logs, stream) -> None:  # type: ignore[no-untyped-def]
    group, name = stream
    now = _now_ms()
    with pytest.raises(logs.exceptions.InvalidParameterException) as info:
        logs.put_log_events(
            logGroupName=group,
            logStreamName=name,
            logEvents=[
                {"timestamp": now, "message": "b"},
                {"timestamp": now - 1000, "message": "a"},
            ],
        )
    assert _error(info) == (
        "InvalidParameterException",
        "Log events in a single PutLogEvents request must be in chronological order.",
        400,
    )


def test_17_too_old_and_too_new_events_are_rejected_one_by_one(logs, stream) -> None:  # type: ignore[no-untyped-def]
    group, name = stream
    now = _now_ms()
    response = logs.put_log_events(
        logGroupName=group,
        logStreamName=name,
        logEvents=[
            {"timestamp": now - 30 * DAY_MS, "message": "old"},
            {"timestamp": now, "message": "kept"},
            {"timestamp": now + DAY_MS, "message": "future"},
        ],
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["rejectedLogEventsInfo"] == {
        "tooOldLogEventEndIndex": 1,
        "tooNewLogEventStartIndex": 2,
    }
    assert isinstance(response["nextSequenceToken"], str)
    events = logs.get_log_events(logGroupName=group, logStreamName=name, startFromHead=True)[
        "events"
    ]
    assert [e["message"] for e in events] == ["kept"]


def test_18_get_log_events_pages_to_the_same_token(logs, stream) -> None:  # type: ignore[no-untyped-def]
    group, name = stream
    now = _now_ms()
    logs.put_log_events(
        logGroupName=group,
        logStreamName=name,
        logEvents=[{"timestamp": now + i, "message": f"m{i}"} for i in range(3)],
    )
    pages, token = [], None
    for _ in range(5):
        kwargs = {"nextToken": token} if token else {}
        page = logs.get_log_events(
            logGroupName=group, logStreamName=name, startFromHead=True, limit=2, **kwargs
        )
        pages.append([e["message"] for e in page["events"]])
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert pages == [["m0", "m1"], ["m2"], []]
    # The default (startFromHead=false) returns the newest page.
    tail = logs.get_log_events(logGroupName=group, logStreamName=name, limit=2)
    assert [e["message"] for e in tail["events"]] == ["m1", "m2"]


def test_19_limit_and_bogus_token_texts(logs, stream) -> None:  # type: ignore[no-untyped-def]
    group, name = stream
    with pytest.raises(logs.exceptions.InvalidParameterException) as info:
        logs.get_log_events(logGroupName=group, logStreamName=name, limit=10001)
    assert _error(info)[1] == (
        "1 validation error detected: Value '10001' at 'limit' failed to "
        "satisfy constraint: Member must have value less than or equal "
        "to 10000"
    )
    for call in (logs.get_log_events, logs.filter_log_events):
        kwargs = {"logStreamName": name} if call == logs.get_log_events else {}
        with pytest.raises(logs.exceptions.InvalidParameterException) as info:
            call(logGroupName=group, nextToken="f/not-a-token", **kwargs)
        assert _error(info)[1] == "The specified nextToken is invalid."


CORPUS = [
    "ERROR disk full",
    "WARN disk almost full",
    "ERROR and WARN together",
    "hello world from the app",
    '{"a": 1, "b": 5}',
    '{"a": 2, "b": 1}',
    "ERRORCODE: -1",
    "INFO all good",
]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("ERROR", ["ERROR disk full", "ERROR and WARN together", "ERRORCODE: -1"]),
        (
            "?ERROR ?WARN",
            [
                "ERROR disk full",
                "WARN disk almost full",
                "ERROR and WARN together",
                "ERRORCODE: -1",
            ],
        ),
        ("ERROR -WARN", ["ERROR disk full", "ERRORCODE: -1"]),
        ('"hello world"', ["hello world from the app"]),
        ("{ $.b > 3 }", ['{"a": 1, "b": 5}']),
        ("[w1=ERROR, w2]", []),
        ("[w1=ERROR, w2, w3]", ["ERROR disk full"]),
        ("%ERR%", ["ERROR disk full", "ERROR and WARN together", "ERRORCODE: -1"]),
        ("", CORPUS),
    ],
)
def test_20_filter_patterns_on_a_fixed_corpus(logs, pattern, expected) -> None:  # type: ignore[no-untyped-def]
    group = "/test/corpus"
    try:
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="s")
        now = _now_ms()
        logs.put_log_events(
            logGroupName=group,
            logStreamName="s",
            logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(CORPUS)],
        )
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    events = logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"]
    assert [e["message"] for e in events] == expected


def test_20_malformed_pattern_is_refused_not_match_all(logs, stream) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.filter_log_events(logGroupName=stream[0], filterPattern="{ $.a = }")


def test_21_stream_names_and_prefix_together_are_refused(logs, stream) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(logs.exceptions.InvalidParameterException) as info:
        logs.filter_log_events(
            logGroupName=stream[0], logStreamNames=["s"], logStreamNamePrefix="s"
        )
    assert _error(info) == (
        "InvalidParameterException",
        "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.",
        400,
    )


def test_22_duplicate_and_too_long_names(logs, stream) -> None:  # type: ignore[no-untyped-def]
    group, name = stream
    with pytest.raises(logs.exceptions.ResourceAlreadyExistsException) as info:
        logs.create_log_group(logGroupName=group)
    assert _error(info) == (
        "ResourceAlreadyExistsException",
        "The specified log group already exists",
        400,
    )
    with pytest.raises(logs.exceptions.ResourceAlreadyExistsException) as info:
        logs.create_log_stream(logGroupName=group, logStreamName=name)
    assert _error(info)[1] == "The specified log stream already exists"
    with pytest.raises(logs.exceptions.InvalidParameterException) as info:
        logs.create_log_group(logGroupName="g" * 513)
    assert _error(info)[1] == (
        "Invalid LogGroup or LogStream, both must have length less than or equal to 512."
    )


def test_23_prefix_and_pattern_are_mutually_exclusive(logs) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(logs.exceptions.InvalidParameterException) as info:
        logs.describe_log_groups(logGroupNamePrefix="/a", logGroupNamePattern="a")
    assert _error(info)[1] == (
        "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
    )


def test_24_retention_outside_the_enum_is_refused(logs, stream) -> None:  # type: ignore[no-untyped-def]
    group, _ = stream
    with pytest.raises(logs.exceptions.InvalidParameterException) as info:
        logs.put_retention_policy(logGroupName=group, retentionInDays=2)
    assert _error(info)[1].startswith(
        "1 validation error detected: Value '2' at 'retentionInDays' failed to satisfy "
        "constraint: Member must satisfy enum value set: [1, 3, 5, 7, 14, 30,"
    )
    logs.put_retention_policy(logGroupName=group, retentionInDays=14)
    (described,) = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert described["retentionInDays"] == 14
    logs.delete_retention_policy(logGroupName=group)
    (described,) = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert "retentionInDays" not in described


def test_describe_log_groups_fields_of_a_new_group(logs, stream) -> None:  # type: ignore[no-untyped-def]
    group, _ = stream
    (described,) = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"
    assert {k: v for k, v in described.items() if k != "creationTime"} == {
        "logGroupName": group,
        "arn": arn + ":*",
        "logGroupArn": arn,
        "storedBytes": 0,
        "metricFilterCount": 0,
        "logGroupClass": "STANDARD",
        "deletionProtectionEnabled": False,
    }


def test_batch_limits(logs, stream) -> None:  # type: ignore[no-untyped-def]
    group, name = stream
    now = _now_ms()
    with pytest.raises(logs.exceptions.InvalidParameterException) as info:
        logs.put_log_events(
            logGroupName=group,
            logStreamName=name,
            logEvents=[{"timestamp": now, "message": "x"}] * 10_001,
        )
    assert "Member must have length less than or equal to 10000" in _error(info)[1]
    big = "y" * (1_048_576 // 2)
    with pytest.raises(logs.exceptions.InvalidParameterException) as info:
        logs.put_log_events(
            logGroupName=group,
            logStreamName=name,
            logEvents=[{"timestamp": now, "message": big}, {"timestamp": now, "message": big}],
        )
    assert _error(info)[1] == "Upload too large: 1048628 bytes exceeds limit of 1048576"
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as info:
        logs.put_log_events(
            logGroupName=group,
            logStreamName="absent",
            logEvents=[{"timestamp": now, "message": "m"}],
        )
    assert _error(info)[1] == "The specified log stream does not exist."


def test_deletes_and_missing_resources(logs, stream) -> None:  # type: ignore[no-untyped-def]
    group, name = stream
    logs.delete_log_stream(logGroupName=group, logStreamName=name)
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as info:
        logs.delete_log_stream(logGroupName=group, logStreamName=name)
    assert _error(info)[1] == "The specified log stream does not exist."
    logs.delete_log_group(logGroupName=group)
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as info:
        logs.delete_log_group(logGroupName=group)
    assert _error(info) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
        400,
    )


def test_paginators(logs) -> None:  # type: ignore[no-untyped-def]
    prefix = "/paged/"
    for i in range(7):
        logs.create_log_group(logGroupName=f"{prefix}{i}")
    pages = list(
        logs.get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix=prefix, PaginationConfig={"PageSize": 3}
        )
    )
    assert [[g["logGroupName"] for g in p["logGroups"]] for p in pages] == [
        [f"{prefix}{i}" for i in range(3)],
        [f"{prefix}{i}" for i in range(3, 6)],
        [f"{prefix}6"],
    ]
    group = f"{prefix}0"
    for i in range(5):
        logs.create_log_stream(logGroupName=group, logStreamName=f"st-{i}")
    streams = [
        s["logStreamName"]
        for p in logs.get_paginator("describe_log_streams").paginate(
            logGroupName=group, PaginationConfig={"PageSize": 2}
        )
        for s in p["logStreams"]
    ]
    assert streams == [f"st-{i}" for i in range(5)]
    now = _now_ms()
    for i in range(5):
        logs.put_log_events(
            logGroupName=group,
            logStreamName=f"st-{i}",
            logEvents=[{"timestamp": now + 10 * i + j, "message": f"e{i}-{j}"} for j in range(3)],
        )
    pages = list(
        logs.get_paginator("filter_log_events").paginate(
            logGroupName=group, PaginationConfig={"PageSize": 4}
        )
    )
    messages = [e["message"] for p in pages for e in p["events"]]
    assert messages == [f"e{i}-{j}" for i in range(5) for j in range(3)]
    assert len(pages) >= 4
    assert all(p["searchedLogStreams"] == [] for p in pages)
    assert "nextToken" not in pages[-1]


def _post_raw(url: str, operation: str, body: object) -> tuple[int, dict[str, str]]:
    """A request botocore would refuse to send (it checks types): what other clients may send."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url + "/", data=json.dumps(body).encode(), method="POST",
        headers={"X-Amz-Target": f"Logs_20140328.{operation}",
                 "Content-Type": "application/x-amz-json-1.1"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize(
    ("bad", "member", "constraint"),
    [
        ({"timestamp": "1", "message": "m"}, "timestamp", "Member must be an integer"),
        ({"timestamp": True, "message": "m"}, "timestamp", "Member must be an integer"),
        ({"message": "m"}, "timestamp", "Member must be an integer"),
        ({"timestamp": 0, "message": 7}, "message", "Member must be a string"),
        ({"timestamp": 0}, "message", "Member must be a string"),
    ],
)
def test_mistyped_event_is_named_and_nothing_is_stored(  # type: ignore[no-untyped-def]
    server, logs, stream, bad, member, constraint
) -> None:
    group, name = stream
    now = _now_ms()
    good = {"timestamp": now - 10, "message": "kept?"}
    if "timestamp" in bad and bad["timestamp"] == 0:
        bad = {**bad, "timestamp": now - 5}
    events = [good, good, bad, {"timestamp": now, "message": "after"}]
    status, body = _post_raw(server.url, "PutLogEvents",
                             {"logGroupName": group, "logStreamName": name, "logEvents": events})
    assert status == 400
    assert body == {
        "__type": "InvalidParameterException",
        "message": f"1 validation error detected: Value at 'logEvents.3.member.{member}' "
                   f"failed to satisfy constraint: {constraint}",
    }
    assert logs.get_log_events(logGroupName=group, logStreamName=name)["events"] == []


def test_lone_surrogates_in_patterns_and_prefixes_are_no_500(  # type: ignore[no-untyped-def]
    server, logs, stream
) -> None:
    """JSON can carry a lone surrogate (boto3 sends one as an escape); no stored text holds
    one, so a term with it matches nothing, and nothing answers 500."""
    group, name = stream
    logs.put_log_events(logGroupName=group, logStreamName=name,
                        logEvents=[{"timestamp": _now_ms(), "message": "plain"}])
    for body in (
        {"logGroupName": group, "filterPattern": '"\ud800"'},
        {"logGroupName": group, "filterPattern": '"\ud800" plain'},
        {"logGroupName": group, "logStreamNamePrefix": "\ud800"},
    ):
        status, answer = _post_raw(server.url, "FilterLogEvents", body)
        assert status == 200, answer
        assert answer["events"] == []
    status, answer = _post_raw(server.url, "DescribeLogStreams",
                               {"logGroupName": group, "logStreamNamePrefix": "\ud800"})
    assert status < 500, answer
    status, answer = _post_raw(server.url, "DescribeLogGroups",
                               {"logGroupNamePrefix": "\ud800"})
    assert status < 500, answer
    status, answer = _post_raw(server.url, "CreateLogStream",
                               {"logGroupName": group, "logStreamName": "\ud800"})
    assert (status, answer["__type"]) == (400, "InvalidParameterException")
    status, answer = _post_raw(server.url, "GetLogEvents",
                               {"logGroupName": group, "logStreamName": "x\ud800"})
    assert (status, answer["__type"]) == (400, "InvalidParameterException")
