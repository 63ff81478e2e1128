"""Jobs on the Ray launcher: a 2-host training job whose hosts rendezvous over TCP by name
across emulated hosts, and a transform job whose container runs on one of them.

Each test runs a real ``tandem serve --launcher ray://HEAD`` in the root namespace and drives it
through boto3. Where a host's process ran is read from what it logged about its own network
namespace (the inode of /proc/self/ns/net) against the rig's namespaces, not from Ray.
"""

from __future__ import annotations

import json
import os
import re
import tarfile
from pathlib import Path
from typing import Any

from tests.api.s3.conftest import s3_client
from tests.e2e.support import STAGE, client, stage_container
from tests.server_process import ServerProcess
from tests.waiting import wait_until

from .netns import processes_in
from .rig import RayCluster
from .test_ray_fleet import _events, _serve, _stat, _streams
from .test_ray_fleet import serve as serve  # the fixture: servers stopped, actors killed

TRAINING_GROUP = "/aws/sagemaker/TrainingJobs"
TRANSFORM_GROUP = "/aws/sagemaker/TransformJobs"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"

# algo-1 listens on its own port; every other host connects to the name "algo-1" (the port
# from SM_MASTER_PORT); each side sends its greeting and logs what it got. All then stay a few
# seconds so their usage is sampled.
TRAIN = r'''
import json, os, socket, sys, time

host = os.environ["SM_CURRENT_HOST"]
hosts = json.loads(os.environ["SM_HOSTS"])
ports = json.loads(os.environ["SM_HOST_PORTS"])
netns = os.stat("/proc/self/ns/net").st_ino
print(f"host={host} netns={netns} resolves={socket.gethostbyname(host)}", flush=True)
greeting = f"hello from {host}".encode()
heard = []
if host == "algo-1":
    server = socket.create_server(("0.0.0.0", ports[host]))
    server.settimeout(120)
    conns = [server.accept()[0] for _ in hosts[1:]]
else:
    for _ in range(1200):
        try:
            conns = [socket.create_connection(("algo-1", int(os.environ["SM_MASTER_PORT"])), 2)]
            break
        except OSError:
            time.sleep(0.1)
    else:
        sys.exit(3)
for conn in conns:
    conn.sendall(greeting)
    got = conn.recv(100).decode()
    conn.close()
    heard.append(got)
    print(f"host={host} peer={got}", flush=True)
    print(f"received_bytes={len(got)}", flush=True)
with open(os.path.join(os.environ["SM_MODEL_DIR"], f"{host}.txt"), "w") as f:
    f.write(",".join(sorted(heard)))
time.sleep(4)
'''
_SAID = re.compile(r"^host=(algo-\d) netns=(\d+) resolves=(\S+)$")
_LISTENING = re.compile(r"listening on (\d+) pid (\d+) host (\S+)")


def _until(what: str, check: Any, timeout: float = 90.0) -> Any:
    return wait_until(check, what, timeout=timeout, interval=0.5)


def _netns_inodes(rig: RayCluster) -> dict[int, str]:
    """{network namespace inode: emulated host name}."""
    inodes = {}
    for host in rig.hosts:
        pid = processes_in(host.namespace)[0]  # its Ray node's processes at least
        inodes[os.stat(f"/proc/{pid}/ns/net").st_ino] = host.name
    return inodes


def _script_processes(rig: RayCluster, job: str, script: str) -> list[int]:
    """The job's processes on the emulated hosts running ``script``, from the code carried
    into each host's instance root there (``.../instances/<job>/<instance id>/code``)."""
    found = []
    for host in rig.hosts:
        for pid in processes_in(host.namespace):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(f"/instances/{job}/".encode() in a and a.endswith(f"/code/{script}".encode())
                   for a in argv):
                found.append(pid)
    return found


