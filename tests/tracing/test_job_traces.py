"""Tier (c): batch transform and training jobs traced into a real OTLP/HTTP receiver."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from tests.e2e.support import STAGE, client
from tests.server_process import ServerProcess
from tests.tracing.receiver import OtlpReceiver, attributes

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parent.parent / "jobs" / "fixtures"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def _job_spans(receiver: OtlpReceiver, key: str, name: str, children: int) -> list[Span]:
    def mine(spans: list[tuple[str, Span]]) -> list[Span]:
        roots = [sp for _, sp in spans if attributes(sp).get(key) == name and not sp.parent_span_id]
        if not roots:
            return []
        return [sp for _, sp in spans if sp.trace_id == roots[0].trace_id]

    return mine(receiver.wait_for(lambda s: len(mine(s)) >= 1 + children))


def test_transform_job_has_a_span_per_mini_batch_request(
        traced_server: ServerProcess, receiver: OtlpReceiver, tmp_path: Path) -> None:
    sagemaker = client(traced_server, "sagemaker")
    sagemaker.create_model(ModelName="tx", PrimaryContainer={
        "Image": str(STAGE), "Environment": {"STAGE_NAME": "stage"}})
    source = tmp_path / "in"
    source.mkdir()
    (source / "records.jsonl").write_text(
        "".join(json.dumps({"instances": [[i]], "echo_trace": True}) + "\n" for i in range(3)))
    sagemaker.create_transform_job(
        TransformJobName="tx-job", ModelName="tx", BatchStrategy="SingleRecord",
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                        "S3Uri": str(source)}},
                        "ContentType": "application/json", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": "file://" + str(tmp_path / "out"),
                         "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    sagemaker.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName="tx-job", WaiterConfig={"Delay": 1, "MaxAttempts": 90})
    assert sagemaker.describe_transform_job(
        TransformJobName="tx-job")["TransformJobStatus"] == "Completed"
    spans = _job_spans(receiver, "tandem.transform_job.name", "tx-job", 3)
    (root,) = [s for s in spans if not s.parent_span_id]
    assert root.name == "TransformJob" and root.status.code == Status.STATUS_CODE_UNSET
    batches = [s for s in spans if s.parent_span_id == root.span_id]
    assert len(batches) == 3
    assert all(s.kind == Span.SPAN_KIND_CLIENT and s.name == "POST" for s in batches)
    assert [attributes(s)["tandem.record.count"] for s in batches] == [1, 1, 1]
    assert {attributes(s)["tandem.input.file"] for s in batches} == {"records.jsonl"}
    outputs = (tmp_path / "out" / "records.jsonl.out").read_text().splitlines()
    parents = {json.loads(line)["traceparents"][0][1].split("-")[2] for line in outputs}
    assert parents == {s.span_id.hex() for s in batches}
    assert all(root.start_time_unix_nano <= s.start_time_unix_nano
               and s.end_time_unix_nano <= root.end_time_unix_nano for s in batches)


def test_training_job_span_has_its_phases_as_children(
        traced_server: ServerProcess, receiver: OtlpReceiver, tmp_path: Path) -> None:
    sagemaker = client(traced_server, "sagemaker")
    sagemaker.create_training_job(
        TrainingJobName="train-traced", RoleArn="arn:aws:iam::000000000000:role/test",
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        HyperParameters={"sagemaker_program": json.dumps("train.py"),
                         "sagemaker_submit_directory": json.dumps(str(FIXTURES / "script")),
                         "epochs": "1"},
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "file://" + str(FIXTURES / "data" / "train")}}}],
        OutputDataConfig={"S3OutputPath": "file://" + str(tmp_path)},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1,
                        "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 60})
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName="train-traced", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    desc = sagemaker.describe_training_job(TrainingJobName="train-traced")
    assert desc["TrainingJobStatus"] == "Completed"
    spans = _job_spans(receiver, "tandem.training_job.name", "train-traced", 4)
    (root,) = [s for s in spans if not s.parent_span_id]
    assert root.name == "TrainingJob"
    phases = sorted((s for s in spans if s.parent_span_id == root.span_id),
                    key=lambda s: s.start_time_unix_nano)
    assert [s.name for s in phases] == ["Starting", "Downloading", "Training", "Uploading"]
    transitions = {t["Status"]: t for t in desc["SecondaryStatusTransitions"]}
    for span in phases:
        t = transitions[span.name]
        assert span.start_time_unix_nano == pytest.approx(t["StartTime"].timestamp() * 1e9,
                                                          abs=2e6)
        assert span.end_time_unix_nano == pytest.approx(t["EndTime"].timestamp() * 1e9,
                                                        abs=2e6)
