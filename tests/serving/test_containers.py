"""Planning a container's process: argv, cwd and a child environment built from scratch."""

from __future__ import annotations

import io
import os
import sys
import tarfile
from pathlib import Path

import pytest

from tandem.errors import ConfigError
from tandem.serving.containers import ContainerDefinitionError, plan_container
from tandem.serving.fetching import ArtifactSource, prepare_artifacts
from tandem.serving.images import ImageKind
from tandem.serving.launcher import Artifact, fill_port_slot

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
PARENT = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/home/me",
          "AWS_SECRET_ACCESS_KEY": "not-for-children", "TANDEM_SECRET": "nor-this",
          "PYTHONPATH": "/server/only"}


def tarball(path: Path, files: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    return path


def plan(definition, tmp_path, **kwargs):
    """The plan, with what it asks the agent to prepare done (here, as a local agent does)."""
    kwargs.setdefault("parent_env", PARENT)
    result = plan_container(definition, hostname="featurizer", base_dir=tmp_path,
                            work_dir=tmp_path / "work", **kwargs)
    prepare_artifacts(result.artifacts, tmp_path, ArtifactSource())
    return result


def test_framework_image_runs_the_handler_runtime_with_unpacked_model(tmp_path):
    tarball(tmp_path / "model.tar.gz", {"model.joblib": "weights", "code/inference.py": "X=1"})
    result = plan({"Image": SKLEARN, "ModelDataUrl": "model.tar.gz",
                   "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "WORKERS": 2}}, tmp_path)
    model_dir = tmp_path / "work" / "model"
    assert result.kind is ImageKind.HANDLER_RUNTIME
    assert result.argv == (sys.executable, "-m", "tandem.runtime", "--framework", "sklearn",
                           "--model-dir", str(model_dir))
    assert result.cwd == str(tmp_path / "work")
    assert (model_dir / "model.joblib").read_text() == "weights"
    assert result.env == {
        "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
        "HOME": str(tmp_path / "work" / "home"), "TMPDIR": str(tmp_path / "work" / "tmp"),
        "PYTHONUNBUFFERED": "1", "SAGEMAKER_PROGRAM": "inference.py", "WORKERS": "2",
        "SAGEMAKER_CONTAINER_NAME": "featurizer", "SM_MODEL_DIR": str(model_dir),
    }
    assert (tmp_path / "work" / "home").is_dir() and (tmp_path / "work" / "tmp").is_dir()
    work = tmp_path / "work"
    assert result.artifacts == (
        Artifact(f"{work}/home"), Artifact(f"{work}/tmp"),
        Artifact(f"{work}/model", str(tmp_path / "model.tar.gz"), archive=True,
                 field="Container.ModelDataUrl"))


def test_planning_writes_nothing_and_names_no_directory_of_its_own(tmp_path):
    """Under the agent's instance root: the plan leaves unpacking to the agent."""
    tarball(tmp_path / "model.tar.gz", {"model.joblib": "weights"})
    result = plan_container({"Image": SKLEARN, "ModelDataUrl": "model.tar.gz"},
                            hostname="c", base_dir=tmp_path, work_dir="{instance_root}/c",
                            parent_env=PARENT)
    assert sorted(os.listdir(tmp_path)) == ["model.tar.gz"]
    assert result.argv[-1] == result.env["SM_MODEL_DIR"] == "{instance_root}/c/model"
    assert (result.cwd, result.env["HOME"], result.env["TMPDIR"]) == (
        "{instance_root}/c", "{instance_root}/c/home", "{instance_root}/c/tmp")


def test_nothing_from_the_server_environment_leaks(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake-secret-for-test")
    monkeypatch.setenv("TANDEM_FAKE_TOKEN", "fake-token-for-test")
    (tmp_path / "m").mkdir()
    result = plan_container({"Image": SKLEARN, "ModelDataUrl": "m", "Environment": {"A": "b"}},
                            hostname="c", base_dir=tmp_path, work_dir=tmp_path / "work")
    base = {"PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "PYTHONUNBUFFERED", "PYTHONPATH",
            "SAGEMAKER_CONTAINER_NAME", "SM_MODEL_DIR"}
    assert set(result.env) - base == {"A"}
    assert "fake-secret-for-test" not in result.env.values()
    assert "fake-token-for-test" not in result.env.values()
    assert result.env["PATH"] == os.environ["PATH"]


def test_model_directory_is_used_in_place(tmp_path):
    (tmp_path / "m").mkdir()
    result = plan({"Image": SKLEARN, "ModelDataUrl": f"file://{tmp_path}/m"}, tmp_path)
    assert result.model_dir == str(tmp_path / "m") and result.argv[-1] == str(tmp_path / "m")


def test_no_model_data_gives_an_empty_model_dir(tmp_path):
    result = plan({"Image": SKLEARN}, tmp_path)
    assert os.listdir(result.model_dir) == []


def test_submit_directory_forms(tmp_path):
    (tmp_path / "src").mkdir()
    tarball(tmp_path / "sourcedir.tar.gz", {"inference.py": "X=1"})
    tarball(tmp_path / "model.tar.gz", {"code/inference.py": "X=1"})

    def submit(value: str, model: str | None = None) -> str:
        definition = {"Image": SKLEARN, "Environment": {"SAGEMAKER_SUBMIT_DIRECTORY": value}}
        if model:
            definition["ModelDataUrl"] = model
        return plan(definition, tmp_path).env["SAGEMAKER_SUBMIT_DIRECTORY"]

    assert submit("src") == str(tmp_path / "src")
    assert submit(f"file://{tmp_path}/src") == str(tmp_path / "src")
    assert submit("sourcedir.tar.gz") == str(tmp_path / "work" / "code")
    assert (tmp_path / "work" / "code" / "inference.py").is_file()
    model_code = str(tmp_path / "work" / "model" / "code")
    assert submit("/opt/ml/model/code", "model.tar.gz") == model_code


def test_remote_submit_directory_names_its_field(tmp_path):
    with pytest.raises(ConfigError) as caught:
        plan({"Image": SKLEARN, "Environment": {"SAGEMAKER_SUBMIT_DIRECTORY":
                                                "s3://b/sourcedir.tar.gz"}},
             tmp_path, field="Containers[1]")
    assert str(caught.value) == (
        "Containers[1].Environment.SAGEMAKER_SUBMIT_DIRECTORY: s3://b/sourcedir.tar.gz: "
        "no object store is configured here")


def test_remote_model_data_names_its_field(tmp_path):
    with pytest.raises(ConfigError, match=r"^Containers\[0\]\.ModelDataUrl: s3://b/model"):
        plan({"Image": SKLEARN, "ModelDataUrl": "s3://b/model.tar.gz"}, tmp_path,
             field="Containers[0]")


def test_serve_directory_runs_serve_in_that_directory(tmp_path):
    byoc = tmp_path / "byoc"
    byoc.mkdir()
    (byoc / "serve").write_text("#!/bin/sh\n")
    (byoc / "serve").chmod(0o755)
    result = plan({"Image": "./byoc"}, tmp_path)
    assert (result.kind, result.argv, result.cwd) == (ImageKind.SERVE_PROGRAM,
                                                       (str(byoc / "serve"),), str(byoc))
    assert "PYTHONPATH" not in result.env


def test_command_overrides_the_image(tmp_path):
    result = plan({"Image": "nginx:1.25", "Command": ["python3", "server.py", "--fast"]},
                  tmp_path, docker_probe=lambda host: pytest.fail("must not probe"))
    assert (result.kind, result.argv, result.cwd) == (
        ImageKind.COMMAND, ("python3", "server.py", "--fast"), str(tmp_path))


@pytest.mark.parametrize("command", [[], "python serve.py", ["python", 3], [""]])
def test_bad_commands_name_the_field(command, tmp_path):
    with pytest.raises(ContainerDefinitionError, match=r"^Containers\[2\]\.Command: must be"):
        plan({"Command": command}, tmp_path, field="Containers[2]")


def test_docker_plan_is_completed_with_the_port(tmp_path):
    (tmp_path / "m").mkdir()
    result = plan({"Image": "acme/model:1", "ModelDataUrl": "m",
                   "Environment": {"MODEL_NAME": "x", "SAGEMAKER_BIND_TO_PORT": "1"}},
                  tmp_path, docker_probe=lambda host: True)
    assert result.kind is ImageKind.DOCKER
    done = result.for_port(31001, "31002-31010")
    argv = done.argv
    assert argv[1:5] == ("run", "--rm", "--init", "--hostname")
    assert argv[argv.index("-p") + 1] == "127.0.0.1:31001:8080"
    assert f"{tmp_path / 'm'}:/opt/ml/model:ro" in argv
    assert "SAGEMAKER_BIND_TO_PORT=8080" in argv and "MODEL_NAME" in argv
    assert argv[-2:] == ("acme/model:1", "serve")
    assert "x" not in argv  # values travel in docker's environment, not on its command line
    assert (done.env["MODEL_NAME"], done.env["SAGEMAKER_SAFE_PORT_RANGE"]) == ("x", "31002-31010")
    assert done.env["DOCKER_CONFIG"] == "/home/me/.docker"
    assert "AWS_SECRET_ACCESS_KEY" not in done.env


def test_a_docker_container_on_another_host_publishes_on_that_hosts_address(tmp_path):
    # No Docker engine runs here: this pins only the argv an agent on another host would run.
    (tmp_path / "m").mkdir()
    result = plan({"Image": "acme/model:1", "ModelDataUrl": "m"}, tmp_path,
                  docker_probe=lambda host: True)
    argv = fill_port_slot(result.argv, result.port_slot, "10.231.0.11", 31001)
    assert argv[argv.index("-p") + 1] == "10.231.0.11:31001:8080"
    assert result.for_port(31001, host="10.231.0.12").argv[argv.index("-p") + 1] == (
        "10.231.0.12:31001:8080")


def test_for_port_sets_the_bind_port_for_local_processes(tmp_path):
    done = plan({"Image": SKLEARN}, tmp_path).for_port(40000, "40001-40009")
    assert (done.env["SAGEMAKER_BIND_TO_PORT"], done.env["SAGEMAKER_SAFE_PORT_RANGE"]) == (
        "40000", "40001-40009")


@pytest.mark.parametrize("environment, field, problem", [
    ({f"K{i}": "v" for i in range(101)}, "Containers[0].Environment", "has 101 entries"),
    ({"K": "v" * 1025}, "Containers[0].Environment.K", "at most 1024 bytes"),
    ({"K" * 1025: "v"}, "Containers[0].Environment", "at most 1024 bytes"),
    ({f"K{i}": "v" * 1000 for i in range(33)}, "Containers[0].Environment", "bytes in all"),
    ({"1BAD": "v"}, "Containers[0].Environment", "is not a valid variable name"),
    ({"K": None}, "Containers[0].Environment.K", "must be a string"),
    ({"K": "a\x00b"}, "Containers[0].Environment.K", "NUL"),
    (["K=v"], "Containers[0].Environment", "must be a map"),
])
def test_environment_limits(environment, field, problem, tmp_path):
    with pytest.raises(ContainerDefinitionError) as caught:
        plan({"Image": SKLEARN, "Environment": environment}, tmp_path, field="Containers[0]")
    assert caught.value.field == field and problem in str(caught.value)


def test_environment_scalars_become_strings(tmp_path):
    env = plan({"Image": SKLEARN, "Environment": {"N": 2, "F": 0.5, "B": True}}, tmp_path).env
    assert (env["N"], env["F"], env["B"]) == ("2", "0.5", "true")


def test_multi_model_mode_is_refused(tmp_path):
    with pytest.raises(ContainerDefinitionError, match=r"^Containers\[0\]\.Mode: 'MultiModel'"):
        plan({"Image": SKLEARN, "Mode": "MultiModel"}, tmp_path, field="Containers[0]")


def test_a_planned_runtime_container_serves(tmp_path):
    import http.client
    import re
    import subprocess

    tarball(tmp_path / "model.tar.gz", {
        "code/inference.py": "def model_fn(d):\n    return 1\n"
                             "def predict_fn(x, m):\n    return x + m\n"})
    done = plan_container({"Image": SKLEARN, "ModelDataUrl": "model.tar.gz"}, hostname="c1",
                          base_dir=tmp_path, work_dir=tmp_path / "work").for_port(0)
    prepare_artifacts(done.artifacts, tmp_path, ArtifactSource())
    proc = subprocess.Popen(done.argv, env=done.env, cwd=done.cwd, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stderr is not None
        port = None
        for line in proc.stderr:
            match = re.search(r"serving on http://127\.0\.0\.1:(\d+)", line)
            if match:
                port = int(match.group(1))
                break
        assert port is not None, "the runtime did not start"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/invocations", body="[1, 2]",
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"[2, 3]")
        conn.close()
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stderr.close()
