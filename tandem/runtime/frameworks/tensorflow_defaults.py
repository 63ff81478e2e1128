"""The TensorFlow Serving image's default, which tandem does not provide.

SageMaker's ``tensorflow-inference`` image serves a SavedModel through TensorFlow Serving's
REST API. tandem has no TensorFlow Serving; a model deployed with that image needs an
inference.py whose model_fn loads the model (with TensorFlow installed in tandem's Python
environment). Without one, the instance fails to start with this error in its log.
"""

from __future__ import annotations

from typing import Any

from .. import handler
from . import FrameworkDefaults

__all__ = ["DEFAULTS", "TensorFlowServingUnsupported"]


class TensorFlowServingUnsupported(Exception):
    """The tensorflow-inference image's TensorFlow Serving default is not available."""


def model_fn(model_dir: str) -> Any:
    raise TensorFlowServingUnsupported(
        "the tensorflow-inference image serves a SavedModel through TensorFlow Serving, "
        "which tandem does not run: provide an inference.py with a model_fn (and TensorFlow "
        "installed in tandem's Python environment) to serve this model"
    )


DEFAULTS = FrameworkDefaults(model_fn, handler.default_input_fn, handler.default_predict_fn,
                             handler.default_output_fn)
