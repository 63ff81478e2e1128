"""Plan one container's process: its argv, environment and working directory.

``plan_container`` joins the parts: it checks the model data and code locations
(``artifacts``) and lists what the instance's agent fetches and unpacks on its own host
(``ContainerPlan.artifacts``, unpacked by ``fetching``), decides how the Image runs
(``images``), and builds a child environment from a minimal base plus the
definition's ``Environment``, never the server's own environment (no AWS_* credentials, no
TANDEM_* settings leak into user code).

The port is chosen by the launcher when it starts the process, so a plan is completed with
``ContainerPlan.for_port(port, safe_port_range)``: it sets SAGEMAKER_BIND_TO_PORT and
SAGEMAKER_SAFE_PORT_RANGE, and for Docker fills the published host port into ``docker run``
(inside the container the port stays 8080, SageMaker's default).

A tandem-specific ``Command`` (a list of argv strings) in a definition overrides the Image
and runs that program directly, with the deployment file's directory as working directory.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import re
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import tandem

from ..config import parent_environment
from ..errors import ConfigError, TandemError
from ..objects.locations import ObjectLocations, is_s3_uri
from .artifacts import resolve_location
from .frameworks import framework_of
from .images import ImageKind, classify_image, probe_docker
from .launcher import INSTANCE_ROOT, Artifact, ContainerSpec, fill_port_slot
from .model import Model

__all__ = ["ContainerPlan", "ContainerDefinitionError", "plan_container", "plan_model",
           "validate_environment"]

MAX_ENVIRONMENT_ENTRIES = 100
MAX_ENVIRONMENT_ITEM = 1024
MAX_ENVIRONMENT_TOTAL = 32 * 1024
_KEY = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# The SageMaker Python SDK points SAGEMAKER_SUBMIT_DIRECTORY here when it repacks code into
# model.tar.gz; locally that is the unpacked model directory.
_SAGEMAKER_MODEL_DIR = "/opt/ml/model"
_CONTAINER_PORT = "8080"
# From the server's environment, only what a program needs to run at all.
_BASE_PASSTHROUGH = ("PATH", "LANG", "LC_ALL")
_DOCKER_PASSTHROUGH = ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_TLS_VERIFY",
                       "DOCKER_CERT_PATH")


class ContainerDefinitionError(ConfigError):
    """A container definition that cannot be run; the message starts with the field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}", field=field)
        self.field = field


@dataclasses.dataclass(frozen=True)
class ContainerPlan:
    """How to start one container: run ``argv`` in ``cwd`` with exactly ``env``."""

    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: str | None
    kind: ImageKind
    model_dir: str
    # Index of the argv item holding the "{host}:{port}" slot the launcher fills (Docker only).
    port_slot: int | None = None
    # What the agent prepares before spawning (the unpacked model and code, HOME, TMPDIR).
    artifacts: tuple[Artifact, ...] = ()

    def for_port(self, port: int, safe_port_range: str | None = None,
                 host: str = "127.0.0.1") -> ContainerPlan:
        """The plan completed with the port the launcher chose for this container (published
        on ``host``, the address its host is reached at)."""
        env = dict(self.env)
        env["SAGEMAKER_BIND_TO_PORT"] = str(port)
        if safe_port_range is not None:
            env["SAGEMAKER_SAFE_PORT_RANGE"] = safe_port_range
        argv = fill_port_slot(self.argv, self.port_slot, host, port)
        return dataclasses.replace(self, argv=tuple(argv), env=env, port_slot=None)


