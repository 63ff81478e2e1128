"""SageMaker's serving objects: Model, EndpointConfig, Endpoint — same names, fields and statuses.

Records are plain dataclasses built from SageMaker-shaped mappings (the
CreateModel / CreateEndpointConfig request members, which the YAML of
``tandem deploy`` mirrors). Validation names the offending field the way
the SageMaker API does; the wire layer and the YAML loader add the source.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Mapping
from typing import Any

from ..errors import ValidationException
from .instance_types import instance_resources

__all__ = [
    "ContainerDefinition",
    "EndpointConfig",
    "EndpointStatus",
    "ExecutionMode",
    "Model",
    "ProductionVariant",
    "RoutingStrategy",
    "Endpoint",
    "VariantState",
    "arn",
    "validate_name",
]

NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
HOSTNAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
MAX_CONTAINERS = 15
MAX_VARIANTS = 10

_CONTAINER_FIELDS = {
    "ContainerHostname",
    "Image",
    "ImageConfig",
    "Mode",
    "ModelDataUrl",
    "ModelDataSource",
    "Environment",
    "ModelPackageName",
    "InferenceSpecificationName",
    "MultiModelConfig",
    # tandem's own: run this argv instead of what the Image implies.
    "Command",
}
_MODEL_FIELDS = {
    "ModelName",
    "PrimaryContainer",
    "Containers",
    "InferenceExecutionConfig",
    "ExecutionRoleArn",
    "Tags",
    "VpcConfig",
    "EnableNetworkIsolation",
}
_VARIANT_FIELDS = {
    "VariantName",
    "ModelName",
    "InitialInstanceCount",
    "InstanceType",
    "InitialVariantWeight",
    "AcceleratorType",
    "CoreDumpConfig",
    "ServerlessConfig",
    "VolumeSizeInGB",
    "ModelDataDownloadTimeoutInSeconds",
    "ContainerStartupHealthCheckTimeoutInSeconds",
    "EnableSSMAccess",
    "ManagedInstanceScaling",
    "RoutingConfig",
    "InferenceAmiVersion",
}
_CONFIG_FIELDS = {
    "EndpointConfigName",
    "ProductionVariants",
    "DataCaptureConfig",
    "Tags",
    "KmsKeyId",
    "AsyncInferenceConfig",
    "ExplainerConfig",
    "ShadowProductionVariants",
    "ExecutionRoleArn",
    "VpcConfig",
    "EnableNetworkIsolation",
    "MetricsConfig",
    "CrossRegionTrafficConfig",
}


class ExecutionMode(enum.StrEnum):
    SERIAL = "Serial"
    DIRECT = "Direct"


class RoutingStrategy(enum.StrEnum):
    LEAST_OUTSTANDING_REQUESTS = "LEAST_OUTSTANDING_REQUESTS"
    RANDOM = "RANDOM"


class EndpointStatus(enum.StrEnum):
    OUT_OF_SERVICE = "OutOfService"
    CREATING = "Creating"
    UPDATING = "Updating"
    SYSTEM_UPDATING = "SystemUpdating"
    ROLLING_BACK = "RollingBack"
    IN_SERVICE = "InService"
    DELETING = "Deleting"
    FAILED = "Failed"
    UPDATE_ROLLBACK_FAILED = "UpdateRollbackFailed"


def validate_name(kind: str, field: str, value: Any) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise ValidationException(
            f"1 validation error detected: Value {value!r} at '{field}' failed to satisfy "
            f"constraint: Member must satisfy regular expression pattern: "
            f"^[a-zA-Z0-9](-*[a-zA-Z0-9]){{0,62}}",
            field=field,
        )
    return value


def arn(region: str, account_id: str, resource: str, name: str) -> str:
    # AWS lowercases the name part of SageMaker ARNs (observed on ListEndpoints).
    return f"arn:aws:sagemaker:{region}:{account_id}:{resource}/{name.lower()}"


def _unknown(fields: Mapping[str, Any], known: set[str], where: str) -> None:
    extra = sorted(set(fields) - known)
    if extra:
        raise ValidationException(
            f"{where}: unknown field {extra[0]!r}", field=f"{where}.{extra[0]}"
        )


def refuse_network_settings(data: Mapping[str, Any], where: str) -> None:
    """EnableNetworkIsolation=true and a VpcConfig cannot be honoured by processes on tandem's
    hosts: refused by name, never silently accepted (a user relying on either would believe
    the container is cut off, or inside a private network, when it is not)."""
    value = data.get("EnableNetworkIsolation")
    if value is not None and not isinstance(value, bool):
        raise ValidationException(f"{where}.EnableNetworkIsolation must be a boolean",
                                  field="EnableNetworkIsolation")
    if value:
        raise ValidationException(
            f"{where}: EnableNetworkIsolation=true is not supported: tandem runs containers as "
            "local processes, which it cannot cut off from the network. Leave it out (or "
            "false) to run here.", field="EnableNetworkIsolation")
    vpc = data.get("VpcConfig")
    if vpc:
        subnets = vpc.get("Subnets") if isinstance(vpc, Mapping) else None
        raise ValidationException(
            f"{where}: VpcConfig is not supported: tandem runs containers on its hosts' own "
            f"network and cannot place them in a VPC (subnets {subnets!r}). Leave VpcConfig "
            "out to run here.", field="VpcConfig")


def _require_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationException(f"{where} must be a structure (mapping)", field=where)
    return value


@dataclasses.dataclass(frozen=True)
class ContainerDefinition:
    hostname: str
    image: str | None
    model_data_url: str | None
    environment: dict[str, str]
    command: tuple[str, ...] | None
    raw: dict[str, Any]

    @classmethod
    def parse(cls, data: Any, where: str, default_hostname: str) -> ContainerDefinition:
        data = _require_mapping(data, where)
        _unknown(data, _CONTAINER_FIELDS, where)
        hostname = data.get("ContainerHostname", default_hostname)
        if not isinstance(hostname, str) or not HOSTNAME_RE.match(hostname):
            raise ValidationException(
                f"{where}.ContainerHostname: {hostname!r} must match "
                "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
                field=f"{where}.ContainerHostname",
            )
        image = data.get("Image")
        if image is not None and (not isinstance(image, str) or not image or len(image) > 255):
            raise ValidationException(
                f"{where}.Image must be a string of 1-255 characters", field=f"{where}.Image"
            )
        url = data.get("ModelDataUrl")
        if url is None and isinstance(data.get("ModelDataSource"), Mapping):
            url = data["ModelDataSource"].get("S3DataSource", {}).get("S3Uri")
        if url is not None and (not isinstance(url, str) or len(url) > 1024):
            raise ValidationException(
                f"{where}.ModelDataUrl must be a string of at most 1024 characters",
                field=f"{where}.ModelDataUrl",
            )
        env = data.get("Environment", {}) or {}
        if not isinstance(env, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()
        ):
            raise ValidationException(
                f"{where}.Environment must map strings to strings", field=f"{where}.Environment"
            )
        command = data.get("Command")
        if command is not None:
            if (
                not isinstance(command, list)
                or not command
                or not all(isinstance(a, str) for a in command)
            ):
                raise ValidationException(
                    f"{where}.Command must be a non-empty list of strings", field=f"{where}.Command"
                )
            command = tuple(command)
        if image is None and command is None:
            raise ValidationException(f"{where}.Image is required", field=f"{where}.Image")
        return cls(hostname, image, url, dict(env), command, dict(data))


@dataclasses.dataclass(frozen=True)
class Model:
    name: str
    containers: tuple[ContainerDefinition, ...]
    mode: ExecutionMode
    primary_only: bool  # given as PrimaryContainer (streams and errors say "primary")
    creation_time: float
    raw: dict[str, Any]

    @property
    def is_pipeline(self) -> bool:
        return len(self.containers) > 1 or self.mode is ExecutionMode.DIRECT

    @classmethod
    def parse(cls, data: Any, creation_time: float) -> Model:
        data = _require_mapping(data, "CreateModel")
        _unknown(data, _MODEL_FIELDS, "CreateModel")
        refuse_network_settings(data, "CreateModel")
        name = validate_name("model", "modelName", data.get("ModelName"))
        primary = data.get("PrimaryContainer")
        containers = data.get("Containers")
        if primary is not None and containers is not None:
            raise ValidationException(
                "Specify either PrimaryContainer or Containers, not both.", field="Containers"
            )
        mode_cfg = data.get("InferenceExecutionConfig") or {}
        mode_cfg = _require_mapping(mode_cfg, "InferenceExecutionConfig")
        try:
            mode = ExecutionMode(mode_cfg.get("Mode", "Serial"))
        except ValueError:
            raise ValidationException(
                "InferenceExecutionConfig.Mode must be Serial or Direct, got "
                f"{mode_cfg.get('Mode')!r}",
                field="InferenceExecutionConfig.Mode",
            ) from None
        if primary is not None:
            parsed: tuple[ContainerDefinition, ...] = (
                ContainerDefinition.parse(primary, "PrimaryContainer", "primary"),
            )
            # SageMaker ignores ContainerHostname for a PrimaryContainer-only model.
            parsed = (dataclasses.replace(parsed[0], hostname="primary"),)
        elif containers is not None:
            if not isinstance(containers, list) or not 1 <= len(containers) <= MAX_CONTAINERS:
                raise ValidationException(
                    f"Containers must list 1 to {MAX_CONTAINERS} containers", field="Containers"
                )
            given = [isinstance(c, Mapping) and "ContainerHostname" in c for c in containers]
            if any(given) and not all(given):
                raise ValidationException(
                    "If one container sets ContainerHostname, every container must.",
                    field="Containers",
                )
            if mode is ExecutionMode.DIRECT and not all(given):
                raise ValidationException(
                    "Direct execution mode requires ContainerHostname on every container.",
                    field="Containers",
                )
            parsed = tuple(
                ContainerDefinition.parse(c, f"Containers[{i}]", f"container-{i + 1}")
                for i, c in enumerate(containers)
            )
            names = [c.hostname for c in parsed]
            if len(set(names)) != len(names):
                raise ValidationException(
                    "ContainerHostname values must be unique.", field="Containers"
                )
        else:
            raise ValidationException(
                "Either PrimaryContainer or Containers is required.", field="PrimaryContainer"
            )
        return cls(name, parsed, mode, primary is not None, creation_time, dict(data))


def _check_serverless(config: Any, where: str) -> None:
    """AWS's serverless sizes: memory 1024-6144 MB in 1024 MB steps, concurrency 1-200 (the
    model's ranges are checked at the wire; the steps and the pairing are not in the model)."""
    if not isinstance(config, Mapping):
        return
    memory = config.get("MemorySizeInMB")
    if isinstance(memory, int) and memory % 1024:
        raise ValidationException(
            f"{where}.MemorySizeInMB must be one of 1024, 2048, 3072, 4096, 5120 or 6144 "
            f"(MB, in 1 GB steps), not {memory}.",
            field=f"{where}.MemorySizeInMB",
        )
    most, provisioned = config.get("MaxConcurrency"), config.get("ProvisionedConcurrency")
    if isinstance(most, int) and isinstance(provisioned, int) and provisioned > most:
        raise ValidationException(
            f"{where}.ProvisionedConcurrency ({provisioned}) must not be greater than "
            f"MaxConcurrency ({most}).",
            field=f"{where}.ProvisionedConcurrency",
        )


