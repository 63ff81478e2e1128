"""How a ContainerDefinition's Image is run: the handler runtime, a local ``serve``, or Docker.

- SageMaker framework images (scikit-learn, XGBoost, PyTorch, TensorFlow, Hugging Face,
  MXNet, SparkML serving …), in any registry, region or tag form, implement the inference
  handler contract, so they run in tandem's built-in handler runtime.
- An Image naming a local directory (a path or file:// URL) holding an executable ``serve``
  runs that program with the directory as its working directory: SageMaker's
  bring-your-own-container convention, where the container is started as ``serve``.
- Anything else is a real container image, run only where a Docker engine answers.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import re
import socket
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import ConfigError

__all__ = [
    "ImageKind",
    "ImageChoice",
    "ImageError",
    "FRAMEWORK_REPOSITORIES",
    "DEFAULT_DOCKER_HOST",
    "repository_name",
    "is_framework_image",
    "probe_docker",
    "classify_image",
]

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"

# Repositories of SageMaker's framework serving images (the last path part of the image name).
FRAMEWORK_REPOSITORIES = frozenset({
    "sagemaker-scikit-learn",
    "sagemaker-xgboost",
    # The built-in XGBoost algorithm's older repository name.
    "xgboost",
    "sagemaker-sparkml-serving",
    "sagemaker-chainer",
    "sagemaker-mxnet",
    "sagemaker-mxnet-serving",
    "sagemaker-mxnet-eia",
    "sagemaker-mxnet-serving-eia",
    "sagemaker-pytorch",
    "sagemaker-pytorch-serving",
    "sagemaker-tensorflow",
    "sagemaker-tensorflow-serving",
    "sagemaker-tensorflow-serving-eia",
    "sagemaker-tensorflow-scriptmode",
    "autogluon-inference",
})
# The Deep Learning Containers' inference repositories and their hardware variants.
_DLC_INFERENCE = re.compile(
    r"(huggingface-)?(pytorch|tensorflow|mxnet)-inference(-(graviton|arm64|eia|neuron|neuronx))?"
)


class ImageKind(enum.Enum):
    HANDLER_RUNTIME = "handler-runtime"
    SERVE_PROGRAM = "serve"
    DOCKER = "docker"
    # Not chosen from an Image: a definition's tandem-specific Command.
    COMMAND = "command"


@dataclasses.dataclass(frozen=True)
class ImageChoice:
    kind: ImageKind
    image: str
    # For SERVE_PROGRAM: the directory and its executable ``serve``.
    directory: Path | None = None
    program: Path | None = None


class ImageError(ConfigError):
    """An Image tandem cannot run here; the message names the field and the image."""

    def __init__(self, field: str, image: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}", field=field, image=image)
        self.field = field
        self.image = image


def repository_name(image: str) -> str:
    """The repository's last path part, without registry, tag or digest, in lower case."""
    name = image.strip().split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[0].lower()


def is_framework_image(image: str) -> bool:
    repository = repository_name(image)
    return repository in FRAMEWORK_REPOSITORIES or _DLC_INFERENCE.fullmatch(repository) is not None


def _local_directory(image: str, base_dir: Path) -> tuple[Path, bool] | None:
    """The directory an Image names and whether it was written as a path; None if not one."""
    text = image.strip()
    if text.startswith("file:"):
        parts = urlsplit(text)
        path, explicit = Path(unquote(parts.path)), True
    elif text.startswith(("/", "./", "../", "~")) or text == ".":
        path, explicit = Path(text).expanduser(), True
    else:
        path, explicit = Path(text), False
    if not path.is_absolute():
        path = base_dir / path
    path = Path(os.path.abspath(path))
    if explicit or path.is_dir():
        return path, explicit
    return None


def probe_docker(docker_host: str | None = None, timeout: float = 0.5) -> bool:
    """Whether a Docker engine answers HTTP at ``docker_host`` (DOCKER_HOST syntax)."""
    host = docker_host or DEFAULT_DOCKER_HOST
    parts = urlsplit(host)
    try:
        if parts.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: str | tuple[str, int] = parts.path
        elif parts.scheme == "tcp":
            sock = socket.socket(socket.AF_INET6 if ":" in (parts.hostname or "") else
                                 socket.AF_INET, socket.SOCK_STREAM)
            address = (parts.hostname or "127.0.0.1", parts.port or 2375)
        else:
            return False
        with sock:
            sock.settimeout(timeout)
            sock.connect(address)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            # Any HTTP answer means an engine is there (a TLS port answers plain HTTP with 400).
            return sock.recv(16).startswith(b"HTTP/")
    except OSError:
        return False


def classify_image(
    image: str | None,
    *,
    base_dir: Path,
    field: str = "Image",
    docker_host: str | None = None,
    docker_probe: Callable[[str | None], bool] = probe_docker,
) -> ImageChoice:
    """Decide how to run ``image``. No image at all means the handler runtime."""
    if image is None or not image.strip():
        return ImageChoice(ImageKind.HANDLER_RUNTIME, image or "")
    if is_framework_image(image):
        return ImageChoice(ImageKind.HANDLER_RUNTIME, image)
    local = _local_directory(image, base_dir)
    if local is not None:
        directory, _ = local
        if not directory.is_dir():
            raise ImageError(field, image, f"{image!r} names the local directory {directory}, "
                             "which does not exist")
        program = directory / "serve"
        if not (program.is_file() and os.access(program, os.X_OK)):
            raise ImageError(field, image, f"{image!r} names the local directory {directory}, "
                             "which holds no executable 'serve' program")
        return ImageChoice(ImageKind.SERVE_PROGRAM, image, directory=directory, program=program)
    if docker_probe(docker_host):
        return ImageChoice(ImageKind.DOCKER, image)
    raise ImageError(
        field, image,
        f"{image!r} is a container image, and no Docker engine answers at "
        f"{docker_host or DEFAULT_DOCKER_HOST}. Use a SageMaker framework image name (run by "
        "tandem's handler runtime), a directory holding an executable 'serve', or a Command",
    )
