"""Notebook instances through boto3: lifecycle scripts, a real Jupyter server, waiters."""

from __future__ import annotations

import base64
import json
import urllib.request

import pytest
from botocore.exceptions import ClientError

from tests.e2e.support import client
from tests.server_process import ServerProcess
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

GROUP = "/aws/sagemaker/NotebookInstances"


def _b64(script: str) -> list[dict[str, str]]:
    return [{"Content": base64.b64encode(script.encode()).decode()}]


def _settle(sagemaker, name: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    def settled() -> dict | None:  # type: ignore[type-arg]
        desc = sagemaker.describe_notebook_instance(NotebookInstanceName=name)
        return desc if desc["NotebookInstanceStatus"] not in ("Pending", "Stopping") else None
    return wait_until(settled, f"{name} to settle")


def _messages(logs, stream: str, count: int = 1) -> list[str]:  # type: ignore[no-untyped-def]
    """The stream's messages, once it has at least ``count``."""
    def read() -> list[str] | None:
        events = logs.get_log_events(logGroupName=GROUP, logStreamName=stream,
                                     startFromHead=True)["events"]
        return [e["message"] for e in events] if len(events) >= count else None
    return wait_until(read, f"{count} messages in {stream}")


def test_lifecycle_scripts_jupyter_and_waiters(server: ServerProcess, sagemaker) -> None:  # type: ignore[no-untyped-def]
    sagemaker.create_notebook_instance_lifecycle_config(
        NotebookInstanceLifecycleConfigName="setup",
        OnCreate=_b64('echo "create as $(whoami)"\necho created >> "$HOME/hooks.txt"\n'),
        OnStart=_b64('echo "start PATH=$PATH"\necho started >> "$HOME/hooks.txt"\n'))
    sagemaker.create_notebook_instance(NotebookInstanceName="nb1", InstanceType="ml.t3.medium",
                                       RoleArn="arn:aws:iam::000000000000:role/x",
                                       LifecycleConfigName="setup")
    sagemaker.get_waiter("notebook_instance_in_service").wait(
        NotebookInstanceName="nb1", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    desc = sagemaker.describe_notebook_instance(NotebookInstanceName="nb1")
    assert desc["NotebookInstanceLifecycleConfigName"] == "setup"
    url = desc["Url"]
    assert url.startswith("http://127.0.0.1:") and "?token=" in url
    base, token = url.split("/?token=")
    with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as response:
        assert "started" in json.load(response)
    logs = client(server, "logs")
    assert _messages(logs, "nb1/LifecycleConfigOnStart") == [
        "start PATH=/sbin:/bin:/usr/sbin:/usr/bin"]
    assert _messages(logs, "nb1/jupyter.log")

    sagemaker.stop_notebook_instance(NotebookInstanceName="nb1")
    sagemaker.get_waiter("notebook_instance_stopped").wait(
        NotebookInstanceName="nb1", WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    assert "Url" not in sagemaker.describe_notebook_instance(NotebookInstanceName="nb1")
    sagemaker.start_notebook_instance(NotebookInstanceName="nb1")
    assert _settle(sagemaker, "nb1")["NotebookInstanceStatus"] == "InService"
    streams = sorted(s["logStreamName"] for s in logs.describe_log_streams(
        logGroupName=GROUP, logStreamNamePrefix="nb1/")["logStreams"])
    assert streams == ["nb1/LifecycleConfigOnCreate", "nb1/LifecycleConfigOnStart",
                       "nb1/jupyter.log"]
    assert len(_messages(logs, "nb1/LifecycleConfigOnCreate")) == 1
    assert len(_messages(logs, "nb1/LifecycleConfigOnStart", count=2)) == 2
    listed = sagemaker.list_notebook_instances(StatusEquals="InService")["NotebookInstances"]
    assert [i["NotebookInstanceName"] for i in listed] == ["nb1"]

    with pytest.raises(ClientError) as running:
        sagemaker.delete_notebook_instance(NotebookInstanceName="nb1")
    assert running.value.response["Error"]["Code"] == "ValidationException"
    sagemaker.stop_notebook_instance(NotebookInstanceName="nb1")
    _settle(sagemaker, "nb1")
    sagemaker.delete_notebook_instance(NotebookInstanceName="nb1")
    sagemaker.get_waiter("notebook_instance_deleted").wait(
        NotebookInstanceName="nb1", WaiterConfig={"Delay": 1, "MaxAttempts": 10})


def test_failing_on_create_leaves_the_instance_failed(server: ServerProcess, sagemaker) -> None:  # type: ignore[no-untyped-def]
    sagemaker.create_notebook_instance_lifecycle_config(
        NotebookInstanceLifecycleConfigName="broken",
        OnCreate=_b64("echo about to fail\nexit 7\n"))
    sagemaker.create_notebook_instance(NotebookInstanceName="nb-broken",
                                       InstanceType="ml.t3.medium",
                                       RoleArn="arn:aws:iam::000000000000:role/x",
                                       LifecycleConfigName="broken")
    desc = _settle(sagemaker, "nb-broken")
    assert desc["NotebookInstanceStatus"] == "Failed"
    assert desc["FailureReason"] == (
        "Notebook Instance Lifecycle Config "
        "'arn:aws:sagemaker:us-east-1:000000000000:notebook-instance-lifecycle-config/broken' "
        "for Notebook Instance "
        "'arn:aws:sagemaker:us-east-1:000000000000:notebook-instance/nb-broken' failed: "
        "OnCreate exited with code 7. Please check your CloudWatch logs for more details if "
        "your Notebook Instance has Internet access.")
    assert _messages(client(server, "logs"), "nb-broken/LifecycleConfigOnCreate") == [
        "about to fail"]
    with pytest.raises(ClientError) as missing:
        sagemaker.describe_notebook_instance(NotebookInstanceName="nope")
    assert missing.value.response["Error"]["Code"] == "ValidationException"


def _answers(url: str) -> bool:
    base, token = url.split("/?token=")
    with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as response:
        return "started" in json.load(response)


def test_notebook_instances_and_configs_survive_server_restarts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """SIGTERM then SIGKILL: the config is still there, the InService instance comes back
    InService with a Jupyter server that answers (OnStart again, OnCreate never again), the
    Stopped one stays Stopped, and a deleted one stays deleted."""
    server = ServerProcess(tmp_path / "data").start()
    try:
        sm = client(server, "sagemaker")
        sm.create_notebook_instance_lifecycle_config(
            NotebookInstanceLifecycleConfigName="hooks",
            OnCreate=_b64('echo created >> "$HOME/hooks.txt"\n'),
            OnStart=_b64('echo started >> "$HOME/hooks.txt"\n'))
        for name in ("kept", "off", "gone"):
            sm.create_notebook_instance(NotebookInstanceName=name, InstanceType="ml.t3.medium",
                                        RoleArn="arn:aws:iam::000000000000:role/x",
                                        LifecycleConfigName="hooks")
        for name in ("kept", "off", "gone"):
            assert _settle(sm, name)["NotebookInstanceStatus"] == "InService"
        for name in ("off", "gone"):
            sm.stop_notebook_instance(NotebookInstanceName=name)
            assert _settle(sm, name)["NotebookInstanceStatus"] == "Stopped"
        sm.delete_notebook_instance(NotebookInstanceName="gone")
        created = sm.describe_notebook_instance(NotebookInstanceName="kept")["CreationTime"]
        hooks = tmp_path / "data" / "jobs" / "notebooks" / "kept" / "hooks.txt"
        for how in ("SIGTERM", "SIGKILL"):
            if how == "SIGTERM":
                server.stop()
            else:
                server.kill()
            server.start()
            sm = client(server, "sagemaker")
            configs = sm.list_notebook_instance_lifecycle_configs()
            assert [c["NotebookInstanceLifecycleConfigName"] for c in
                    configs["NotebookInstanceLifecycleConfigs"]] == ["hooks"]
            kept = _settle(sm, "kept")
            assert (kept["NotebookInstanceStatus"], kept["CreationTime"]) == ("InService", created)
            assert _answers(kept["Url"])
            assert _settle(sm, "off")["NotebookInstanceStatus"] == "Stopped"
            listed = sm.list_notebook_instances()["NotebookInstances"]
            assert sorted(i["NotebookInstanceName"] for i in listed) == ["kept", "off"]
        assert hooks.read_text().split() == ["created", "started", "started", "started"]
    finally:
        server.stop()
