"""The TensorFlow Serving image's defaults, where TensorFlow is installed.

SageMaker's ``tensorflow-inference`` image serves a SavedModel through TensorFlow Serving's
REST predict API. Here, with TensorFlow importable, model_fn loads the SavedModel (the highest
numbered version directory holding ``saved_model.pb``, else the model directory itself) and its
``serving_default`` signature; requests are TensorFlow Serving JSON, the row format
``{"instances": [...]}`` answered ``{"predictions": [...]}`` or the columnar
``{"inputs": ...}`` answered ``{"outputs": ...}`` (a bare JSON list counts as instances, as
the container's), and text/csv rows as instances. Without TensorFlow the instance fails to
start, saying so.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from .. import codecs
from ..errors import GenericInferenceToolkitError, UnsupportedFormatError
from . import FrameworkDefaults

__all__ = ["DEFAULTS", "TensorFlowServingUnsupported", "SavedModel"]

SIGNATURE = "serving_default"


class TensorFlowServingUnsupported(Exception):
    """The tensorflow-inference image's default cannot run: TensorFlow is not installed."""


class SavedModel:
    """A loaded SavedModel's serving signature with its input and output names."""

    def __init__(self, tf: Any, path: str) -> None:
        self.tf = tf
        self.module = tf.saved_model.load(path)
        signatures = self.module.signatures
        if SIGNATURE not in signatures:
            raise ValueError(f"the SavedModel at {path} has no {SIGNATURE!r} signature "
                             f"(it has {sorted(signatures)})")
        self.signature = signatures[SIGNATURE]
        specs = self.signature.structured_input_signature[1]
        self.inputs = {name: spec.dtype for name, spec in sorted(specs.items())}

    def __call__(self, columns: dict[str, Any]) -> dict[str, Any]:
        tensors = {name: self.tf.constant(np.asarray(value), dtype=self.inputs[name])
                   for name, value in columns.items()}
        outputs = self.signature(**tensors)
        return {name: tensor.numpy() for name, tensor in outputs.items()}


def _version_dir(model_dir: str) -> str:
    if os.path.isfile(os.path.join(model_dir, "saved_model.pb")):
        return model_dir
    versions = []
    for root, _dirs, files in os.walk(model_dir):
        name = os.path.basename(root)
        if "saved_model.pb" in files and name.isdigit():
            versions.append((int(name), root))
    if not versions:
        raise FileNotFoundError(f"no SavedModel (saved_model.pb) in {model_dir}")
    return max(versions)[1]


def model_fn(model_dir: str) -> SavedModel:
    try:
        import tensorflow as tf
    except ImportError:
        raise TensorFlowServingUnsupported(
            "the tensorflow-inference image serves a SavedModel, and TensorFlow is not "
            "installed in tandem's Python environment (pip install tensorflow-cpu), so this "
            "model cannot be served: install it, or provide an inference.py with a model_fn"
        ) from None
    return SavedModel(tf, _version_dir(model_dir))


def input_fn(input_data: str | bytes, content_type: str) -> tuple[str, Any]:
    media_type = content_type.split(";", 1)[0].strip()
    if media_type == codecs.CSV:
        return "instances", codecs.decode(input_data, codecs.CSV).tolist()
    if media_type != codecs.JSON:
        raise UnsupportedFormatError(content_type)
    try:
        body = json.loads(input_data)
    except ValueError as error:
        raise GenericInferenceToolkitError(400, f"the body is not JSON: {error}") from error
    if isinstance(body, list):
        return "instances", body
    if isinstance(body, dict) and "instances" in body:
        return "instances", body["instances"]
    if isinstance(body, dict) and "inputs" in body:
        return "inputs", body["inputs"]
    raise GenericInferenceToolkitError(
        400, 'the body must be TensorFlow Serving JSON: {"instances": [...]} or {"inputs": ...}')


def _columns(model: SavedModel, kind: str, data: Any) -> dict[str, Any]:
    names = list(model.inputs)
    if kind == "instances":
        if not isinstance(data, list) or not data:
            raise GenericInferenceToolkitError(400, '"instances" must be a non-empty list')
        if all(isinstance(item, dict) for item in data):
            return {name: [item[name] for item in data] for name in names}
        if len(names) != 1:
            raise GenericInferenceToolkitError(
                400, f"the signature takes {names}: each instance must be an object of them")
        return {names[0]: data}
    if isinstance(data, dict):
        return {name: data[name] for name in names}
    if len(names) != 1:
        raise GenericInferenceToolkitError(400, f'the signature takes {names}: "inputs" must '
                                           "be an object of them")
    return {names[0]: data}


def predict_fn(data: tuple[str, Any], model: SavedModel) -> tuple[str, Any]:
    kind, payload = data
    try:
        columns = _columns(model, kind, payload)
        outputs = model(columns)
    except GenericInferenceToolkitError:
        raise
    except Exception as error:
        raise GenericInferenceToolkitError(400, f"{type(error).__name__}: {error}") from error
    if kind == "inputs":
        plain = {name: value.tolist() for name, value in outputs.items()}
        return "outputs", next(iter(plain.values())) if len(plain) == 1 else plain
    if len(outputs) == 1:
        return "predictions", next(iter(outputs.values())).tolist()
    rows = len(next(iter(outputs.values())))
    return "predictions", [{name: value[i].tolist() for name, value in outputs.items()}
                           for i in range(rows)]


def output_fn(prediction: tuple[str, Any], accept: str) -> tuple[str, str]:
    key, value = prediction
    for media_type in codecs.parse_accept(accept):
        if media_type in (codecs.JSON, codecs.ANY):
            return json.dumps({key: value}), codecs.JSON
    raise UnsupportedFormatError(accept)


DEFAULTS = FrameworkDefaults(model_fn, input_fn, predict_fn, output_fn)
