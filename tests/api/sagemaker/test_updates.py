"""UpdateEndpoint rolls to a new fleet without dropping a request;
UpdateEndpointWeightsAndCapacities shifts traffic and changes instance counts, visible in
DescribeEndpoint and the log streams."""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest

from tests.e2e.support import stage_container, wait_status
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def _variant(model: str, name: str = "AllTraffic", count: int = 1, weight: float = 1.0) -> dict:  # type: ignore[type-arg]
    return {
        "VariantName": name,
        "ModelName": model,
        "InitialInstanceCount": count,
        "InstanceType": "ml.m5.large",
        "InitialVariantWeight": weight,
    }


def _stage_of(response: dict) -> str:  # type: ignore[type-arg]
    return json.loads(response["Body"].read())["seen"][-1][0]


def test_update_endpoint_rolls_without_dropping_a_request(sagemaker, runtime) -> None:  # type: ignore[no-untyped-def]
    sagemaker.create_model(ModelName="roll-old", PrimaryContainer=stage_container("old"))
    sagemaker.create_model(ModelName="roll-new", PrimaryContainer=stage_container("new"))
    sagemaker.create_endpoint_config(
        EndpointConfigName="roll-old", ProductionVariants=[_variant("roll-old", count=2)]
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="roll-new", ProductionVariants=[_variant("roll-new", count=2)]
    )
    sagemaker.create_endpoint(EndpointName="rolling", EndpointConfigName="roll-old")
    wait_status(sagemaker, "rolling", "InService")

    answers: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def send() -> None:
        # Slow requests (50 ms in the container) so some are in flight at the cut-over.
        body = json.dumps({"instances": [1], "sleep": 0.05})
        while not stop.is_set():
            try:
                answers.append(
                    _stage_of(
                        runtime.invoke_endpoint(
                            EndpointName="rolling", Body=body, ContentType="application/json"
                        )
                    )
                )
            except BaseException as exc:  # noqa: BLE001 - every failure is the test's finding
                errors.append(exc)

    senders = [threading.Thread(target=send) for _ in range(3)]
    for thread in senders:
        thread.start()
    try:
        wait_until(lambda: errors or answers.count("old") >= 3, "answers from the old fleet")
        sagemaker.update_endpoint(EndpointName="rolling", EndpointConfigName="roll-new")
        desc = sagemaker.describe_endpoint(EndpointName="rolling")
        assert desc["EndpointStatus"] == "Updating"
        assert desc["EndpointConfigName"] == "roll-old"
        assert desc["PendingDeploymentSummary"]["EndpointConfigName"] == "roll-new"
        sagemaker.get_waiter("endpoint_in_service").wait(
            EndpointName="rolling", WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        wait_until(lambda: errors or answers.count("new") >= 10, "answers from the new fleet")
    finally:
        stop.set()
        for thread in senders:
            thread.join(30)
    assert errors == []
    assert answers[0] == "old" and answers[-1] == "new"
    switch = answers.index("new")
    # Once the new fleet takes traffic, the old one gets nothing more.
    assert set(answers[switch + 3 :]) == {"new"}
    desc = sagemaker.describe_endpoint(EndpointName="rolling")
    assert desc["EndpointConfigName"] == "roll-new"
    assert "PendingDeploymentSummary" not in desc
    assert desc["ProductionVariants"][0]["CurrentInstanceCount"] == 2


def _instances(logs, group: str) -> set[str]:  # type: ignore[no-untyped-def]
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    return {s["logStreamName"].split("/")[1] for s in streams}


def test_weights_shift_traffic_and_capacity_changes_instance_counts(
    sagemaker, runtime, logs
) -> None:  # type: ignore[no-untyped-def]
    sagemaker.create_model(ModelName="wc-a", PrimaryContainer=stage_container("a"))
    sagemaker.create_model(ModelName="wc-b", PrimaryContainer=stage_container("b"))
    sagemaker.create_endpoint_config(
        EndpointConfigName="wc",
        ProductionVariants=[_variant("wc-a", "A", weight=1.0), _variant("wc-b", "B", weight=0.0)],
    )
    sagemaker.create_endpoint(EndpointName="weighted", EndpointConfigName="wc")
    wait_status(sagemaker, "weighted", "InService")

    def variant() -> str:
        response = runtime.invoke_endpoint(
            EndpointName="weighted", Body=b"{}", ContentType="application/json"
        )
        response["Body"].read()
        return response["InvokedProductionVariant"]

    def spread(n: int = 40) -> Counter[str]:
        return Counter(variant() for _ in range(n))

    assert spread() == Counter({"A": 40})
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName="weighted",
        DesiredWeightsAndCapacities=[
            {"VariantName": "A", "DesiredWeight": 0.0},
            {"VariantName": "B", "DesiredWeight": 1.0},
        ],
    )
    sagemaker.get_waiter("endpoint_in_service").wait(
        EndpointName="weighted", WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    assert spread() == Counter({"B": 40})
    variants = {
        v["VariantName"]: v
        for v in sagemaker.describe_endpoint(EndpointName="weighted")["ProductionVariants"]
    }
    assert (variants["A"]["CurrentWeight"], variants["B"]["CurrentWeight"]) == (0.0, 1.0)

    group = "/aws/sagemaker/Endpoints/weighted"
    assert len(_instances(logs, group)) == 2
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName="weighted",
        DesiredWeightsAndCapacities=[{"VariantName": "B", "DesiredInstanceCount": 3}],
    )
    assert sagemaker.describe_endpoint(EndpointName="weighted")["EndpointStatus"] == "Updating"
    sagemaker.get_waiter("endpoint_in_service").wait(
        EndpointName="weighted", WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    variants = {
        v["VariantName"]: v
        for v in sagemaker.describe_endpoint(EndpointName="weighted")["ProductionVariants"]
    }
    assert (variants["B"]["CurrentInstanceCount"], variants["B"]["DesiredInstanceCount"]) == (3, 3)
    wait_until(lambda: len(_instances(logs, group)) >= 4, "streams of four instances")
    assert len(_instances(logs, group)) == 4  # one stream prefix per instance ever started
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName="weighted",
        DesiredWeightsAndCapacities=[{"VariantName": "B", "DesiredInstanceCount": 1}],
    )
    sagemaker.get_waiter("endpoint_in_service").wait(
        EndpointName="weighted", WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    variants = {
        v["VariantName"]: v
        for v in sagemaker.describe_endpoint(EndpointName="weighted")["ProductionVariants"]
    }
    assert (variants["B"]["CurrentInstanceCount"], variants["B"]["DesiredInstanceCount"]) == (1, 1)
    assert spread(10) == Counter({"B": 10})
