"""SageMaker control plane (awsJson1_1, ``X-Amz-Target: SageMaker.<Op>``).

Each operation parses its JSON members, calls the endpoint manager and
renders SageMaker's response members. Errors render as
``{"__type": <code>, "message": ...}`` with status 400; missing resources are
``ValidationException`` as on AWS, which boto3's waiters depend on.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..errors import TandemError, ValidationException
from ..serving.endpoints import EndpointManager
from ..serving.model import Endpoint, EndpointConfig, EndpointStatus, Model

__all__ = ["SageMakerService"]

Handler = Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]


def _require(body: Mapping[str, Any], *names: str) -> None:
    for name in names:
        if name not in body or body[name] is None:
            raise ValidationException(
                f"1 validation error detected: Value null at '{name[0].lower() + name[1:]}' failed "
                "to satisfy constraint: Member must not be null"
            )


class SageMakerService:
    target_prefix = "SageMaker"
    content_type = "application/x-amz-json-1.1"

    def __init__(self, manager: EndpointManager) -> None:
        self.manager = manager
        self.operations: dict[str, Handler] = {
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

    @staticmethod
    def render_error(error: TandemError) -> tuple[int, dict[str, str], bytes]:
        body = json.dumps({"__type": error.code, "message": error.message}).encode()
        return error.status, {"Content-Type": "application/x-amz-json-1.1"}, body

    # -- models ------------------------------------------------------------

    def _model(self, model: Model) -> dict[str, Any]:
        request = model.raw
        out: dict[str, Any] = {
            "ModelName": model.name,
            "ModelArn": self.manager.arn("model", model.name),
            "CreationTime": model.creation_time,
        }
        for key in ("PrimaryContainer", "Containers", "InferenceExecutionConfig",
                    "ExecutionRoleArn", "VpcConfig", "EnableNetworkIsolation"):
            if key in request:
                out[key] = request[key]
        out.setdefault("EnableNetworkIsolation", False)
        return out

    async def create_model(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "ModelName")
        model = await self.manager.create_model(body)
        return {"ModelArn": self.manager.arn("model", model.name)}

    async def describe_model(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "ModelName")
        model, _ = await self.manager.describe_model(body["ModelName"])
        return self._model(model)

    async def list_models(self, body: Mapping[str, Any]) -> dict[str, Any]:
        models = await self.manager.list_models()
        items = [{"ModelName": m.name, "ModelArn": self.manager.arn("model", m.name),
                  "CreationTime": m.creation_time} for m in models]
        return _page(items, body, "Models", "ModelName")

    async def delete_model(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "ModelName")
        await self.manager.delete_model(body["ModelName"])
        return {}

    # -- endpoint configs --------------------------------------------------

    async def create_endpoint_config(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "EndpointConfigName", "ProductionVariants")
        config = await self.manager.create_endpoint_config(body)
        return {"EndpointConfigArn": self.manager.arn("endpoint-config", config.name)}

    def _config(self, config: EndpointConfig) -> dict[str, Any]:
        variants = []
        for raw, v in zip(config.raw["ProductionVariants"], config.variants, strict=True):
            item = dict(raw)
            item.setdefault("InitialVariantWeight", v.weight)
            item.setdefault("InitialInstanceCount", v.instance_count)
            variants.append(item)
        out = {
            "EndpointConfigName": config.name,
            "EndpointConfigArn": self.manager.arn("endpoint-config", config.name),
            "ProductionVariants": variants,
            "CreationTime": config.creation_time,
        }
        for key in ("DataCaptureConfig", "KmsKeyId", "AsyncInferenceConfig", "MetricsConfig"):
            if key in config.raw:
                out[key] = config.raw[key]
        return out

    async def describe_endpoint_config(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "EndpointConfigName")
        return self._config(await self.manager.describe_endpoint_config(body["EndpointConfigName"]))

    async def list_endpoint_configs(self, body: Mapping[str, Any]) -> dict[str, Any]:
        configs = await self.manager.list_endpoint_configs()
        items = [{"EndpointConfigName": c.name,
                  "EndpointConfigArn": self.manager.arn("endpoint-config", c.name),
                  "CreationTime": c.creation_time} for c in configs]
        return _page(items, body, "EndpointConfigs", "EndpointConfigName")

    async def delete_endpoint_config(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "EndpointConfigName")
        await self.manager.delete_endpoint_config(body["EndpointConfigName"])
        return {}

    # -- endpoints ---------------------------------------------------------

    async def create_endpoint(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "EndpointName", "EndpointConfigName")
        endpoint = await self.manager.create_endpoint(body["EndpointName"], body["EndpointConfigName"])
        return {"EndpointArn": self.manager.arn("endpoint", endpoint.name)}

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
            out["ProductionVariants"] = [
                {
                    "VariantName": v.name,
                    "CurrentWeight": v.current_weight,
                    "DesiredWeight": v.desired_weight,
                    "CurrentInstanceCount": v.current_instance_count,
                    "DesiredInstanceCount": v.desired_instance_count,
                }
                for v in endpoint.variants
            ]
        if endpoint.failure_reason:
            out["FailureReason"] = endpoint.failure_reason
        if endpoint.pending_config_name:
            out["PendingDeploymentSummary"] = {"EndpointConfigName": endpoint.pending_config_name}
        return out

    async def describe_endpoint(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "EndpointName")
        return self._endpoint(await self.manager.describe_endpoint(body["EndpointName"]))

    async def list_endpoints(self, body: Mapping[str, Any]) -> dict[str, Any]:
        endpoints = await self.manager.list_endpoints()
        name_contains = body.get("NameContains")
        status = body.get("StatusEquals")
        if status is not None and status not in {s.value for s in EndpointStatus}:
            raise ValidationException(f"StatusEquals: {status!r} is not an endpoint status")
        items = []
        for e in endpoints:
            if name_contains and name_contains not in e.name:
                continue
            if status and e.status.value != status:
                continue
            if not _in_window(e.creation_time, body, "CreationTime"):
                continue
            if not _in_window(e.last_modified_time, body, "LastModifiedTime"):
                continue
            items.append({
                "EndpointName": e.name,
                "EndpointArn": self.manager.arn("endpoint", e.name),
                "CreationTime": e.creation_time,
                "LastModifiedTime": e.last_modified_time,
                "EndpointStatus": e.status.value,
            })
        return _page(items, body, "Endpoints", "EndpointName")

    async def delete_endpoint(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "EndpointName")
        await self.manager.delete_endpoint(body["EndpointName"])
        return {}

    async def update_endpoint(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "EndpointName", "EndpointConfigName")
        endpoint = await self.manager.update_endpoint(body["EndpointName"], body["EndpointConfigName"])
        return {"EndpointArn": self.manager.arn("endpoint", endpoint.name)}

    async def update_endpoint_weights_and_capacities(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "EndpointName", "DesiredWeightsAndCapacities")
        desired = body["DesiredWeightsAndCapacities"]
        if not isinstance(desired, list) or not desired or not all(isinstance(d, Mapping) for d in desired):
            raise ValidationException("DesiredWeightsAndCapacities must be a non-empty list")
        endpoint = await self.manager.update_weights_and_capacities(body["EndpointName"], desired)
        return {"EndpointArn": self.manager.arn("endpoint", endpoint.name)}


def _in_window(value: float, body: Mapping[str, Any], field: str) -> bool:
    before, after = body.get(f"{field}Before"), body.get(f"{field}After")
    if before is not None and not value < float(before):
        return False
    if after is not None and not value > float(after):
        return False
    return True


def _page(items: list[dict[str, Any]], body: Mapping[str, Any], key: str,
          name_field: str) -> dict[str, Any]:
    """SageMaker List* paging: SortBy Name|CreationTime (|Status for endpoints; default
    CreationTime), SortOrder (default Descending), MaxResults 1-100 (default 10), NextToken."""
    sort_by = body.get("SortBy", "CreationTime")
    sort_key = {"Name": name_field, "CreationTime": "CreationTime"}.get(sort_by)
    if sort_by == "Status" and key == "Endpoints":
        sort_key = "EndpointStatus"
    if sort_key is None:
        raise ValidationException(f"SortBy {sort_by!r} is not supported here")
    order = body.get("SortOrder", "Descending")
    if order not in ("Ascending", "Descending"):
        raise ValidationException(f"SortOrder must be Ascending or Descending, got {order!r}")
    items.sort(key=lambda item: item[sort_key], reverse=order == "Descending")
    limit = body.get("MaxResults", 10)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
        raise ValidationException("MaxResults must be between 1 and 100")
    start = 0
    token = body.get("NextToken")
    if token:
        try:
            start = int(base64.urlsafe_b64decode(str(token).encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise ValidationException("The NextToken is invalid.") from None
    page = items[start:start + limit]
    out: dict[str, Any] = {key: page}
    if start + limit < len(items):
        out["NextToken"] = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
    return out
