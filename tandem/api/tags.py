"""Tagging operations of SageMaker (AddTags, ListTags, DeleteTags) and CloudWatch Logs
(TagResource, UntagResource, ListTagsForResource and the older TagLogGroup, UntagLogGroup,
ListTagsLogGroup), over the one ``TagStore`` keyed by ARN.

Each service shares its target prefix with the service that owns the resources; an ARN
names a resource only when that resource exists here (same region and account), so tags
are never set on nothing. CloudWatch's own tagging (alarms) uses the same store through
``TagStore`` and its ``check_tags``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from ..errors import (
    InvalidParameterValue,
    LimitExceeded,
    MissingParameter,
    ResourceNotFound,
    TandemError,
    ValidationException,
)
from ..jobs.manager import JobManager
from ..serving.endpoints import EndpointManager
from ..tags import TagStore, TooManyTags, check_tags
from ..telemetry.logs import LogService
from ..telemetry.logs.validation import GROUP_NOT_FOUND
from .errors import lookup
from .members import Member, parse_members
from .model_rules import rules

__all__ = [
    "SAGEMAKER_SHAPES",
    "LOGS_SHAPES",
    "SageMakerTagsService",
    "LogsTagsService",
    "tag_list",
    "check_tag_list",
]

Handler = Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]
_S, _I, _L, _D = str, int, list, dict

SAGEMAKER_SHAPES: dict[str, dict[str, Member]] = {
    "AddTags": {"ResourceArn": Member(_S, True), "Tags": Member(_L, True, items=_D)},
    "ListTags": {
        "ResourceArn": Member(_S, True),
        "NextToken": Member(_S),
        "MaxResults": Member(_I),
    },
    "DeleteTags": {"ResourceArn": Member(_S, True), "TagKeys": Member(_L, True, items=_S)},
}
LOGS_SHAPES: dict[str, dict[str, Member]] = {
    "TagResource": {"resourceArn": Member(_S, True), "tags": Member(_D, True)},
    "UntagResource": {"resourceArn": Member(_S, True), "tagKeys": Member(_L, True, items=_S)},
    "ListTagsForResource": {"resourceArn": Member(_S, True)},
    "TagLogGroup": {"logGroupName": Member(_S, True), "tags": Member(_D, True)},
    "UntagLogGroup": {"logGroupName": Member(_S, True), "tags": Member(_L, True, items=_S)},
    "ListTagsLogGroup": {"logGroupName": Member(_S, True)},
}


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """SageMaker's ``[{"Key": ..., "Value": ...}]`` form."""
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def check_tag_list(items: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    """SageMaker's Tags member as a dict, checked before the resource is created."""
    tags = {str(t["Key"]): str(t.get("Value", "")) for t in items or ()}
    check_tags(tags)
    if len(tags) > 50:
        raise TooManyTags("A resource can have at most 50 tags.")
    return tags


def _json_error(table: Mapping[type, tuple[str, int]]) -> Callable[..., Any]:
    def render(error: TandemError) -> tuple[int, dict[str, str], bytes]:
        code, status = lookup(error, table)
        body = json.dumps({"__type": code, "message": error.message}).encode()
        return status, {"Content-Type": "application/x-amz-json-1.1"}, body

    return render


# -- SageMaker --------------------------------------------------------------------------------

_SAGEMAKER_ERRORS: dict[type, tuple[str, int]] = {
    InvalidParameterValue: ("ValidationException", 400),
    MissingParameter: ("ValidationException", 400),
    LimitExceeded: ("ValidationException", 400),
    ResourceNotFound: ("ValidationException", 400),
}
_SAGEMAKER_ARN = re.compile(r"arn:aws[a-z\-]*:sagemaker:([a-z0-9\-]*):([0-9]{12}):([a-z\-]+)/(.+)")


class SageMakerTagsService:
    """AddTags / ListTags / DeleteTags on models, endpoint configs, endpoints, training and
    transform jobs, notebook instances and their lifecycle configs."""

    target_prefix = "SageMaker"
    content_type = "application/x-amz-json-1.1"
    render_error = staticmethod(_json_error(_SAGEMAKER_ERRORS))

    def __init__(self, tags: TagStore, endpoints: EndpointManager, jobs: JobManager) -> None:
        self.tags = tags
        self.endpoints = endpoints
        self.jobs = jobs
        methods: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
            "AddTags": self.add_tags,
            "ListTags": self.list_tags,
            "DeleteTags": self.delete_tags,
        }
        self.operations: dict[str, Handler] = {
            name: _checked("sagemaker", name, SAGEMAKER_SHAPES[name], method, lower_first=True)
            for name, method in methods.items()
        }

    async def _names(self, kind: str) -> list[str]:
        e, jobs = self.endpoints, self.jobs
        if kind == "model":
            return [m.name for m in await e.list_models()]
        if kind == "endpoint-config":
            return [c.name for c in await e.list_endpoint_configs()]
        if kind == "endpoint":
            return [x.name for x in await e.list_endpoints()]
        if kind == "training-job":
            return [j["TrainingJobName"] for j in jobs.list_training_jobs()]
        if kind == "transform-job":
            return [j["TransformJobName"] for j in jobs.list_transform_jobs()]
        if kind == "notebook-instance":
            return list(jobs.notebooks.instances)
        if kind == "notebook-instance-lifecycle-config":
            return list(jobs.notebooks.configs)
        return []

    async def resolve(self, resource_arn: str) -> str:
        """The resource's own ARN (names lower-cased, as SageMaker writes them), if it exists."""
        match = _SAGEMAKER_ARN.fullmatch(resource_arn)
        settings = self.endpoints.settings
        if match is not None:
            region, account, kind, name = match.groups()
            if (region, account) == (settings.region, settings.account_id) and name.lower() in {
                n.lower() for n in await self._names(kind)
            }:
                return self.endpoints.arn(kind, name)
        raise ValidationException(f'Could not find resource "{resource_arn}".')

    async def add_tags(self, body: dict[str, Any]) -> dict[str, Any]:
        arn = await self.resolve(body["ResourceArn"])
        tags = check_tag_list(body["Tags"])
        await self.tags.add(arn, tags)
        return {"Tags": tag_list(tags)}

    async def list_tags(self, body: dict[str, Any]) -> dict[str, Any]:
        arn = await self.resolve(body["ResourceArn"])
        items = tag_list(await self.tags.list(arn))
        start = 0
        if body.get("NextToken"):
            try:
                start = int(base64.urlsafe_b64decode(body["NextToken"].encode()).decode())
            except (ValueError, UnicodeDecodeError, binascii.Error):
                raise ValidationException("The NextToken is invalid.") from None
        limit = body.get("MaxResults", 50)
        out: dict[str, Any] = {"Tags": items[start : start + limit]}
        if start + limit < len(items):
            out["NextToken"] = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
        return out

    async def delete_tags(self, body: dict[str, Any]) -> dict[str, Any]:
        arn = await self.resolve(body["ResourceArn"])
        await self.tags.remove(arn, body["TagKeys"])
        return {}


