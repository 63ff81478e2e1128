"""Fixtures for the wine pipeline example: train once per session, unpack each archive the way
tandem unpacks a ModelDataUrl, and load the container code the way its runtime would."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import tarfile
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # `pytest` run without `python -m` has no cwd on sys.path
    sys.path.insert(0, str(REPO_ROOT))

from examples.wine_pipeline import CONTAINERS_DIR  # noqa: E402
from examples.wine_pipeline.train import ArtifactPaths, train  # noqa: E402


def _load_module(name: str, path: Path) -> ModuleType:
    # Each handler is loaded under its own name: both files are called inference.py.
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    spec = importlib.util.spec_from_loader(name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> ArtifactPaths:
    """The artifacts from one training run (its time is a figure of bench.latency_bench)."""
    return train(tmp_path_factory.mktemp("wine-artifacts"))


@pytest.fixture(scope="session")
def model_dirs(artifacts: ArtifactPaths, tmp_path_factory: pytest.TempPathFactory
               ) -> dict[str, Path]:
    """Each container's model dir: its model.tar.gz extracted."""
    root = tmp_path_factory.mktemp("wine-model-dirs")
    dirs = {}
    for container, archive in artifacts.archives().items():
        target = root / container
        target.mkdir()
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(target, filter="data")
        dirs[container] = target
    return dirs


@pytest.fixture(scope="session")
def preprocess() -> ModuleType:
    return _load_module("wine_preprocess_inference",
                        CONTAINERS_DIR / "preprocess" / "inference.py")


@pytest.fixture(scope="session")
def model() -> ModuleType:
    return _load_module("wine_model_inference", CONTAINERS_DIR / "model" / "inference.py")


@pytest.fixture(scope="session")
def postprocess() -> ModuleType:
    """The postprocess `serve` program as a module (its __main__ guard keeps it from serving)."""
    return _load_module("wine_postprocess_serve", CONTAINERS_DIR / "postprocess" / "serve")
