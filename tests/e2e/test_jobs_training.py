"""Training jobs on a real server through boto3: layout, SM_* env, logs, metrics, statuses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.e2e.support import client
from tests.server_process import ServerProcess
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parent.parent / "jobs" / "fixtures"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
LOSS = [{"Name": "train:loss", "Regex": r"loss=([0-9.]+)"}]


def _create(sagemaker, name: str, out: Path, *, count: int = 1, runtime: int = 60,  # type: ignore[no-untyped-def]
            **hps: object) -> None:
    sagemaker.create_training_job(
        TrainingJobName=name, RoleArn="arn:aws:iam::000000000000:role/test",
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File",
                                "MetricDefinitions": LOSS},
        HyperParameters={"sagemaker_program": json.dumps("train.py"),
                         "sagemaker_submit_directory": json.dumps(str(FIXTURES / "script")),
                         **{k: json.dumps(v) for k, v in hps.items()}},
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "file://" + str(FIXTURES / "data" / "train")}}}],
        OutputDataConfig={"S3OutputPath": "file://" + str(out)},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": count,
                        "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": runtime})


def _wait(sagemaker, name: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    return sagemaker.describe_training_job(TrainingJobName=name)


def _wait_any(sagemaker, name: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    def finished() -> dict | None:  # type: ignore[type-arg]
        desc = sagemaker.describe_training_job(TrainingJobName=name)
        return desc if desc["TrainingJobStatus"] in ("Completed", "Failed", "Stopped") else None
    return wait_until(finished, f"{name} to finish")


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def _streams(logs, prefix: str) -> list[str]:  # type: ignore[no-untyped-def]
    found = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs",
                                      logStreamNamePrefix=prefix)["logStreams"]
    return sorted(s["logStreamName"] for s in found)


def _messages(logs, stream: str, until: Callable[[list[str]], bool]) -> list[str]:  # type: ignore[no-untyped-def]
    """The stream's messages, once ``until`` holds of them."""
    def read() -> list[str] | None:
        events = logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs",
                                     logStreamName=stream, startFromHead=True)["events"]
        messages = [e["message"] for e in events]
        return messages if until(messages) else None
    return wait_until(read, f"the messages of {stream}")


def _has(message: str) -> Callable[[list[str]], bool]:
    return lambda messages: message in messages


