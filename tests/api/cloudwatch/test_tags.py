"""CloudWatch's TagResource / UntagResource / ListTagsForResource through boto3 on each
protocol. Which CloudWatch resources exist is for their owner to say (``TagOperations``'s
registry): an ARN of no registered type is ResourceNotFoundException; here one resource type
is registered so the tags' own behaviour is seen end to end."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tandem.errors import InvalidParameterValue

from .support import ServerThread

ARN = "arn:aws:cloudwatch:us-east-1:000000000000:alarm:"


@pytest.fixture(scope="module")
def taggable(server: ServerThread) -> set[str]:
    names: set[str] = set()
    tagging = server.server.cloudwatch.tagging
    assert tagging is not None
    tagging.register("alarm", names.__contains__)
    return names


def _error(info: pytest.ExceptionInfo[Any]) -> tuple[str, int]:
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_tags_round_trip(cw: Any, protocol: str, taggable: set[str]) -> None:
    name = f"tagged-{protocol}"
    taggable.add(name)
    cw.tag_resource(ResourceARN=ARN + name, Tags=[{"Key": "team", "Value": "ml"},
                                                  {"Key": "env", "Value": "test"}])  # fmt: skip
    cw.tag_resource(ResourceARN=ARN + name, Tags=[{"Key": "team", "Value": "infra"}])
    cw.untag_resource(ResourceARN=ARN + name, TagKeys=["env", "absent"])
    assert cw.list_tags_for_resource(ResourceARN=ARN + name)["Tags"] == [
        {"Key": "team", "Value": "infra"}
    ]


def test_unknown_resources_and_bad_tags(cw: Any, protocol: str, taggable: set[str]) -> None:
    for arn in (ARN + "never-created", "arn:aws:cloudwatch:us-east-1:000000000000:rule:r",
                "arn:aws:cloudwatch:eu-west-1:000000000000:alarm:x"):  # fmt: skip
        with pytest.raises(cw.exceptions.ResourceNotFoundException) as info:
            cw.list_tags_for_resource(ResourceARN=arn)
        assert _error(info) == ("ResourceNotFoundException", 404)
    name = f"limits-{protocol}"
    taggable.add(name)
    with pytest.raises(cw.exceptions.InvalidParameterValueException):
        cw.tag_resource(ResourceARN=ARN + name, Tags=[{"Key": "aws:x", "Value": "v"}])
    with pytest.raises(cw.exceptions.InvalidParameterValueException):
        cw.tag_resource(
            ResourceARN=ARN + name, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)]
        )
    assert cw.list_tags_for_resource(ResourceARN=ARN + name)["Tags"] == []


def test_an_owner_stores_create_time_tags_and_forgets_them(server: ServerThread) -> None:
    """What a resource's owner calls (PutMetricAlarm's Tags, DeleteAlarms)."""
    tagging = server.server.cloudwatch.tagging
    assert tagging is not None
    with pytest.raises(InvalidParameterValue):
        tagging.check([{"Key": "aws:x", "Value": "v"}])
    with pytest.raises(InvalidParameterValue):
        tagging.check([{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    done = asyncio.run_coroutine_threadsafe(
        tagging.created("alarm", "owned", [{"Key": "team", "Value": "ml"}]), server.loop)
    done.result(30)
    arn = tagging.arn("alarm", "owned")
    listed = asyncio.run_coroutine_threadsafe(tagging.tags.list(arn), server.loop).result(30)
    assert listed == {"team": "ml"}
    asyncio.run_coroutine_threadsafe(tagging.deleted("alarm", "owned"), server.loop).result(30)
    listed = asyncio.run_coroutine_threadsafe(tagging.tags.list(arn), server.loop).result(30)
    assert listed == {}
