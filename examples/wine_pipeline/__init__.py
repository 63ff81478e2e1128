"""The wine pipeline: a three-container serial inference pipeline (preprocess -> model ->
postprocess) trained on scikit-learn's bundled wine data set; the example `scripts/demo` serves.

Paths here let other code (the demo, tests) find the deployment file and artifacts without
guessing; importing this package imports nothing heavy.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["EXAMPLE_DIR", "ENDPOINT_FILE", "ARTIFACTS_DIR", "CONTAINERS_DIR", "REQUESTS_DIR"]

EXAMPLE_DIR = Path(__file__).resolve().parent
ENDPOINT_FILE = EXAMPLE_DIR / "endpoint.yaml"
ARTIFACTS_DIR = EXAMPLE_DIR / "artifacts"
CONTAINERS_DIR = EXAMPLE_DIR / "containers"
REQUESTS_DIR = EXAMPLE_DIR / "requests"
