"""Train the wine pipeline and write its three model archives.

    python -m examples.wine_pipeline.train [--output-dir DIR]

Uses scikit-learn's bundled wine data set (178 samples, 13 features, 3 classes), so nothing is
downloaded. Writes, under the output directory (default examples/wine_pipeline/artifacts/):

    preprocess/model.tar.gz    scaler.joblib  (a fitted StandardScaler)
    model/model.tar.gz         model.joblib   (a GradientBoostingClassifier on scaled features)
    postprocess/model.tar.gz   labels.json    (the class names, in class-index order)

Idempotent: a fixed random_state and normalised tar/gzip headers make every run write the same
bytes, and each archive replaces the old one atomically, so a running deployment never reads a
half-written file.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import sys
import tarfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
from sklearn.datasets import load_wine
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.preprocessing import StandardScaler

from examples.wine_pipeline import ARTIFACTS_DIR

__all__ = [
    "ARTIFACTS_DIR",
    "ArtifactPaths",
    "GRADIENT_BOOSTING_PARAMS",
    "ARCHIVE_MEMBERS",
    "train",
    "main",
]

# Fixed so every run fits the same trees (idempotence) and tests can refit the same model.
GRADIENT_BOOSTING_PARAMS: Mapping[str, object] = {
    "n_estimators": 100,
    "learning_rate": 0.1,
    "max_depth": 3,
    "random_state": 0,
}

# The members each archive holds: what each container's loader expects to find in its model dir.
ARCHIVE_MEMBERS: Mapping[str, tuple[str, ...]] = {
    "preprocess": ("scaler.joblib",),
    "model": ("model.joblib",),
    "postprocess": ("labels.json",),
}


@dataclass(frozen=True)
class ArtifactPaths:
    """Where train() wrote each container's model.tar.gz, plus the training accuracy."""

    preprocess: Path
    model: Path
    postprocess: Path
    train_accuracy: float

    def archives(self) -> dict[str, Path]:
        return {"preprocess": self.preprocess, "model": self.model, "postprocess": self.postprocess}


def _joblib_bytes(obj: object) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()


def _tar_gz_bytes(members: Mapping[str, bytes]) -> bytes:
    """A gzip'd tar of the given files with every varying header field pinned (mtime, owner,
    gzip name/time), so the same content always gives the same bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(members):
            data = members[name]
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=0) as gz:
        gz.write(raw.getvalue())
    return packed.getvalue()


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def train(output_dir: Path | str = ARTIFACTS_DIR) -> ArtifactPaths:
    """Fit the scaler and the classifier on the wine data and write the three archives."""
    output = Path(output_dir)
    wine = load_wine()
    features = np.asarray(wine.data, dtype=np.float64)
    target = np.asarray(wine.target)

    scaler = StandardScaler().fit(features)
    scaled = scaler.transform(features)
    classifier = GradientBoostingClassifier(**GRADIENT_BOOSTING_PARAMS).fit(scaled, target)
    accuracy = float(classifier.score(scaled, target))

    labels = [str(name) for name in wine.target_names]
    contents: dict[str, dict[str, bytes]] = {
        "preprocess": {"scaler.joblib": _joblib_bytes(scaler)},
        "model": {"model.joblib": _joblib_bytes(classifier)},
        "postprocess": {"labels.json": (json.dumps(labels) + "\n").encode()},
    }
    paths: dict[str, Path] = {}
    for container, members in contents.items():
        path = output / container / "model.tar.gz"
        _write_atomically(path, _tar_gz_bytes(members))
        paths[container] = path
    return ArtifactPaths(train_accuracy=accuracy, **paths)


def _shown(path: Path) -> Path:
    """The path relative to the working directory when it lies below it: shorter to read."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m examples.wine_pipeline.train",
        description="Train the wine pipeline and write its model archives.",
    )
    parser.add_argument(
        "--output-dir", type=Path, default=ARTIFACTS_DIR,
        help=f"where to write <container>/model.tar.gz (default: {ARTIFACTS_DIR})",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = train(args.output_dir)
    elapsed = time.perf_counter() - started
    for container, path in result.archives().items():
        print(f"{container:<12} {_shown(path)} ({path.stat().st_size} bytes)")
    print(f"trained in {elapsed:.2f} s; training accuracy {result.train_accuracy:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