def test_a_two_host_training_job_rendezvous_by_name_across_hosts(
    multihost_rig: RayCluster, serve: list[ServerProcess], tmp_path: Path
) -> None:
    rig, job = multihost_rig, "mh-train"
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(TRAIN)
    namespaces = _netns_inodes(rig)
    server = _serve(rig, tmp_path, scale=0.5)
    serve.append(server)
    sagemaker, logs = client(server, "sagemaker"), client(server, "logs")
    cloudwatch = client(server, "cloudwatch")
    out = tmp_path / "out"
    sagemaker.create_training_job(
        TrainingJobName=job, RoleArn="arn:aws:iam::000000000000:role/test",
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File",
                                "MetricDefinitions": [{"Name": "received:bytes",
                                                       "Regex": r"received_bytes=([0-9]+)"}]},
        HyperParameters={"sagemaker_program": json.dumps("train.py"),
                         "sagemaker_submit_directory": json.dumps(str(code))},
        OutputDataConfig={"S3OutputPath": "file://" + str(out)},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
    )  # fmt: skip

    def finished() -> dict[str, Any] | None:
        desc = sagemaker.describe_training_job(TrainingJobName=job)
        return desc if desc["TrainingJobStatus"] in ("Completed", "Failed", "Stopped") else None

    desc = _until("the job to finish", finished, timeout=300)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    final = {m["MetricName"]: m["Value"] for m in desc["FinalMetricDataList"]}
    assert final == {"received:bytes": 17.0}

    # One stream per host, each with its own host's lines only.
    streams = sorted(s for s in _streams(logs, TRAINING_GROUP) if s.startswith(f"{job}/"))
    epoch = streams[0].rsplit("-", 1)[1]
    assert streams == [f"{job}/algo-1-{epoch}", f"{job}/algo-2-{epoch}"]
    addresses = {h.name: h.address for h in rig.hosts}
    ran_in: dict[str, str] = {}
    for k, other in ((1, 2), (2, 1)):
        host, stream = f"algo-{k}", streams[k - 1]
        exchanged = f"host={host} peer=hello from algo-{other}"
        lines = _until(f"{host}'s lines", lambda s=stream, e=exchanged: (  # type: ignore[misc]
            m if e in (m := _events(logs, TRAINING_GROUP, s)) else None))  # fmt: skip
        said = [match for line in lines if (match := _SAID.match(line))]
        assert [m[1] for m in said] == [host]
        assert all(f"algo-{other}" not in line or "peer=" in line for line in lines)
        assert "received_bytes=17" in lines
        ran_in[host] = namespaces[int(said[0][2])]
        # The name resolved, in its own process, to the address of the host it ran on.
        assert said[0][3] == addresses[ran_in[host]]
    assert sorted(ran_in.values()) == sorted(h.name for h in rig.hosts)

    # Each host's file in the one model.tar.gz.
    with tarfile.open(out / job / "output" / "model.tar.gz") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    assert members == {"algo-1.txt": b"hello from algo-2", "algo-2.txt": b"hello from algo-1"}

    # The metric from the lines in CloudWatch; each host's usage under its own Host.
    points = _until("received:bytes in CloudWatch", lambda: _stat(
        cloudwatch, TRAINING_GROUP, "received:bytes", {"TrainingJobName": job}, "SampleCount"))
    assert points == 2.0
    for host in ("algo-1", "algo-2"):
        _until(f"CPUUtilization of {host}", lambda h=host: _stat(  # type: ignore[misc]
            cloudwatch, TRAINING_GROUP, "CPUUtilization", {"Host": f"{job}/{h}"},
            "SampleCount"))  # fmt: skip
    assert _script_processes(rig, job, "train.py") == []


