"""Time from sustained overload to the first new instance InService (target tracking).

A real server (in this process, default settings) runs on ``OffsetClock``; a one-instance
endpoint of the stage test container gets a target-tracking policy on
InvocationsPerInstance (target 20/min, max 2 instances) and a load far above it. Each
busy minute is closed by skipping the clock once the minute holds enough requests, so the
three minutes CloudWatch needs (AlarmHigh: 3 of 3 one-minute datapoints) take seconds. The
figure measured, in real seconds, runs from the close of the third busy minute to the new
instance answering in DescribeEndpoint (CurrentInstanceCount 2): the evaluation delay
(``metrics_flush_interval`` + 1 s), the evaluation, the scaling action,
UpdateEndpointWeightsAndCapacities, the process start and /ping. On a real clock the whole
wait is three minutes of overload plus that figure.

    .venv/bin/python -m bench.autoscaling_bench [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from pathlib import Path

import boto3
from botocore.config import Config

from tandem.clock import OffsetClock
from tandem.config import Settings
from tandem.server import TandemServer

STAGE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "stage"
NS, DIM = "sagemaker", "sagemaker:variant:DesiredInstanceCount"
RID = "endpoint/busy/variant/AllTraffic"


def _client(url: str, service: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        service, endpoint_url=url, region_name="us-east-1",
        aws_access_key_id="bench", aws_secret_access_key="bench",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60),
    )  # fmt: skip


def _wait(predicate, timeout: float = 120.0, step: float = 0.02):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(step)
    return value


def one_run(data_dir: Path) -> float:
    clock = OffsetClock()
    server = TandemServer(Settings(port=0, data_dir=data_dir), clock=clock)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(60)
    stop = threading.Event()
    sent = [0]
    workers: list[threading.Thread] = []
    try:
        sm, aas = _client(server.url, "sagemaker"), _client(server.url, "application-autoscaling")
        sm.create_model(ModelName="busy", PrimaryContainer={"Image": str(STAGE)})
        sm.create_endpoint_config(EndpointConfigName="busy", ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": "busy", "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large"}])  # fmt: skip
        sm.create_endpoint(EndpointName="busy", EndpointConfigName="busy")
        _wait(lambda: sm.describe_endpoint(EndpointName="busy")["EndpointStatus"] == "InService")
        aas.register_scalable_target(ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM,
                                     MinCapacity=1, MaxCapacity=2)  # fmt: skip
        aas.put_scaling_policy(
            PolicyName="ipi", ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={"TargetValue": 20.0,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}},
        )  # fmt: skip

        def load() -> None:
            runtime = _client(server.url, "sagemaker-runtime")
            while not stop.is_set():
                runtime.invoke_endpoint(EndpointName="busy", ContentType="application/json",
                                        Body=b'{"instances": [[1]]}')["Body"].read()  # fmt: skip
                sent[0] += 1

        workers += [threading.Thread(target=load, daemon=True) for _ in range(2)]
        clock.skip_minute(into=0.0)
        for w in workers:
            w.start()
        alarms = server.alarms
        for minute in range(3):
            start = sent[0]
            _wait(lambda: sent[0] - start >= 60)  # noqa: B023
            passes = alarms.passes
            clock.skip_minute(into=0.0)  # the minute closes now
            closed = time.monotonic()
            if minute < 2:
                _wait(lambda: alarms.passes > passes)  # noqa: B023

        def current() -> int:
            (v,) = sm.describe_endpoint(EndpointName="busy")["ProductionVariants"]
            return v.get("CurrentInstanceCount", 0)

        _wait(lambda: current() >= 2)
        return time.monotonic() - closed
    finally:
        stop.set()
        for w in workers:
            w.join(30)
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(120)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    figures = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="tandem-bench-") as tmp:
            seconds = one_run(Path(tmp))
        figures.append(seconds)
        print(f"run {i + 1}: {seconds:.2f} s from the third busy minute's close to InService")
    flush = Settings().metrics_flush_interval
    median = statistics.median(figures)
    print(f"median {median:.2f} s (min {min(figures):.2f}, max {max(figures):.2f}); "
          f"evaluation delay {flush + 1:.1f} s of it")  # fmt: skip
    print(f"on a real clock: 180 s of overload (3 one-minute datapoints) + {median:.1f} s "
          f"= {180 + median:.1f} s to the first new instance InService")  # fmt: skip


if __name__ == "__main__":
    main()
