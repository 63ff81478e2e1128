"""tandem as a system under test: ``tandem serve`` on a free port, a pipeline deployed with
boto3, and its own metrics read back through CloudWatch's API (or the store directly when
the CloudWatch API does not answer)."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from .systems import System, free_port

__all__ = ["tandem_system", "deploy", "read_statistics"]

_NS = "AWS/SageMaker"
# Flushes every second so the honesty check can read its requests back soon after.
_FLAGS = ("--metrics-flush-interval", "1", "--log-level", "WARNING")


def client(url: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="bench", aws_secret_access_key="bench",
                        config=Config(retries={"max_attempts": 2, "mode": "standard"}))


def deploy(url: str, name: str, containers: list[dict[str, object]],
           timeout: float = 120.0) -> None:
    sagemaker = client(url, "sagemaker")
    sagemaker.create_model(ModelName=name, Containers=containers,
                           InferenceExecutionConfig={"Mode": "Serial"})
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}])
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    deadline = time.monotonic() + timeout
    while True:
        desc = sagemaker.describe_endpoint(EndpointName=name)
        if desc["EndpointStatus"] == "InService":
            return
        if desc["EndpointStatus"] == "Failed":
            raise RuntimeError(f"{name} failed: {desc.get('FailureReason')}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} still {desc['EndpointStatus']} after {timeout} s")
        time.sleep(0.05)


def tandem_system(work: Path, label: str, containers: list[dict[str, object]],
                  tree: Path | None = None, flags: tuple[str, ...] = ()) -> System:
    """``tree``: run the server from another checkout's ``tandem`` package (PYTHONPATH), for
    before/after comparisons in one run; ``flags``: more ``tandem serve`` flags."""
    data_dir = work / re.sub(r"\W+", "-", label).strip("-")
    env = None
    if tree is not None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in (str(tree), os.environ.get("PYTHONPATH")) if p))

    def launch(system: System) -> str:
        log = data_dir.with_suffix(".log")
        log.unlink(missing_ok=True)
        tandem = Path(sys.executable).parent / "tandem"
        proc = system.spawn([str(tandem), "serve", "--port", str(free_port()), "--data-dir",
                             str(data_dir), *_FLAGS, *flags], env=env, log=log)
        url = _wait_listening(proc, log)
        deploy(url, "bench", containers)
        system.extra.update(url=url, data_dir=data_dir, server_pid=proc.pid)
        return f"{url}/endpoints/bench/invocations"

    return System(label, launch)


def _wait_listening(proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> str:
    pattern = re.compile(r"tandem serving on (http://\S+)")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = pattern.search(log.read_text(errors="replace")) if log.exists() else None
        if match:
            return match.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    raise RuntimeError(f"tandem serve did not start: {log.read_text(errors='replace')[-800:]}")


def read_statistics(url: str, data_dir: Path, endpoint: str, metric: str, start: float,
                    end: float, container: str | None = None) -> tuple[dict[str, float], str]:
    """p50, p99, SampleCount and Average of one metric over [start, end] as one period.

    Returns the figures and where they came from ("CloudWatch API" or "store")."""
    begin = int(start // 60 * 60)
    finish = int(-(-end // 60) * 60)
    period = max(finish - begin, 60)
    dims = [{"Name": "EndpointName", "Value": endpoint},
            {"Name": "VariantName", "Value": "AllTraffic"}]
    if container is not None:
        dims.append({"Name": "ContainerName", "Value": container})
    try:
        cloudwatch = client(url, "cloudwatch")
        ask = dict(Namespace=_NS, MetricName=metric, Dimensions=dims,
                   StartTime=dt.datetime.fromtimestamp(begin, dt.UTC),
                   EndTime=dt.datetime.fromtimestamp(begin + period, dt.UTC), Period=period)
        # Statistics and ExtendedStatistics are mutually exclusive in one call (as on AWS).
        basic = cloudwatch.get_metric_statistics(**ask, Statistics=["SampleCount", "Average"])
        ext = cloudwatch.get_metric_statistics(**ask, ExtendedStatistics=["p50", "p99"])
        points = [dict(b, ExtendedStatistics=e.get("ExtendedStatistics", {}))
                  for b, e in zip(basic["Datapoints"], ext["Datapoints"], strict=True)]
        source = "CloudWatch API"
    except Exception:  # noqa: BLE001 - the API may not answer yet; read the store instead
        points, source = _from_store(data_dir, metric, dims, begin, period), "store"
    if not points:
        raise RuntimeError(f"no {metric} datapoints for {endpoint} ({source})")
    point = points[0]
    ext = point.get("ExtendedStatistics", {})
    return ({"p50": ext["p50"], "p99": ext["p99"], "count": point["SampleCount"],
             "average": point["Average"]}, source)


def _from_store(data_dir: Path, metric: str, dims: list[dict[str, str]], begin: int,
                period: int) -> list[dict[str, Any]]:
    from tandem.store.sqlite import SQLiteStore
    from tandem.telemetry.metrics import MetricQueries

    store = SQLiteStore(data_dir)
    try:
        queries = MetricQueries(store.metrics)
        args = (_NS, metric, float(begin), float(begin + period), period)
        named = [(d["Name"], d["Value"]) for d in dims]
        basic = queries.get_statistics(*args, statistics=["SampleCount", "Average"],
                                       dimensions=named)
        ext = queries.get_statistics(*args, extended_statistics=["p50", "p99"],
                                     dimensions=named)
    finally:
        store.close()
    return [{"SampleCount": b.sample_count, "Average": b.average,
             "ExtendedStatistics": e.extended_statistics or {}}
            for b, e in zip(basic.datapoints, ext.datapoints, strict=True)]
