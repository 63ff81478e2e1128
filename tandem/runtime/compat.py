"""Import aliases so handler modules written for SageMaker's toolkit import unchanged.

Framework-container handlers often ``from sagemaker_inference import content_types, decoder,
encoder, errors``. Where that package is not installed, the runtime registers small stand-ins
backed by its own codecs and errors (only the names handlers use); an installed toolkit wins.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from . import codecs, errors

__all__ = ["install_toolkit_aliases"]


def _module(name: str, **attrs: object) -> ModuleType:
    module = ModuleType(name)
    module.__dict__.update(attrs)
    return module


def install_toolkit_aliases() -> None:
    if "sagemaker_inference" in sys.modules or importlib.util.find_spec("sagemaker_inference"):
        return
    content_types = _module(
        "sagemaker_inference.content_types", JSON=codecs.JSON, CSV=codecs.CSV, NPY=codecs.NPY,
        ANY=codecs.ANY, OCTET_STREAM="application/octet-stream", NPZ="application/x-npz",
        UTF8_TYPES=[codecs.JSON, codecs.CSV],
    )
    parts = {
        "errors": _module(
            "sagemaker_inference.errors",
            UnsupportedFormatError=errors.UnsupportedFormatError,
            BaseInferenceToolkitError=errors.BaseInferenceToolkitError,
            GenericInferenceToolkitError=errors.GenericInferenceToolkitError,
        ),
        "content_types": content_types,
        "decoder": _module("sagemaker_inference.decoder", decode=codecs.decode),
        "encoder": _module("sagemaker_inference.encoder", encode=codecs.encode,
                           SUPPORTED_CONTENT_TYPES=set(codecs.SUPPORTED)),
    }
    package = _module("sagemaker_inference", __path__=[], **parts)
    sys.modules["sagemaker_inference"] = package
    for name, module in parts.items():
        sys.modules[f"sagemaker_inference.{name}"] = module
