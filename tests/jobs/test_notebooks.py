"""Notebook lifecycle scripts in-process: the time limit (2 s here) and the no-Jupyter path."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tandem.jobs.notebooks import NOTEBOOK_LOG_GROUP, NotebookService, NotebookStatus
from tandem.serving.local_launcher import LocalLauncher
from tandem.store import open_store
from tandem.supervision import FateSharing
from tandem.telemetry.logs import LogService
from tests.waiting import wait_until_async


@pytest.fixture
async def logs(tmp_path: Path) -> AsyncIterator[LogService]:
    store = open_store(tmp_path / "store")
    service = LogService(store.logs, flush_interval=0.05, sweep_interval=None)
    await service.start()
    yield service
    await service.stop()
    store.close()


def _b64(script: str) -> list[dict[str, str]]:
    return [{"Content": base64.b64encode(script.encode()).decode()}]


async def _settled(service: NotebookService, name: str) -> NotebookStatus:
    return await wait_until_async(
        lambda: (status := service.instance(name).status) not in (
            NotebookStatus.PENDING, NotebookStatus.STOPPING) and status,
        f"{name} to settle")


async def _messages(logs: LogService, stream: str) -> list[str]:
    await logs.flush()
    result = await logs.get_log_events(log_group_name=NOTEBOOK_LOG_GROUP, log_stream_name=stream,
                                       start_from_head=True)
    return [e.message for e in result.events]


def _service(logs: LogService, tmp_path: Path, **kwargs: object) -> NotebookService:
    guard = FateSharing(tmp_path / "guard")
    launcher = LocalLauncher(None, logs, data_dir=tmp_path / "launcher")
    return NotebookService(logs=logs, data_dir=tmp_path / "nb", guard=guard, launcher=launcher,
                           arn=lambda kind, name: f"arn:aws:sagemaker:us-east-1:0:{kind}/{name}",
                           **kwargs)  # type: ignore[arg-type]


async def test_overlong_on_start_fails_the_instance_and_keeps_its_log(
        logs: LogService, tmp_path: Path) -> None:
    service = _service(logs, tmp_path, lifecycle_timeout=2.0, jupyter_available=lambda: False)
    service.create_lifecycle_config({"NotebookInstanceLifecycleConfigName": "slow",
                                     "OnStart": _b64("echo starting\nsleep 600\n")})
    service.create_instance({"NotebookInstanceName": "nb-slow", "InstanceType": "ml.t3.medium",
                             "RoleArn": "r", "LifecycleConfigName": "slow"})
    loop = asyncio.get_running_loop()
    started = loop.time()
    # The script would sleep far past _settled's wait: only the time limit ends it in time.
    assert await _settled(service, "nb-slow") is NotebookStatus.FAILED
    assert loop.time() - started >= 2.0  # not before the limit
    assert service.instance("nb-slow").failure_reason == (
        "Notebook Instance Lifecycle Config "
        "'arn:aws:sagemaker:us-east-1:0:notebook-instance-lifecycle-config/slow' for Notebook "
        "Instance 'arn:aws:sagemaker:us-east-1:0:notebook-instance/nb-slow' took longer than "
        "2 seconds. Please check your CloudWatch logs for more details if your Notebook "
        "Instance has Internet access.")
    assert await _messages(logs, "nb-slow/LifecycleConfigOnStart") == ["starting"]
    await service.close()


async def test_without_jupyter_the_instance_is_in_service_without_url(
        logs: LogService, tmp_path: Path) -> None:
    service = _service(logs, tmp_path, jupyter_available=lambda: False)
    service.create_lifecycle_config({"NotebookInstanceLifecycleConfigName": "lc",
                                     "OnCreate": _b64("echo created\n"),
                                     "OnStart": _b64("echo started\n")})
    service.create_instance({"NotebookInstanceName": "nb", "InstanceType": "ml.t3.medium",
                             "RoleArn": "r", "LifecycleConfigName": "lc"})
    assert await _settled(service, "nb") is NotebookStatus.IN_SERVICE
    assert "Url" not in service.instance("nb").describe()
    jupyter = await _messages(logs, "nb/jupyter.log")
    assert jupyter == ["jupyter-server is not installed (pip install 'tandem[notebook]'): this "
                       "notebook instance runs without a Jupyter server and has no Url."]
    service.stop_instance("nb")
    assert await _settled(service, "nb") is NotebookStatus.STOPPED
    service.start_instance("nb")
    assert await _settled(service, "nb") is NotebookStatus.IN_SERVICE
    assert await _messages(logs, "nb/LifecycleConfigOnCreate") == ["created"]
    assert await _messages(logs, "nb/LifecycleConfigOnStart") == ["started", "started"]
    await service.close()
