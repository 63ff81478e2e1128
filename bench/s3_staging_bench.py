"""A training job's input download time: one channel of N objects (1 GB in 1,000 by default)
read from tandem's own S3 and from a second S3-compatible server (moto's server mode, through
``--s3-endpoint-url``), in one run. The figure is the job's own Downloading phase
(SecondaryStatusTransitions), as DescribeTrainingJob reports it.

    .venv/bin/python -m bench.s3_staging_bench                 # 1,000 objects of 1 MB
    .venv/bin/python -m bench.s3_staging_bench --objects 200   # 200 MB
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tests.api.differential.moto_server import MotoServer
from tests.server_process import FAST_FLAGS, ServerProcess

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
MB = 1_000_000


def _client(service: str, url: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="bench", aws_secret_access_key="bench",
                        config=Config(retries={"max_attempts": 1}, max_pool_connections=16))


def _fill(store: Any, count: int) -> None:
    store.create_bucket(Bucket="bench-input")
    body = os.urandom(MB)
    for i in range(count):
        store.put_object(Bucket="bench-input", Key=f"train/part-{i:05d}.bin", Body=body)


def _download_seconds(server: ServerProcess, code: Path, name: str) -> float:
    sagemaker = _client("sagemaker", server.url)
    sagemaker.create_training_job(
        TrainingJobName=name, RoleArn="arn:aws:iam::000000000000:role/bench",
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        HyperParameters={"sagemaker_program": '"train.py"',
                         "sagemaker_submit_directory": json.dumps(str(code))},
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://bench-input/train/"}}}],
        OutputDataConfig={"S3OutputPath": "s3://bench-input/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 3600})
    while True:
        desc = sagemaker.describe_training_job(TrainingJobName=name)
        if desc["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(0.5)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    phase = next(t for t in desc["SecondaryStatusTransitions"] if t["Status"] == "Downloading")
    return float((phase["EndTime"] - phase["StartTime"]).total_seconds())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=1000, help="objects of 1 MB")
    args = parser.parse_args()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "AWS_DEFAULT_REGION": "us-east-1"}
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "code"
        code.mkdir()
        (code / "train.py").write_text(
            "import os\nprint(len(os.listdir(os.environ['SM_CHANNEL_TRAIN'])))\n")
        moto = MotoServer().start()
        own = ServerProcess(Path(tmp) / "own", extra=FAST_FLAGS, env=env).start()
        remote = ServerProcess(Path(tmp) / "remote", extra=[*FAST_FLAGS, "--s3-endpoint-url",
                                                             moto.url], env=env).start()
        try:
            _fill(_client("s3", own.url), args.objects)
            _fill(_client("s3", moto.url), args.objects)
            figures = {
                "tandem's own S3 (files, read in place)": _download_seconds(own, code, "own"),
                "moto server (--s3-endpoint-url, 8 parallel downloads)":
                    _download_seconds(remote, code, "remote"),
            }
        finally:
            own.stop()
            remote.stop()
            moto.stop()
    print(f"load average at end: {os.getloadavg()}")
    print("| input store | objects | MB | Downloading phase (s) |")
    print("|---|---|---|---|")
    for where, seconds in figures.items():
        print(f"| {where} | {args.objects} | {args.objects} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
