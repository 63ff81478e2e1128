"""Training jobs on the Ray launcher outlive their server: a 2-host job keeps running while
``tandem serve`` is SIGKILLed, then SIGTERMed, and each restarted server re-attaches to its
hosts by name (the same processes, never restarted), receives the lines they wrote while no
server ran, and the job completes exactly as an uninterrupted one would (model.tar.gz, final
metric, status history, training time). A host whose actor is gone when the server comes back
fails the job, naming the host.

The hosts' script moves on only when the test opens a gate (a file), and leaves a mark once it
has printed a phase's line, so the test knows which lines were written while no server ran.
"""

from __future__ import annotations

import json
import tarfile
import time
from pathlib import Path
from typing import Any

from tests.e2e.support import client
from tests.server_process import ServerProcess

from .netns import processes_in
from .rig import RayCluster
from .test_ray_fleet import _events, _serve, _streams
from .test_ray_fleet import serve as serve  # the fixture: servers stopped, actors killed
from .test_ray_training import IMAGE, TRAINING_GROUP, _until

TRAIN = r'''
import os, pathlib, time

host = os.environ["SM_CURRENT_HOST"]
gates = pathlib.Path(os.environ["SM_HP_GATES"])
for phase, loss in ((1, 0.5), (2, 0.25), (3, 0.125)):
    if phase > 1:
        while not (gates / f"open-{phase}").exists():
            time.sleep(0.1)
    print(f"host={host} phase={phase} loss={loss}", flush=True)
    (gates / f"said-{phase}-{host}").touch()
with open(os.path.join(os.environ["SM_MODEL_DIR"], f"{host}.txt"), "w") as f:
    f.write(f"{host} saw 3 phases")
'''
HOSTS = ("algo-1", "algo-2")


def _create(sagemaker: Any, job: str, code: Path, gates: Path, out: Path) -> None:
    sagemaker.create_training_job(
        TrainingJobName=job, RoleArn="arn:aws:iam::000000000000:role/test",
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File",
                                "MetricDefinitions": [{"Name": "train:loss",
                                                       "Regex": r"loss=([0-9.]+)"}]},
        HyperParameters={"sagemaker_program": json.dumps("train.py"),
                         "sagemaker_submit_directory": json.dumps(str(code)),
                         "gates": str(gates)},
        OutputDataConfig={"S3OutputPath": "file://" + str(out)},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )  # fmt: skip


def _setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    code, gates = tmp_path / "code", tmp_path / "gates"
    code.mkdir()
    gates.mkdir()
    (code / "train.py").write_text(TRAIN)
    return code, gates, tmp_path / "out"


def _host_processes(rig: RayCluster, job: str) -> list[int]:
    """The job's host processes on the emulated hosts: each runs the script from the code
    carried into its instance root there (``.../instances/<job>/<instance id>/code``)."""
    found = []
    for host in rig.hosts:
        for pid in processes_in(host.namespace):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(f"/instances/{job}/".encode() in a and a.endswith(b"/code/train.py")
                   for a in argv):
                found.append(pid)
    return sorted(found)


def _said(gates: Path, phase: int) -> bool:
    return all((gates / f"said-{phase}-{host}").exists() for host in HOSTS)


def _job_actors(rig: RayCluster, job: str) -> list[str]:
    names = rig.run_driver(
        "result = sorted(a['name'] for a in ray.util.list_named_actors(all_namespaces=True)"
        f" if a['namespace'] == 'tandem' and a['name'].startswith('tandem/{job}/'))")
    assert isinstance(names, list)
    return names


def _job_groups(rig: RayCluster, job: str) -> list[str]:
    names = rig.run_driver(
        "result = sorted(g['name'] for g in ray.util.placement_group_table().values()"
        f" if g['state'] != 'REMOVED' and g['name'].startswith('tandem/{job}/'))")
    assert isinstance(names, list)
    return names


def _phases(logs: Any, job: str) -> dict[str, list[str]]:
    """{host: its stream's phase lines, in order}."""
    streams = sorted(s for s in _streams(logs, TRAINING_GROUP) if s.startswith(f"{job}/"))
    return {s.split("/")[1].rsplit("-", 1)[0]: [
        m for m in _events(logs, TRAINING_GROUP, s) if " phase=" in m] for s in streams}


def _restart(rig: RayCluster, tmp_path: Path, server: ServerProcess,
             serve: list[ServerProcess]) -> ServerProcess:  # fmt: skip
    port = int(server.url.rsplit(":", 1)[1])
    again = _serve(rig, tmp_path, scale=0.5, port=port)
    serve.append(again)
    return again