def test_three_hosts_on_two_nodes_share_one_and_still_rendezvous_by_name(
    multihost_rig: RayCluster, serve: list[ServerProcess], tmp_path: Path
) -> None:
    """More hosts than nodes: SPREAD, two hosts on one node, told apart by their ports."""
    rig, job = multihost_rig, "mh-train-three"
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(TRAIN)
    namespaces = _netns_inodes(rig)
    server = _serve(rig, tmp_path, scale=0.5)  # 1 CPU a host: each 2-CPU node takes two
    serve.append(server)
    sagemaker, logs = client(server, "sagemaker"), client(server, "logs")
    out = tmp_path / "out"
    sagemaker.create_training_job(
        TrainingJobName=job, RoleArn="arn:aws:iam::000000000000:role/test",
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        HyperParameters={"sagemaker_program": json.dumps("train.py"),
                         "sagemaker_submit_directory": json.dumps(str(code))},
        OutputDataConfig={"S3OutputPath": "file://" + str(out)},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 3, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
    )  # fmt: skip

    def finished() -> dict[str, Any] | None:
        desc = sagemaker.describe_training_job(TrainingJobName=job)
        return desc if desc["TrainingJobStatus"] in ("Completed", "Failed", "Stopped") else None

    desc = _until("the job to finish", finished, timeout=300)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    with tarfile.open(out / job / "output" / "model.tar.gz") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    assert members == {"algo-1.txt": b"hello from algo-2,hello from algo-3",
                       "algo-2.txt": b"hello from algo-1", "algo-3.txt": b"hello from algo-1"}
    addresses = {h.name: h.address for h in rig.hosts}
    streams = sorted(s for s in _streams(logs, TRAINING_GROUP) if s.startswith(f"{job}/"))
    ran_in = {}
    for stream in streams:
        said = _until(f"{stream}'s first line", lambda s=stream: [  # type: ignore[misc]
            m for line in _events(logs, TRAINING_GROUP, s) if (m := _SAID.match(line))])
        ran_in[said[0][1]] = namespaces[int(said[0][2])]
        assert said[0][3] == addresses[ran_in[said[0][1]]]
    assert sorted(ran_in) == ["algo-1", "algo-2", "algo-3"]
    assert set(ran_in.values()) == {h.name for h in rig.hosts}
    assert _script_processes(rig, job, "train.py") == []


# algo-2 fails after two lines; algo-1 would run for minutes.
FAIL = r'''
import os, sys, time

host = os.environ["SM_CURRENT_HOST"]
if host == "algo-2":
    print("step=1 fine", flush=True)
    print("step=2 diverged", flush=True)
    sys.exit(3)
print("algo-1 waiting", flush=True)
time.sleep(600)
'''


def test_a_remote_host_failing_fails_the_job_with_its_last_lines_and_stops_the_other(
    multihost_rig: RayCluster, serve: list[ServerProcess], tmp_path: Path
) -> None:
    rig, job = multihost_rig, "mh-train-fail"
    code = tmp_path / "code"
    code.mkdir()
    (code / "fail.py").write_text(FAIL)
    server = _serve(rig, tmp_path, scale=0.5)
    serve.append(server)
    sagemaker = client(server, "sagemaker")
    sagemaker.create_training_job(
        TrainingJobName=job, RoleArn="arn:aws:iam::000000000000:role/test",
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        HyperParameters={"sagemaker_program": json.dumps("fail.py"),
                         "sagemaker_submit_directory": json.dumps(str(code))},
        OutputDataConfig={"S3OutputPath": "file://" + str(tmp_path / "out")},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
    )  # fmt: skip

    def finished() -> dict[str, Any] | None:
        desc = sagemaker.describe_training_job(TrainingJobName=job)
        return desc if desc["TrainingJobStatus"] in ("Completed", "Failed", "Stopped") else None

    desc = _until("the job to finish", finished, timeout=240)
    assert desc["TrainingJobStatus"] == "Failed"
    assert desc["FailureReason"] == (
        'AlgorithmError: algo-2 exited with code 3. Last log lines: "step=1 fine" '
        '"step=2 diverged"')
    assert _script_processes(rig, job, "fail.py") == []


