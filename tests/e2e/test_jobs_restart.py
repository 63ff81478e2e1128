"""A training job on the local launcher when its server restarts: its hosts were the server's own
processes, so no server can re-attach to them; the job fails, and its FailureReason says the
server restarted (SIGKILL) or stopped (SIGTERM) while it ran. Jobs on a Ray cluster are
re-attached instead (tests/multihost/test_ray_job_reattach.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.support import client
from tests.e2e.test_jobs_training import _create, _has, _messages, _streams
from tests.server_process import ServerProcess
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

_WHY = ("its hosts were processes of that server (launcher local), which end with it, so no "
        "server can re-attach to them.")


def _training(sagemaker: Any, server: ServerProcess, name: str) -> None:
    """Until the job's host runs its script (it said so in its log stream)."""
    wait_until(lambda: sagemaker.describe_training_job(TrainingJobName=name)["SecondaryStatus"]
               == "Training", f"{name} to train")  # fmt: skip
    logs = client(server, "logs")
    stream = wait_until(lambda: _streams(logs, name), f"{name}'s log stream")[0]
    _messages(logs, stream, _has("sleeping"))


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_a_local_training_job_fails_saying_the_server_went_while_it_ran(
    tmp_path: Path, how: str
) -> None:
    server = ServerProcess(tmp_path / "data").start()
    try:
        sagemaker = client(server, "sagemaker")
        name = f"lost-on-{how.lower()}"
        _create(sagemaker, name, tmp_path / "out", mode="sleep", sleep=600, runtime=900)
        _training(sagemaker, server, name)
        if how == "SIGKILL":
            server.kill()
        else:
            assert server.stop(timeout=60) == 0
        port = int(server.url.rsplit(":", 1)[1])
        server = ServerProcess(tmp_path / "data", port=port).start()
        sagemaker = client(server, "sagemaker")
        desc = sagemaker.describe_training_job(TrainingJobName=name)
        went = "restarted" if how == "SIGKILL" else "stopped"
        assert (desc["TrainingJobStatus"], desc["SecondaryStatus"]) == ("Failed", "Failed")
        assert desc["FailureReason"] == f"The tandem server {went} while the job ran: {_WHY}"
        statuses = [t["Status"] for t in desc["SecondaryStatusTransitions"]]
        if how == "SIGKILL":
            assert statuses == ["Starting", "Downloading", "Training", "Failed"]
        else:  # its host was stopped, and what it saved uploaded, as a stop does
            assert statuses == ["Starting", "Downloading", "Training", "Stopping", "Failed"]
        assert all("EndTime" in t for t in desc["SecondaryStatusTransitions"])
        listed = sagemaker.list_training_jobs(NameContains=name)["TrainingJobSummaries"]
        assert [(s["TrainingJobStatus"], s["SecondaryStatus"]) for s in listed] == [
            ("Failed", "Failed")]
    finally:
        server.stop(timeout=60)
