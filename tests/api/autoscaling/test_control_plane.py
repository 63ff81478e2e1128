"""Application Auto Scaling's control plane through boto3 and the AWS CLI against a real
server: targets, policies, the alarms target tracking owns, AWS's error codes, paging and
persistence across a restart."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import botocore.session
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.sagemaker.conftest import ACCOUNT, REGION, make_client
from tests.e2e.support import deploy, stage_container, wait_status
from tests.server_process import FAST_FLAGS, ServerProcess

pytestmark = pytest.mark.slow

NS, DIM = "sagemaker", "sagemaker:variant:DesiredInstanceCount"
RID = "endpoint/scaled/variant/AllTraffic"
TT = {
    "TargetValue": 70.0,
    "PredefinedMetricSpecification": {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    },
    "ScaleInCooldown": 120,
    "ScaleOutCooldown": 60,
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tandem-aas")


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        data_dir, extra=(*FAST_FLAGS, "--account-id", ACCOUNT, "--region", REGION)
    ).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def aas(server: ServerProcess):  # type: ignore[no-untyped-def]
    sagemaker = make_client(server, "sagemaker")
    deploy(sagemaker, "scaled", [stage_container("one")])
    return make_client(server, "application-autoscaling")


def _code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return excinfo.value.response["Error"]["Code"]


def _register(aas, **kw: object) -> dict:  # type: ignore[no-untyped-def,type-arg]
    args = dict(ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM)
    args.update(kw)  # type: ignore[arg-type]
    return aas.register_scalable_target(**args)


@pytest.mark.parametrize(
    ("kw", "code", "text"),
    [
        ({"ServiceNamespace": "ecs"}, "ValidationException", "Unsupported service namespace"),
        ({"ServiceNamespace": "nosuch"}, "ValidationException", "enum value set"),
        ({"MinCapacity": 3, "MaxCapacity": 2}, "ValidationException", "cannot be greater"),
        (
            {"ResourceId": "endpoint/scaled/variant/Missing"},
            "ValidationException",
            "has no variant Missing",
        ),
        ({"ResourceId": "endpoint/nosuch/variant/AllTraffic"}, "ValidationException", "nosuch"),
        ({"ResourceId": "scaled"}, "ValidationException", "Unsupported resource ID"),
        ({"ScalableDimension": "ecs:service:DesiredCount"}, "ValidationException", "dimension"),
        ({"MinCapacity": 1}, "ValidationException", "MaxCapacity are required"),
    ],
)
def test_register_refuses_bad_input_with_aws_codes(aas, kw, code, text) -> None:  # type: ignore[no-untyped-def]
    args = {"MinCapacity": 1, "MaxCapacity": 3, **kw}
    if kw == {"MinCapacity": 1}:
        args = dict(kw)
    with pytest.raises(ClientError) as excinfo:
        _register(aas, **args)
    assert _code(excinfo) == code
    assert text in excinfo.value.response["Error"]["Message"]
    assert aas.describe_scalable_targets(ServiceNamespace=NS)["ScalableTargets"] == []


def test_policy_on_an_unregistered_target_is_object_not_found(aas) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as excinfo:
        aas.put_scaling_policy(
            PolicyName="p", ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM,
            PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration=TT,
        )  # fmt: skip
    assert _code(excinfo) == "ObjectNotFoundException"
    assert excinfo.value.response["Error"]["Message"] == (
        f"No scalable target registered for service namespace: sagemaker, resource ID: {RID}, "
        f"scalable dimension: {DIM}"
    )
    for call in (aas.deregister_scalable_target,):
        with pytest.raises(ClientError) as excinfo:
            call(ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM)
        assert _code(excinfo) == "ObjectNotFoundException"


def test_target_tracking_lifecycle_with_owned_alarms(aas, server) -> None:  # type: ignore[no-untyped-def]
    arn = _register(aas, MinCapacity=1, MaxCapacity=3)["ScalableTargetARN"]
    assert re.fullmatch(
        rf"arn:aws:application-autoscaling:{REGION}:{ACCOUNT}:scalable-target/[0-9a-f]{{36}}", arn
    )
    (target,) = aas.describe_scalable_targets(ServiceNamespace=NS)["ScalableTargets"]
    assert (target["ResourceId"], target["MinCapacity"], target["MaxCapacity"]) == (RID, 1, 3)
    assert target["SuspendedState"] == {
        "DynamicScalingInSuspended": False,
        "DynamicScalingOutSuspended": False,
        "ScheduledScalingSuspended": False,
    }
    assert target["RoleARN"].endswith(
        "role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
    )

    put = aas.put_scaling_policy(
        PolicyName="ipi", ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM,
        PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration=TT,
    )  # fmt: skip
    assert re.fullmatch(
        rf"arn:aws:autoscaling:{REGION}:{ACCOUNT}:scalingPolicy:[0-9a-f-]{{36}}:resource/"
        rf"sagemaker/{RID}:policyName/ipi",
        put["PolicyARN"],
    )
    names = sorted(a["AlarmName"] for a in put["Alarms"])
    uuid = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    assert re.fullmatch(rf"TargetTracking-{RID}-AlarmHigh-{uuid}", names[0])
    assert re.fullmatch(rf"TargetTracking-{RID}-AlarmLow-{uuid}", names[1])
    for alarm in put["Alarms"]:
        assert (
            alarm["AlarmARN"] == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm['AlarmName']}"
        )

    (policy,) = aas.describe_scaling_policies(ServiceNamespace=NS)["ScalingPolicies"]
    assert policy["PolicyName"] == "ipi"
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["TargetTrackingScalingPolicyConfiguration"] == TT
    assert sorted(a["AlarmName"] for a in policy["Alarms"]) == names

    # The alarms are CloudWatch's, owned: DescribeAlarms shows them, PutMetricAlarm and
    # DeleteAlarms cannot touch them.
    cloudwatch = make_client(server, "cloudwatch")
    described = cloudwatch.describe_alarms(AlarmNamePrefix=f"TargetTracking-{RID}-")
    alarms = {a["AlarmName"]: a for a in described["MetricAlarms"]}
    assert sorted(alarms) == names
    high, low = alarms[names[0]], alarms[names[1]]
    fields = ("Period", "EvaluationPeriods", "DatapointsToAlarm", "ComparisonOperator", "Threshold")
    assert tuple(high[f] for f in fields) == (60, 3, 3, "GreaterThanThreshold", 70.0)
    assert tuple(low[f] for f in fields) == (60, 15, 15, "LessThanThreshold", 63.0)
    for alarm in (high, low):
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
            "AWS/SageMaker", "InvocationsPerInstance", "Sum")  # fmt: skip
        assert alarm["Dimensions"] == [
            {"Name": "EndpointName", "Value": "scaled"},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ]
        assert alarm["AlarmDescription"] == (
            f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {put['PolicyARN']}."
        )
        (action,) = alarm["AlarmActions"]
        assert action.startswith(put["PolicyARN"] + ":createdBy/")
        assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    with pytest.raises(ClientError) as excinfo:
        cloudwatch.put_metric_alarm(
            AlarmName=names[0], MetricName="InvocationsPerInstance", Namespace="AWS/SageMaker",
            Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
        )  # fmt: skip
    assert _code(excinfo) == "ValidationError"
    with pytest.raises(ClientError) as excinfo:
        cloudwatch.delete_alarms(AlarmNames=[names[1]])
    assert _code(excinfo) == "ValidationError"
    assert len(cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]) == 2

    # Re-putting the policy replaces its alarms; deleting it deletes them.
    again = aas.put_scaling_policy(
        PolicyName="ipi", ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={**TT, "DisableScaleIn": True},
    )  # fmt: skip
    assert again["PolicyARN"] == put["PolicyARN"]
    assert [a["AlarmName"].split("-Alarm")[1][:4] for a in again["Alarms"]] == ["High"]
    assert _alarm_names(cloudwatch) == {again["Alarms"][0]["AlarmName"]}
    aas.delete_scaling_policy(
        PolicyName="ipi", ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM
    )
    assert _alarm_names(cloudwatch) == set()
    with pytest.raises(ClientError) as excinfo:
        aas.delete_scaling_policy(
            PolicyName="ipi", ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM
        )
    assert _code(excinfo) == "ObjectNotFoundException"


def _alarm_names(cloudwatch) -> set[str]:  # type: ignore[no-untyped-def]
    return {a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]}


def test_a_customized_metric_gets_alarms_on_that_metric(aas, server) -> None:  # type: ignore[no-untyped-def]
    _register(aas, MinCapacity=1, MaxCapacity=3)
    custom = {
        "MetricName": "CPUUtilization", "Namespace": "/aws/sagemaker/Endpoints",
        "Dimensions": [{"Name": "EndpointName", "Value": "scaled"},
                       {"Name": "VariantName", "Value": "AllTraffic"}],
        "Statistic": "Average", "Unit": "Percent",
    }  # fmt: skip
    put = aas.put_scaling_policy(
        PolicyName="cpu", ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 50.0, "CustomizedMetricSpecification": custom},
    )  # fmt: skip
    cloudwatch = make_client(server, "cloudwatch")
    names = [a["AlarmName"] for a in put["Alarms"]]
    alarms = cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
    assert len(alarms) == 2
    for alarm in alarms:
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"], alarm["Unit"]) == (
            "/aws/sagemaker/Endpoints", "CPUUtilization", "Average", "Percent")  # fmt: skip
        assert alarm["Dimensions"] == custom["Dimensions"]
        assert alarm["Period"] == 60
    assert sorted(a["Threshold"] for a in alarms) == [45.0, 50.0]
    aas.delete_scaling_policy(
        PolicyName="cpu", ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM
    )
    assert cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"] == []


POLICY_ERRORS = [
    (
        {
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
            }
        },
        "Unsupported predefined metric type: ECSServiceAverageCPUUtilization",
    ),
    (
        {
            "CustomizedMetricSpecification": {
                "MetricName": "CPUUtilization",
                "Namespace": "/aws/sagemaker/Endpoints",
                "Statistic": "Median",
            }
        },  # fmt: skip
        "enum value set",
    ),
    (
        {
            "CustomizedMetricSpecification": {
                "MetricName": "CPUUtilization",
                "Statistic": "Average",
            }
        },  # fmt: skip
        "Namespace is required",
    ),
    ({}, "Exactly one of PredefinedMetricSpecification and CustomizedMetricSpecification"),
    (
        {
            "CustomizedMetricSpecification": {
                "MetricName": "CPUUtilization",
                "Unit": "Parsecs",
                "Namespace": "/aws/sagemaker/Endpoints",
                "Statistic": "Average",
            }
        },  # fmt: skip
        "Invalid unit Parsecs",
    ),
]


@pytest.mark.parametrize(("metric", "text"), POLICY_ERRORS)
def test_put_policy_refuses_unknown_metrics(aas, metric, text) -> None:  # type: ignore[no-untyped-def]
    _register(aas, MinCapacity=1, MaxCapacity=3)
    with pytest.raises(ClientError) as excinfo:
        aas.put_scaling_policy(
            PolicyName="bad", ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={"TargetValue": 5.0, **metric},
        )  # fmt: skip
    assert _code(excinfo) == "ValidationException"
    assert text in excinfo.value.response["Error"]["Message"]
    assert aas.describe_scaling_policies(ServiceNamespace=NS)["ScalingPolicies"] == []


def test_a_metric_period_not_a_multiple_of_60_is_refused(aas, server) -> None:  # type: ignore[no-untyped-def]
    _register(aas, MinCapacity=1, MaxCapacity=3)
    # Newer clients send MetricStat.Period (this botocore does not know it): raw awsJson.
    body = {
        "PolicyName": "period", "ServiceNamespace": NS, "ResourceId": RID,
        "ScalableDimension": DIM, "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": 5.0,
            "CustomizedMetricSpecification": {"Metrics": [{
                "Id": "m1", "ReturnData": True,
                "MetricStat": {"Stat": "Sum", "Period": 90, "Metric": {
                    "Namespace": "AWS/SageMaker", "MetricName": "InvocationsPerInstance"}},
            }]},
        },
    }  # fmt: skip
    request = urllib.request.Request(
        server.url + "/", data=json.dumps(body).encode(), method="POST",
        headers={"X-Amz-Target": "AnyScaleFrontendService.PutScalingPolicy",
                 "Content-Type": "application/x-amz-json-1.1"},
    )  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=30)
    assert excinfo.value.code == 400
    error = json.loads(excinfo.value.read())
    assert error["__type"] == "ValidationException"
    assert "multiple of 60" in error["message"]


@pytest.mark.parametrize(
    ("config", "text"),
    [
        ({"AdjustmentType": "ChangeInCapacity", "StepAdjustments": [
            {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 10, "ScalingAdjustment": 1},
            {"MetricIntervalLowerBound": 20, "ScalingAdjustment": 2}]}, "gaps"),
        ({"AdjustmentType": "ChangeInCapacity", "StepAdjustments": []}, "at least one"),
        ({"AdjustmentType": "Doubling", "StepAdjustments": [
            {"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]}, "enum value set"),
        ({"AdjustmentType": "ChangeInCapacity", "MinAdjustmentMagnitude": 2, "StepAdjustments": [
            {"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]}, "PercentChangeInCapacity"),
    ],
)  # fmt: skip
def test_step_policies_are_validated(aas, config, text) -> None:  # type: ignore[no-untyped-def]
    _register(aas, MinCapacity=1, MaxCapacity=3)
    with pytest.raises(ClientError) as excinfo:
        aas.put_scaling_policy(
            PolicyName="steps", ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM,
            PolicyType="StepScaling", StepScalingPolicyConfiguration=config,
        )  # fmt: skip
    assert _code(excinfo) == "ValidationException"
    assert text in excinfo.value.response["Error"]["Message"]


def test_step_policy_and_paging(aas) -> None:  # type: ignore[no-untyped-def]
    _register(aas, MinCapacity=1, MaxCapacity=3)
    arns = []
    for i in range(12):
        arns.append(aas.put_scaling_policy(
            PolicyName=f"steps-{i:02d}", ServiceNamespace=NS, ResourceId=RID,
            ScalableDimension=DIM, PolicyType="StepScaling",
            StepScalingPolicyConfiguration={"AdjustmentType": "ChangeInCapacity",
                "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]},
        )["PolicyARN"])  # fmt: skip
    first = aas.describe_scaling_policies(ServiceNamespace=NS)
    assert len(first["ScalingPolicies"]) == 10 and "NextToken" in first
    pages = aas.get_paginator("describe_scaling_policies").paginate(ServiceNamespace=NS)
    listed = [p["PolicyARN"] for page in pages for p in page["ScalingPolicies"]]
    assert listed == arns
    assert all(p["Alarms"] == [] for p in first["ScalingPolicies"])
    with pytest.raises(ClientError) as excinfo:
        aas.describe_scaling_policies(ServiceNamespace=NS, NextToken="garbage")
    assert _code(excinfo) == "InvalidNextTokenException"
    # Deregistering the target deletes its policies.
    aas.deregister_scalable_target(ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM)
    assert aas.describe_scaling_policies(ServiceNamespace=NS)["ScalingPolicies"] == []
    assert aas.describe_scalable_targets(ServiceNamespace=NS)["ScalableTargets"] == []


def test_registration_moves_capacity_inside_new_bounds(aas) -> None:  # type: ignore[no-untyped-def]
    sagemaker = make_client_like(aas, "sagemaker")
    _register(aas, MinCapacity=2, MaxCapacity=3)
    activity = _wait_activity(aas, "Successful")
    assert activity["Description"] == "Setting desired instance count to 2."
    assert activity["Cause"] == "minimum capacity was set to 2"
    assert activity["StatusMessage"] == (
        "Successfully set desired instance count to 2. Change successfully fulfilled by sagemaker."
    )
    (variant,) = sagemaker.describe_endpoint(EndpointName="scaled")["ProductionVariants"]
    assert (variant["DesiredInstanceCount"], variant["CurrentInstanceCount"]) == (2, 2)


def test_aws_cli_lists_targets_and_activities(aas, server) -> None:  # type: ignore[no-untyped-def]
    _register(aas, MinCapacity=2, MaxCapacity=3)
    env = {
        "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": server.url,
    }  # fmt: skip
    aws = [sys.executable, "-m", "awscli"]
    out = subprocess.run(
        [*aws, "application-autoscaling", "describe-scalable-targets",
         "--service-namespace", "sagemaker", "--output", "json"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    (target,) = json.loads(out.stdout)["ScalableTargets"]
    assert target["ResourceId"] == RID and target["MinCapacity"] == 2
    out = subprocess.run(
        [*aws, "application-autoscaling", "describe-scaling-activities",
         "--service-namespace", "sagemaker", "--resource-id", RID, "--output", "json"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    causes = [a["Cause"] for a in json.loads(out.stdout)["ScalingActivities"]]
    assert causes[-1] == "minimum capacity was set to 2"


def test_tandem_scaling_shows_targets_policies_and_activities(aas, server) -> None:  # type: ignore[no-untyped-def]
    _register(aas, MinCapacity=2, MaxCapacity=3)
    # A policy name rich would read as markup is shown as typed.
    aas.put_scaling_policy(
        PolicyName="[bold]ipi", ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM,
        PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration=TT,
    )  # fmt: skip

    def tandem(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tandem", "scaling", *args, "--url", server.url],
            capture_output=True, text=True, timeout=120, env=dict(os.environ, COLUMNS="250"),
        )  # fmt: skip

    out = tandem("scaled")
    assert out.returncode == 0, out.stderr
    assert RID in out.stdout
    assert "[bold]ipi (TargetTrackingScaling)" in out.stdout
    assert "Setting desired instance count to 2." in out.stdout
    assert "minimum capacity was set to 2" in out.stdout
    assert "Successful" in out.stdout
    other = tandem("nosuch")
    assert other.returncode == 0 and "no scalable targets for endpoint nosuch" in other.stdout
    aas.delete_scaling_policy(
        PolicyName="[bold]ipi", ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM
    )


def test_scaling_state_survives_a_restart(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path, extra=FAST_FLAGS).start()
    try:
        sagemaker = make_client(proc, "sagemaker")
        deploy(sagemaker, "scaled", [stage_container("one")])
        aas = make_client(proc, "application-autoscaling")
        arn = _register(aas, MinCapacity=2, MaxCapacity=2)["ScalableTargetARN"]
        put = aas.put_scaling_policy(
            PolicyName="ipi", ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM,
            PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration=TT,
        )  # fmt: skip
        activity = _wait_activity(aas, "Successful")
    finally:
        proc.stop()
    proc = ServerProcess(tmp_path, extra=FAST_FLAGS).start()
    try:
        aas = make_client(proc, "application-autoscaling")
        (target,) = aas.describe_scalable_targets(ServiceNamespace=NS)["ScalableTargets"]
        assert (target["ScalableTargetARN"], target["MaxCapacity"]) == (arn, 2)
        (policy,) = aas.describe_scaling_policies(ServiceNamespace=NS)["ScalingPolicies"]
        assert policy["PolicyARN"] == put["PolicyARN"]
        assert policy["Alarms"] == put["Alarms"]
        cloudwatch = make_client(proc, "cloudwatch")
        assert _alarm_names(cloudwatch) == {a["AlarmName"] for a in put["Alarms"]}
        (again,) = aas.describe_scaling_activities(ServiceNamespace=NS)["ScalingActivities"]
        assert again == activity
        # The restored endpoint runs the scaled count.
        sagemaker = make_client(proc, "sagemaker")
        wait_status(sagemaker, "scaled", "InService")
        (variant,) = sagemaker.describe_endpoint(EndpointName="scaled")["ProductionVariants"]
        assert variant["DesiredInstanceCount"] == 2
    finally:
        proc.stop()


def make_client_like(aas, service: str):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client(
        service, endpoint_url=aas.meta.endpoint_url, region_name=REGION,
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip


def _wait_activity(aas, status: str, timeout: float = 60.0) -> dict:  # type: ignore[no-untyped-def,type-arg]
    import time

    deadline = time.monotonic() + timeout
    while True:
        activities = aas.describe_scaling_activities(ServiceNamespace=NS, ResourceId=RID)[
            "ScalingActivities"
        ]
        if activities and activities[0]["StatusCode"] == status:
            return activities[0]
        assert time.monotonic() < deadline, activities
        time.sleep(0.2)


# -- nested configurations: anything in the model's shape, never a 500 ---------------------------

_MODEL = botocore.session.get_session().get_service_model("application-autoscaling")
_LEAVES = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False)
_GARBAGE = st.recursive(
    _LEAVES | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=5), inner, max_size=2)
    ),
    max_leaves=4,
)
_SCALARS = {
    "string": st.sampled_from(["Average", "Sum", "SageMakerVariantInvocationsPerInstance",
                               "ChangeInCapacity", "PercentChangeInCapacity", "x", ""]),
    "integer": st.integers(-3, 400), "double": st.floats(-100, 100, allow_nan=False),
    "boolean": st.booleans(),
}  # fmt: skip


def _shaped(shape, depth: int = 0):  # type: ignore[no-untyped-def]
    """Values in the shape of a botocore model member, now and then garbage instead."""
    if shape.type_name == "structure" and depth < 5:
        members = {
            name: _shaped(member, depth + 1) for name, member in sorted(shape.members.items())
        }
        inner = st.fixed_dictionaries({}, optional=members)
    elif shape.type_name == "list" and depth < 5:
        inner = st.lists(_shaped(shape.member, depth + 1), max_size=3)
    else:
        inner = _SCALARS.get(shape.type_name, _GARBAGE)
    return st.one_of(inner, inner, inner, _GARBAGE)


_POLICY_INPUT = _MODEL.operation_model("PutScalingPolicy").input_shape


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kind=st.sampled_from(["TargetTrackingScaling", "StepScaling"]),
    tt=_shaped(_POLICY_INPUT.members["TargetTrackingScalingPolicyConfiguration"]),
    step=_shaped(_POLICY_INPUT.members["StepScalingPolicyConfiguration"]),
)  # fmt: skip
def test_any_policy_configuration_gets_an_answer_never_a_500(server, aas, kind, tt, step) -> None:  # type: ignore[no-untyped-def]
    _register(aas, MinCapacity=1, MaxCapacity=3)
    key = "TargetTracking" if kind == "TargetTrackingScaling" else "Step"
    body = {
        "PolicyName": "fuzz", "ServiceNamespace": NS, "ResourceId": RID, "ScalableDimension": DIM,
        "PolicyType": kind,
        f"{key}ScalingPolicyConfiguration": tt if key == "TargetTracking" else step,
    }  # fmt: skip
    request = urllib.request.Request(
        server.url + "/", data=json.dumps(body).encode(), method="POST",
        headers={"X-Amz-Target": "AnyScaleFrontendService.PutScalingPolicy",
                 "Content-Type": "application/x-amz-json-1.1"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
            assert "PolicyARN" in json.loads(response.read())
    except urllib.error.HTTPError as error:
        assert error.code == 400, error.read()
        assert json.loads(error.read())["__type"] in ("ValidationException", "ValidationError")
