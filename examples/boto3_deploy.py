"""Deploy the wine pipeline to a running tandem with boto3 alone, as one would on SageMaker.

    python -m examples.wine_pipeline.train          # once: writes the model archives
    tandem serve --port 8080 &                      # a server
    python examples/boto3_deploy.py http://127.0.0.1:8080

CreateModel with a Containers list and InferenceExecutionConfig, CreateEndpointConfig,
CreateEndpoint, the ``endpoint_in_service`` waiter, InvokeEndpoint, then the endpoint's
CloudWatch metrics (GetMetricStatistics) and its container logs (FilterLogEvents). Only the
endpoint URL and local paths differ from the same script against AWS: tandem runs the
scikit-learn image's handlers itself and reads model archives from the local disk.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import boto3
from botocore.config import Config

EXAMPLE = Path(__file__).resolve().parent / "wine_pipeline"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def containers(artifacts: Path) -> list[dict]:  # type: ignore[type-arg]
    """The three containers of endpoint.yaml, with absolute local paths."""
    code = EXAMPLE / "containers"
    return [
        {
            "ContainerHostname": "preprocess",
            "Image": SKLEARN_IMAGE,
            "ModelDataUrl": str(artifacts / "preprocess" / "model.tar.gz"),
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": str(code / "preprocess"),
            },
        },
        {
            "ContainerHostname": "model",
            "Image": SKLEARN_IMAGE,
            "ModelDataUrl": str(artifacts / "model" / "model.tar.gz"),
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": str(code / "model"),
            },
        },
        {
            "ContainerHostname": "postprocess",
            "Image": str(code / "postprocess"),
            "ModelDataUrl": str(artifacts / "postprocess" / "model.tar.gz"),
        },
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the tandem server, e.g. http://127.0.0.1:8080")
    parser.add_argument("--name", default="wine-boto3", help="model, config and endpoint name")
    parser.add_argument(
        "--artifacts",
        type=Path,
        default=EXAMPLE / "artifacts",
        help="where `python -m examples.wine_pipeline.train` wrote the archives",
    )
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--delete", action="store_true", help="delete everything at the end")
    args = parser.parse_args(argv)
    missing = [
        c for c in containers(args.artifacts.resolve()) if not Path(c["ModelDataUrl"]).is_file()
    ]
    if missing:
        print(
            f"no model archives in {args.artifacts}: run "
            "`python -m examples.wine_pipeline.train` first",
            file=sys.stderr,
        )
        return 2

    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=args.region
    )
    config = Config(retries={"max_attempts": 2, "mode": "standard"})
    sagemaker = session.client("sagemaker", endpoint_url=args.url, config=config)
    runtime = session.client("sagemaker-runtime", endpoint_url=args.url, config=config)
    cloudwatch = session.client("cloudwatch", endpoint_url=args.url, config=config)
    logs = session.client("logs", endpoint_url=args.url, config=config)
    name = args.name

    model = sagemaker.create_model(
        ModelName=name,
        Containers=containers(args.artifacts.resolve()),
        InferenceExecutionConfig={"Mode": "Serial"},
    )
    print("model:", model["ModelArn"])
    endpoint_config = sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            }
        ],
    )
    print("endpoint config:", endpoint_config["EndpointConfigArn"])
    endpoint = sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    print("endpoint:", endpoint["EndpointArn"])
    # The waiter polls every 30 s by default; a local endpoint is up in seconds.
    sagemaker.get_waiter("endpoint_in_service").wait(
        EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    print("status:", sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"])

    body = (EXAMPLE / "requests" / "three-classes.csv").read_bytes()
    response = runtime.invoke_endpoint(
        EndpointName=name, Body=body, ContentType="text/csv", Accept="application/json"
    )
    predictions = json.loads(response["Body"].read())["predictions"]
    print("predictions:", [p["label"] for p in predictions])

    # Metrics reach the store within a few seconds (metrics_flush_interval).
    now = dt.datetime.now(dt.UTC)
    datapoints: list[dict] = []  # type: ignore[type-arg]
    for _ in range(30):
        datapoints = cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName="Invocations",
            Dimensions=[
                {"Name": "EndpointName", "Value": name},
                {"Name": "VariantName", "Value": "AllTraffic"},
            ],
            StartTime=now - dt.timedelta(minutes=5),
            EndTime=now + dt.timedelta(minutes=5),
            Period=60,
            Statistics=["Sum", "SampleCount"],
        )["Datapoints"]
        if datapoints:
            break
        time.sleep(0.5)
    print("Invocations:", sum(d["Sum"] for d in datapoints))

    events = logs.filter_log_events(logGroupName=f"/aws/sagemaker/Endpoints/{name}", limit=5)[
        "events"
    ]
    for event in events:
        print(f"log {event['logStreamName']}: {event['message']}")

    if args.delete:
        sagemaker.delete_endpoint(EndpointName=name)
        sagemaker.get_waiter("endpoint_deleted").wait(
            EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        sagemaker.delete_endpoint_config(EndpointConfigName=name)
        sagemaker.delete_model(ModelName=name)
        print("deleted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