def test_a_transform_job_runs_its_container_on_a_cluster_host(
    multihost_rig: RayCluster, serve: list[ServerProcess], tmp_path: Path
) -> None:
    rig, job = multihost_rig, "mh-transform"
    server = _serve(rig, tmp_path, scale=0.5)
    serve.append(server)
    sagemaker, logs = client(server, "sagemaker"), client(server, "logs")
    sagemaker.create_model(ModelName=job, Containers=[stage_container("only")])
    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    for n in range(3):
        (source / f"r{n}.json").write_text(json.dumps({"instances": [[n, 10 * n]]}))
    sagemaker.create_transform_job(
        TransformJobName=job, ModelName=job,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                        "S3Uri": str(source)}},
                        "ContentType": "application/json"},
        TransformOutput={"S3OutputPath": "file://" + str(out)},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )  # fmt: skip

    def finished() -> dict[str, Any] | None:
        desc = sagemaker.describe_transform_job(TransformJobName=job)
        return desc if desc["TransformJobStatus"] in ("Completed", "Failed", "Stopped") else None

    desc = _until("the transform job to finish", finished, timeout=240)
    assert desc["TransformJobStatus"] == "Completed", desc.get("FailureReason")
    for n in range(3):
        got = json.loads((out / f"r{n}.json.out").read_text())
        assert got["instances"] == [[n + 1, 10 * n + 1]]

    streams = [s for s in _streams(logs, TRANSFORM_GROUP)
               if s.startswith(f"{job}/") and not s.endswith("/data-log")]  # fmt: skip
    assert len(streams) == 1
    listening = _until("the container's listening line", lambda: [
        m for line in _events(logs, TRANSFORM_GROUP, streams[0])
        if (m := _LISTENING.search(line))])  # fmt: skip
    assert listening[0][3] in {h.address for h in rig.hosts}
    stage = [pid for h in rig.hosts for pid in processes_in(h.namespace)
             if str(STAGE).encode() in _cmdline(pid)]  # fmt: skip
    assert stage == []


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


# Checks, in its own process, that everything it reads is under its node's own root (the
# agents' work dir), never the server's data dir, and that its channels hold exactly the files
# expected for its host (the s3:// one fetched by its node from the server's S3); then writes
# a model file and output data. "fail": algo-2 writes its
# failure file and exits 1; "wait": both save a model file and wait to be stopped.
SELF_CONTAINED = r'''
import json, os, sys, time

host = os.environ["SM_CURRENT_HOST"]
hp = json.loads(os.environ["SM_HPS"])
node_root, server_root = hp["node_root"], hp["server_root"]
paths = {k: os.environ[k] for k in ("SM_MODEL_DIR", "SM_INPUT_DIR", "SM_INPUT_CONFIG_DIR",
                                    "SM_OUTPUT_DATA_DIR", "SM_CHANNEL_FULL",
                                    "SM_CHANNEL_SHARDS", "SM_CHANNEL_REMOTE",
                                    "SM_CHECKPOINT_DIR", "HOME", "TMPDIR")}
paths["cwd"] = os.getcwd()
problems = [f"{k}={v}" for k, v in paths.items()
            if not v.startswith(node_root + "/") or v.startswith(server_root + "/")]

def files(channel):
    top = os.environ["SM_CHANNEL_" + channel.upper()]
    found = {}
    for folder, _, names in os.walk(top):
        for name in names:
            path = os.path.join(folder, name)
            if not os.path.realpath(path).startswith(node_root + "/"):
                problems.append(f"{path} -> {os.path.realpath(path)}")
            found[os.path.relpath(path, top)] = open(path).read()
    return found

seen = {"full": files("full"), "shards": files("shards"), "remote": files("remote")}
if seen != hp["expected"][host]:
    problems.append(f"channels {seen}")
config = json.load(open(os.path.join(os.environ["SM_INPUT_CONFIG_DIR"], "resourceconfig.json")))
if config["current_host"] != host:
    problems.append(f"resourceconfig {config}")
if problems:
    open(os.path.join(os.environ["SM_OUTPUT_DIR"], "failure"), "w").write(
        f"{host}: " + "; ".join(problems))
    sys.exit(2)
print(f"{host} checked its inputs", flush=True)
if hp["mode"] == "fail" and host == "algo-2":
    open(os.path.join(os.environ["SM_OUTPUT_DIR"], "failure"), "w").write(
        "ValueError: the loss of algo-2 diverged at step 2")
    sys.exit(1)
with open(os.path.join(os.environ["SM_MODEL_DIR"], f"{host}.txt"), "w") as f:
    f.write(f"weights of {host}")
if hp["mode"] == "wait":
    print(f"{host} saved", flush=True)
    time.sleep(600)
os.makedirs(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "eval"))
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "eval", f"{host}.csv"), "w") as f:
    f.write(f"{host},0.93\n")
time.sleep(1 if hp["mode"] == "ok" else 600)
'''


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                for m in tar.getmembers() if m.isfile()}


