"""The PyTorch serving image's defaults (sagemaker-pytorch-inference-toolkit).

model_fn loads TorchScript: ``model.pt`` in the model directory, else the one ``.pt``/``.pth``
file there (an eager ``model.pth`` needs the user's model_fn, as on SageMaker). input_fn
turns JSON, CSV or NPY into a float tensor (NPY keeps its dtype), predict_fn runs the model
under ``no_grad`` in eval mode, output_fn answers JSON, CSV or NPY. On CUDA when one is
available, else the CPU.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from .. import codecs
from ..errors import UnsupportedFormatError
from . import FrameworkDefaults

try:
    import torch
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the PyTorch image's default handler needs PyTorch, which is not installed in "
        "tandem's Python environment (pip install torch)"
    ) from error

__all__ = ["DEFAULTS", "ModelLoadError"]

DEFAULT_MODEL_FILENAME = "model.pt"


class ModelLoadError(Exception):
    """The model file is not TorchScript."""


def _device() -> Any:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _model_path(model_dir: str) -> str:
    path = os.path.join(model_dir, DEFAULT_MODEL_FILENAME)
    if os.path.exists(path):
        return path
    found = sorted(name for name in os.listdir(model_dir)
                   if os.path.isfile(os.path.join(model_dir, name))
                   and os.path.splitext(name)[1] in (".pt", ".pth"))
    if len(found) != 1:
        raise ValueError(f"Exactly one .pth or .pt file is required for PyTorch models: {found}")
    return os.path.join(model_dir, found[0])


def model_fn(model_dir: str) -> Any:
    path = _model_path(model_dir)
    device = _device()
    try:
        with warnings.catch_warnings():
            # New torch releases deprecate TorchScript; it is still what this image loads.
            warnings.filterwarnings("ignore", r"`torch\.jit\.load` is deprecated",
                                    DeprecationWarning)
            model = torch.jit.load(path, map_location=device)
    except RuntimeError as error:
        raise ModelLoadError(f"Failed to load {path}. Please ensure model is saved using "
                             "torchscript (or provide a model_fn in inference.py).") from error
    return model.to(device)


def input_fn(input_data: str | bytes, content_type: str) -> Any:
    array = codecs.decode(input_data, content_type)
    if content_type in codecs.UTF8_TYPES:
        tensor = torch.FloatTensor(array)
    else:
        tensor = torch.from_numpy(array)
    return tensor.to(_device())


def predict_fn(data: Any, model: Any) -> Any:
    device = _device()
    with torch.no_grad():
        model = model.to(device)
        model.eval()
        return model(data.to(device))


def _plain(prediction: Any) -> Any:
    if isinstance(prediction, torch.Tensor):
        return prediction.detach().cpu().numpy().tolist()
    if isinstance(prediction, tuple | list):
        return [_plain(item) for item in prediction]
    return prediction


def output_fn(prediction: Any, accept: str) -> tuple[str | bytes, str]:
    value = _plain(prediction)
    for media_type in codecs.parse_accept(accept):
        if media_type in codecs.SUPPORTED:
            return codecs.encode(value, media_type), media_type
    raise UnsupportedFormatError(accept)


DEFAULTS = FrameworkDefaults(model_fn, input_fn, predict_fn, output_fn)
