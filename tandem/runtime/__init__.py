"""The built-in handler runtime: a container program serving an ``inference.py`` module.

Started as ``python -m tandem.runtime --model-dir DIR``; it speaks the SageMaker container
contract (GET /ping, POST /invocations on $SAGEMAKER_BIND_TO_PORT) for a handler module with
the inference toolkit's functions. See ``handler`` for the contract, ``context`` for custom
attributes and ``server`` for workers and threading.
"""

from .context import CUSTOM_ATTRIBUTES, Context
from .environment import RuntimeConfigError, RuntimeEnvironment
from .errors import BaseInferenceToolkitError, GenericInferenceToolkitError, UnsupportedFormatError
from .handler import Handler, HandlerContractError, InvocationResult

__all__ = [
    "CUSTOM_ATTRIBUTES",
    "Context",
    "RuntimeConfigError",
    "RuntimeEnvironment",
    "BaseInferenceToolkitError",
    "GenericInferenceToolkitError",
    "UnsupportedFormatError",
    "Handler",
    "HandlerContractError",
    "InvocationResult",
]
