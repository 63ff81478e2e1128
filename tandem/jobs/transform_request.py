"""CreateTransformJob's request, validated, with SageMaker's defaults filled in."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ValidationException
from ..objects.locations import is_s3_uri, split_s3_uri
from ..serving.containers import validate_environment
from .locations import local_path
from .records import validate_job_name
from .transform_io import RecordProcessor

__all__ = ["TransformRequest", "parse_transform_request"]

_FIELDS = {
    "TransformJobName", "ModelName", "MaxConcurrentTransforms", "ModelClientConfig",
    "MaxPayloadInMB", "BatchStrategy", "Environment", "TransformInput", "TransformOutput",
    "DataCaptureConfig", "TransformResources", "DataProcessing", "Tags", "ExperimentConfig",
}


@dataclasses.dataclass(frozen=True)
class TransformRequest:
    name: str
    model_name: str
    raw: dict[str, Any]
    base_dir: Path
    input_uri: str
    data_type: str
    content_type: str | None
    compression: str
    split_type: str
    output_path: Path | str  # a local directory, or an s3:// prefix
    accept: str | None
    assemble_with: str
    instance_count: int
    instance_type: str
    # None: not set by the request (the container's /execution-parameters or a default decides)
    max_concurrent: int | None
    max_payload_mb: int | None
    batch_strategy: str | None
    environment: dict[str, str]
    timeout: float
    retries: int
    processor: RecordProcessor


def _struct(body: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    if not isinstance(value, Mapping):
        raise ValidationException(f"1 validation error detected: Value null at '{key}' failed "
                                  "to satisfy constraint: Member must not be null")
    return dict(value)


def _int(value: Any, field: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValidationException(f"{field} must be an integer from {low} to {high}")
    return value


def _choice(value: Any, field: str, allowed: tuple[str, ...], default: str | None) -> Any:
    if value is None:
        return default
    if value not in allowed:
        raise ValidationException(f"{field}: {value!r} is not one of {', '.join(allowed)}")
    return value


def parse_transform_request(body: Mapping[str, Any], base_dir: Path) -> TransformRequest:
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise ValidationException(f"Unknown parameter {unknown[0]!r} in CreateTransformJob.")
    name = validate_job_name(body.get("TransformJobName"), "transformJobName")
    model_name = validate_job_name(body.get("ModelName"), "modelName")
    tin, tout, resources = (_struct(body, k) for k in
                            ("TransformInput", "TransformOutput", "TransformResources"))
    source = (tin.get("DataSource") or {}).get("S3DataSource") \
        if isinstance(tin.get("DataSource"), Mapping) else None
    if not isinstance(source, Mapping):
        raise ValidationException("TransformInput.DataSource.S3DataSource is required")
    data_type = _choice(source.get("S3DataType"), "TransformInput.DataSource.S3DataSource."
                        "S3DataType", ("S3Prefix", "ManifestFile"), None)
    if data_type is None:
        raise ValidationException("TransformInput.DataSource.S3DataSource.S3DataType is required")
    uri = source.get("S3Uri")
    if is_s3_uri(uri):
        split_s3_uri(str(uri), field="TransformInput.DataSource.S3DataSource.S3Uri")
        uri = str(uri).strip()
    else:
        local_path(uri, base_dir, field="TransformInput.DataSource.S3DataSource.S3Uri")
    split = _choice(tin.get("SplitType"), "TransformInput.SplitType",
                    ("None", "Line", "RecordIO", "TFRecord"), "None")
    if split in ("RecordIO", "TFRecord"):
        raise ValidationException(f"TransformInput.SplitType: {split} is not supported here; "
                                  "use None or Line")
    compression = _choice(tin.get("CompressionType"), "TransformInput.CompressionType",
                          ("None", "Gzip"), "None")
    output: Path | str
    if is_s3_uri(tout.get("S3OutputPath")):
        output = str(tout["S3OutputPath"]).strip()
        split_s3_uri(output, field="TransformOutput.S3OutputPath")
    else:
        output = local_path(tout.get("S3OutputPath"), base_dir,
                            field="TransformOutput.S3OutputPath")
    assemble = _choice(tout.get("AssembleWith"), "TransformOutput.AssembleWith",
                       ("None", "Line"), "None")
    count = _int(resources.get("InstanceCount"), "TransformResources.InstanceCount", 1, 100)
    if count is None:
        raise ValidationException("TransformResources.InstanceCount is required")
    if not isinstance(resources.get("InstanceType"), str):
        raise ValidationException("TransformResources.InstanceType is required")
    concurrent = _int(body.get("MaxConcurrentTransforms"), "MaxConcurrentTransforms", 0, 1000)
    payload = _int(body.get("MaxPayloadInMB"), "MaxPayloadInMB", 0, 100)
    if concurrent and payload and concurrent * payload > 100:
        raise ValidationException("MaxConcurrentTransforms x MaxPayloadInMB must not exceed 100")
    strategy = _choice(body.get("BatchStrategy"), "BatchStrategy",
                       ("MultiRecord", "SingleRecord"), None)
    environment = validate_environment(body.get("Environment"), field="Environment")
    if len(environment) > 16:
        raise ValidationException("Environment may hold at most 16 entries")
    client = body.get("ModelClientConfig") or {}
    timeout = _int(client.get("InvocationsTimeoutInSeconds"),
                   "ModelClientConfig.InvocationsTimeoutInSeconds", 1, 3600) or 600
    retries = _int(client.get("InvocationsMaxRetries"), "ModelClientConfig.InvocationsMaxRetries",
                   0, 3)
    processor = RecordProcessor.create(body.get("DataProcessing"), tin.get("ContentType"),
                                       tout.get("Accept"))
    raw = json.loads(json.dumps(dict(body)))
    raw["TransformInput"].setdefault("SplitType", split)
    raw["TransformInput"].setdefault("CompressionType", compression)
    raw["TransformOutput"].setdefault("AssembleWith", assemble)
    return TransformRequest(
        name=name, model_name=model_name, raw=raw, base_dir=base_dir, input_uri=str(uri),
        data_type=data_type, content_type=tin.get("ContentType"), compression=compression,
        split_type=split, output_path=output, accept=tout.get("Accept"), assemble_with=assemble,
        instance_count=count, instance_type=resources["InstanceType"], max_concurrent=concurrent,
        max_payload_mb=payload, batch_strategy=strategy, environment=environment,
        timeout=float(timeout), retries=3 if retries is None else retries, processor=processor,
    )
