"""``tandem train FILE.yaml``, ``tandem transform FILE.yaml`` and ``tandem notebook ...``.

The YAML files mirror CreateTrainingJob / CreateTransformJob; relative local paths (channel and
input S3Uri, S3OutputPath, sagemaker_submit_directory / sagemaker_program, a local
TrainingImage) resolve against the file's directory before the request is sent. Training shows
status, elapsed time and the latest metric values while following the job's logs; transform
shows a progress bar over records and files.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import click
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..jobs.locations import local_path
from .client import ApiError, Client
from .common import client, console, fail, url_option

__all__ = ["train", "transform", "notebook"]

_TERMINAL = {"Completed", "Failed", "Stopped"}


def _load(file: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(file.read_text())
    except (OSError, yaml.YAMLError) as exc:
        fail(f"{file}: {exc}")
    if not isinstance(data, dict):
        fail(f"{file}: must be a mapping mirroring the API request")
    return data


def _absolute(value: Any, base: Path) -> Any:
    """A local path or file:// URL made absolute; anything else unchanged."""
    if not isinstance(value, str) or (("://" in value) and not value.startswith("file:")):
        return value
    return str(local_path(value, base, field="path"))


def resolve_training_file(data: dict[str, Any], base: Path) -> dict[str, Any]:
    for channel in data.get("InputDataConfig") or []:
        source = (channel.get("DataSource") or {}).get("S3DataSource") or {}
        if "S3Uri" in source:
            source["S3Uri"] = _absolute(source["S3Uri"], base)
    output = data.get("OutputDataConfig") or {}
    if "S3OutputPath" in output:
        output["S3OutputPath"] = _absolute(output["S3OutputPath"], base)
    algorithm = data.get("AlgorithmSpecification") or {}
    if isinstance(algorithm, dict) and algorithm:
        algorithm.setdefault("TrainingInputMode", "File")  # required by the model; File here
    image = algorithm.get("TrainingImage")
    if isinstance(image, str) and image.startswith((".", "/", "~", "file:")):
        algorithm["TrainingImage"] = _absolute(image, base)
    hps = data.get("HyperParameters") or {}
    data["HyperParameters"] = {str(k): v if isinstance(v, str) else json.dumps(v)
                               for k, v in hps.items()}
    hps = data["HyperParameters"]
    submit = hps.get("sagemaker_submit_directory")
    if submit is not None:
        decoded = json.loads(submit) if submit.startswith('"') else submit
        hps["sagemaker_submit_directory"] = json.dumps(_absolute(decoded, base))
    elif "sagemaker_program" in hps:
        program = json.loads(hps["sagemaker_program"]) if hps["sagemaker_program"].startswith(
            '"') else hps["sagemaker_program"]
        hps["sagemaker_program"] = json.dumps(_absolute(program, base))
    data.setdefault("RoleArn", "arn:aws:iam::000000000000:role/tandem")
    return data


def resolve_transform_file(data: dict[str, Any], base: Path) -> dict[str, Any]:
    source = ((data.get("TransformInput") or {}).get("DataSource") or {}).get("S3DataSource") or {}
    if "S3Uri" in source:
        source["S3Uri"] = _absolute(source["S3Uri"], base)
    output = data.get("TransformOutput") or {}
    if "S3OutputPath" in output:
        output["S3OutputPath"] = _absolute(output["S3OutputPath"], base)
    return data


def _metrics_text(desc: dict[str, Any]) -> str:
    metrics = desc.get("FinalMetricDataList") or []
    return "  ".join(f"{m['MetricName']}={m['Value']:g}" for m in metrics)


