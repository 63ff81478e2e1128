"""A training job's ContainerEntrypoint and ContainerArguments run as a container would run
them: each host sees its own directory at /opt/ml, by absolute path (what the SageMaker SDK 3.x
ModelTrainer's sm_train.sh driver needs), and nothing outside the job sees it."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import WaiterError

from tests.server_process import ServerProcess

pytestmark = pytest.mark.slow

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"

# Reads its config and channel, and writes its model, only through /opt/ml paths; python3 is
# the framework image's interpreter.
COMMAND = ("python3 -c 'import sklearn'"
           " && cp /opt/ml/input/config/hyperparameters.json /opt/ml/model/"
           " && cp /opt/ml/input/config/resourceconfig.json /opt/ml/model/"
           " && ls /opt/ml/input/data/train > /opt/ml/model/train-files.txt")


def _job(sagemaker: Any, name: str, data: Path, out: Path, command: str, count: int) -> dict:  # type: ignore[type-arg]
    sagemaker.create_training_job(
        TrainingJobName=name, RoleArn="arn:aws:iam::000000000000:role/test",
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File",
                                "ContainerEntrypoint": ["/bin/bash"],
                                "ContainerArguments": ["-c", command]},
        HyperParameters={"epochs": "3"},
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "file://" + str(data)}}}],
        OutputDataConfig={"S3OutputPath": "file://" + str(out)},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": count,
                        "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 120})
    try:
        sagemaker.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    except WaiterError:  # it failed: the description says how
        pass
    return sagemaker.describe_training_job(TrainingJobName=name)  # type: ignore[no-any-return]


def test_each_host_sees_its_own_directory_at_opt_ml(server: ServerProcess, sagemaker: Any,
                                                     tmp_path: Path) -> None:
    data = tmp_path / "train"
    data.mkdir()
    (data / "a.csv").write_text("1,2\n")
    (data / "b.csv").write_text("3,4\n")
    desc = _job(sagemaker, "opt-ml-paths", data, tmp_path / "out", COMMAND, count=2)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert desc["AlgorithmSpecification"]["ContainerEntrypoint"] == ["/bin/bash"]
    with tarfile.open(tmp_path / "out" / "opt-ml-paths" / "output" / "model.tar.gz") as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    assert sorted(files) == ["hyperparameters.json", "resourceconfig.json", "train-files.txt"]
    assert json.loads(files["hyperparameters.json"]) == {"epochs": "3"}
    assert files["train-files.txt"] == b"a.csv\nb.csv\n"
    # Both hosts wrote the same names; the model archive keeps algo-1's, so the config read
    # through /opt/ml was algo-1's own.
    assert json.loads(files["resourceconfig.json"])["current_host"] == "algo-1"
    assert not Path("/opt/ml/model/hyperparameters.json").exists()


def test_opt_ml_output_failure_becomes_the_failure_reason(server: ServerProcess, sagemaker: Any,
                                                          tmp_path: Path) -> None:
    data = tmp_path / "train"
    data.mkdir()
    command = "echo 'ValueError: no rows in train' > /opt/ml/output/failure; exit 3"
    desc = _job(sagemaker, "opt-ml-failure", data, tmp_path / "out", command, count=1)
    assert desc["TrainingJobStatus"] == "Failed"
    assert desc["FailureReason"] == "ValueError: no rows in train\n"