# -- CloudWatch Logs --------------------------------------------------------------------------

_LOGS_ERRORS: dict[type, tuple[str, int]] = {
    TooManyTags: ("TooManyTagsException", 400),
    LimitExceeded: ("LimitExceededException", 400),
    ResourceNotFound: ("ResourceNotFoundException", 400),
    MissingParameter: ("InvalidParameterException", 400),
    InvalidParameterValue: ("InvalidParameterException", 400),
    ValidationException: ("InvalidParameterException", 400),
}
_LOG_GROUP_ARN = re.compile(r"arn:aws[a-z\-]*:logs:([a-z0-9\-]*):([0-9]{12}):log-group:(.+)")


class LogsTagsService:
    """Logs' tagging of log groups, by ARN (TagResource...) or by name (TagLogGroup...)."""

    target_prefix = "Logs_20140328"
    content_type = "application/x-amz-json-1.1"
    render_error = staticmethod(_json_error(_LOGS_ERRORS))

    def __init__(self, tags: TagStore, logs: LogService) -> None:
        self.tags = tags
        self.logs = logs
        methods: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
            "TagLogGroup": self.tag_log_group,
            "UntagLogGroup": self.untag_log_group,
            "ListTagsLogGroup": self.list_tags_log_group,
        }
        self.operations: dict[str, Handler] = {
            name: _checked("logs", name, LOGS_SHAPES[name], method)
            for name, method in methods.items()
        }

    def arn(self, group: str) -> str:
        return f"arn:aws:logs:{self.logs.region}:{self.logs.account_id}:log-group:{group}"

    async def _group_arn(self, group: str) -> str:
        found = await self.logs.describe_log_groups(log_group_name_prefix=group, limit=1)
        if not found.log_groups or found.log_groups[0].log_group_name != group:
            raise ResourceNotFound(GROUP_NOT_FOUND)
        return self.arn(group)

    async def _resource(self, resource_arn: str) -> str:
        match = _LOG_GROUP_ARN.fullmatch(resource_arn)
        if match is None:
            raise ResourceNotFound(f"The specified resource does not exist: {resource_arn}")
        region, account, group = match.groups()
        if (region, account) != (self.logs.region, self.logs.account_id):
            raise ResourceNotFound(GROUP_NOT_FOUND)
        return await self._group_arn(group)

    async def tag_resource(self, body: dict[str, Any]) -> dict[str, Any]:
        await self.tags.add(await self._resource(body["resourceArn"]), body["tags"])
        return {}

    async def untag_resource(self, body: dict[str, Any]) -> dict[str, Any]:
        await self.tags.remove(await self._resource(body["resourceArn"]), body["tagKeys"])
        return {}

    async def list_tags_for_resource(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"tags": await self.tags.list(await self._resource(body["resourceArn"]))}

    async def tag_log_group(self, body: dict[str, Any]) -> dict[str, Any]:
        await self.tags.add(await self._group_arn(body["logGroupName"]), body["tags"])
        return {}

    async def untag_log_group(self, body: dict[str, Any]) -> dict[str, Any]:
        await self.tags.remove(await self._group_arn(body["logGroupName"]), body["tags"])
        return {}

    async def list_tags_log_group(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"tags": await self.tags.list(await self._group_arn(body["logGroupName"]))}


def _checked(
    service: str,
    operation: str,
    shape: Mapping[str, Member],
    method: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]],
    *,
    lower_first: bool = False,
) -> Handler:
    async def call(body: Mapping[str, Any]) -> dict[str, Any]:
        parse_members(body, shape, lower_first=lower_first)
        rules(service).check(operation, body)
        return await method({k: v for k, v in body.items() if v is not None})

    return call