def test_a_training_job_runs_on_through_a_sigkill_and_a_sigterm_of_its_server(
    multihost_rig: RayCluster, serve: list[ServerProcess], tmp_path: Path
) -> None:
    rig, job = multihost_rig, "mh-reattach"
    code, gates, out = _setup(tmp_path)
    server = _serve(rig, tmp_path, scale=0.5)
    serve.append(server)
    sagemaker = client(server, "sagemaker")
    _create(sagemaker, job, code, gates, out)
    _until("both hosts' first phase", lambda: _said(gates, 1), timeout=240)
    pids = _host_processes(rig, job)
    actors = _job_actors(rig, job)
    assert len(pids) == 2 and [a.rsplit("/", 1)[0] for a in actors] == [
        f"tandem/{job}/{h}" for h in HOSTS]
    _until("the job's record in Training", lambda: sagemaker.describe_training_job(
        TrainingJobName=job)["SecondaryStatus"] == "Training")
    started = time.time()

    for phase, how in ((2, "SIGKILL"), (3, "SIGTERM")):
        if how == "SIGKILL":
            server.kill()
        else:
            assert server.stop(timeout=60) == 0
        # No server: the hosts run on, and print their next phase's line.
        assert _job_actors(rig, job) == actors
        (gates / f"open-{phase}").touch()
        _until(f"both hosts' phase {phase} with no server", lambda p=phase: _said(gates, p))
        if phase == 2:
            assert _host_processes(rig, job) == pids
        server = _restart(rig, tmp_path, server, serve)
        sagemaker, logs = client(server, "sagemaker"), client(server, "logs")
        if phase == 2:
            desc = sagemaker.describe_training_job(TrainingJobName=job)
            assert (desc["TrainingJobStatus"], desc["SecondaryStatus"]) == (
                "InProgress", "Training")
            assert _job_actors(rig, job) == actors  # found again, none made
            assert _host_processes(rig, job) == pids
            _until("the lines written with no server", lambda lg=logs: all(
                len(lines) >= 2 for lines in _phases(lg, job).values()))

    def finished() -> dict[str, Any] | None:
        desc = sagemaker.describe_training_job(TrainingJobName=job)
        return desc if desc["TrainingJobStatus"] != "InProgress" else None

    desc = _until("the job to finish", finished, timeout=180)
    ran = time.time() - started
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert "FailureReason" not in desc
    assert [t["Status"] for t in desc["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert desc["SecondaryStatus"] == "Completed"
    assert [(m["MetricName"], m["Value"]) for m in desc["FinalMetricDataList"]] == [
        ("train:loss", 0.125)]
    with tarfile.open(out / job / "output" / "model.tar.gz") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    assert members == {f"{h}.txt": f"{h} saw 3 phases".encode() for h in HOSTS}
    # Training time runs from the first start to the end, the servers' downtime included.
    seconds = desc["TrainingTimeInSeconds"]
    assert desc["BillableTimeInSeconds"] == seconds
    assert seconds == max(1, round(desc["TrainingEndTime"].timestamp()
                                   - desc["TrainingStartTime"].timestamp()))
    assert seconds >= int(ran) - 1
    # Every line of every phase in each host's stream, in order, once.
    def all_phases() -> dict[str, list[str]] | None:
        found = _phases(logs, job)
        return found if all(len(lines) >= 3 for lines in found.values()) else None

    phases = _until("all three phases' lines", all_phases)
    assert phases == {h: [f"host={h} phase={k} loss={loss}" for k, loss in
                          ((1, 0.5), (2, 0.25), (3, 0.125))] for h in HOSTS}
    _until("no actor left", lambda: _job_actors(rig, job) == [], timeout=60)
    assert _job_groups(rig, job) == []
    assert _host_processes(rig, job) == []


def test_a_host_lost_while_no_server_ran_fails_the_job_naming_it(
    multihost_rig: RayCluster, serve: list[ServerProcess], tmp_path: Path
) -> None:
    rig, job = multihost_rig, "mh-reattach-lost"
    code, gates, out = _setup(tmp_path)
    server = _serve(rig, tmp_path, scale=0.5)
    serve.append(server)
    sagemaker = client(server, "sagemaker")
    _create(sagemaker, job, code, gates, out)
    _until("both hosts' first phase", lambda: _said(gates, 1), timeout=240)
    _until("the job's record in Training", lambda: sagemaker.describe_training_job(
        TrainingJobName=job)["SecondaryStatus"] == "Training")
    server.kill()
    lost = [a for a in _job_actors(rig, job) if a.startswith(f"tandem/{job}/algo-2/")]
    assert len(lost) == 1
    rig.run_driver(f"ray.kill(ray.get_actor({lost[0]!r}, namespace='tandem'))\nresult = 1")
    server = _restart(rig, tmp_path, server, serve)
    sagemaker = client(server, "sagemaker")

    def finished() -> dict[str, Any] | None:
        desc = sagemaker.describe_training_job(TrainingJobName=job)
        return desc if desc["TrainingJobStatus"] != "InProgress" else None

    desc = _until("the job to fail", finished, timeout=120)
    assert (desc["TrainingJobStatus"], desc["SecondaryStatus"]) == ("Failed", "Failed")
    assert desc["FailureReason"] == (
        "InternalServerError: The tandem server restarted while the job ran, and host algo-2 "
        f"was lost meanwhile: its agent (Ray actor {lost[0]}) is gone.")
    assert [t["Status"] for t in desc["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Failed"]
    # algo-1, found alive, was stopped with the job; nothing of it is left.
    _until("no actor left", lambda: _job_actors(rig, job) == [], timeout=60)
    assert _job_groups(rig, job) == []
    _until("no script process left", lambda: _host_processes(rig, job) == [],
           timeout=30)