@dataclasses.dataclass(frozen=True)
class ProductionVariant:
    name: str
    model_name: str
    instance_count: int
    instance_type: str
    weight: float
    routing: RoutingStrategy
    startup_timeout: float | None
    serverless: dict[str, Any] | None = None  # ServerlessConfig, as given

    @classmethod
    def parse(cls, data: Any, where: str) -> ProductionVariant:
        data = _require_mapping(data, where)
        _unknown(data, _VARIANT_FIELDS, where)
        name = validate_name("variant", f"{where}.VariantName", data.get("VariantName"))
        model = validate_name("model", f"{where}.ModelName", data.get("ModelName"))
        count = data.get("InitialInstanceCount", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValidationException(
                f"{where}.InitialInstanceCount must be an integer >= 1",
                field=f"{where}.InitialInstanceCount",
            )
        weight = data.get("InitialVariantWeight", 1.0)
        if not isinstance(weight, int | float) or isinstance(weight, bool) or weight < 0:
            raise ValidationException(
                f"{where}.InitialVariantWeight must be a number >= 0",
                field=f"{where}.InitialVariantWeight",
            )
        itype = data.get("InstanceType", "ml.m5.large")
        if not isinstance(itype, str):
            raise ValidationException(
                f"{where}.InstanceType must be an ml.* instance type", field=f"{where}.InstanceType"
            )
        try:
            instance_resources(itype)
        except ValidationException as exc:
            raise ValidationException(f"{where}.{exc}", field=f"{where}.InstanceType") from None
        routing_cfg = _require_mapping(data.get("RoutingConfig") or {}, f"{where}.RoutingConfig")
        try:
            routing = RoutingStrategy(
                routing_cfg.get("RoutingStrategy", "LEAST_OUTSTANDING_REQUESTS")
            )
        except ValueError:
            raise ValidationException(
                f"{where}.RoutingConfig.RoutingStrategy must be LEAST_OUTSTANDING_REQUESTS or "
                "RANDOM",
                field=f"{where}.RoutingConfig.RoutingStrategy",
            ) from None
        _check_serverless(data.get("ServerlessConfig"), f"{where}.ServerlessConfig")
        timeout = data.get("ContainerStartupHealthCheckTimeoutInSeconds")
        if timeout is not None and (not isinstance(timeout, int) or not 60 <= timeout <= 3600):
            raise ValidationException(
                f"{where}.ContainerStartupHealthCheckTimeoutInSeconds must be 60-3600",
                field=f"{where}.ContainerStartupHealthCheckTimeoutInSeconds",
            )
        return cls(
            name,
            model,
            count,
            itype,
            float(weight),
            routing,
            float(timeout) if timeout is not None else None,
            serverless=dict(data["ServerlessConfig"]) if data.get("ServerlessConfig") else None,
        )


@dataclasses.dataclass(frozen=True)
class EndpointConfig:
    name: str
    variants: tuple[ProductionVariant, ...]
    creation_time: float
    raw: dict[str, Any]

    @classmethod
    def parse(cls, data: Any, creation_time: float) -> EndpointConfig:
        data = _require_mapping(data, "CreateEndpointConfig")
        _unknown(data, _CONFIG_FIELDS, "CreateEndpointConfig")
        refuse_network_settings(data, "CreateEndpointConfig")
        name = validate_name(
            "endpoint config", "endpointConfigName", data.get("EndpointConfigName")
        )
        variants = data.get("ProductionVariants")
        if not isinstance(variants, list) or not 1 <= len(variants) <= MAX_VARIANTS:
            raise ValidationException(
                f"ProductionVariants must list 1 to {MAX_VARIANTS} variants",
                field="ProductionVariants",
            )
        parsed = tuple(
            ProductionVariant.parse(v, f"ProductionVariants[{i}]") for i, v in enumerate(variants)
        )
        names = [v.name for v in parsed]
        if len(set(names)) != len(names):
            raise ValidationException(
                "VariantName values must be unique.", field="ProductionVariants"
            )
        if sum(v.weight for v in parsed) <= 0:
            raise ValidationException(
                "The sum of InitialVariantWeight must be greater than 0.",
                field="ProductionVariants",
            )
        return cls(name, parsed, creation_time, dict(data))


@dataclasses.dataclass
class VariantState:
    """A variant as the endpoint runs it now (DescribeEndpoint's ProductionVariantSummary)."""

    name: str
    current_weight: float
    desired_weight: float
    desired_instance_count: int
    current_instance_count: int = 0
    serverless: dict[str, Any] | None = None  # a serverless variant's ServerlessConfig


@dataclasses.dataclass
class Endpoint:
    name: str
    config_name: str
    status: EndpointStatus
    creation_time: float
    last_modified_time: float
    failure_reason: str | None = None
    variants: list[VariantState] = dataclasses.field(default_factory=list)
    # UpdateEndpoint target while Updating.
    pending_config_name: str | None = None

    def to_record(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        record["status"] = self.status.value
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Endpoint:
        data = dict(record)
        data["status"] = EndpointStatus(data["status"])
        data["variants"] = [VariantState(**v) for v in data.get("variants", [])]
        return cls(**data)
