"""Batch transform on a real server through boto3: outputs, logs, metrics, failures."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.support import STAGE, client, deploy
from tests.server_process import ServerProcess
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

WINE = Path(__file__).resolve().parents[2] / "examples" / "wine_pipeline"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
GROUP = "/aws/sagemaker/TransformJobs"


def _wine_containers(artifacts: Path) -> list[dict]:  # type: ignore[type-arg]
    def handler(name: str) -> dict:  # type: ignore[type-arg]
        return {"ContainerHostname": name, "Image": IMAGE,
                "ModelDataUrl": str(artifacts / name / "model.tar.gz"),
                "Environment": {"SAGEMAKER_PROGRAM": "inference.py",
                                "SAGEMAKER_SUBMIT_DIRECTORY": str(WINE / "containers" / name)}}
    return [handler("preprocess"), handler("model"),
            {"ContainerHostname": "postprocess", "Image": str(WINE / "containers" / "postprocess"),
             "ModelDataUrl": str(artifacts / "postprocess" / "model.tar.gz")}]


def _job(sagemaker, name: str, model: str, source: Path, out: Path, **extra: object) -> dict:  # type: ignore[no-untyped-def,type-arg]
    tin = {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": str(source)}}}
    tin.update(extra.pop("TransformInput", {}))  # type: ignore[arg-type]
    tout = {"S3OutputPath": "file://" + str(out)}
    tout.update(extra.pop("TransformOutput", {}))  # type: ignore[arg-type]
    sagemaker.create_transform_job(
        TransformJobName=name, ModelName=model, TransformInput=tin, TransformOutput=tout,
        TransformResources={"InstanceType": "ml.m5.large",
                            "InstanceCount": extra.pop("InstanceCount", 1)}, **extra)
    try:
        sagemaker.get_waiter("transform_job_completed_or_stopped").wait(
            TransformJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 90})
    except Exception:  # noqa: BLE001 - the Failed case is asserted by the caller
        pass
    return sagemaker.describe_transform_job(TransformJobName=name)


def _streams(logs, prefix: str) -> list[str]:  # type: ignore[no-untyped-def]
    found = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=prefix)
    return sorted(s["logStreamName"] for s in found["logStreams"])


def _messages(logs, stream: str, until: Callable[[list[str]], bool] = bool) -> list[str]:  # type: ignore[no-untyped-def]
    """The stream's messages, once ``until`` holds of them (by default: once it has any)."""
    def read() -> list[str] | None:
        events = logs.get_log_events(logGroupName=GROUP, logStreamName=stream,
                                     startFromHead=True)["events"]
        messages = [e["message"] for e in events]
        return messages if until(messages) else None
    return wait_until(read, f"the messages of {stream}")


@pytest.fixture(scope="module")
def wine(sagemaker, wine_artifacts: Path) -> str:  # type: ignore[no-untyped-def]
    deploy(sagemaker, "wine", _wine_containers(wine_artifacts))
    return "wine"


def test_pipeline_transform_equals_invoking_record_by_record(
        server: ServerProcess, sagemaker, runtime, wine: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows = (WINE / "requests" / "three-classes.csv").read_text().split()
    source = tmp_path / "in"
    (source / "sub").mkdir(parents=True)
    files = {"a.csv": rows * 4, "b.csv": rows[:2], "sub/c.csv": rows[::-1] * 2}
    for name, lines in files.items():
        (source / name).write_text("\n".join(lines) + "\n")
    desc = _job(sagemaker, "wine-batch", wine, source, tmp_path / "out",
                BatchStrategy="MultiRecord",
                MaxPayloadInMB=1, MaxConcurrentTransforms=2, InstanceCount=2,
                TransformInput={"ContentType": "text/csv", "SplitType": "Line"},
                TransformOutput={"Accept": "text/csv", "AssembleWith": "Line"})
    assert desc["TransformJobStatus"] == "Completed", desc.get("FailureReason")
    for name, lines in files.items():
        expected = b"".join(
            runtime.invoke_endpoint(EndpointName=wine, Body=line.encode(), ContentType="text/csv",
                                    Accept="text/csv")["Body"].read().rstrip(b"\n") + b"\n"
            for line in lines)
        assert (tmp_path / "out" / f"{name}.out").read_bytes() == expected, name
    assert not [p for p in (tmp_path / "out").rglob(".*")]

    logs = client(server, "logs")
    streams = _streams(logs, "wine-batch/")
    prefixes = sorted({s.rsplit("/", 1)[0] for s in streams})
    assert len(prefixes) == 2
    for prefix in prefixes:
        assert re.fullmatch(r"wine-batch/i-[0-9a-f]{17}-\d{10}", prefix)
        assert [s for s in streams if s.startswith(prefix + "/")] == [
            f"{prefix}/{c}" for c in ("data-log", "model", "postprocess", "preprocess")]
        assert re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}:\[sagemaker logs\]: "
            r"MaxConcurrentTransforms=2, MaxPayloadInMB=1, BatchStrategy=MULTI_RECORD",
            _messages(logs, f"{prefix}/data-log")[0])
    hosts = {p.split("/")[1].rsplit("-", 1)[0] for p in prefixes}
    cloudwatch = client(server, "cloudwatch")
    wanted = {("MemoryUtilization", f"wine-batch/{host}") for host in hosts}

    def listed() -> list[dict]:  # type: ignore[type-arg]
        metrics = cloudwatch.list_metrics(Namespace=GROUP)["Metrics"]
        seen = {(m["MetricName"], m["Dimensions"][0]["Value"]) for m in metrics}
        return metrics if wanted <= seen else []

    metrics = wait_until(listed, f"{sorted(wanted)} listed")
    assert all(m["Dimensions"][0]["Name"] == "Host" for m in metrics)
    assert "DiskUtilization" not in {m["MetricName"] for m in metrics}