def validate_environment(environment: Any, *, field: str) -> dict[str, str]:
    """A ContainerDefinition's Environment, checked against SageMaker's limits, as strings.

    YAML scalars (numbers, booleans) are turned into the strings the API would have required.
    """
    if environment is None:
        return {}
    if not isinstance(environment, Mapping):
        raise ContainerDefinitionError(field, "must be a map of names to strings")
    if len(environment) > MAX_ENVIRONMENT_ENTRIES:
        raise ContainerDefinitionError(
            field, f"has {len(environment)} entries; at most {MAX_ENVIRONMENT_ENTRIES} allowed")
    result: dict[str, str] = {}
    total = 0
    for key, value in environment.items():
        if isinstance(key, str) and len(key.encode()) > MAX_ENVIRONMENT_ITEM:
            raise ContainerDefinitionError(
                field, f"a name of {len(key.encode())} bytes; keys and values may be at most "
                f"{MAX_ENVIRONMENT_ITEM} bytes")
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ContainerDefinitionError(
                field, f"{key!r} is not a valid variable name ([a-zA-Z_][a-zA-Z0-9_]*)")
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = str(value)
        elif not isinstance(value, str):
            raise ContainerDefinitionError(f"{field}.{key}", "must be a string")
        if "\x00" in value:
            raise ContainerDefinitionError(f"{field}.{key}", "may not contain a NUL character")
        key_size, value_size = len(key.encode()), len(value.encode())
        if value_size > MAX_ENVIRONMENT_ITEM:
            raise ContainerDefinitionError(
                f"{field}.{key}", f"keys and values may be at most {MAX_ENVIRONMENT_ITEM} bytes")
        total += key_size + value_size
        result[key] = value
    if total > MAX_ENVIRONMENT_TOTAL:
        raise ContainerDefinitionError(
            field, f"is {total} bytes in all; at most {MAX_ENVIRONMENT_TOTAL} allowed")
    return result


def _tandem_pythonpath() -> str | None:
    """A PYTHONPATH entry for ``-m tandem.runtime`` when tandem is not installed."""
    try:
        importlib.metadata.distribution("tandem")
        return None
    except importlib.metadata.PackageNotFoundError:
        return str(Path(tandem.__file__).resolve().parent.parent)


def _base_environment(parent_env: Mapping[str, str], work_dir: str,
                      names: tuple[str, ...]) -> dict[str, str]:
    env = {name: parent_env[name] for name in names if name in parent_env}
    env.setdefault("PATH", os.defpath)
    env.update(HOME=f"{work_dir}/home", TMPDIR=f"{work_dir}/tmp", PYTHONUNBUFFERED="1")
    return env


def _located(location: str, *, base_dir: Path, into: str, field: str, scratch: Path | None,
             objects: ObjectLocations | None) -> tuple[str, Artifact | None]:
    """The directory a container sees for ``location``, and what the agent must fetch there.

    Checked here, on the server, as when the server unpacked models itself (a missing or
    unusable location fails the start with the same words); a local directory is used where
    it lies (hosts must share it), a tarball or an s3:// location is fetched into ``into``.
    """
    if not is_s3_uri(location):
        path = resolve_location(location, base_dir, field=field)
        if path.is_dir():
            return str(path), None
        return into, Artifact(into, str(path), archive=True, field=field)
    if objects is None:
        raise ContainerDefinitionError(field, f"{location}: no object store is configured here")
    try:
        # tandem's own S3 stages in place; only a remote store writes to the scratch.
        staged = objects.stage(location, scratch or Path(os.devnull))
    except TandemError as error:
        raise ContainerDefinitionError(field, error.message) from None
    path = resolve_location(str(staged), base_dir, field=field)
    return into, Artifact(into, location.strip(), archive=path.is_file(), field=field)


def _model_data(definition: Mapping[str, Any], field: str) -> Any:
    """ModelDataUrl, or ModelDataSource's S3Uri (an uncompressed S3Prefix or a tarball)."""
    if definition.get("ModelDataUrl") is not None:
        return definition["ModelDataUrl"]
    source = definition.get("ModelDataSource")
    if isinstance(source, Mapping) and isinstance(source.get("S3DataSource"), Mapping):
        return source["S3DataSource"].get("S3Uri")
    return None