def _follow(api: Client, group: str, prefix: str, seen: set[str], start: int) -> int:
    """Print new events of streams under ``prefix``; returns the newest timestamp seen."""
    token = None
    while True:
        body: dict[str, Any] = {"logGroupName": group, "logStreamNamePrefix": prefix,
                                "startTime": start}
        if token:
            body["nextToken"] = token
        try:
            page = api.call("logs", "FilterLogEvents", body)
        except ApiError:
            return start
        for event in page.get("events", []):
            if event["eventId"] in seen:
                continue
            seen.add(event["eventId"])
            start = max(start, event["timestamp"])
            stream = event["logStreamName"][len(prefix):]
            console.print(f"[dim]{stream}[/dim] {event['message']}", markup=True,
                          highlight=False, soft_wrap=True)
        token = page.get("nextToken")
        if not token:
            return start


@click.command("train")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--name", help="Override TrainingJobName.")
@click.option("--no-follow", is_flag=True, help="Create the job and return at once.")
@url_option
def train(file: Path, name: str | None, no_follow: bool, url: str) -> None:
    """Run the training job FILE (YAML mirroring CreateTrainingJob), following its logs."""
    body = resolve_training_file(_load(file), file.parent.resolve())
    if name:
        body["TrainingJobName"] = name
    api = client(url)
    try:
        api.call("sagemaker", "CreateTrainingJob", body)
    except ApiError as exc:
        fail(exc)
    job = body["TrainingJobName"]
    console.print(f"created training job [bold]{job}[/bold]")
    if no_follow:
        return
    seen: set[str] = set()
    started, since, last = time.monotonic(), 0, ""
    while True:
        desc = api.call("sagemaker", "DescribeTrainingJob", {"TrainingJobName": job})
        since = _follow(api, "/aws/sagemaker/TrainingJobs", f"{job}/", seen, since)
        line = (f"{desc['TrainingJobStatus']} / {desc['SecondaryStatus']}  "
                f"{time.monotonic() - started:.0f} s  {_metrics_text(desc)}")
        if line != last:
            console.print(f"[bold]{job}[/bold] {line}")
            last = line
        if desc["TrainingJobStatus"] in _TERMINAL:
            _follow(api, "/aws/sagemaker/TrainingJobs", f"{job}/", seen, since)
            break
        time.sleep(0.5)
    if desc["TrainingJobStatus"] == "Failed":
        fail(desc.get("FailureReason", "Failed"))
    artifacts = desc.get("ModelArtifacts", {}).get("S3ModelArtifacts")
    if artifacts:
        console.print(f"model: {artifacts}")


@click.command("transform")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--name", help="Override TransformJobName.")
@click.option("--no-wait", is_flag=True, help="Create the job and return at once.")
@url_option
def transform(file: Path, name: str | None, no_wait: bool, url: str) -> None:
    """Run the batch transform job FILE (YAML mirroring CreateTransformJob)."""
    body = resolve_transform_file(_load(file), file.parent.resolve())
    if name:
        body["TransformJobName"] = name
    api = client(url)
    try:
        api.call("sagemaker", "CreateTransformJob", body)
    except ApiError as exc:
        fail(exc)
    job = body["TransformJobName"]
    console.print(f"created transform job [bold]{job}[/bold]")
    if no_wait:
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        records = progress.add_task("records", total=None)
        files = progress.add_task("files", total=None)
        while True:
            desc = api.call("sagemaker", "DescribeTransformJob", {"TransformJobName": job})
            p = desc.get("TandemProgress") or {}
            progress.update(records, completed=p.get("RecordsDone", 0),
                            total=p.get("RecordsTotal") or None)
            progress.update(files, completed=p.get("FilesDone", 0),
                            total=p.get("FilesTotal") or None)
            if desc["TransformJobStatus"] in _TERMINAL:
                break
            time.sleep(0.3)
    console.print(f"[bold]{job}[/bold] {desc['TransformJobStatus']}")
    if desc["TransformJobStatus"] == "Failed":
        fail(desc.get("FailureReason", "Failed"))
    console.print(f"output: {desc['TransformOutput']['S3OutputPath']}")


@click.group("notebook")
def notebook() -> None:
    """Notebook instances and lifecycle configurations."""


