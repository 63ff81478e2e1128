"""What the SageMaker SDK may send that tandem cannot honour is refused at the call, with a
ValidationException naming the field and the reason: a container image with no Docker engine,
network isolation, built-in algorithms, Pipe mode, a container command with an image that is
not a framework image; what it can run without (VpcConfig) is
accepted and returned as sent."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.support import client
from tests.server_process import FAST_FLAGS, ServerProcess

pytestmark = pytest.mark.slow

ROLE = "arn:aws:iam::000000000000:role/x"
SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
CUSTOM = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-own-serving:latest"
VPC = {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]}


@pytest.fixture(scope="module")
def sagemaker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # No Docker engine answers at this address: a container image cannot run.
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    server = ServerProcess(tmp_path_factory.mktemp("tandem-unsupported"), extra=FAST_FLAGS,
                           env=env).start()
    yield client(server, "sagemaker")
    server.stop()


def _refused(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException", error
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(error["Message"])


def _training(**extra: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TrainingJobName": "refused", "RoleArn": ROLE,
        "AlgorithmSpecification": {"TrainingImage": SKLEARN, "TrainingInputMode": "File"},
        "HyperParameters": {"sagemaker_program": '"train.py"',
                            "sagemaker_submit_directory": '"s3://my-bucket/code/sourcedir.tar.gz"'},
        "OutputDataConfig": {"S3OutputPath": "s3://my-bucket/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                           "VolumeSizeInGB": 1}}
    request.update(extra)
    return request


def test_a_container_image_tandem_cannot_run(sagemaker: Any) -> None:
    message = _refused(sagemaker.create_model, ModelName="custom", ExecutionRoleArn=ROLE,
                       PrimaryContainer={"Image": CUSTOM})
    assert CUSTOM in message and "Docker" in message
    message = _refused(sagemaker.create_training_job, **_training(
        AlgorithmSpecification={"TrainingImage": CUSTOM, "TrainingInputMode": "File"}))
    assert CUSTOM in message and "container image" in message


def test_network_isolation_is_refused(sagemaker: Any, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    message = _refused(sagemaker.create_model, ModelName="isolated", ExecutionRoleArn=ROLE,
                       PrimaryContainer={"Image": SKLEARN, "ModelDataUrl": str(model_dir)},
                       EnableNetworkIsolation=True)
    assert "EnableNetworkIsolation" in message and "network" in message
    message = _refused(sagemaker.create_training_job, **_training(EnableNetworkIsolation=True))
    assert "EnableNetworkIsolation" in message
    with pytest.raises(sagemaker.exceptions.ClientError, match="Could not find model"):
        sagemaker.describe_model(ModelName="isolated")
    # false is what it does anyway.
    sagemaker.create_model(ModelName="open", ExecutionRoleArn=ROLE,
                           PrimaryContainer={"Image": SKLEARN, "ModelDataUrl": str(model_dir)},
                           EnableNetworkIsolation=False)
    assert sagemaker.describe_model(ModelName="open")["EnableNetworkIsolation"] is False


def test_built_in_algorithms_and_pipe_mode_are_refused(sagemaker: Any) -> None:
    message = _refused(sagemaker.create_training_job, **_training(
        AlgorithmSpecification={
            "AlgorithmName": "arn:aws:sagemaker:us-east-1:123456789012:algorithm/x",
            "TrainingInputMode": "File"}))
    assert "AlgorithmName" in message
    message = _refused(sagemaker.create_training_job, **_training(
        AlgorithmSpecification={"TrainingImage": SKLEARN, "TrainingInputMode": "Pipe"}))
    assert "'Pipe'" in message


def test_a_container_entrypoint_needs_a_framework_image(sagemaker: Any) -> None:
    # What the SageMaker SDK 3.x ModelTrainer sends, with an image of the user's own: tandem
    # cannot know what that container would have installed for the command to find.
    driver = {"ContainerEntrypoint": ["/bin/bash"],
              "ContainerArguments": ["-c", "/opt/ml/input/data/sm_drivers/sm_train.sh"]}
    message = _refused(sagemaker.create_training_job, **_training(AlgorithmSpecification={
        "TrainingImage": CUSTOM, "TrainingInputMode": "File", **driver}))
    assert message.startswith(f"AlgorithmSpecification.TrainingImage: '{CUSTOM}' is not a "
                              "SageMaker framework image")
    message = _refused(sagemaker.create_training_job, **_training(AlgorithmSpecification={
        "TrainingImage": SKLEARN, "TrainingInputMode": "File",
        "ContainerArguments": driver["ContainerArguments"]}))
    assert message.startswith("AlgorithmSpecification.ContainerArguments: tandem runs arguments "
                              "only after a ContainerEntrypoint")
    message = _refused(sagemaker.create_training_job, **_training(AlgorithmSpecification={
        "TrainingImage": SKLEARN, "TrainingInputMode": "File", "ContainerEntrypoint": [""]}))
    assert message == ("AlgorithmSpecification.ContainerEntrypoint must list 1 to 100 non-empty "
                       "strings")


def test_vpc_config_is_refused_naming_it(sagemaker: Any, tmp_path: Path) -> None:
    """A VPC tandem cannot place processes in: a clear error, and nothing created."""
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    container = {"Image": SKLEARN, "ModelDataUrl": str(model_dir)}
    expected = ("VpcConfig is not supported: tandem runs containers on its hosts' own network "
                "and cannot place them in a VPC (subnets ['subnet-0123456789abcdef0']). Leave "
                "VpcConfig out to run here.")
    message = _refused(sagemaker.create_model, ModelName="in-vpc", ExecutionRoleArn=ROLE,
                       VpcConfig=VPC, PrimaryContainer=container)
    assert message == f"CreateModel: {expected}"
    with pytest.raises(ClientError):
        sagemaker.describe_model(ModelName="in-vpc")
    message = _refused(sagemaker.create_training_job, **_training(VpcConfig=VPC))
    assert message == f"CreateTrainingJob: {expected}"
    with pytest.raises(ClientError):
        sagemaker.describe_training_job(TrainingJobName="refused")
    sagemaker.create_model(ModelName="open-net", ExecutionRoleArn=ROLE, PrimaryContainer=container)
    message = _refused(sagemaker.create_endpoint_config, EndpointConfigName="in-vpc",
                       VpcConfig=VPC, ProductionVariants=[{
                           "VariantName": "v", "ModelName": "open-net",
                           "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    assert message == f"CreateEndpointConfig: {expected}"
