"""SageMaker control plane for jobs (awsJson1_1, ``X-Amz-Target: SageMaker.<Op>``).

A second service with the "SageMaker" prefix beside ``api.sagemaker`` (endpoints): training
jobs, transform jobs, notebook instances and their lifecycle configs. It parses members, calls
``tandem.jobs.JobManager`` and renders SageMaker's response members; errors render as
``{"__type": <code>, "message": ...}`` (not-found is ``ValidationException``, as on AWS and as
boto3's waiters expect).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..errors import TandemError, ValidationException
from ..jobs.manager import JobManager
from ..tags import TagStore
from .members import Member, parse_members
from .model_rules import rules
from .tags import check_tag_list

__all__ = ["SageMakerJobsService", "SHAPES"]

Handler = Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]

_S, _I, _F, _B, _L, _D = str, int, float, bool, list, dict
_LIST = {"NextToken": Member(_S), "MaxResults": Member(_I), "SortBy": Member(_S),
         "SortOrder": Member(_S), "NameContains": Member(_S), "StatusEquals": Member(_S),
         "CreationTimeBefore": Member(_F), "CreationTimeAfter": Member(_F),
         "LastModifiedTimeBefore": Member(_F), "LastModifiedTimeAfter": Member(_F)}
# Top-level members of each operation, with their JSON types: a wrong type is a 400 naming
# the member, never a 500 from deep inside the core.
SHAPES: dict[str, dict[str, Member]] = {
    "CreateTrainingJob": {
        "TrainingJobName": Member(_S, True), "RoleArn": Member(_S, True),
        "AlgorithmSpecification": Member(_D), "HyperParameters": Member(_D),
        "InputDataConfig": Member(_L, items=dict), "OutputDataConfig": Member(_D, True),
        "ResourceConfig": Member(_D), "StoppingCondition": Member(_D), "Environment": Member(_D),
        "Tags": Member(_L), "VpcConfig": Member(_D), "EnableNetworkIsolation": Member(_B),
        "EnableInterContainerTrafficEncryption": Member(_B),
        "EnableManagedSpotTraining": Member(_B), "CheckpointConfig": Member(_D),
        "DebugHookConfig": Member(_D), "ExperimentConfig": Member(_D),
        "RetryStrategy": Member(_D), "ProfilerConfig": Member(_D),
        "ProfilerRuleConfigurations": Member(_L), "DebugRuleConfigurations": Member(_L),
        "TensorBoardOutputConfig": Member(_D), "RemoteDebugConfig": Member(_D),
        "InfraCheckConfig": Member(_D), "SessionChainingConfig": Member(_D)},
    "DescribeTrainingJob": {"TrainingJobName": Member(_S, True)},
    "StopTrainingJob": {"TrainingJobName": Member(_S, True)},
    "ListTrainingJobs": {**_LIST, "WarmPoolStatusEquals": Member(_S),
                         "TrainingPlanArnEquals": Member(_S)},
    "CreateTransformJob": {
        "TransformJobName": Member(_S, True), "ModelName": Member(_S, True),
        "MaxConcurrentTransforms": Member(_I), "ModelClientConfig": Member(_D),
        "MaxPayloadInMB": Member(_I), "BatchStrategy": Member(_S), "Environment": Member(_D),
        "TransformInput": Member(_D, True), "TransformOutput": Member(_D, True),
        "DataCaptureConfig": Member(_D), "TransformResources": Member(_D, True),
        "DataProcessing": Member(_D), "Tags": Member(_L), "ExperimentConfig": Member(_D)},
    "DescribeTransformJob": {"TransformJobName": Member(_S, True)},
    "StopTransformJob": {"TransformJobName": Member(_S, True)},
    "ListTransformJobs": dict(_LIST),
    "CreateNotebookInstanceLifecycleConfig": {
        "NotebookInstanceLifecycleConfigName": Member(_S, True),
        "OnCreate": Member(_L, items=dict), "OnStart": Member(_L, items=dict),
        "Tags": Member(_L)},
    "DescribeNotebookInstanceLifecycleConfig": {
        "NotebookInstanceLifecycleConfigName": Member(_S, True)},
    "DeleteNotebookInstanceLifecycleConfig": {
        "NotebookInstanceLifecycleConfigName": Member(_S, True)},
    "ListNotebookInstanceLifecycleConfigs": {k: v for k, v in _LIST.items()
                                             if k != "StatusEquals"},
    "CreateNotebookInstance": {
        "NotebookInstanceName": Member(_S, True), "InstanceType": Member(_S, True),
        "RoleArn": Member(_S, True), "SubnetId": Member(_S), "SecurityGroupIds": Member(_L),
        "IpAddressType": Member(_S), "KmsKeyId": Member(_S), "Tags": Member(_L),
        "LifecycleConfigName": Member(_S), "DirectInternetAccess": Member(_S),
        "VolumeSizeInGB": Member(_I), "AcceleratorTypes": Member(_L),
        "DefaultCodeRepository": Member(_S), "AdditionalCodeRepositories": Member(_L),
        "RootAccess": Member(_S), "PlatformIdentifier": Member(_S),
        "InstanceMetadataServiceConfiguration": Member(_D)},
    "DescribeNotebookInstance": {"NotebookInstanceName": Member(_S, True)},
    "StartNotebookInstance": {"NotebookInstanceName": Member(_S, True)},
    "StopNotebookInstance": {"NotebookInstanceName": Member(_S, True)},
    "DeleteNotebookInstance": {"NotebookInstanceName": Member(_S, True)},
    "ListNotebookInstances": {**_LIST, "NotebookInstanceLifecycleConfigNameContains": Member(_S),
                              "DefaultCodeRepositoryContains": Member(_S),
                              "AdditionalCodeRepositoryEquals": Member(_S)},
}


def _checked(operation: str, handler: Handler) -> Handler:
    """``handler`` behind the operation's member check; a wrong nested type is a 400 too."""
    shape = SHAPES[operation]

    async def call(body: Mapping[str, Any]) -> dict[str, Any]:
        try:
            parse_members(body, shape)
            rules("sagemaker").check(operation, body)
        except TandemError as error:
            raise ValidationException(error.message) from None
        try:
            return await handler(body)
        except (TypeError, AttributeError) as exc:
            raise ValidationException(f"1 validation error detected: a member of {operation} "
                                      f"has the wrong type ({exc})") from None
    return call


