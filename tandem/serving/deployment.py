"""Deployment files: the YAML of ``tandem deploy``, whose fields mirror SageMaker's API.

```yaml
Models:          [CreateModel requests]
EndpointConfigs: [CreateEndpointConfig requests]
Endpoints:       [{EndpointName, EndpointConfigName}]
```

Loading validates every request with the same parsers the API uses (so the
YAML and boto3 create the same objects), resolves relative local paths
against the file's directory, checks that handler entry points exist, and
reports any problem as a ``ConfigError`` naming the file and the field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from ..errors import ConfigError, TandemError
from .model import EndpointConfig, Model, validate_name

__all__ = ["Deployment", "load_deployment"]

_TOP = {"Models", "EndpointConfigs", "Endpoints"}
_ENDPOINT_FIELDS = {"EndpointName", "EndpointConfigName", "Tags", "DeploymentConfig"}


@dataclasses.dataclass(frozen=True)
class Deployment:
    path: Path
    models: list[dict[str, Any]]
    endpoint_configs: list[dict[str, Any]]
    endpoints: list[dict[str, Any]]


def _fail(path: Path, field: str, message: str) -> ConfigError:
    return ConfigError(f"{path}: {field}: {message}", file=str(path), field=field)


def _local(value: str, base: Path) -> Path | None:
    """The local path a URL or path names, or None for remote URLs."""
    parsed = urlparse(value)
    if parsed.scheme == "file":
        target = (
            Path(parsed.netloc + parsed.path)
            if parsed.netloc not in ("", "localhost")
            else Path(parsed.path)
        )
    elif parsed.scheme and len(parsed.scheme) > 1:
        return None
    else:
        target = Path(value).expanduser()
    return target if target.is_absolute() else (base / target)


def _resolve_container(container: dict[str, Any], base: Path, path: Path, where: str) -> None:
    url = container.get("ModelDataUrl")
    if isinstance(url, str):
        local = _local(url, base)
        if local is not None:
            if not local.exists():
                raise _fail(path, f"{where}.ModelDataUrl", f"{local} does not exist")
            container["ModelDataUrl"] = str(local.resolve())
    image = container.get("Image")
    if isinstance(image, str) and (image.startswith((".", "/", "~", "file://"))):
        local = _local(image, base)
        if local is not None:
            if not (local / "serve").is_file():
                raise _fail(
                    path,
                    f"{where}.Image",
                    f"{local} must be a directory holding an executable 'serve'",
                )
            container["Image"] = str(local.resolve())
    env = container.get("Environment")
    if isinstance(env, dict):
        submit = env.get("SAGEMAKER_SUBMIT_DIRECTORY")
        if isinstance(submit, str):
            local = _local(submit, base)
            if local is not None:
                if not local.exists():
                    raise _fail(
                        path,
                        f"{where}.Environment.SAGEMAKER_SUBMIT_DIRECTORY",
                        f"{local} does not exist",
                    )
                env["SAGEMAKER_SUBMIT_DIRECTORY"] = str(local.resolve())
                program = env.get("SAGEMAKER_PROGRAM", "inference.py")
                if local.is_dir() and not (local / program).is_file():
                    raise _fail(
                        path,
                        f"{where}.Environment.SAGEMAKER_PROGRAM",
                        f"entry point {program!r} not found in {local}",
                    )


def load_deployment(path: str | Path) -> Deployment:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}", file=str(path)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: {where}not valid YAML: {problem}", file=str(path)) from None
    if not isinstance(data, Mapping):
        raise _fail(
            path, "(top level)", "must be a mapping with Models, EndpointConfigs, Endpoints"
        )
    unknown = sorted(set(data) - _TOP)
    if unknown:
        raise _fail(path, unknown[0], f"unknown field; expected one of {', '.join(sorted(_TOP))}")
    base = path.parent.resolve()
    sections: dict[str, list[dict[str, Any]]] = {}
    for key in _TOP:
        items = data.get(key) or []
        if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
            raise _fail(path, key, "must be a list of mappings")
        sections[key] = [dict(i) for i in items]

    for i, model in enumerate(sections["Models"]):
        where = f"Models[{i}]"
        containers = model.get("Containers")
        if isinstance(containers, list):
            model["Containers"] = [dict(c) if isinstance(c, Mapping) else c for c in containers]
            for j, c in enumerate(model["Containers"]):
                if isinstance(c, dict):
                    if isinstance(c.get("Environment"), Mapping):
                        c["Environment"] = {str(k): str(v) for k, v in c["Environment"].items()}
                    _resolve_container(c, base, path, f"{where}.Containers[{j}]")
        elif isinstance(model.get("PrimaryContainer"), Mapping):
            c = dict(model["PrimaryContainer"])
            if isinstance(c.get("Environment"), Mapping):
                c["Environment"] = {str(k): str(v) for k, v in c["Environment"].items()}
            model["PrimaryContainer"] = c
            _resolve_container(c, base, path, f"{where}.PrimaryContainer")
        try:
            Model.parse(model, 0.0)
        except TandemError as exc:
            raise _fail(path, f"{where}", exc.message) from None
    for i, config in enumerate(sections["EndpointConfigs"]):
        try:
            EndpointConfig.parse(config, 0.0)
        except TandemError as exc:
            raise _fail(path, f"EndpointConfigs[{i}]", exc.message) from None
    for i, endpoint in enumerate(sections["Endpoints"]):
        where = f"Endpoints[{i}]"
        extra = sorted(set(endpoint) - _ENDPOINT_FIELDS)
        if extra:
            raise _fail(path, f"{where}.{extra[0]}", "unknown field")
        for field in ("EndpointName", "EndpointConfigName"):
            try:
                validate_name("endpoint", field, endpoint.get(field))
            except TandemError as exc:
                raise _fail(path, f"{where}.{field}", exc.message) from None
    return Deployment(path, sections["Models"], sections["EndpointConfigs"], sections["Endpoints"])