def _submit_directory(value: str, *, model_dir: str, base_dir: Path, work_dir: str,
                      field: str, scratch: Path | None, objects: ObjectLocations | None
                      ) -> tuple[str, Artifact | None]:  # fmt: skip
    if value == _SAGEMAKER_MODEL_DIR or value.startswith(_SAGEMAKER_MODEL_DIR + "/"):
        return model_dir + value[len(_SAGEMAKER_MODEL_DIR):], None
    return _located(value, base_dir=base_dir, into=f"{work_dir}/code", field=field,
                    scratch=scratch, objects=objects)


def _command(value: Any, field: str) -> tuple[str, ...]:
    if (not isinstance(value, list | tuple) or not value
            or not all(isinstance(item, str) and item for item in value)):
        raise ContainerDefinitionError(field, "must be a non-empty list of argv strings")
    return tuple(value)


def _docker_argv(image: str, *, hostname: str, model_dir: str,
                 keys: list[str]) -> tuple[tuple[str, ...], int]:
    docker = shutil.which("docker") or "docker"
    argv = [docker, "run", "--rm", "--init", "--hostname", hostname,
            # Published on the address the router reaches this host at (filled in on it).
            "-p", "{host}:{port}:" + _CONTAINER_PORT,
            "-v", f"{model_dir}:{_SAGEMAKER_MODEL_DIR}:ro",
            "-e", f"SAGEMAKER_BIND_TO_PORT={_CONTAINER_PORT}", "-e", "SAGEMAKER_SAFE_PORT_RANGE"]
    # Values travel in docker's own environment, not argv, so `ps` does not show them.
    for key in keys:
        if key not in ("SAGEMAKER_BIND_TO_PORT", "SAGEMAKER_SAFE_PORT_RANGE"):
            argv += ["-e", key]
    argv += [image, "serve"]
    return tuple(argv), argv.index("{host}:{port}:" + _CONTAINER_PORT)


