"""The Hugging Face inference image's defaults (sagemaker-huggingface-inference-toolkit).

model_fn builds a ``transformers`` pipeline for the ``HF_TASK`` environment variable from
the model directory (save_pretrained's files); input_fn reads the toolkit's JSON
``{"inputs": ..., "parameters": {...}}``; predict_fn calls the pipeline; output_fn answers
JSON. Models load from the model directory only: set HF_HUB_OFFLINE=1 so nothing is fetched.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..errors import GenericInferenceToolkitError, UnsupportedFormatError
from . import FrameworkDefaults

try:
    import torch
    import transformers
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the Hugging Face image's default handler needs transformers and torch, which are "
        "not installed in tandem's Python environment"
    ) from error

__all__ = ["DEFAULTS"]

JSON = "application/json"


def model_fn(model_dir: str) -> Any:
    task = os.environ.get("HF_TASK", "").strip()
    if not task:
        raise ValueError("HF_TASK is not set: the Hugging Face image needs the pipeline task "
                         "(e.g. text-classification) in the container's Environment")
    device = 0 if torch.cuda.is_available() else -1
    return transformers.pipeline(task=task, model=model_dir, tokenizer=model_dir, device=device)


def input_fn(input_data: str | bytes, content_type: str) -> Any:
    if content_type.split(";", 1)[0].strip() != JSON:
        raise UnsupportedFormatError(content_type)
    try:
        data = json.loads(input_data)
    except ValueError as error:
        raise GenericInferenceToolkitError(400, f"the body is not JSON: {error}") from error
    if not isinstance(data, dict) or "inputs" not in data:
        raise GenericInferenceToolkitError(400, 'the body must be a JSON object with "inputs"')
    return data


def predict_fn(data: dict[str, Any], model: Any) -> Any:
    parameters = data.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise GenericInferenceToolkitError(400, '"parameters" must be a JSON object')
    return model(data["inputs"], **parameters)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def output_fn(prediction: Any, accept: str) -> tuple[str, str]:
    for media_type in accept.replace(" ", "").split(","):
        if media_type in (JSON, "*/*"):
            return json.dumps(_plain(prediction)), JSON
    raise UnsupportedFormatError(accept)


DEFAULTS = FrameworkDefaults(model_fn, input_fn, predict_fn, output_fn)
