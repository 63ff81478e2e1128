"""Tags on every SageMaker resource tandem serves, through boto3: given at create time, then
AddTags / ListTags / DeleteTags by ARN; AWS's limits; tags gone with their resource.
And the inputs AWS refuses that reach no core: a config naming a missing model, a notebook
instance type outside the enum, list filters outside their enums, serverless sizes."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.support import stage_container

from .conftest import ACCOUNT, REGION, make_client

ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
FIXTURES = Path(__file__).resolve().parents[2] / "jobs" / "fixtures"
ROLE = "arn:aws:iam::000000000000:role/test"
TAGS = [{"Key": "team", "Value": "ml"}, {"Key": "cost centre", "Value": "42"}]


def _variant(model: str, **extra: object) -> dict[str, Any]:
    return {"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large", **extra}  # fmt: skip


def _error(info: pytest.ExceptionInfo[Any]) -> tuple[str, str]:
    error = info.value.response["Error"]
    return error["Code"], error["Message"]


def _round_trip(sagemaker: Any, arn: str) -> None:
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == TAGS
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "infra"},
                                              {"Key": "env", "Value": ""}])  # fmt: skip
    sagemaker.delete_tags(ResourceArn=arn, TagKeys=["cost centre", "absent"])
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [
        {"Key": "team", "Value": "infra"}, {"Key": "env", "Value": ""},
    ]  # fmt: skip


def _create_all(sagemaker: Any, tmp_path: Path) -> dict[str, str]:
    """One resource of each taggable kind, each created with TAGS; kind -> ARN."""
    arns = {}
    arns["model"] = sagemaker.create_model(
        ModelName="Tag-Model", PrimaryContainer=stage_container("solo"), Tags=TAGS)["ModelArn"]
    arns["endpoint-config"] = sagemaker.create_endpoint_config(
        EndpointConfigName="tag-config", ProductionVariants=[_variant("Tag-Model")],
        Tags=TAGS)["EndpointConfigArn"]  # fmt: skip
    arns["endpoint"] = sagemaker.create_endpoint(
        EndpointName="tag-endpoint", EndpointConfigName="tag-config", Tags=TAGS)["EndpointArn"]
    arns["training-job"] = sagemaker.create_training_job(
        TrainingJobName="tag-training", RoleArn=ROLE, Tags=TAGS,
        AlgorithmSpecification={"TrainingImage": str(FIXTURES / "byoc"),
                                "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": str(tmp_path / "out")},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 60})["TrainingJobArn"]  # fmt: skip
    (tmp_path / "in").mkdir()
    arns["transform-job"] = sagemaker.create_transform_job(
        TransformJobName="tag-transform", ModelName="Tag-Model", Tags=TAGS,
        TransformInput={"DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": str(tmp_path / "in")}}},
        TransformOutput={"S3OutputPath": str(tmp_path / "transformed")},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )["TransformJobArn"]  # fmt: skip
    arns["notebook-instance-lifecycle-config"] = (
        sagemaker.create_notebook_instance_lifecycle_config(
            NotebookInstanceLifecycleConfigName="tag-hooks", Tags=TAGS,
            OnCreate=[{"Content": base64.b64encode(b"exit 3\n").decode()}],
        )["NotebookInstanceLifecycleConfigArn"]
    )  # fmt: skip
    arns["notebook-instance"] = sagemaker.create_notebook_instance(
        NotebookInstanceName="tag-notebook", InstanceType="ml.t3.medium", RoleArn=ROLE,
        LifecycleConfigName="tag-hooks", Tags=TAGS)["NotebookInstanceArn"]  # fmt: skip
    return arns


def test_tags_round_trip_on_every_taggable_resource(sagemaker: Any, tmp_path: Path) -> None:
    arns = _create_all(sagemaker, tmp_path)
    assert sorted(arns) == [
        "endpoint", "endpoint-config", "model", "notebook-instance",
        "notebook-instance-lifecycle-config", "training-job", "transform-job",
    ]  # fmt: skip
    for kind, arn in arns.items():
        assert arn.startswith(f"{ARN}:{kind}/tag-"), arn
        _round_trip(sagemaker, arn)
    # The ARN's name part is matched without case, as SageMaker lower-cases it.
    assert sagemaker.list_tags(ResourceArn=f"{ARN}:model/TAG-MODEL")["Tags"][0]["Key"] == "team"


def test_tags_go_with_their_resource(sagemaker: Any) -> None:
    sagemaker.create_model(ModelName="gone", PrimaryContainer=stage_container("solo"), Tags=TAGS)
    sagemaker.delete_model(ModelName="gone")
    with pytest.raises(sagemaker.exceptions.ClientError) as info:
        sagemaker.list_tags(ResourceArn=f"{ARN}:model/gone")
    assert _error(info) == ("ValidationException", f'Could not find resource "{ARN}:model/gone".')
    sagemaker.create_model(ModelName="gone", PrimaryContainer=stage_container("solo"))
    assert sagemaker.list_tags(ResourceArn=f"{ARN}:model/gone")["Tags"] == []


def test_tag_limits(sagemaker: Any) -> None:
    sagemaker.create_model(ModelName="limits", PrimaryContainer=stage_container("solo"))
    arn = f"{ARN}:model/limits"
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    with pytest.raises(sagemaker.exceptions.ClientError) as info:
        sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "one-more", "Value": "v"}])
    assert _error(info)[0] == "ValidationException"
    assert len(sagemaker.list_tags(ResourceArn=arn, MaxResults=50)["Tags"]) == 50
    with pytest.raises(sagemaker.exceptions.ClientError) as info:
        sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "aws:reserved", "Value": "v"}])
    assert _error(info)[0] == "ValidationException" and "aws:" in _error(info)[1]
    with pytest.raises(sagemaker.exceptions.ClientError) as info:
        sagemaker.create_model(ModelName="reserved", PrimaryContainer=stage_container("solo"),
                               Tags=[{"Key": "aws:x", "Value": "v"}])  # fmt: skip
    with pytest.raises(sagemaker.exceptions.ClientError):
        sagemaker.describe_model(ModelName="reserved")  # refused whole: nothing created
    with pytest.raises(sagemaker.exceptions.ClientError) as info:
        sagemaker.list_tags(ResourceArn=f"arn:aws:sagemaker:us-west-2:{ACCOUNT}:model/limits")
    assert _error(info)[0] == "ValidationException"


def test_inputs_aws_refuses(server: Any, sagemaker: Any) -> None:
    raw = make_client(server, "sagemaker", parameter_validation=False)
    with pytest.raises(sagemaker.exceptions.ClientError) as info:
        sagemaker.create_endpoint_config(
            EndpointConfigName="orphan", ProductionVariants=[_variant("No-Such-Model")])
    assert _error(info) == (
        "ValidationException", f'Could not find model "{ARN}:model/no-such-model".')
    sagemaker.create_model(ModelName="edges", PrimaryContainer=stage_container("solo"))
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("create_notebook_instance",
         {"NotebookInstanceName": "nb", "InstanceType": "ml.any.thing", "RoleArn": ROLE},
         "Value 'ml.any.thing' at 'instanceType' failed to satisfy constraint: Member must "
         "satisfy enum value set: [ml.t2.medium, "),
        ("list_training_jobs", {"StatusEquals": "Sleeping"},
         "Value 'Sleeping' at 'statusEquals' failed to satisfy constraint: Member must satisfy "
         "enum value set: [InProgress, Completed, Failed, Stopping, Stopped, Deleting]"),
        ("list_transform_jobs", {"SortBy": "Size"},
         "Value 'Size' at 'sortBy' failed to satisfy constraint: Member must satisfy enum "
         "value set: [Name, CreationTime, Status]"),
        ("list_notebook_instances", {"SortOrder": "Sideways"},
         "Value 'Sideways' at 'sortOrder' failed to satisfy constraint"),
        ("list_notebook_instance_lifecycle_configs", {"SortBy": "Status"},
         "Value 'Status' at 'sortBy' failed to satisfy constraint: Member must satisfy enum "
         "value set: [Name, CreationTime, LastModifiedTime]"),
        ("create_endpoint_config",
         {"EndpointConfigName": "sl", "ProductionVariants": [{
             "VariantName": "v", "ModelName": "edges",
             "ServerlessConfig": {"MemorySizeInMB": 8192, "MaxConcurrency": 0}}]},
         "Value '8192' at 'productionVariants.1.member.serverlessConfig.memorySizeInMB' failed "
         "to satisfy constraint: Member must have value less than or equal to 6144; Value '0' "
         "at 'productionVariants.1.member.serverlessConfig.maxConcurrency' failed to satisfy "
         "constraint: Member must have value greater than or equal to 1"),
        ("create_endpoint_config",
         {"EndpointConfigName": "sl", "ProductionVariants": [{
             "VariantName": "v", "ModelName": "edges",
             "ServerlessConfig": {"MemorySizeInMB": 1500, "MaxConcurrency": 5}}]},
         "MemorySizeInMB must be one of 1024, 2048, 3072, 4096, 5120 or 6144"),
        ("create_endpoint_config",
         {"EndpointConfigName": "big", "ProductionVariants": [{
             "VariantName": "v", "ModelName": "edges", "InstanceType": "ml.m5.huge",
             "InitialInstanceCount": 1}]},
         "Value 'ml.m5.huge' at 'productionVariants.1.member.instanceType' failed to satisfy "
         "constraint: Member must satisfy enum value set: [ml.t2.medium, "),
        ("create_training_job",
         {"TrainingJobName": "big", "RoleArn": ROLE,
          "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
          "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
          "ResourceConfig": {"InstanceType": "ml.x9.large", "InstanceCount": 1,
                             "VolumeSizeInGB": 1},
          "StoppingCondition": {"MaxRuntimeInSeconds": 60}},
         "Value 'ml.x9.large' at 'resourceConfig.instanceType' failed to satisfy constraint: "
         "Member must satisfy enum value set: ["),
    ]  # fmt: skip
    for call, kwargs, fragment in cases:
        with pytest.raises(raw.exceptions.ClientError) as info:
            getattr(raw, call)(**kwargs)
        code, message = _error(info)
        assert code == "ValidationException" and fragment in message, (call, message)


def test_a_serverless_variant_shows_no_instance_count(sagemaker: Any) -> None:
    sagemaker.create_model(ModelName="serverless", PrimaryContainer=stage_container("solo"))
    sagemaker.create_endpoint_config(EndpointConfigName="serverless", ProductionVariants=[{
        "VariantName": "v", "ModelName": "serverless",
        "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}}])  # fmt: skip
    [variant] = sagemaker.describe_endpoint_config(EndpointConfigName="serverless")[
        "ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    assert "InitialInstanceCount" not in variant
    traffic = {"MaxInvocationsPerSecondPerInstance": 10, "MaxCrossRegionPercentPerEndpoint": 5}
    sagemaker.create_endpoint_config(EndpointConfigName="cross-region", ProductionVariants=[
        _variant("serverless")], CrossRegionTrafficConfig=traffic)  # fmt: skip
    described = sagemaker.describe_endpoint_config(EndpointConfigName="cross-region")
    assert described["CrossRegionTrafficConfig"] == traffic
    sagemaker.create_endpoint(EndpointName="serverless", EndpointConfigName="serverless")
    sagemaker.get_waiter("endpoint_in_service").wait(
        EndpointName="serverless", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    [summary] = sagemaker.describe_endpoint(EndpointName="serverless")["ProductionVariants"]
    assert summary["CurrentServerlessConfig"] == summary["DesiredServerlessConfig"] == {
        "MemorySizeInMB": 2048, "MaxConcurrency": 5}
    assert "CurrentInstanceCount" not in summary and "DesiredInstanceCount" not in summary


def test_list_defaults_follow_the_documentation(sagemaker: Any) -> None:
    """ListNotebookInstanceLifecycleConfigs sorts by CreationTime, newest first; names are
    unique, so this also checks that explicit SortBy=Name orders by name."""
    hooks = [{"Content": base64.b64encode(b"true\n").decode()}]
    for name in ("order-b", "order-a", "order-c"):
        sagemaker.create_notebook_instance_lifecycle_config(
            NotebookInstanceLifecycleConfigName=name, OnStart=hooks)
    listed = sagemaker.list_notebook_instance_lifecycle_configs(NameContains="order-")
    names = [c["NotebookInstanceLifecycleConfigName"]
             for c in listed["NotebookInstanceLifecycleConfigs"]]  # fmt: skip
    assert names == ["order-c", "order-a", "order-b"]
    by_name = sagemaker.list_notebook_instance_lifecycle_configs(
        NameContains="order-", SortBy="Name", SortOrder="Ascending")
    assert [c["NotebookInstanceLifecycleConfigName"]
            for c in by_name["NotebookInstanceLifecycleConfigs"]] == sorted(names)  # fmt: skip


def test_notebook_instances_list_by_name_by_default(sagemaker: Any) -> None:
    sagemaker.create_notebook_instance_lifecycle_config(
        NotebookInstanceLifecycleConfigName="order-hooks",
        OnCreate=[{"Content": base64.b64encode(b"exit 3\n").decode()}])
    for name in ("nb-order-b", "nb-order-a", "nb-order-c"):
        sagemaker.create_notebook_instance(
            NotebookInstanceName=name, InstanceType="ml.t3.medium", RoleArn=ROLE,
            LifecycleConfigName="order-hooks")  # fmt: skip
    listed = sagemaker.list_notebook_instances(NameContains="nb-order")["NotebookInstances"]
    assert [i["NotebookInstanceName"] for i in listed] == ["nb-order-a", "nb-order-b",
                                                          "nb-order-c"]  # fmt: skip
    newest = sagemaker.list_notebook_instances(NameContains="nb-order", SortBy="CreationTime",
                                               SortOrder="Descending")["NotebookInstances"]
    assert [i["NotebookInstanceName"] for i in newest] == ["nb-order-c", "nb-order-a",
                                                          "nb-order-b"]  # fmt: skip


def test_training_jobs_list_oldest_first_by_default(sagemaker: Any, tmp_path: Path) -> None:
    """ListTrainingJobs' documented default is CreationTime, Ascending (the others: Descending)."""
    for name in ("order-zz-first", "order-aa-second"):
        sagemaker.create_training_job(
            TrainingJobName=name, RoleArn=ROLE,
            AlgorithmSpecification={"TrainingImage": str(FIXTURES / "byoc"),
                                    "TrainingInputMode": "File"},
            OutputDataConfig={"S3OutputPath": str(tmp_path / name)},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1,
                            "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 60})  # fmt: skip
    listed = sagemaker.list_training_jobs(NameContains="order-")["TrainingJobSummaries"]
    assert [j["TrainingJobName"] for j in listed] == ["order-zz-first", "order-aa-second"]
    # No job here keeps a warm pool: the filter matches none rather than being ignored.
    assert sagemaker.list_training_jobs(
        NameContains="order-", WarmPoolStatusEquals="Available")["TrainingJobSummaries"] == []


def test_notebook_instances_show_what_they_were_given(sagemaker: Any) -> None:
    hooks = "order-hooks-2"
    sagemaker.create_notebook_instance_lifecycle_config(
        NotebookInstanceLifecycleConfigName=hooks,
        OnCreate=[{"Content": base64.b64encode(b"exit 3\n").decode()}])
    given = {
        "SubnetId": "subnet-0abc", "SecurityGroupIds": ["sg-1"], "IpAddressType": "ipv4",
        "KmsKeyId": "arn:aws:kms:us-east-1:000000000000:key/k",
        "DefaultCodeRepository": "https://github.com/example/repo",
        "AdditionalCodeRepositories": ["https://github.com/example/other"],
        "PlatformIdentifier": "notebook-al2-v3", "AcceleratorTypes": ["ml.eia2.medium"],
        "InstanceMetadataServiceConfiguration": {"MinimumInstanceMetadataServiceVersion": "2"},
    }
    sagemaker.create_notebook_instance(NotebookInstanceName="nb-given", InstanceType="ml.t3.medium",
                                       RoleArn=ROLE, LifecycleConfigName=hooks, **given)
    desc = sagemaker.describe_notebook_instance(NotebookInstanceName="nb-given")
    for key, value in given.items():
        assert desc["SecurityGroups" if key == "SecurityGroupIds" else key] == value, key
    found = sagemaker.list_notebook_instances(DefaultCodeRepositoryContains="repo")
    assert [i["NotebookInstanceName"] for i in found["NotebookInstances"]] == ["nb-given"]
    assert found["NotebookInstances"][0]["AdditionalCodeRepositories"] == [
        "https://github.com/example/other"]
    other = sagemaker.list_notebook_instances(
        AdditionalCodeRepositoryEquals="https://github.com/example/none")
    assert other["NotebookInstances"] == []


def test_a_training_job_shows_what_it_was_given(sagemaker: Any, tmp_path: Path) -> None:
    given = {
        "CheckpointConfig": {"S3Uri": "s3://bucket/checkpoints"},
        "DebugHookConfig": {"S3OutputPath": "s3://bucket/debug"},
        "ExperimentConfig": {"ExperimentName": "e"},
        "RetryStrategy": {"MaximumRetryAttempts": 2},
        "Environment": {"K": "V"},
        "TensorBoardOutputConfig": {"S3OutputPath": "s3://bucket/tensorboard"},
        "ProfilerConfig": {"S3OutputPath": "s3://bucket/profiler"},
        "RemoteDebugConfig": {"EnableRemoteDebug": False},
        "InfraCheckConfig": {"EnableInfraCheck": False},
    }
    sagemaker.create_training_job(
        TrainingJobName="given", RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": str(FIXTURES / "byoc"),
                                "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": str(tmp_path / "out")},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 60}, **given)  # fmt: skip
    described = sagemaker.describe_training_job(TrainingJobName="given")
    assert {key: described.get(key) for key in given} == given