def _require(body: Mapping[str, Any], *names: str) -> None:
    for name in names:
        if body.get(name) is None:
            raise ValidationException(
                f"1 validation error detected: Value null at '{name[0].lower() + name[1:]}' "
                "failed to satisfy constraint: Member must not be null")


class SageMakerJobsService:
    target_prefix = "SageMaker"
    content_type = "application/x-amz-json-1.1"

    def __init__(self, manager: JobManager, *, tags: TagStore | None = None) -> None:
        self.manager = manager
        self.tags = tags
        self.notebooks = manager.notebooks
        self.operations: dict[str, Handler] = {
            "CreateTrainingJob": self.create_training_job,
            "DescribeTrainingJob": self.describe_training_job,
            "ListTrainingJobs": self.list_training_jobs,
            "StopTrainingJob": self.stop_training_job,
            "CreateTransformJob": self.create_transform_job,
            "DescribeTransformJob": self.describe_transform_job,
            "ListTransformJobs": self.list_transform_jobs,
            "StopTransformJob": self.stop_transform_job,
            "CreateNotebookInstanceLifecycleConfig": self.create_lifecycle_config,
            "DescribeNotebookInstanceLifecycleConfig": self.describe_lifecycle_config,
            "ListNotebookInstanceLifecycleConfigs": self.list_lifecycle_configs,
            "DeleteNotebookInstanceLifecycleConfig": self.delete_lifecycle_config,
            "CreateNotebookInstance": self.create_notebook_instance,
            "DescribeNotebookInstance": self.describe_notebook_instance,
            "ListNotebookInstances": self.list_notebook_instances,
            "StartNotebookInstance": self.start_notebook_instance,
            "StopNotebookInstance": self.stop_notebook_instance,
            "DeleteNotebookInstance": self.delete_notebook_instance,
        }
        self.operations = {op: _checked(op, h) for op, h in self.operations.items()}

    async def _tag(self, arn: str, tags: dict[str, str]) -> str:
        if tags and self.tags is not None:
            await self.tags.add(arn, tags)
        return arn

    async def _untag(self, kind: str, name: str) -> dict[str, Any]:
        if self.tags is not None:
            await self.tags.drop(self.manager.arn(kind, name))
        return {}

    @staticmethod
    def render_error(error: TandemError) -> tuple[int, dict[str, str], bytes]:
        body = json.dumps({"__type": error.code, "message": error.message}).encode()
        return error.status, {"Content-Type": "application/x-amz-json-1.1"}, body

    # -- training -----------------------------------------------------------------------

    async def create_training_job(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "TrainingJobName")
        tags = _tags(body)
        arn = await self.manager.create_training_job(dict(body))
        return {"TrainingJobArn": await self._tag(arn, tags)}

    async def describe_training_job(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "TrainingJobName")
        return self.manager.describe_training_job(body["TrainingJobName"])

    async def list_training_jobs(self, body: Mapping[str, Any]) -> dict[str, Any]:
        items = _filter(self.manager.list_training_jobs(), body, "TrainingJobName",
                        "TrainingJobStatus")
        if body.get("WarmPoolStatusEquals") or body.get("TrainingPlanArnEquals"):
            items = []  # no job here keeps a warm pool or runs on a training plan
        return _page(items, body, "TrainingJobSummaries", "TrainingJobName", "TrainingJobStatus",
                     default_order="Ascending")

    async def stop_training_job(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "TrainingJobName")
        self.manager.stop_training_job(body["TrainingJobName"])
        return {}

    # -- transform ----------------------------------------------------------------------

    async def create_transform_job(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "TransformJobName", "ModelName", "TransformInput", "TransformOutput",
                 "TransformResources")
        tags = _tags(body)
        arn = await self.manager.create_transform_job(dict(body))
        return {"TransformJobArn": await self._tag(arn, tags)}

    async def describe_transform_job(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "TransformJobName")
        return self.manager.describe_transform_job(body["TransformJobName"])

    async def list_transform_jobs(self, body: Mapping[str, Any]) -> dict[str, Any]:
        items = _filter(self.manager.list_transform_jobs(), body, "TransformJobName",
                        "TransformJobStatus")
        return _page(items, body, "TransformJobSummaries", "TransformJobName",
                     "TransformJobStatus")

    async def stop_transform_job(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "TransformJobName")
        self.manager.stop_transform_job(body["TransformJobName"])
        return {}

    # -- notebook lifecycle configs -----------------------------------------------------

    async def create_lifecycle_config(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "NotebookInstanceLifecycleConfigName")
        tags = _tags(body)
        config = self.notebooks.create_lifecycle_config(dict(body))
        return {"NotebookInstanceLifecycleConfigArn": await self._tag(config.arn, tags)}

    async def describe_lifecycle_config(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "NotebookInstanceLifecycleConfigName")
        name = body["NotebookInstanceLifecycleConfigName"]
        return self.notebooks.lifecycle_config(name).describe()

    async def list_lifecycle_configs(self, body: Mapping[str, Any]) -> dict[str, Any]:
        items = [{k: v for k, v in c.describe().items() if k not in ("OnCreate", "OnStart")}
                 for c in self.notebooks.configs.values()]
        items = _filter(items, body, "NotebookInstanceLifecycleConfigName", None)
        return _page(items, body, "NotebookInstanceLifecycleConfigs",
                     "NotebookInstanceLifecycleConfigName", None)

    async def delete_lifecycle_config(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "NotebookInstanceLifecycleConfigName")
        self.notebooks.delete_lifecycle_config(body["NotebookInstanceLifecycleConfigName"])
        return await self._untag("notebook-instance-lifecycle-config",
                                 body["NotebookInstanceLifecycleConfigName"])

    # -- notebook instances -------------------------------------------------------------

    async def create_notebook_instance(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "NotebookInstanceName", "InstanceType", "RoleArn")
        tags = _tags(body)
        arn = self.notebooks.create_instance(dict(body)).arn
        return {"NotebookInstanceArn": await self._tag(arn, tags)}

    async def describe_notebook_instance(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "NotebookInstanceName")
        return self.notebooks.instance(body["NotebookInstanceName"]).describe()

    async def list_notebook_instances(self, body: Mapping[str, Any]) -> dict[str, Any]:
        items = [i.summary() for i in self.notebooks.instances.values()]
        contains = body.get("NotebookInstanceLifecycleConfigNameContains")
        if contains:
            items = [i for i in items
                     if contains in i.get("NotebookInstanceLifecycleConfigName", "")]
        repository = body.get("DefaultCodeRepositoryContains")
        if repository:
            items = [i for i in items if repository in i.get("DefaultCodeRepository", "")]
        additional = body.get("AdditionalCodeRepositoryEquals")
        if additional:
            items = [i for i in items if additional in i.get("AdditionalCodeRepositories", [])]
        items = _filter(items, body, "NotebookInstanceName", "NotebookInstanceStatus")
        return _page(items, body, "NotebookInstances", "NotebookInstanceName",
                     "NotebookInstanceStatus", default_by="Name", default_order="Ascending")

    async def start_notebook_instance(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "NotebookInstanceName")
        self.notebooks.start_instance(body["NotebookInstanceName"])
        return {}

    async def stop_notebook_instance(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "NotebookInstanceName")
        self.notebooks.stop_instance(body["NotebookInstanceName"])
        return {}

    async def delete_notebook_instance(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _require(body, "NotebookInstanceName")
        self.notebooks.delete_instance(body["NotebookInstanceName"])
        return await self._untag("notebook-instance", body["NotebookInstanceName"])


def _tags(body: Mapping[str, Any]) -> dict[str, str]:
    """The create call's Tags, refused before anything is created."""
    try:
        return check_tag_list(body.get("Tags"))
    except TandemError as error:
        raise ValidationException(error.message) from None


def _filter(items: list[dict[str, Any]], body: Mapping[str, Any], name_field: str,
            status_field: str | None) -> list[dict[str, Any]]:
    contains = body.get("NameContains")
    status = body.get("StatusEquals")
    out = []
    for item in items:
        if contains and contains.lower() not in item[name_field].lower():
            continue
        if status and status_field and item.get(status_field) != status:
            continue
        if not _in_window(item.get("CreationTime", 0.0), body, "CreationTime"):
            continue
        if not _in_window(item.get("LastModifiedTime", 0.0), body, "LastModifiedTime"):
            continue
        out.append(item)
    return out


def _in_window(value: float, body: Mapping[str, Any], field: str) -> bool:
    before, after = body.get(f"{field}Before"), body.get(f"{field}After")
    if before is not None and not value < float(before):
        return False
    return after is None or value > float(after)


def _page(items: list[dict[str, Any]], body: Mapping[str, Any], key: str, name_field: str,
          status_field: str | None, *, default_by: str = "CreationTime",
          default_order: str = "Descending") -> dict[str, Any]:
    """List* paging: SortBy and SortOrder (each operation's documented defaults; the model's
    enums were checked at the wire), MaxResults 1-100 (default 10), NextToken. Ties sort by
    name, so pages are stable."""
    sort_by = body.get("SortBy", default_by)
    sort_key = {"Name": name_field, "CreationTime": "CreationTime",
                "LastModifiedTime": "LastModifiedTime", "Status": status_field}.get(sort_by)
    if sort_key is None:
        raise ValidationException(f"SortBy {sort_by!r} is not supported here")
    order = body.get("SortOrder", default_order)
    items.sort(key=lambda item: (item.get(sort_key, 0), item[name_field]),
               reverse=order == "Descending")
    limit = body.get("MaxResults", 10)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
        raise ValidationException("MaxResults must be between 1 and 100")
    start = 0
    token = body.get("NextToken")
    if token:
        try:
            start = int(base64.urlsafe_b64decode(str(token).encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise ValidationException("The NextToken is invalid.") from None
    out: dict[str, Any] = {key: items[start:start + limit]}
    if start + limit < len(items):
        out["NextToken"] = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
    return out
