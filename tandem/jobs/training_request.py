"""CreateTrainingJob's request, validated: what tandem needs to run it, with field-named errors.

TrainingImage resolves like a model's Image: a SageMaker framework image (scikit-learn,
XGBoost, PyTorch, TensorFlow, Hugging Face ... training or serving repositories) runs the
script-mode runner, whose entry point comes from the ``sagemaker_program`` hyperparameter (or
``SAGEMAKER_PROGRAM`` in Environment) and whose code from ``sagemaker_submit_directory`` (or
``SAGEMAKER_SUBMIT_DIRECTORY``); a local directory holding an executable ``train`` runs that,
as ``docker run <image> train`` would. A ContainerEntrypoint (with ContainerArguments) on a
framework image runs as given, with the host's directory at ``/opt/ml`` (``container_root``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ValidationException
from ..objects.locations import is_s3_uri, split_s3_uri
from ..serving.containers import validate_environment
from ..serving.frameworks import Framework, framework_of
from ..serving.images import is_framework_image, repository_name
from ..serving.model import refuse_network_settings
from .algorithms import XGBOOST_ALGORITHM, xgboost_metric_definitions
from .container_root import CONTAINER_ROOT, container_root_unavailable
from .locations import local_path
from .metric_definitions import MetricDefinition, parse_metric_definitions
from .records import validate_job_name
from .training_layout import decode_hyperparameters

__all__ = ["Channel", "TrainingRequest", "parse_training_request", "MAX_RUNTIME_DEFAULT"]

MAX_RUNTIME_DEFAULT = 86400
MAX_RUNTIME_LIMIT = 28 * 86400
_TRAINING_DLC = re.compile(
    r"(huggingface-)?(pytorch|tensorflow|mxnet)-training(-(neuron|neuronx|graviton|arm64))?")
_CHANNEL = re.compile(r"^[A-Za-z0-9\.\-_]+$")
_FIELDS = {
    "TrainingJobName", "RoleArn", "AlgorithmSpecification", "HyperParameters", "InputDataConfig",
    "OutputDataConfig", "ResourceConfig", "StoppingCondition", "Environment", "Tags",
    "VpcConfig", "EnableNetworkIsolation", "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining", "CheckpointConfig", "DebugHookConfig", "ExperimentConfig",
    "RetryStrategy", "ProfilerConfig", "ProfilerRuleConfigurations", "DebugRuleConfigurations",
    "TensorBoardOutputConfig", "RemoteDebugConfig", "InfraCheckConfig", "SessionChainingConfig",
}


@dataclasses.dataclass(frozen=True)
class Channel:
    name: str
    uri: str
    data_type: str
    distribution: str
    config: dict[str, Any]  # its inputdataconfig.json entry


@dataclasses.dataclass(frozen=True)
class TrainingRequest:
    name: str
    raw: dict[str, Any]
    base_dir: Path
    # "script": the script-mode runner; "train": a local directory's executable train;
    # "algorithm": a built-in algorithm (program names its module); "container": command run
    # with the host's directory at /opt/ml.
    kind: str
    program: Path  # the script, or the train executable
    code_dir: str | None  # sagemaker_submit_directory as given (a dir or a tarball)
    hyperparameters: dict[str, str]
    channels: tuple[Channel, ...]
    output_path: str
    instance_count: int
    instance_type: str
    max_runtime: int
    environment: dict[str, str]
    metric_definitions: tuple[MetricDefinition, ...]
    # CheckpointConfig.S3Uri: synced with every host's checkpoint directory (None: no sync).
    checkpoint_uri: str | None = None
    # ContainerEntrypoint + ContainerArguments (kind "container").
    command: tuple[str, ...] = ()


CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"


def _mapping(body: Mapping[str, Any], key: str, required: bool = False) -> dict[str, Any]:
    value = body.get(key)
    if value is None:
        if required:
            raise ValidationException(f"1 validation error detected: Value null at '{key}' "
                                      "failed to satisfy constraint: Member must not be null")
        return {}
    if not isinstance(value, Mapping):
        raise ValidationException(f"{key} must be a structure")
    return dict(value)


def _is_local(image: str, base_dir: Path) -> Path | None:
    text = image.strip()
    if text.startswith(("file:", "/", "./", "../", "~")) or text == ".":
        return local_path(text, base_dir, field="AlgorithmSpecification.TrainingImage")
    candidate = base_dir / text
    return Path(os.path.abspath(candidate)) if candidate.is_dir() else None


def _hyperparameters(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or len(raw) > 100:
        raise ValidationException("HyperParameters must be a map of at most 100 strings")
    out = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValidationException(f"HyperParameters.{key}: keys and values must be strings "
                                      "(the SageMaker SDK JSON-encodes each value)")
        out[key] = value
    return out


def _channels(raw: Any, base_dir: Path) -> tuple[Channel, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not 1 <= len(raw) <= 20:
        raise ValidationException("InputDataConfig must list 1 to 20 channels")
    channels, names = [], set()
    for i, item in enumerate(raw):
        where = f"InputDataConfig[{i}]"
        if not isinstance(item, Mapping):
            raise ValidationException(f"{where} must be a structure")
        name = item.get("ChannelName")
        if not isinstance(name, str) or not _CHANNEL.match(name) or len(name) > 64:
            raise ValidationException(f"{where}.ChannelName: {name!r} must match [A-Za-z0-9.-_]+")
        if name in names:
            raise ValidationException(f"{where}.ChannelName: {name!r} is used twice")
        names.add(name)
        source = (item.get("DataSource") or {}).get("S3DataSource") \
            if isinstance(item.get("DataSource"), Mapping) else None
        if not isinstance(source, Mapping):
            raise ValidationException(f"{where}.DataSource.S3DataSource is required (tandem "
                                      "reads channels from local paths given as S3Uri)")
        uri = source.get("S3Uri")
        data_type = source.get("S3DataType", "S3Prefix")
        distribution = source.get("S3DataDistributionType", "FullyReplicated")
        if data_type not in ("S3Prefix", "ManifestFile"):
            raise ValidationException(f"{where}.DataSource.S3DataSource.S3DataType: "
                                      f"{data_type!r} is not supported; use S3Prefix or "
                                      "ManifestFile")
        if distribution not in ("FullyReplicated", "ShardedByS3Key"):
            raise ValidationException(f"{where}.DataSource.S3DataSource.S3DataDistributionType: "
                                      f"{distribution!r} is not FullyReplicated or ShardedByS3Key")
        field = f"{where}.DataSource.S3DataSource.S3Uri"
        if is_s3_uri(uri):
            split_s3_uri(str(uri), field=field)  # its objects are staged when the job starts
            location = str(uri).strip()
        else:
            path = local_path(uri, base_dir, field=field)
            if not path.exists() and not path.parent.is_dir():
                raise ValidationException(f"{field}: {path} does not exist")
            location = str(path)
        mode = item.get("InputMode", "File")
        if mode not in ("File", "FastFile"):
            raise ValidationException(f"{where}.InputMode: {mode!r} is not supported; tandem "
                                      "gives channels as files (File or FastFile)")
        config: dict[str, Any] = {"TrainingInputMode": mode, "S3DistributionType": distribution,
                                  "RecordWrapperType": item.get("RecordWrapperType", "None")}
        if item.get("ContentType"):
            config["ContentType"] = item["ContentType"]
        if item.get("CompressionType", "None") != "None":
            raise ValidationException(f"{where}.CompressionType: only None is supported")
        channels.append(Channel(name, location, data_type, distribution, config))
    return tuple(channels)


def _script(algorithm: Mapping[str, Any], hyperparameters: Mapping[str, str],
            environment: Mapping[str, str], base_dir: Path) -> tuple[Path, str | None]:
    _, framework = decode_hyperparameters(hyperparameters)
    program = framework.get("sagemaker_program") or environment.get("SAGEMAKER_PROGRAM")
    submit = framework.get("sagemaker_submit_directory") or \
        environment.get("SAGEMAKER_SUBMIT_DIRECTORY")
    if not isinstance(program, str) or not program:
        raise ValidationException(
            "HyperParameters.sagemaker_program: a framework TrainingImage runs a script; name it "
            "in the sagemaker_program hyperparameter or SAGEMAKER_PROGRAM in Environment")
    if submit:
        if not isinstance(submit, str):
            raise ValidationException("HyperParameters.sagemaker_submit_directory must be a string")
        if is_s3_uri(submit):
            # The SDK's sourcedir.tar.gz: fetched and unpacked when the job starts.
            split_s3_uri(submit, field="HyperParameters.sagemaker_submit_directory")
            return Path(program), submit.strip()
        code = local_path(submit, base_dir, field="HyperParameters.sagemaker_submit_directory")
        if not code.exists():
            raise ValidationException(f"HyperParameters.sagemaker_submit_directory: {code} does "
                                      "not exist")
        if code.is_dir() and not (code / program).is_file():
            raise ValidationException(f"HyperParameters.sagemaker_program: {program!r} is not in "
                                      f"{code}")
        return Path(program), str(code)
    script = local_path(program, base_dir, field="HyperParameters.sagemaker_program")
    if not script.is_file():
        raise ValidationException(f"HyperParameters.sagemaker_program: {script} does not exist "
                                  "(give sagemaker_submit_directory for the code directory)")
    return Path(script.name), str(script.parent)


def _container_command(algorithm: Mapping[str, Any]) -> tuple[str, ...]:
    """ContainerEntrypoint followed by ContainerArguments (empty: the image's own)."""
    parts: list[str] = []
    for member, limit in (("ContainerEntrypoint", 100), ("ContainerArguments", 100)):
        value = algorithm.get(member)
        if value is None:
            continue
        if (not isinstance(value, list) or not 1 <= len(value) <= limit
                or not all(isinstance(v, str) and v for v in value)):
            raise ValidationException(f"AlgorithmSpecification.{member} must list 1 to {limit} "
                                      "non-empty strings")
        parts.extend(value)
    if parts and not algorithm.get("ContainerEntrypoint"):
        raise ValidationException("AlgorithmSpecification.ContainerArguments: tandem runs "
                                  "arguments only after a ContainerEntrypoint (a framework "
                                  "image's own entrypoint is not known here)")
    return tuple(parts)


def _algorithm_mode(image: str, hyperparameters: Mapping[str, str],
                    environment: Mapping[str, str]) -> bool:
    if framework_of(image) is not Framework.XGBOOST:
        return False
    _, framework = decode_hyperparameters(hyperparameters)
    return not (framework.get("sagemaker_program") or environment.get("SAGEMAKER_PROGRAM"))


def parse_training_request(body: Mapping[str, Any], base_dir: Path) -> TrainingRequest:
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise ValidationException(f"Unknown parameter {unknown[0]!r} in CreateTrainingJob.")
    name = validate_job_name(body.get("TrainingJobName"), "trainingJobName")
    if not isinstance(body.get("RoleArn"), str):
        raise ValidationException("1 validation error detected: Value null at 'roleArn' failed "
                                  "to satisfy constraint: Member must not be null")
    algorithm = _mapping(body, "AlgorithmSpecification", required=True)
    image = algorithm.get("TrainingImage")
    if not isinstance(image, str) or not image.strip():
        raise ValidationException("AlgorithmSpecification.TrainingImage is required (tandem "
                                  "runs no AlgorithmName algorithms)")
    command = _container_command(algorithm)
    mode = algorithm.get("TrainingInputMode", "File")
    if mode not in ("File", "FastFile"):
        raise ValidationException(f"AlgorithmSpecification.TrainingInputMode: {mode!r} is not "
                                  "supported; use File or FastFile")
    definitions = parse_metric_definitions(algorithm.get("MetricDefinitions"))
    hyperparameters = _hyperparameters(body.get("HyperParameters"))
    environment = validate_environment(body.get("Environment"), field="Environment")
    local = _is_local(image, base_dir)
    if command and not (is_framework_image(image)
                        or _TRAINING_DLC.fullmatch(repository_name(image))):
        raise ValidationException(
            f"AlgorithmSpecification.TrainingImage: {image!r} is not a SageMaker framework "
            "image, so tandem cannot tell what the container's ContainerEntrypoint would find "
            "installed; a command runs here only with a framework image (scikit-learn, "
            "XGBoost, PyTorch, TensorFlow, Hugging Face), which tandem's own Python stands for")
    if command:
        # The container's own command (the SDK 3.x ModelTrainer's sm_train.sh driver), with
        # the host's directory at /opt/ml.
        reason = container_root_unavailable()
        if reason is not None:
            raise ValidationException(
                "AlgorithmSpecification.ContainerEntrypoint: a container's command reads and "
                f"writes {CONTAINER_ROOT} by absolute path, which tandem gives a training host "
                f"in a private mount namespace; this machine cannot make one: {reason}")
        kind, program, code_dir = "container", Path(command[0]), None
    elif local is not None:
        program = local / "train"
        if not (program.is_file() and os.access(program, os.X_OK)):
            raise ValidationException(f"AlgorithmSpecification.TrainingImage: {local} holds no "
                                      "executable 'train' program")
        kind, code_dir = "train", None
    elif _algorithm_mode(image, hyperparameters, environment):
        # The XGBoost image with no script: its built-in algorithm, which publishes its own
        # train:/validation: metrics when the request defines none.
        kind, program, code_dir = "algorithm", Path(XGBOOST_ALGORITHM), None
        if not definitions:
            definitions = xgboost_metric_definitions()
    elif is_framework_image(image) or _TRAINING_DLC.fullmatch(repository_name(image)):
        kind = "script"
        program, code_dir = _script(algorithm, hyperparameters, environment, base_dir)
    else:
        raise ValidationException(
            f"AlgorithmSpecification.TrainingImage: {image!r} is a container image; tandem runs "
            "SageMaker framework images (script mode) and local directories holding an "
            "executable 'train'")
    output = _mapping(body, "OutputDataConfig", required=True)
    output_path = output.get("S3OutputPath")
    if is_s3_uri(output_path):
        split_s3_uri(str(output_path), field="OutputDataConfig.S3OutputPath")
    else:
        local_path(output_path, base_dir, field="OutputDataConfig.S3OutputPath")
    refuse_network_settings(body, "CreateTrainingJob")
    checkpoint_uri = _checkpoint_uri(body, base_dir)
    resources = _mapping(body, "ResourceConfig")
    count = resources.get("InstanceCount", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 16:
        raise ValidationException("ResourceConfig.InstanceCount must be 1 to 16 here")
    if kind == "algorithm" and count != 1:
        raise ValidationException("ResourceConfig.InstanceCount: tandem runs the XGBoost "
                                  "algorithm on one instance (no distributed training)")
    stopping = _mapping(body, "StoppingCondition")
    max_runtime = stopping.get("MaxRuntimeInSeconds", MAX_RUNTIME_DEFAULT)
    if (not isinstance(max_runtime, int) or isinstance(max_runtime, bool)
            or not 1 <= max_runtime <= MAX_RUNTIME_LIMIT):
        raise ValidationException(f"StoppingCondition.MaxRuntimeInSeconds must be 1 to "
                                  f"{MAX_RUNTIME_LIMIT}")
    raw = json.loads(json.dumps(dict(body)))
    raw.setdefault("ResourceConfig", {}).setdefault("InstanceCount", count)
    raw["ResourceConfig"].setdefault("InstanceType", "ml.m5.large")
    raw["ResourceConfig"].setdefault("VolumeSizeInGB", 30)
    raw.setdefault("StoppingCondition", {}).setdefault("MaxRuntimeInSeconds", max_runtime)
    raw["AlgorithmSpecification"].setdefault("TrainingInputMode", mode)
    return TrainingRequest(
        name=name, raw=raw, base_dir=base_dir, kind=kind, program=program, code_dir=code_dir,
        hyperparameters=hyperparameters, channels=_channels(body.get("InputDataConfig"), base_dir),
        output_path=str(output_path), instance_count=count,
        instance_type=str(raw["ResourceConfig"]["InstanceType"]), max_runtime=max_runtime,
        environment=environment, metric_definitions=tuple(definitions),
        checkpoint_uri=checkpoint_uri, command=command,
    )


def _checkpoint_uri(body: Mapping[str, Any], base_dir: Path) -> str | None:
    """CheckpointConfig.S3Uri, checked (an s3:// prefix, or a local folder as other locations
    may be); LocalPath is SageMaker's path in its container, echoed: each host's own checkpoint
    folder stands for it here (SM_CHECKPOINT_DIR)."""
    if body.get("CheckpointConfig") is None:
        return None
    config = _mapping(body, "CheckpointConfig")
    uri = config.get("S3Uri")
    if not isinstance(uri, str) or not uri.strip():
        raise ValidationException("1 validation error detected: Value null at "
                                  "'checkpointConfig.s3Uri' failed to satisfy constraint: "
                                  "Member must not be null")
    local = config.get("LocalPath", CHECKPOINT_LOCAL_PATH)
    if not isinstance(local, str) or not local.startswith("/"):
        raise ValidationException(f"CheckpointConfig.LocalPath: {local!r} must be an absolute "
                                  "path")
    if is_s3_uri(uri):
        split_s3_uri(uri, field="CheckpointConfig.S3Uri")
    else:
        local_path(uri, base_dir, field="CheckpointConfig.S3Uri")
    return uri.strip()
