"""Which SageMaker framework image an Image names, so its own serving defaults apply.

SageMaker's framework images serve a model with no inference.py in ways the bare inference
toolkit does not: the PyTorch image loads a TorchScript ``model.pt``, the XGBoost image
serves the built-in algorithm's ``xgboost-model``. The handler runtime is told the
framework (``--framework``) and picks that image's default handler functions.
"""

from __future__ import annotations

import enum
import re

from .images import repository_name

__all__ = ["Framework", "framework_of"]


class Framework(enum.Enum):
    # The bare inference toolkit's defaults (and scikit-learn's: model.predict).
    GENERIC = "generic"
    SKLEARN = "sklearn"
    XGBOOST = "xgboost"
    PYTORCH = "pytorch"
    TENSORFLOW = "tensorflow"
    HUGGINGFACE = "huggingface"


_PATTERNS: tuple[tuple[re.Pattern[str], Framework], ...] = (
    (re.compile(r"huggingface-pytorch-(inference|training).*"), Framework.HUGGINGFACE),
    (re.compile(r"(sagemaker-)?xgboost"), Framework.XGBOOST),
    (re.compile(r"sagemaker-scikit-learn"), Framework.SKLEARN),
    (re.compile(r"(sagemaker-pytorch(-serving)?|pytorch-inference.*)"), Framework.PYTORCH),
    (re.compile(r"(sagemaker-tensorflow.*|(huggingface-)?tensorflow-inference.*)"),
     Framework.TENSORFLOW),
)


def framework_of(image: str | None) -> Framework:
    """The framework whose defaults serve ``image``; GENERIC for anything else."""
    if not image or not image.strip():
        return Framework.GENERIC
    repository = repository_name(image)
    for pattern, framework in _PATTERNS:
        if pattern.fullmatch(repository):
            return framework
    return Framework.GENERIC