def plan_container(
    definition: Mapping[str, Any],
    *,
    hostname: str,
    base_dir: Path,
    work_dir: Path | str,
    field: str = "Container",
    parent_env: Mapping[str, str] | None = None,
    docker_probe: Callable[[str | None], bool] = probe_docker,
    objects: ObjectLocations | None = None,
    scratch: Path | None = None,
) -> ContainerPlan:
    """Plan the process for one ContainerDefinition.

    ``field`` prefixes error messages ("Containers[1]"); ``base_dir`` resolves relative paths
    (the deployment file's directory); ``work_dir`` is this container's private directory for
    the unpacked model (``model``), code (``code``), ``home`` and ``tmp``, as the agent will
    see it (``INSTANCE_ROOT/<hostname>``: nothing is written there here, the plan's
    ``artifacts`` say what the agent prepares). ``scratch`` receives what checking an s3://
    location in a remote store downloads. ``parent_env`` is where PATH and LANG come from
    (the server's environment by default).
    """
    parent = parent_environment() if parent_env is None else parent_env
    base_dir = Path(base_dir).resolve()
    work = str(work_dir)
    if not work.startswith(INSTANCE_ROOT):
        work = str(Path(work).resolve())
    if definition.get("Mode", "SingleModel") != "SingleModel":
        raise ContainerDefinitionError(f"{field}.Mode", f"{definition.get('Mode')!r} is not "
                                       "supported; tandem serves SingleModel containers")
    environment = validate_environment(definition.get("Environment"),
                                       field=f"{field}.Environment")
    artifacts = [Artifact(f"{work}/home"), Artifact(f"{work}/tmp")]

    model_url = _model_data(definition, field)
    if model_url is not None and not isinstance(model_url, str):
        raise ContainerDefinitionError(f"{field}.ModelDataUrl", "must be a string")
    if model_url:
        model_dir, fetched = _located(model_url, base_dir=base_dir, into=f"{work}/model",
                                      field=f"{field}.ModelDataUrl", scratch=scratch,
                                      objects=objects)
        if fetched is not None:
            artifacts.append(fetched)
    else:
        model_dir = f"{work}/model"
        artifacts.append(Artifact(model_dir))

    command = definition.get("Command")
    if command is not None:
        argv, kind, cwd = _command(command, f"{field}.Command"), ImageKind.COMMAND, str(base_dir)
    else:
        choice = classify_image(definition.get("Image"), base_dir=base_dir, field=f"{field}.Image",
                                docker_host=parent.get("DOCKER_HOST"), docker_probe=docker_probe)
        kind = choice.kind
        if kind is ImageKind.HANDLER_RUNTIME:
            argv = (sys.executable, "-m", "tandem.runtime",
                    "--framework", framework_of(choice.image).value, "--model-dir", model_dir)
            cwd = work
        elif kind is ImageKind.SERVE_PROGRAM:
            assert choice.program is not None and choice.directory is not None
            argv, cwd = (str(choice.program),), str(choice.directory)
        else:
            argv, slot = _docker_argv(choice.image, hostname=hostname, model_dir=model_dir,
                                      keys=list(environment))
            env = _base_environment(parent, work, _BASE_PASSTHROUGH + _DOCKER_PASSTHROUGH)
            if "DOCKER_CONFIG" not in env and "HOME" in parent:
                # HOME is moved into work_dir; docker still needs the user's contexts and logins.
                env["DOCKER_CONFIG"] = str(Path(parent["HOME"]) / ".docker")
            env.update(environment)
            return ContainerPlan(argv, env, work, kind, model_dir, port_slot=slot,
                                 artifacts=tuple(artifacts))

    env = _base_environment(parent, work, _BASE_PASSTHROUGH)
    env.update(environment)
    env["SAGEMAKER_CONTAINER_NAME"] = hostname
    env["SM_MODEL_DIR"] = model_dir
    submit = environment.get("SAGEMAKER_SUBMIT_DIRECTORY", "").strip()
    if submit:
        env["SAGEMAKER_SUBMIT_DIRECTORY"], fetched = _submit_directory(
            submit, model_dir=model_dir, base_dir=base_dir, work_dir=work,
            field=f"{field}.Environment.SAGEMAKER_SUBMIT_DIRECTORY", scratch=scratch,
            objects=objects)
        if fetched is not None:
            artifacts.append(fetched)
    if kind is ImageKind.HANDLER_RUNTIME:
        extra = _tandem_pythonpath()
        if extra is not None:
            env["PYTHONPATH"] = os.pathsep.join(p for p in (extra, env.get("PYTHONPATH")) if p)
    return ContainerPlan(argv, env, cwd, kind, model_dir, artifacts=tuple(artifacts))


def plan_model(model: Model, base_dir: Path, work_dir: Path,
               extra_env: Mapping[str, str] | None = None,
               objects: ObjectLocations | None = None) -> list[ContainerSpec]:
    """One ContainerSpec per container of ``model`` (each in ``INSTANCE_ROOT/<hostname>``),
    with ``extra_env`` added to each container's Environment (batch transform's variables);
    ``objects`` checks s3:// model data and code. ``work_dir`` is the instance's directory on
    this host: only what checking a location in a remote S3 store downloads lands there."""
    specs = []
    for i, definition in enumerate(model.containers):
        raw = dict(definition.raw)
        if extra_env:
            raw["Environment"] = {**(raw.get("Environment") or {}), **extra_env}
        field = "PrimaryContainer" if model.primary_only else f"Containers[{i}]"
        plan = plan_container(raw, hostname=definition.hostname, base_dir=base_dir,
                              work_dir=f"{INSTANCE_ROOT}/{definition.hostname}", field=field,
                              objects=objects, scratch=Path(work_dir) / definition.hostname / "s3")
        specs.append(ContainerSpec(definition.hostname, tuple(plan.argv), dict(plan.env),
                                   plan.cwd, plan.port_slot, artifacts=plan.artifacts))
    return specs
