"""The SageMaker control plane through boto3 against a real server: CRUD, ARNs, exact error
texts, server-side validation, ListEndpoints filters and paging, the waiters."""

from __future__ import annotations

import botocore.exceptions
import pytest

from tests.e2e.support import stage_container, wait_status

from .conftest import ACCOUNT, REGION

pytestmark = pytest.mark.slow

ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"


def _error(info: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> tuple[str, str, int]:
    response = info.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def _variant(model: str, name: str = "AllTraffic", **extra: object) -> dict:  # type: ignore[type-arg]
    return {
        "VariantName": name,
        "ModelName": model,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
        **extra,
    }


@pytest.fixture(scope="module")
def endpoint(sagemaker) -> str:  # type: ignore[no-untyped-def]
    """One InService endpoint, made with a PrimaryContainer model, waited for by the waiter."""
    sagemaker.create_model(ModelName="Cp-Model", PrimaryContainer=stage_container("solo"))
    sagemaker.create_endpoint_config(
        EndpointConfigName="cp-config", ProductionVariants=[_variant("Cp-Model")]
    )
    arn = sagemaker.create_endpoint(EndpointName="Cp-Endpoint", EndpointConfigName="cp-config")[
        "EndpointArn"
    ]
    assert arn == f"{ARN}:endpoint/cp-endpoint"  # the name part is lowercased
    sagemaker.get_waiter("endpoint_in_service").wait(
        EndpointName="Cp-Endpoint", WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    return "Cp-Endpoint"


def test_create_describe_list_delete_model_with_containers(sagemaker) -> None:  # type: ignore[no-untyped-def]
    containers = [stage_container("one"), stage_container("two")]
    arn = sagemaker.create_model(
        ModelName="Two-Stage", Containers=containers, InferenceExecutionConfig={"Mode": "Direct"}
    )["ModelArn"]
    assert arn == f"{ARN}:model/two-stage"
    desc = sagemaker.describe_model(ModelName="Two-Stage")
    assert desc["ModelName"] == "Two-Stage"
    assert desc["ModelArn"] == arn
    assert desc["Containers"] == containers
    assert desc["InferenceExecutionConfig"] == {"Mode": "Direct"}
    assert desc["EnableNetworkIsolation"] is False
    assert "Two-Stage" in [m["ModelName"] for m in sagemaker.list_models()["Models"]]
    assert [m["ModelName"] for m in sagemaker.list_models(NameContains="two-stag")["Models"]] == [
        "Two-Stage"
    ]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sagemaker.create_model(ModelName="two-stage", Containers=containers)
    assert _error(info) == (
        "ValidationException",
        f'Cannot create already existing model "{ARN}:model/two-stage".',
        400,
    )
    sagemaker.delete_model(ModelName="Two-Stage")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sagemaker.describe_model(ModelName="Two-Stage")
    assert _error(info) == (
        "ValidationException",
        f'Could not find model "{ARN}:model/two-stage".',
        400,
    )


def test_endpoint_config_lifecycle_and_errors(sagemaker) -> None:  # type: ignore[no-untyped-def]
    sagemaker.create_model(ModelName="cfg-model", PrimaryContainer=stage_container("x"))
    arn = sagemaker.create_endpoint_config(
        EndpointConfigName="Cfg-A", ProductionVariants=[_variant("cfg-model")]
    )["EndpointConfigArn"]
    assert arn == f"{ARN}:endpoint-config/cfg-a"
    desc = sagemaker.describe_endpoint_config(EndpointConfigName="Cfg-A")
    assert desc["EndpointConfigArn"] == arn
    assert desc["ProductionVariants"] == [{**_variant("cfg-model"), "InitialVariantWeight": 1.0}]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sagemaker.create_endpoint_config(
            EndpointConfigName="cfg-a", ProductionVariants=[_variant("cfg-model")]
        )
    assert _error(info) == (
        "ValidationException",
        f'Cannot create already existing endpoint configuration "{ARN}:endpoint-config/cfg-a".',
        400,
    )
    listed = sagemaker.list_endpoint_configs(NameContains="Cfg-A")["EndpointConfigs"]
    assert [c["EndpointConfigArn"] for c in listed] == [arn]
    sagemaker.delete_endpoint_config(EndpointConfigName="Cfg-A")
    for call in (sagemaker.describe_endpoint_config, sagemaker.delete_endpoint_config):
        with pytest.raises(botocore.exceptions.ClientError) as info:
            call(EndpointConfigName="Cfg-A")
        assert _error(info) == (
            "ValidationException",
            f'Could not find endpoint configuration "{ARN}:endpoint-config/cfg-a".',
            400,
        )


def test_describe_endpoint_reports_variants_and_images(sagemaker, endpoint) -> None:  # type: ignore[no-untyped-def]
    desc = sagemaker.describe_endpoint(EndpointName=endpoint)
    assert desc["EndpointArn"] == f"{ARN}:endpoint/cp-endpoint"
    assert desc["EndpointStatus"] == "InService"
    assert desc["EndpointConfigName"] == "cp-config"
    (variant,) = desc["ProductionVariants"]
    image = stage_container("solo")["Image"]
    assert variant["DeployedImages"][0]["SpecifiedImage"] == image
    assert {k: v for k, v in variant.items() if k != "DeployedImages"} == {
        "VariantName": "AllTraffic",
        "CurrentWeight": 1.0,
        "DesiredWeight": 1.0,
        "CurrentInstanceCount": 1,
        "DesiredInstanceCount": 1,
    }
    assert desc["LastModifiedTime"] >= desc["CreationTime"]


def test_missing_and_duplicate_endpoint_texts(sagemaker, endpoint) -> None:  # type: ignore[no-untyped-def]
    for call in (sagemaker.describe_endpoint, sagemaker.delete_endpoint):
        with pytest.raises(botocore.exceptions.ClientError) as info:
            call(EndpointName="Nowhere")
        assert _error(info) == (
            "ValidationException",
            f'Could not find endpoint "{ARN}:endpoint/nowhere".',
            400,
        )
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sagemaker.create_endpoint(EndpointName="cp-endpoint", EndpointConfigName="cp-config")
    assert _error(info) == (
        "ValidationException",
        f'Cannot create already existing endpoint "{ARN}:endpoint/cp-endpoint".',
        400,
    )
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sagemaker.create_endpoint(EndpointName="other", EndpointConfigName="no-config")
    assert (
        _error(info)[1]
        == f'Could not find endpoint configuration "{ARN}:endpoint-config/no-config".'
    )


@pytest.mark.parametrize(
    ("call", "kwargs", "fragment"),
    [
        (
            "describe_endpoint",
            {"EndpointName": "x" * 64},
            "Value '"
            + "x" * 64
            + "' at 'endpointName' failed to satisfy constraint: Member must have "
            "length less than or equal to 63",
        ),
        (
            "describe_endpoint",
            {"EndpointName": "bad_name"},
            "at 'endpointName' failed to satisfy constraint: Member must satisfy regular "
            "expression pattern",
        ),
        (
            "list_endpoints",
            {"StatusEquals": "Sleeping"},
            "Value 'Sleeping' at 'statusEquals' failed to satisfy constraint: Member must "
            "satisfy enum value set: [OutOfService, Creating, Updating, SystemUpdating, "
            "RollingBack, InService, Deleting, Failed, UpdateRollbackFailed]",
        ),
        ("list_endpoints", {"SortBy": "Size"}, "at 'sortBy' failed to satisfy constraint"),
        (
            "list_models",
            {"MaxResults": 101},
            "Value '101' at 'maxResults' failed to satisfy constraint: Member must have value "
            "less than or equal to 100",
        ),
        ("list_endpoints", {"NextToken": "garbage!"}, "The NextToken is invalid."),
        (
            "create_model",
            {
                "ModelName": "m",
                "PrimaryContainer": stage_container("a"),
                "ExecutionRoleArn": "not-a-role-arn-at-all",
            },
            "at 'executionRoleArn' failed to satisfy constraint: Member must satisfy regular "
            "expression",
        ),
        (
            "create_model",
            {
                "ModelName": "m",
                "InferenceExecutionConfig": {"Mode": "Parallel"},
                "Containers": [stage_container("a")],
            },
            "Value 'Parallel' at 'inferenceExecutionConfig.mode' failed to satisfy constraint: "
            "Member must satisfy enum value set: [Serial, Direct]",
        ),
        (
            "create_endpoint_config",
            {
                "EndpointConfigName": "c",
                "ProductionVariants": [
                    _variant("m", RoutingConfig={"RoutingStrategy": "ROUND_ROBIN"})
                ],
            },
            "at 'productionVariants.1.member.routingConfig.routingStrategy' failed to satisfy "
            "constraint: Member must satisfy enum value set",
        ),
        (
            "update_endpoint_weights_and_capacities",
            {
                "EndpointName": "cp-endpoint",
                "DesiredWeightsAndCapacities": [{"VariantName": "v" * 64, "DesiredWeight": 1.0}],
            },
            "at 'desiredWeightsAndCapacities.1.member.variantName' failed to satisfy constraint: "
            "Member must have length less than or equal to 63",
        ),
    ],
)
def test_server_validates_what_botocore_does_not(
    sagemaker, endpoint, call, kwargs, fragment
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        getattr(sagemaker, call)(**kwargs)
    code, message, status = _error(info)
    assert (code, status) == ("ValidationException", 400)
    assert fragment in message


def test_list_endpoints_filters_sorts_and_pages(sagemaker, endpoint) -> None:  # type: ignore[no-untyped-def]
    sagemaker.create_model(ModelName="lst-model", PrimaryContainer=stage_container("l"))
    sagemaker.create_endpoint_config(
        EndpointConfigName="lst-config", ProductionVariants=[_variant("lst-model")]
    )
    names = [f"lst-{i}" for i in range(5)]
    stamps = []
    for name in names:
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName="lst-config")
        stamps.append(sagemaker.describe_endpoint(EndpointName=name)["CreationTime"])
    listed = sagemaker.list_endpoints(NameContains="lst-", SortBy="Name", SortOrder="Ascending")
    assert [e["EndpointName"] for e in listed["Endpoints"]] == names
    first = listed["Endpoints"][0]
    assert set(first) == {
        "EndpointName",
        "EndpointArn",
        "CreationTime",
        "LastModifiedTime",
        "EndpointStatus",
    }
    newest_first = sagemaker.list_endpoints(NameContains="lst-")["Endpoints"]
    assert [e["EndpointName"] for e in newest_first] == names[::-1]
    # botocore sends timestamps in whole seconds: compare a minute either side.
    for field, offset, expected in [
        ("CreationTimeAfter", -60, names),
        ("CreationTimeAfter", 60, []),
        ("CreationTimeBefore", 60, names),
        ("CreationTimeBefore", -60, []),
        ("LastModifiedTimeAfter", -60, names),
        ("LastModifiedTimeBefore", -60, []),
    ]:
        found = sagemaker.list_endpoints(
            NameContains="lst-", SortOrder="Ascending", **{field: stamps[0].timestamp() + offset}
        )["Endpoints"]
        assert [e["EndpointName"] for e in found] == expected, (field, offset)
    pages = list(
        sagemaker.get_paginator("list_endpoints").paginate(
            NameContains="lst-",
            SortBy="Name",
            SortOrder="Ascending",
            PaginationConfig={"PageSize": 2},
        )
    )
    assert [[e["EndpointName"] for e in p["Endpoints"]] for p in pages] == [
        names[:2],
        names[2:4],
        names[4:],
    ]
    assert "NextToken" not in pages[-1]
    for name in names:
        wait_status(sagemaker, name, "InService")
    in_service = sagemaker.list_endpoints(
        StatusEquals="InService", NameContains="lst-", MaxResults=100
    )["Endpoints"]
    assert sorted(e["EndpointName"] for e in in_service) == names
    by_status = sagemaker.list_endpoints(SortBy="Status", MaxResults=100)["Endpoints"]
    statuses = [e["EndpointStatus"] for e in by_status]
    assert statuses == sorted(statuses, reverse=True)
    for name in names:
        sagemaker.delete_endpoint(EndpointName=name)
    for name in names:
        sagemaker.get_waiter("endpoint_deleted").wait(
            EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
        )
    assert sagemaker.list_endpoints(NameContains="lst-")["Endpoints"] == []


def test_failed_endpoint_accepts_only_delete(sagemaker) -> None:  # type: ignore[no-untyped-def]
    sagemaker.create_model(
        ModelName="doomed", PrimaryContainer=stage_container("d", FAIL_AT_START="no weights")
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="doomed", ProductionVariants=[_variant("doomed")]
    )
    sagemaker.create_endpoint(EndpointName="doomed", EndpointConfigName="doomed")
    with pytest.raises(botocore.exceptions.WaiterError) as waited:
        sagemaker.get_waiter("endpoint_in_service").wait(
            EndpointName="doomed", WaiterConfig={"Delay": 1, "MaxAttempts": 30}
        )
    assert waited.value.last_response["EndpointStatus"] == "Failed"
    assert "no weights" in waited.value.last_response["FailureReason"]
    refused = (
        f'Cannot update failed endpoint "{ARN}:endpoint/doomed". DeleteEndpoint is the '
        "only operation that can be performed on a failed endpoint."
    )
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sagemaker.update_endpoint(EndpointName="doomed", EndpointConfigName="doomed")
    assert _error(info) == ("ValidationException", refused, 400)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sagemaker.update_endpoint_weights_and_capacities(
            EndpointName="doomed",
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredWeight": 2.0}],
        )
    assert _error(info) == ("ValidationException", refused, 400)
    sagemaker.delete_endpoint(EndpointName="doomed")
    sagemaker.get_waiter("endpoint_deleted").wait(
        EndpointName="doomed", WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