def test_remote_hosts_run_from_their_own_root_and_send_back_model_output_and_failure(
    multihost_rig: RayCluster, serve: list[ServerProcess], tmp_path: Path
) -> None:
    """Each host's inputs reach its node as artifacts unpacked under the agents' work dir (not
    the server's data dir); its model, output data and failure file come back to the server,
    which packs and reports them as for local hosts, also when the job is stopped."""
    rig = multihost_rig
    node_root = tmp_path / "node-work"
    server = _serve(rig, tmp_path, scale=0.5, extra=["--agent-work-dir", str(node_root)])
    serve.append(server)
    sagemaker, logs = client(server, "sagemaker"), client(server, "logs")
    code, full, shards = tmp_path / "code", tmp_path / "full", tmp_path / "shards"
    code.mkdir()
    (code / "train.py").write_text(SELF_CONTAINED)
    (full / "nested").mkdir(parents=True)
    (full / "a.txt").write_text("alpha")
    (full / "nested" / "b.txt").write_text("beta")
    shards.mkdir()
    for n in range(4):
        (shards / f"part-{n}.csv").write_text(f"rows of shard {n}")
    s3: Any = s3_client(server.url)
    s3.create_bucket(Bucket="channels")
    s3.put_object(Bucket="channels", Key="train/x.csv", Body=b"from s3")
    s3.put_object(Bucket="channels", Key="train/deep/y.csv", Body=b"also from s3")
    everything = {"a.txt": "alpha", "nested/b.txt": "beta"}
    from_s3 = {"x.csv": "from s3", "deep/y.csv": "also from s3"}
    expected = {
        "algo-1": {"full": everything, "remote": from_s3,
                   "shards": {"part-0.csv": "rows of shard 0", "part-2.csv": "rows of shard 2"}},
        "algo-2": {"full": everything, "remote": from_s3,
                   "shards": {"part-1.csv": "rows of shard 1", "part-3.csv": "rows of shard 3"}},
    }

    def create(job: str, mode: str) -> None:
        sagemaker.create_training_job(
            TrainingJobName=job, RoleArn="arn:aws:iam::000000000000:role/test",
            AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            HyperParameters={
                "sagemaker_program": json.dumps("train.py"),
                "sagemaker_submit_directory": json.dumps(str(code)),
                "mode": mode, "node_root": str(node_root),
                "server_root": str(server.data_dir), "expected": json.dumps(expected)},
            InputDataConfig=[
                {"ChannelName": name, "DataSource": {"S3DataSource": {
                    "S3DataType": "S3Prefix", "S3Uri": str(path),
                    "S3DataDistributionType": distribution}}}
                for name, path, distribution in (
                    ("full", full, "FullyReplicated"), ("shards", shards, "ShardedByS3Key"),
                    ("remote", "s3://channels/train/", "FullyReplicated"))],
            OutputDataConfig={"S3OutputPath": "file://" + str(tmp_path / "out")},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 2,
                            "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 300},
        )  # fmt: skip

    def finished(job: str) -> dict[str, Any] | None:
        desc = sagemaker.describe_training_job(TrainingJobName=job)
        return desc if desc["TrainingJobStatus"] in ("Completed", "Failed", "Stopped") else None

    create("mh-remote-ok", "ok")
    desc = _until("the job to finish", lambda: finished("mh-remote-ok"), timeout=300)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    out = tmp_path / "out" / "mh-remote-ok" / "output"
    assert _members(out / "model.tar.gz") == {"algo-1.txt": b"weights of algo-1",
                                              "algo-2.txt": b"weights of algo-2"}
    assert _members(out / "output.tar.gz") == {"eval/algo-1.csv": b"algo-1,0.93\n",
                                               "eval/algo-2.csv": b"algo-2,0.93\n"}
    # Copies, unpacked under each host's root in the agents' work dir.
    roots = sorted((node_root / "instances" / "mh-remote-ok").iterdir())
    assert len(roots) == 2
    for root in roots:
        copied = root / "input" / "data" / "full" / "nested" / "b.txt"
        assert not copied.is_symlink() and copied.read_text() == "beta"
        # The s3:// prefix was not packed: the node fetched it from the server's S3.
        assert (root / "input" / "data" / "remote").readlink() == (
            root / ".fetched" / "s3" / "channels" / "train")
    assert not (server.data_dir / "training" / "mh-remote-ok" / "carry").exists()

    create("mh-remote-fail", "fail")
    desc = _until("the failing job to finish", lambda: finished("mh-remote-fail"), timeout=300)
    assert desc["TrainingJobStatus"] == "Failed"
    assert desc["FailureReason"] == "ValueError: the loss of algo-2 diverged at step 2"

    create("mh-remote-stop", "wait")

    def saved() -> bool:
        streams = [s for s in _streams(logs, TRAINING_GROUP) if s.startswith("mh-remote-stop/")]
        return len(streams) == 2 and all(
            any(line.endswith(" saved") for line in _events(logs, TRAINING_GROUP, s))
            for s in streams)

    _until("both hosts to save their model", saved)
    assert len(_script_processes(rig, "mh-remote-stop", "train.py")) >= 2  # seen while running
    sagemaker.stop_training_job(TrainingJobName="mh-remote-stop")
    desc = _until("the stopped job to finish", lambda: finished("mh-remote-stop"), timeout=300)
    assert desc["TrainingJobStatus"] == "Stopped", desc.get("FailureReason")
    assert _members(tmp_path / "out" / "mh-remote-stop" / "output" / "model.tar.gz") == {
        "algo-1.txt": b"weights of algo-1", "algo-2.txt": b"weights of algo-2"}
    assert _script_processes(rig, "mh-remote-stop", "train.py") == []

    # A local image directory's train program travels too, and runs from the node's copy.
    image = tmp_path / "image"
    image.mkdir()
    (image / "weights.txt").write_text("the image's weights")
    train = image / "train"
    train.write_text(
        '#!/bin/sh\nset -e\n'
        'case "$0" in "$NODE_ROOT"/*) ;; *) echo "ran $0" > "$SM_OUTPUT_DIR/failure"; exit 2;;\n'
        'esac\n'
        'cp weights.txt "$SM_MODEL_DIR/$SM_CURRENT_HOST.txt"\n')
    train.chmod(0o755)
    sagemaker.create_training_job(
        TrainingJobName="mh-remote-image", RoleArn="arn:aws:iam::000000000000:role/test",
        AlgorithmSpecification={"TrainingImage": str(image), "TrainingInputMode": "File"},
        Environment={"NODE_ROOT": str(node_root)},
        OutputDataConfig={"S3OutputPath": "file://" + str(tmp_path / "out")},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
    )  # fmt: skip
    desc = _until("the image's job to finish", lambda: finished("mh-remote-image"), timeout=300)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert _members(tmp_path / "out" / "mh-remote-image" / "output" / "model.tar.gz") == {
        "algo-1.txt": b"the image's weights", "algo-2.txt": b"the image's weights"}
