"""SageMaker control plane (awsJson1_1, ``X-Amz-Target: SageMaker.<Op>``).

Each operation declares its top-level members once (types and the model's
length, pattern, range and enum constraints, which botocore leaves to the
server), calls the endpoint manager and renders SageMaker's response members.
Nested structures (containers, production variants) are validated by the
serving core's parsers. Errors render as ``{"__type": <code>, "message": ...}``
with status 400; every validation problem and every missing resource is a
``ValidationException`` as on AWS, which boto3's waiters depend on.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..errors import (
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
    TandemError,
)
from ..serving.endpoints import EndpointManager
from ..serving.model import Endpoint, EndpointConfig, EndpointStatus, Model
from ..tags import TagStore
from .errors import lookup
from .members import Member, parse_members
from .model_rules import rules
from .tags import check_tag_list

__all__ = ["SageMakerService", "SHAPES"]

Handler = Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]

_ERRORS: dict[type, tuple[str, int]] = {
    InvalidParameterValue: ("ValidationException", 400),
    InvalidParameterCombination: ("ValidationException", 400),
    MissingParameter: ("ValidationException", 400),
    InvalidNextToken: ("ValidationException", 400),
}

Str, Int, F, B, L, D = str, int, float, bool, list, dict
_NAME = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
_MODEL_NAME = r"[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?"
_ROLE = r"arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
_STATUSES = (
    "OutOfService",
    "Creating",
    "Updating",
    "SystemUpdating",
    "RollingBack",
    "InService",
    "Deleting",
    "Failed",
    "UpdateRollbackFailed",
)


def _name(required: bool = True, pattern: str = _NAME) -> Member:
    return Member(Str, required, max_len=63, pattern=pattern)


def _listing(sort_by: tuple[str, ...]) -> dict[str, Member]:
    return {
        "SortBy": Member(Str, enum=sort_by),
        "SortOrder": Member(Str, enum=("Ascending", "Descending")),
        "NextToken": Member(Str, max_len=8192),
        "MaxResults": Member(Int, minimum=1, maximum=100),
        "NameContains": Member(Str, max_len=63, pattern=r"[a-zA-Z0-9-]+"),
        "CreationTimeBefore": Member(F),
        "CreationTimeAfter": Member(F),
    }


_ROLE_ARN = Member(Str, min_len=20, max_len=2048, pattern=_ROLE)
_TAGS = Member(L, items=D, max_len=50)

SHAPES: dict[str, dict[str, Member]] = {
    "CreateModel": {
        "ModelName": _name(pattern=_MODEL_NAME),
        "PrimaryContainer": Member(D),
        "Containers": Member(L, items=D, max_len=15),
        "InferenceExecutionConfig": Member(D),
        "ExecutionRoleArn": _ROLE_ARN,
        "Tags": _TAGS,
        "VpcConfig": Member(D),
        "EnableNetworkIsolation": Member(B),
    },
    "DescribeModel": {"ModelName": _name(pattern=_MODEL_NAME)},
    "ListModels": _listing(("Name", "CreationTime")),
    "DeleteModel": {"ModelName": _name(pattern=_MODEL_NAME)},
    "CreateEndpointConfig": {
        "EndpointConfigName": _name(),
        "ProductionVariants": Member(L, True, D, 1, 10),
        "DataCaptureConfig": Member(D),
        "Tags": _TAGS,
        "KmsKeyId": Member(Str, max_len=2048, pattern=r"[a-zA-Z0-9:/_-]*"),
        "AsyncInferenceConfig": Member(D),
        "ExplainerConfig": Member(D),
        "ShadowProductionVariants": Member(L, items=D, min_len=1, max_len=10),
        "ExecutionRoleArn": _ROLE_ARN,
        "VpcConfig": Member(D),
        "EnableNetworkIsolation": Member(B),
        "MetricsConfig": Member(D),
        "CrossRegionTrafficConfig": Member(D),
    },
    "DescribeEndpointConfig": {"EndpointConfigName": _name()},
    "ListEndpointConfigs": _listing(("Name", "CreationTime")),
    "DeleteEndpointConfig": {"EndpointConfigName": _name()},
    "CreateEndpoint": {
        "EndpointName": _name(),
        "EndpointConfigName": _name(),
        "DeploymentConfig": Member(D),
        "Tags": _TAGS,
    },
    "DescribeEndpoint": {"EndpointName": _name()},
    "ListEndpoints": {
        **_listing(("Name", "CreationTime", "Status")),
        "LastModifiedTimeBefore": Member(F),
        "LastModifiedTimeAfter": Member(F),
        "StatusEquals": Member(Str, enum=_STATUSES),
    },
    "DeleteEndpoint": {"EndpointName": _name()},
    "UpdateEndpoint": {
        "EndpointName": _name(),
        "EndpointConfigName": _name(),
        "RetainAllVariantProperties": Member(B),
        "ExcludeRetainedVariantProperties": Member(L, items=D, max_len=3),
        "DeploymentConfig": Member(D),
        "RetainDeploymentConfig": Member(B),
    },
    "UpdateEndpointWeightsAndCapacities": {
        "EndpointName": _name(),
        "DesiredWeightsAndCapacities": Member(L, True, D, min_len=1),
    },
}
_DESIRED_WEIGHT_AND_CAPACITY = {
    "VariantName": _name(),
    "DesiredWeight": Member(F, minimum=0),
    "DesiredInstanceCount": Member(Int, minimum=0),
    "ServerlessUpdateConfig": Member(D),
}


class SageMakerService:
    target_prefix = "SageMaker"
    content_type = "application/x-amz-json-1.1"

    def __init__(self, manager: EndpointManager, *, tags: TagStore | None = None) -> None:
        self.manager = manager
        self.tags = tags
        methods: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
            "CreateModel": self.create_model,
            "DescribeModel": self.describe_model,
            "ListModels": self.list_models,
            "DeleteModel": self.delete_model,
            "CreateEndpointConfig": self.create_endpoint_config,
            "DescribeEndpointConfig": self.describe_endpoint_config,
            "ListEndpointConfigs": self.list_endpoint_configs,
            "DeleteEndpointConfig": self.delete_endpoint_config,
            "CreateEndpoint": self.create_endpoint,
            "DescribeEndpoint": self.describe_endpoint,
            "ListEndpoints": self.list_endpoints,
            "DeleteEndpoint": self.delete_endpoint,
            "UpdateEndpoint": self.update_endpoint,
            "UpdateEndpointWeightsAndCapacities": self.update_endpoint_weights_and_capacities,
        }
        self.operations: dict[str, Handler] = {
            name: _validated(name, method) for name, method in methods.items()
        }

    @staticmethod
    def render_error(error: TandemError) -> tuple[int, dict[str, str], bytes]:
        code, status = lookup(error, _ERRORS)
        body = json.dumps({"__type": code, "message": error.message}).encode()
        return status, {"Content-Type": "application/x-amz-json-1.1"}, body

    # -- models ------------------------------------------------------------

    def _model(self, model: Model) -> dict[str, Any]:
        request = model.raw
        out: dict[str, Any] = {
            "ModelName": model.name,
            "ModelArn": self.manager.arn("model", model.name),
            "CreationTime": model.creation_time,
        }
        for key in (
            "PrimaryContainer",
            "Containers",
            "InferenceExecutionConfig",
            "ExecutionRoleArn",
            "VpcConfig",
            "EnableNetworkIsolation",
        ):
            if key in request:
                out[key] = request[key]
        out.setdefault("EnableNetworkIsolation", False)
        return out

    async def _created(self, kind: str, name: str, tags: dict[str, str]) -> str:
        """The new resource's ARN, its create-time tags stored."""
        arn = self.manager.arn(kind, name)
        if tags and self.tags is not None:
            await self.tags.add(arn, tags)
        return arn

    async def _deleted(self, kind: str, name: str) -> dict[str, Any]:
        if self.tags is not None:
            await self.tags.drop(self.manager.arn(kind, name))
        return {}

    async def create_model(self, body: dict[str, Any]) -> dict[str, Any]:
        tags = check_tag_list(body.get("Tags"))
        model = await self.manager.create_model(body)
        return {"ModelArn": await self._created("model", model.name, tags)}

    async def describe_model(self, body: dict[str, Any]) -> dict[str, Any]:
        model, _ = await self.manager.describe_model(body["ModelName"])
        return self._model(model)

    async def list_models(self, body: dict[str, Any]) -> dict[str, Any]:
        items = [
            {
                "ModelName": m.name,
                "ModelArn": self.manager.arn("model", m.name),
                "CreationTime": m.creation_time,
            }
            for m in await self.manager.list_models()
            if _matches(m.name, m.creation_time, None, body)
        ]
        return _page(items, body, "Models", "ModelName")

    async def delete_model(self, body: dict[str, Any]) -> dict[str, Any]:
        await self.manager.delete_model(body["ModelName"])
        return await self._deleted("model", body["ModelName"])

    # -- endpoint configs --------------------------------------------------

    async def create_endpoint_config(self, body: dict[str, Any]) -> dict[str, Any]:
        tags = check_tag_list(body.get("Tags"))
        config = await self.manager.create_endpoint_config(body)
        return {"EndpointConfigArn": await self._created("endpoint-config", config.name, tags)}

    def _config(self, config: EndpointConfig) -> dict[str, Any]:
        variants = []
        for raw, v in zip(config.raw["ProductionVariants"], config.variants, strict=True):
            item = dict(raw)
            item.setdefault("InitialVariantWeight", v.weight)
            if "ServerlessConfig" not in item:  # a serverless variant has no instance count
                item.setdefault("InitialInstanceCount", v.instance_count)
            variants.append(item)
        out = {
            "EndpointConfigName": config.name,
            "EndpointConfigArn": self.manager.arn("endpoint-config", config.name),
            "ProductionVariants": variants,
            "CreationTime": config.creation_time,
        }
        for key in (
            "DataCaptureConfig",
            "KmsKeyId",
            "AsyncInferenceConfig",
            "MetricsConfig",
            "ExplainerConfig",
            "ShadowProductionVariants",
            "ExecutionRoleArn",
            "VpcConfig",
            "EnableNetworkIsolation",
            "CrossRegionTrafficConfig",
        ):
            if key in config.raw:
                out[key] = config.raw[key]
        return out

    async def describe_endpoint_config(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._config(await self.manager.describe_endpoint_config(body["EndpointConfigName"]))

    async def list_endpoint_configs(self, body: dict[str, Any]) -> dict[str, Any]:
        items = [
            {
                "EndpointConfigName": c.name,
                "EndpointConfigArn": self.manager.arn("endpoint-config", c.name),
                "CreationTime": c.creation_time,
            }
            for c in await self.manager.list_endpoint_configs()
            if _matches(c.name, c.creation_time, None, body)
        ]
        return _page(items, body, "EndpointConfigs", "EndpointConfigName")

    async def delete_endpoint_config(self, body: dict[str, Any]) -> dict[str, Any]:
        await self.manager.delete_endpoint_config(body["EndpointConfigName"])
        return await self._deleted("endpoint-config", body["EndpointConfigName"])

    # -- endpoints ---------------------------------------------------------

    async def create_endpoint(self, body: dict[str, Any]) -> dict[str, Any]:
        tags = check_tag_list(body.get("Tags"))
        endpoint = await self.manager.create_endpoint(
            body["EndpointName"], body["EndpointConfigName"]
        )
        return {"EndpointArn": await self._created("endpoint", endpoint.name, tags)}

    def _endpoint(self, endpoint: Endpoint) -> dict[str, Any]:
        out: dict[str, Any] = {
            "EndpointName": endpoint.name,
            "EndpointArn": self.manager.arn("endpoint", endpoint.name),
            "EndpointConfigName": endpoint.config_name,
            "EndpointStatus": endpoint.status.value,
            "CreationTime": endpoint.creation_time,
            "LastModifiedTime": endpoint.last_modified_time,
        }
        if endpoint.variants and endpoint.status is not EndpointStatus.CREATING:
            images = self.manager.deployed_images(endpoint.name)
            variants = []
            for v in endpoint.variants:
                summary: dict[str, Any] = {"VariantName": v.name}
                if v.name in images:
                    summary["DeployedImages"] = [
                        {
                            "SpecifiedImage": image,
                            "ResolvedImage": image,
                            "ResolutionTime": endpoint.creation_time,
                        }
                        for image in images[v.name]
                    ]
                summary.update(
                    {"CurrentWeight": v.current_weight, "DesiredWeight": v.desired_weight}
                )
                if v.serverless is not None:  # AWS shows sizes, not instance counts, for these
                    summary["CurrentServerlessConfig"] = v.serverless
                    summary["DesiredServerlessConfig"] = v.serverless
                else:
                    summary["CurrentInstanceCount"] = v.current_instance_count
                    summary["DesiredInstanceCount"] = v.desired_instance_count
                variants.append(summary)
            out["ProductionVariants"] = variants
        if endpoint.failure_reason:
            out["FailureReason"] = endpoint.failure_reason
        if endpoint.pending_config_name:
            out["PendingDeploymentSummary"] = {"EndpointConfigName": endpoint.pending_config_name}
        return out

    async def describe_endpoint(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._endpoint(await self.manager.describe_endpoint(body["EndpointName"]))

    async def list_endpoints(self, body: dict[str, Any]) -> dict[str, Any]:
        status = body.get("StatusEquals")
        items = [
            {
                "EndpointName": e.name,
                "EndpointArn": self.manager.arn("endpoint", e.name),
                "CreationTime": e.creation_time,
                "LastModifiedTime": e.last_modified_time,
                "EndpointStatus": e.status.value,
            }
            for e in await self.manager.list_endpoints()
            if (status is None or e.status.value == status)
            and _matches(e.name, e.creation_time, e.last_modified_time, body)
        ]
        return _page(items, body, "Endpoints", "EndpointName")

    async def delete_endpoint(self, body: dict[str, Any]) -> dict[str, Any]:
        await self.manager.delete_endpoint(body["EndpointName"])
        return await self._deleted("endpoint", body["EndpointName"])

    async def update_endpoint(self, body: dict[str, Any]) -> dict[str, Any]:
        endpoint = await self.manager.update_endpoint(
            body["EndpointName"], body["EndpointConfigName"]
        )
        return {"EndpointArn": self.manager.arn("endpoint", endpoint.name)}

    async def update_endpoint_weights_and_capacities(self, body: dict[str, Any]) -> dict[str, Any]:
        desired = body["DesiredWeightsAndCapacities"]
        for i, item in enumerate(desired):
            parse_members(
                item,
                _DESIRED_WEIGHT_AND_CAPACITY,
                lower_first=True,
                prefix=f"desiredWeightsAndCapacities.{i + 1}.member.",
            )
        endpoint = await self.manager.update_weights_and_capacities(body["EndpointName"], desired)
        return {"EndpointArn": self.manager.arn("endpoint", endpoint.name)}


def _validated(
    operation: str, method: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
) -> Handler:
    shape = SHAPES[operation]

    async def call(body: Mapping[str, Any]) -> dict[str, Any]:
        parse_members(body, shape, lower_first=True)
        rules("sagemaker").check(operation, body)
        # Explicit nulls mean "absent" on the wire; the core never sees them.
        return await method({k: v for k, v in body.items() if v is not None})

    return call


def _matches(name: str, created: float, modified: float | None, body: Mapping[str, Any]) -> bool:
    contains = body.get("NameContains")
    if contains and contains.lower() not in name.lower():
        return False
    if not _in_window(created, body, "CreationTime"):
        return False
    return modified is None or _in_window(modified, body, "LastModifiedTime")


def _in_window(value: float, body: Mapping[str, Any], field: str) -> bool:
    before, after = body.get(f"{field}Before"), body.get(f"{field}After")
    if before is not None and not value < float(before):
        return False
    if after is not None and not value > float(after):
        return False
    return True


def _page(
    items: list[dict[str, Any]], body: Mapping[str, Any], key: str, name_field: str
) -> dict[str, Any]:
    """SageMaker List* paging: SortBy Name|CreationTime (|Status for endpoints; default
    CreationTime), SortOrder (default Descending), MaxResults 1-100 (default 10), NextToken.
    Ties sort by name so pages are stable."""
    sort_key = {"Name": name_field, "CreationTime": "CreationTime", "Status": "EndpointStatus"}[
        body.get("SortBy", "CreationTime")
    ]
    descending = body.get("SortOrder", "Descending") == "Descending"
    items.sort(key=lambda item: (item[sort_key], item[name_field]), reverse=descending)
    limit = body.get("MaxResults", 10)
    start = 0
    token = body.get("NextToken")
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("o:"))
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise InvalidNextToken("The NextToken is invalid.") from None
        if start < 0:
            raise InvalidNextToken("The NextToken is invalid.")
    page = items[start : start + limit]
    out: dict[str, Any] = {key: page}
    if start + limit < len(items):
        out["NextToken"] = base64.urlsafe_b64encode(f"o:{start + limit}".encode()).decode()
    return out