def test_single_record_with_join_and_filters(server: ServerProcess, sagemaker, wine: str,  # type: ignore[no-untyped-def]
                                             tmp_path: Path) -> None:
    rows = (WINE / "requests" / "three-classes.csv").read_text().split()
    source = tmp_path / "in.csv"
    source.write_text("\n".join(f"id{i}," + row for i, row in enumerate(rows)) + "\n")
    desc = _job(sagemaker, "wine-join", wine, source, tmp_path / "out",
                BatchStrategy="SingleRecord",
                TransformInput={"ContentType": "text/csv", "SplitType": "Line"},
                TransformOutput={"Accept": "text/csv", "AssembleWith": "Line"},
                DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input",
                                "OutputFilter": "$[0,-2]"})
    assert desc["TransformJobStatus"] == "Completed", desc.get("FailureReason")
    assert (tmp_path / "out" / "in.csv.out").read_text() == \
        "id0,class_0\nid1,class_1\nid2,class_2\n"


def test_failing_record_fails_the_job_and_keeps_finished_files(
        server: ServerProcess, sagemaker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sagemaker.create_model(ModelName="stage-batch",
                           PrimaryContainer={"Image": str(STAGE),
                                             "Environment": {"STAGE_NAME": "stage"}})
    source = tmp_path / "in"
    source.mkdir()
    (source / "1-good.jsonl").write_text('{"instances": [[1, 2]]}\n{"instances": [[3]]}\n')
    (source / "2-bad.jsonl").write_text('{"instances": [[1]]}\n{"status": 500}\n')
    desc = _job(sagemaker, "stage-fail", "stage-batch", source, tmp_path / "out",
                BatchStrategy="SingleRecord",
                TransformInput={"ContentType": "application/json", "SplitType": "Line"},
                TransformOutput={"AssembleWith": "Line"})
    bad = str(source / "2-bad.jsonl")
    assert desc["TransformJobStatus"] == "Failed"
    assert desc["FailureReason"].startswith(
        f"AlgorithmError: {bad}: Bad HTTP status received from algorithm: 500.")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["1-good.jsonl.out"]
    assert (tmp_path / "out" / "1-good.jsonl.out").read_text() == \
        '{"instances": [[2, 3]], "seen": [["stage", "application/json", "*/*"]]}\n' \
        '{"instances": [[4]], "seen": [["stage", "application/json", "*/*"]]}\n'
    logs = client(server, "logs")
    streams = _streams(logs, "stage-fail/")
    assert len(streams) == 2 and streams[1] == streams[0] + "/data-log"
    assert re.fullmatch(r"stage-fail/i-[0-9a-f]{17}-\d{10}", streams[0])
    failed = re.compile(r"\S+:\[sagemaker logs\]: " + re.escape(
        f"{bad}: Bad HTTP status received from algorithm: 500"))
    lines = _messages(logs, streams[1], lambda ms: any(failed.fullmatch(m) for m in ms))
    assert any(failed.fullmatch(line) for line in lines)
    listed = sagemaker.list_transform_jobs(StatusEquals="Failed")["TransformJobSummaries"]
    assert "stage-fail" in [j["TransformJobName"] for j in listed]


def test_cli_transform_shows_progress(server: ServerProcess, wine: str, tmp_path: Path) -> None:
    rows = (WINE / "requests" / "three-classes.csv").read_text().split()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("\n".join(rows) + "\n")
    spec = tmp_path / "transform.yaml"
    spec.write_text(f"""
TransformJobName: wine-cli
ModelName: {wine}
BatchStrategy: MultiRecord
TransformInput:
  DataSource: {{S3DataSource: {{S3DataType: S3Prefix, S3Uri: ./data}}}}
  ContentType: text/csv
  SplitType: Line
TransformOutput: {{S3OutputPath: ./out, Accept: text/csv, AssembleWith: Line}}
TransformResources: {{InstanceType: ml.m5.large, InstanceCount: 1}}
""")
    result = subprocess.run([sys.executable, "-m", "tandem", "transform", str(spec), "--url",
                             server.url], capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr
    assert "wine-cli Completed" in result.stdout and "3/3" in result.stdout
    assert (tmp_path / "out" / "x.csv.out").read_text().count("\n") == 3
