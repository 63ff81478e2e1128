"""The default handler functions of SageMaker's framework images, one module per framework.

The handler runtime is started with ``--framework NAME`` (from the Image, see
``tandem.serving.frameworks``); a user's inference.py still overrides any function. Each
framework module imports its framework only when chosen, so tandem needs none of them.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["FrameworkDefaults", "FRAMEWORKS", "defaults_for"]


@dataclasses.dataclass(frozen=True)
class FrameworkDefaults:
    """A framework image's default handler functions and default Accept."""

    model_fn: Callable[..., Any]
    input_fn: Callable[..., Any]
    predict_fn: Callable[..., Any]
    output_fn: Callable[..., Any]
    # The image's answer type when the request names none (SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT
    # still wins); None keeps the toolkit's application/json.
    default_accept: str | None = None


# Framework name -> the module holding its DEFAULTS; None: the toolkit's own defaults.
_MODULES: dict[str, str | None] = {
    "generic": None,
    "sklearn": None,
    "xgboost": "xgboost_defaults",
    "pytorch": "pytorch_defaults",
    "tensorflow": "tensorflow_defaults",
    "huggingface": "huggingface_defaults",
}
FRAMEWORKS = tuple(_MODULES)


def defaults_for(framework: str) -> FrameworkDefaults | None:
    """The framework's defaults, or None where the toolkit's own apply. Imports lazily."""
    if framework not in _MODULES:
        raise ValueError(f"unknown framework {framework!r}; expected one of {FRAMEWORKS}")
    name = _MODULES[framework]
    if name is None:
        return None
    module = importlib.import_module(f"{__name__}.{name}")
    defaults: FrameworkDefaults = module.DEFAULTS
    return defaults