def test_script_mode_job_completes_with_layout_env_logs_and_metrics(
        server: ServerProcess, sagemaker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _create(sagemaker, "train-ok", tmp_path, epochs=4, mode="sleep", sleep=1.5)
    desc = _wait(sagemaker, "train-ok")
    assert desc["TrainingJobStatus"] == "Completed" and desc["SecondaryStatus"] == "Completed"
    assert [t["Status"] for t in desc["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert desc["ModelArtifacts"]["S3ModelArtifacts"] == \
        f"file://{tmp_path}/train-ok/output/model.tar.gz"
    final = {m["MetricName"]: m["Value"] for m in desc["FinalMetricDataList"]}
    assert final == {"train:loss": 0.25}

    members = _members(tmp_path / "train-ok" / "output" / "model.tar.gz")
    assert members["model.txt"] == b"trained\n"
    env = json.loads(members["env-algo-1.json"])
    assert env["argv"] == ["--epochs", "4", "--mode", "sleep", "--sleep", "1.5"]
    assert env["SM_HPS"] == '{"epochs":4,"mode":"sleep","sleep":1.5}'
    assert env["SM_HP_EPOCHS"] == "4" and env["SM_CHANNELS"] == '["train"]'
    assert env["SM_HOSTS"] == '["algo-1"]' and env["SM_CURRENT_HOST"] == "algo-1"
    assert env["TRAINING_JOB_NAME"] == "train-ok"
    channel = Path(env["SM_CHANNEL_TRAIN"])
    assert sorted(p.name for p in channel.iterdir()) == ["a.csv", "b.csv"]
    config = Path(env["SM_INPUT_CONFIG_DIR"])
    assert json.loads((config / "hyperparameters.json").read_text())["epochs"] == "4"
    assert json.loads((config / "resourceconfig.json").read_text())["hosts"] == ["algo-1"]
    assert json.loads((config / "inputdataconfig.json").read_text())["train"][
        "TrainingInputMode"] == "File"

    logs = client(server, "logs")
    streams = _streams(logs, "train-ok/")
    assert len(streams) == 1 and re.fullmatch(r"train-ok/algo-1-\d{10}", streams[0])
    assert "epoch=3 loss=0.2500" in _messages(logs, streams[0], _has("epoch=3 loss=0.2500"))

    cloudwatch = client(server, "cloudwatch")

    def loss() -> list[dict]:  # type: ignore[type-arg]
        points = cloudwatch.get_metric_statistics(
            Namespace="/aws/sagemaker/TrainingJobs", MetricName="train:loss",
            Dimensions=[{"Name": "TrainingJobName", "Value": "train-ok"}],
            StartTime=desc["CreationTime"].timestamp() - 120, EndTime=time.time() + 120,
            Period=3600, Statistics=["SampleCount", "Sum", "Minimum", "Maximum"])["Datapoints"]
        return points if sum(p["SampleCount"] for p in points) >= 4 else []

    stats = wait_until(loss, "the four train:loss samples")
    assert len(stats) == 1
    assert stats[0]["SampleCount"] == 4.0 and stats[0]["Minimum"] == 0.25
    assert stats[0]["Maximum"] == 1.0 and stats[0]["Sum"] == pytest.approx(2.0833, abs=1e-3)
    usage = {"MemoryUtilization", "DiskUtilization"}
    wait_until(lambda: usage <= {m["MetricName"] for m in cloudwatch.list_metrics(
        Namespace="/aws/sagemaker/TrainingJobs",
        Dimensions=[{"Name": "Host", "Value": "train-ok/algo-1"}])["Metrics"]},
        f"{sorted(usage)} of train-ok/algo-1 listed")


def test_two_hosts_see_each_other_and_rendezvous(server: ServerProcess, sagemaker,  # type: ignore[no-untyped-def]
                                                 tmp_path: Path) -> None:
    _create(sagemaker, "train-pair", tmp_path, count=2, mode="rendezvous", epochs=1)
    desc = _wait(sagemaker, "train-pair")
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    members = _members(tmp_path / "train-pair" / "output" / "model.tar.gz")
    assert json.loads(members["peers.json"]) == ["algo-2"]
    one, two = (json.loads(members[f"env-algo-{k}.json"]) for k in (1, 2))
    assert one["SM_HOSTS"] == two["SM_HOSTS"] == '["algo-1","algo-2"]'
    assert (one["SM_CURRENT_HOST"], two["SM_CURRENT_HOST"]) == ("algo-1", "algo-2")
    ports = json.loads(one["SM_HOST_PORTS"])
    assert ports == json.loads(two["SM_HOST_PORTS"]) and ports["algo-1"] != ports["algo-2"]
    assert two["SM_MASTER_PORT"] == str(ports["algo-1"]) == two["MASTER_PORT"]
    # On one machine every host is 127.0.0.1, told apart by its port.
    assert json.loads(two["SM_HOST_ADDRESSES"]) == {"algo-1": "127.0.0.1", "algo-2": "127.0.0.1"}
    assert two["SM_MASTER_ADDR"] == two["MASTER_ADDR"] == "127.0.0.1"
    streams = _streams(client(server, "logs"), "train-pair/")
    epochs = {s.rsplit("-", 1)[1] for s in streams}
    assert len(epochs) == 1
    epoch = epochs.pop()
    assert streams == [f"train-pair/algo-1-{epoch}", f"train-pair/algo-2-{epoch}"]


def test_failure_file_becomes_failure_reason(server: ServerProcess, sagemaker,  # type: ignore[no-untyped-def]
                                             tmp_path: Path) -> None:
    _create(sagemaker, "train-fail", tmp_path, mode="fail", epochs=1)
    desc = _wait_any(sagemaker, "train-fail")
    assert desc["TrainingJobStatus"] == "Failed" and desc["SecondaryStatus"] == "Failed"
    expected = ("ValueError: the loss diverged\n" + "x" * 2000)[:1024]
    assert desc["FailureReason"] == expected
    stream = _streams(client(server, "logs"), "train-fail/")[0]
    assert "failing" in _messages(client(server, "logs"), stream, _has("failing"))


def test_max_runtime_stops_the_job_and_keeps_logs(server: ServerProcess, sagemaker,  # type: ignore[no-untyped-def]
                                                  tmp_path: Path) -> None:
    # The script would sleep far longer than _wait waits: only the limit can end it in time.
    _create(sagemaker, "train-slow", tmp_path, runtime=1, mode="sleep", sleep=3600)
    desc = _wait(sagemaker, "train-slow")
    assert desc["TrainingJobStatus"] == "Stopped"
    assert desc["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert desc["SecondaryStatusTransitions"][-1]["StatusMessage"] == \
        "Training job runtime exceeded MaxRuntimeInSeconds provided"
    assert "FailureReason" not in desc
    assert (tmp_path / "train-slow" / "output" / "model.tar.gz").is_file()
    stream = _streams(client(server, "logs"), "train-slow/")[0]
    assert "sleeping" in _messages(client(server, "logs"), stream, _has("sleeping"))


def test_stop_training_job(server: ServerProcess, sagemaker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _create(sagemaker, "train-stop", tmp_path, mode="sleep", sleep=30)
    wait_until(lambda: sagemaker.describe_training_job(TrainingJobName="train-stop")[
        "SecondaryStatus"] == "Training", "train-stop to be Training")
    sagemaker.stop_training_job(TrainingJobName="train-stop")
    desc = _wait(sagemaker, "train-stop")
    assert (desc["TrainingJobStatus"], desc["SecondaryStatus"]) == ("Stopped", "Stopped")
    listed = sagemaker.list_training_jobs(StatusEquals="Stopped", NameContains="train-stop")
    assert [j["TrainingJobName"] for j in listed["TrainingJobSummaries"]] == ["train-stop"]


def test_local_train_program_and_errors(server: ServerProcess, sagemaker,  # type: ignore[no-untyped-def]
                                        tmp_path: Path) -> None:
    sagemaker.create_training_job(
        TrainingJobName="train-byoc", RoleArn="arn:aws:iam::000000000000:role/test",
        AlgorithmSpecification={"TrainingImage": str(FIXTURES / "byoc"),
                                "TrainingInputMode": "File"},
        HyperParameters={"depth": "3"},
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": str(FIXTURES / "data" / "train")}}}],
        OutputDataConfig={"S3OutputPath": str(tmp_path)},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 60})
    desc = _wait(sagemaker, "train-byoc")
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert _members(tmp_path / "train-byoc/output/model.tar.gz")["byoc.txt"] == b"done\n"
    logs = client(server, "logs")
    lines = _messages(logs, _streams(logs, "train-byoc/")[0], _has("rows=3"))
    assert "rows=3" in lines and '"depth": "3"' in "".join(lines)

    with pytest.raises(ClientError) as missing:
        sagemaker.describe_training_job(TrainingJobName="no-such-job")
    assert missing.value.response["Error"] == {"Code": "ValidationException",
                                               "Message": "Requested resource not found."}
    with pytest.raises(ClientError) as taken:
        _create(sagemaker, "train-byoc", tmp_path)
    assert taken.value.response["Error"]["Code"] == "ResourceInUse"


def test_cli_train_follows_logs_and_shows_metrics(server: ServerProcess, tmp_path: Path) -> None:
    spec = tmp_path / "job.yaml"
    spec.write_text(f"""
TrainingJobName: train-cli
AlgorithmSpecification:
  TrainingImage: {IMAGE}
  MetricDefinitions:
    - {{Name: "train:loss", Regex: "loss=([0-9.]+)"}}
HyperParameters:
  sagemaker_program: train.py
  sagemaker_submit_directory: {FIXTURES / 'script'}
  epochs: 2
OutputDataConfig:
  S3OutputPath: ./out
ResourceConfig: {{InstanceType: ml.m5.large, InstanceCount: 1}}
""")
    result = subprocess.run([sys.executable, "-m", "tandem", "train", str(spec), "--url",
                             server.url], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "epoch=1 loss=0.5000" in result.stdout
    assert "Completed / Completed" in result.stdout and "train:loss=0.5" in result.stdout
    assert (tmp_path / "out" / "train-cli" / "output" / "model.tar.gz").is_file()
