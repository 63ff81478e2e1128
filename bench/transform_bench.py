"""Batch transform throughput vs invoking the endpoint in a loop, on the wine pipeline.

    .venv/bin/python -m bench.transform_bench [--lines 100000] [--invocations 2000]

Starts a real ``tandem serve`` on 127.0.0.1:0, creates the wine pipeline Model (run
``python -m examples.wine_pipeline.train`` first) and an endpoint on it, then measures
(a) records/s of a transform job over one CSV of --lines lines (SplitType Line, MultiRecord,
MaxPayloadInMB 1 (preprocess turns CSV into ~4x larger JSON; each container
takes at most 6 MiB), one instance) from CreateTransformJob to Completed, instance start included,
and (b) records/s of InvokeEndpoint called one record at a time in a loop. Both in the same run,
so the ratio is meaningful on a noisy machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tests.e2e.support import client, deploy
from tests.e2e.test_jobs_transform import WINE, _wine_containers
from tests.server_process import ServerProcess


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--invocations", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    rows = (WINE / "requests" / "three-classes.csv").read_text().split()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "in"
        source.mkdir()
        (source / "wine.csv").write_text("\n".join(rows[i % 3] for i in range(args.lines)) + "\n")
        server = ServerProcess(work / "data", extra=("--usage-interval", "5")).start()
        try:
            sagemaker, runtime = client(server, "sagemaker"), client(server, "sagemaker-runtime")
            deploy(sagemaker, "wine", _wine_containers())
            started = time.perf_counter()
            sagemaker.create_transform_job(
                TransformJobName="bench", ModelName="wine", BatchStrategy="MultiRecord",
                MaxPayloadInMB=1, MaxConcurrentTransforms=args.concurrency,
                # 1 MB of CSV becomes ~4 MB of JSON between the containers: let them take it.
                Environment={"SAGEMAKER_MAX_PAYLOAD_IN_MB": "6"},
                TransformInput={"DataSource": {"S3DataSource": {
                    "S3DataType": "S3Prefix", "S3Uri": str(source)}},
                    "ContentType": "text/csv", "SplitType": "Line"},
                TransformOutput={"S3OutputPath": str(work / "out"), "Accept": "text/csv",
                                 "AssembleWith": "Line"},
                TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
            while True:
                desc = sagemaker.describe_transform_job(TransformJobName="bench")
                if desc["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
                    break
                time.sleep(0.2)
            transform_s = time.perf_counter() - started
            assert desc["TransformJobStatus"] == "Completed", desc.get("FailureReason")
            lines = (work / "out" / "wine.csv.out").read_text().count("\n")
            assert lines == args.lines, lines
            started = time.perf_counter()
            for i in range(args.invocations):
                runtime.invoke_endpoint(EndpointName="wine", Body=rows[i % 3].encode(),
                                        ContentType="text/csv", Accept="text/csv")["Body"].read()
            invoke_s = time.perf_counter() - started
        finally:
            server.stop()
    transform_rate = args.lines / transform_s
    invoke_rate = args.invocations / invoke_s
    print(f"transform: {args.lines} records in {transform_s:.2f} s = {transform_rate:,.0f} "
          "records/s (instance start included)")
    print(f"invoke loop: {args.invocations} records in {invoke_s:.2f} s = {invoke_rate:,.0f} "
          "records/s")
    print(f"ratio: transform is {transform_rate / invoke_rate:.1f}x the invoke loop")


if __name__ == "__main__":
    main()