@notebook.command("lifecycle-config")
@click.argument("name")
@click.option("--on-create", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--on-start", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@url_option
def lifecycle_config(name: str, on_create: Path | None, on_start: Path | None, url: str) -> None:
    """Create lifecycle config NAME from shell scripts (sent base64-encoded, as the API wants)."""
    body: dict[str, Any] = {"NotebookInstanceLifecycleConfigName": name}
    for key, path in (("OnCreate", on_create), ("OnStart", on_start)):
        if path is not None:
            body[key] = [{"Content": base64.b64encode(path.read_bytes()).decode()}]
    try:
        client(url).call("sagemaker", "CreateNotebookInstanceLifecycleConfig", body)
    except ApiError as exc:
        fail(exc)
    console.print(f"created lifecycle config [bold]{name}[/bold]")


def _wait_notebook(api: Client, name: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        desc = api.call("sagemaker", "DescribeNotebookInstance", {"NotebookInstanceName": name})
        if desc["NotebookInstanceStatus"] not in ("Pending", "Stopping"):
            return desc
        if time.monotonic() > deadline:
            fail(f"{name} still {desc['NotebookInstanceStatus']} after {timeout:.0f} s")
        time.sleep(0.3)


def _show(desc: dict[str, Any]) -> None:
    console.print(f"[bold]{desc['NotebookInstanceName']}[/bold] "
                  f"{desc['NotebookInstanceStatus']}", soft_wrap=True)
    if desc.get("Url"):
        console.print(f"url: {desc['Url']}", soft_wrap=True)
    if desc.get("FailureReason"):
        console.print(f"[red]{desc['FailureReason']}[/red]", soft_wrap=True)


@notebook.command("create")
@click.argument("name")
@click.option("--lifecycle-config", "config", help="A lifecycle config name.")
@click.option("--instance-type", default="ml.t3.medium", show_default=True)
@click.option("--wait/--no-wait", default=True, show_default=True)
@click.option("--timeout", default=660.0, show_default=True)
@url_option
def create(name: str, config: str | None, instance_type: str, wait: bool, timeout: float,
           url: str) -> None:
    """Create notebook instance NAME (runs OnCreate, then OnStart, then Jupyter)."""
    body: dict[str, Any] = {"NotebookInstanceName": name, "InstanceType": instance_type,
                            "RoleArn": "arn:aws:iam::000000000000:role/tandem"}
    if config:
        body["LifecycleConfigName"] = config
    api = client(url)
    try:
        api.call("sagemaker", "CreateNotebookInstance", body)
        if wait:
            _show(_wait_notebook(api, name, timeout))
    except ApiError as exc:
        fail(exc)


def _simple(operation: str, help_text: str, wait: bool) -> click.Command:
    @click.command(operation.replace("NotebookInstance", "").lower(), help=help_text)
    @click.argument("name")
    @url_option
    def command(name: str, url: str) -> None:
        api = client(url)
        try:
            api.call("sagemaker", operation, {"NotebookInstanceName": name})
            if wait:
                _show(_wait_notebook(api, name, 660.0))
        except ApiError as exc:
            fail(exc)
    return command


notebook.add_command(_simple("StartNotebookInstance", "Start notebook instance NAME (OnStart).",
                             True))
notebook.add_command(_simple("StopNotebookInstance", "Stop notebook instance NAME.", True))
notebook.add_command(_simple("DeleteNotebookInstance", "Delete (stopped) notebook instance NAME.",
                             False))
notebook.add_command(_simple("DescribeNotebookInstance", "Show notebook instance NAME.", True))


@notebook.command("list")
@url_option
def list_(url: str) -> None:
    """List notebook instances."""
    try:
        page = client(url).call("sagemaker", "ListNotebookInstances", {"MaxResults": 100})
    except ApiError as exc:
        fail(exc)
    for item in page["NotebookInstances"]:
        console.print(f"{item['NotebookInstanceName']}  {item['NotebookInstanceStatus']}  "
                      f"{item.get('Url', '-')}", soft_wrap=True)
