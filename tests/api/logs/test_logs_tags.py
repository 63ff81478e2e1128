"""Log group tags through boto3: at create time, by name (TagLogGroup, the older calls) and by
ARN (TagResource); AWS's limits and errors; tags gone with their group. And the other
CreateLogGroup options, which DescribeLogGroups shows again."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import logs_client

ARN = "arn:aws:logs:us-east-1:000000000000:log-group:"


def _error(info: pytest.ExceptionInfo[Any]) -> tuple[str, str]:
    error = info.value.response["Error"]
    return error["Code"], error["Message"]


def test_tags_round_trip_by_name_and_by_arn(logs: Any) -> None:
    logs.create_log_group(logGroupName="/tags/a", tags={"team": "ml", "cost": "1"})
    assert logs.list_tags_log_group(logGroupName="/tags/a")["tags"] == {"team": "ml", "cost": "1"}
    assert logs.list_tags_for_resource(resourceArn=ARN + "/tags/a")["tags"] == {
        "team": "ml", "cost": "1",
    }  # fmt: skip
    logs.tag_resource(resourceArn=ARN + "/tags/a", tags={"team": "infra", "env": "test"})
    logs.untag_log_group(logGroupName="/tags/a", tags=["cost"])
    assert logs.list_tags_for_resource(resourceArn=ARN + "/tags/a")["tags"] == {
        "team": "infra", "env": "test",
    }  # fmt: skip
    logs.tag_log_group(logGroupName="/tags/a", tags={"owner": "me"})
    logs.untag_resource(resourceArn=ARN + "/tags/a", tagKeys=["env", "not-there"])
    assert logs.list_tags_log_group(logGroupName="/tags/a")["tags"] == {
        "team": "infra", "owner": "me",
    }  # fmt: skip


def test_tags_go_with_their_group(logs: Any) -> None:
    logs.create_log_group(logGroupName="/tags/gone", tags={"k": "v"})
    logs.delete_log_group(logGroupName="/tags/gone")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.list_tags_log_group(logGroupName="/tags/gone")
    logs.create_log_group(logGroupName="/tags/gone")
    assert logs.list_tags_for_resource(resourceArn=ARN + "/tags/gone")["tags"] == {}


def test_tag_limits_and_errors(logs: Any) -> None:
    logs.create_log_group(logGroupName="/tags/limits", tags={f"k{i}": "v" for i in range(49)})
    with pytest.raises(logs.exceptions.TooManyTagsException):
        logs.tag_resource(resourceArn=ARN + "/tags/limits", tags={"x": "1", "y": "2"})
    logs.tag_resource(resourceArn=ARN + "/tags/limits", tags={"k0": "new", "x": "1"})
    assert len(logs.list_tags_log_group(logGroupName="/tags/limits")["tags"]) == 50
    with pytest.raises(logs.exceptions.InvalidParameterException) as info:
        logs.tag_log_group(logGroupName="/tags/limits", tags={"aws:owner": "me"})
    assert "aws:" in _error(info)[1]
    with pytest.raises(logs.exceptions.InvalidParameterException) as info:
        logs.create_log_group(logGroupName="/tags/reserved", tags={"aws:x": "1"})
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.describe_log_streams(logGroupName="/tags/reserved")  # refused whole: no group
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.list_tags_for_resource(resourceArn=ARN + "/tags/none")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.tag_log_group(logGroupName="/tags/none", tags={"k": "v"})
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.list_tags_for_resource(
            resourceArn="arn:aws:logs:eu-west-1:000000000000:log-group:/tags/limits"
        )


def test_values_outside_the_model_are_refused_as_aws_refuses_them(server: Any) -> None:
    raw = logs_client(server.url, parameter_validation=False)
    raw.create_log_group(logGroupName="/tags/raw")
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("tag_resource", {"resourceArn": ARN + "/tags/raw:*", "tags": {"k": "v"}},
         "at 'resourceArn' failed to satisfy constraint: Member must satisfy regular "
         "expression pattern: [\\w+=/:,.@-]*"),
        ("tag_resource", {"resourceArn": ARN + "/tags/raw", "tags": {}},
         "at 'tags' failed to satisfy constraint: Member must have length greater than or "
         "equal to 1"),
        ("tag_log_group", {"logGroupName": "/tags/raw", "tags": {"k" * 129: "v"}},
         "Map keys must satisfy constraint: [Member must have length less than or equal to "
         "128]"),
        ("tag_log_group", {"logGroupName": "/tags/raw", "tags": {"k": "v*"}},
         "Map value must satisfy constraint: [Member must satisfy regular expression pattern"),
        ("untag_resource", {"resourceArn": ARN + "/tags/raw", "tagKeys": ["k"] * 51},
         "at 'tagKeys' failed to satisfy constraint: Member must have length less than or "
         "equal to 50"),
        ("describe_log_streams", {"logGroupName": "/tags/raw", "orderBy": ""},
         "Value '' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value "
         "set: [LogStreamName, LastEventTime]"),
        ("get_log_events", {"logGroupIdentifier": ARN + "/tags/raw:*", "logStreamName": "s"},
         "at 'logGroupIdentifier' failed to satisfy constraint"),
    ]  # fmt: skip
    for call, kwargs, fragment in cases:
        with pytest.raises(raw.exceptions.InvalidParameterException) as info:
            getattr(raw, call)(**kwargs)
        assert fragment in _error(info)[1], (call, kwargs)


def test_create_options_are_kept_and_shown(logs: Any) -> None:
    key = "arn:aws:kms:us-east-1:000000000000:key/0000-1111"
    logs.create_log_group(
        logGroupName="/options/kept", kmsKeyId=key, logGroupClass="INFREQUENT_ACCESS",
        deletionProtectionEnabled=True,
    )  # fmt: skip
    logs.create_log_group(logGroupName="/options/plain")
    groups = {
        g["logGroupName"]: g
        for g in logs.describe_log_groups(logGroupNamePrefix="/options/")["logGroups"]
    }
    kept, plain = groups["/options/kept"], groups["/options/plain"]
    assert (kept["kmsKeyId"], kept["logGroupClass"], kept["deletionProtectionEnabled"]) == (
        key, "INFREQUENT_ACCESS", True,
    )  # fmt: skip
    assert "kmsKeyId" not in plain
    rare = logs.describe_log_groups(
        logGroupNamePrefix="/options/", logGroupClass="INFREQUENT_ACCESS"
    )
    assert [g["logGroupName"] for g in rare["logGroups"]] == ["/options/kept"]
    standard = logs.describe_log_groups(logGroupClass="STANDARD")["logGroups"]
    assert "/options/plain" in [g["logGroupName"] for g in standard]
    assert "/options/kept" not in [g["logGroupName"] for g in standard]
    assert (plain["logGroupClass"], plain["deletionProtectionEnabled"]) == ("STANDARD", False)
    with pytest.raises(logs.exceptions.ClientError) as info:
        logs.delete_log_group(logGroupName="/options/kept")
    assert _error(info)[0] == "ValidationException"
    assert "/options/kept" in [
        g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/options/")[
            "logGroups"]
    ]  # fmt: skip



def test_describe_log_groups_by_identifiers(logs: Any) -> None:
    for name in ("/ids/a", "/ids/b", "/ids/c"):
        logs.create_log_group(logGroupName=name)
    found = logs.describe_log_groups(
        logGroupIdentifiers=[ARN + "/ids/c", "/ids/a", "/ids/none"]
    )["logGroups"]
    assert [g["logGroupName"] for g in found] == ["/ids/a", "/ids/c"]
    page = logs.describe_log_groups(logGroupIdentifiers=["/ids/a", "/ids/b", "/ids/c"], limit=2)
    assert [g["logGroupName"] for g in page["logGroups"]] == ["/ids/a", "/ids/b"]
    rest = logs.describe_log_groups(
        logGroupIdentifiers=["/ids/a", "/ids/b", "/ids/c"], limit=2, nextToken=page["nextToken"]
    )
    assert [g["logGroupName"] for g in rest["logGroups"]] == ["/ids/c"]


def test_every_member_reaches_the_core_or_is_declared_ignored() -> None:
    """A member the core does not take would fail the call (a 500), not be dropped quietly."""
    import inspect

    from tandem.api import logs as logs_api
    from tandem.api.members import snake
    from tandem.telemetry.logs import LogService

    for op, shape in logs_api.SHAPES.items():
        taken = set(inspect.signature(getattr(LogService, snake(op))).parameters)
        assert {snake(n) for n in shape} - logs_api._IGNORED <= taken, op
