"""Errors a handler module raises to choose its response status.

These mirror the inference toolkit's names (``sagemaker_inference.errors``) so a handler
written for a SageMaker framework container keeps its meaning here. They are container-side
errors, not tandem domain errors: they become the status of a container's response, which the
router then reports as a ModelError. Classes from the real toolkit are recognised by name too
(see ``status_of``), so ``from sagemaker_inference.errors import ...`` works where installed.
"""

from __future__ import annotations

__all__ = [
    "UnsupportedFormatError",
    "BaseInferenceToolkitError",
    "GenericInferenceToolkitError",
]


class UnsupportedFormatError(Exception):
    """A content type (in input_fn) or accept type (in output_fn) the handler cannot serve."""

    def __init__(self, content_type: str, **kwargs: object) -> None:
        self.content_type = content_type
        super().__init__(
            f"Content type {content_type} is not supported by this framework.\n\n"
            "Please implement input_fn to deserialize the request data or an output_fn to\n"
            "serialize the response."
        )


class BaseInferenceToolkitError(Exception):
    """An error that carries the HTTP status to answer with (the toolkit's contract)."""

    def __init__(self, status_code: int, message: str, phrase: str) -> None:
        self.status_code = status_code
        self.message = message
        self.phrase = phrase
        super().__init__(status_code, message, phrase)


class GenericInferenceToolkitError(BaseInferenceToolkitError):
    def __init__(self, status_code: int, message: str | None = None,
                 phrase: str | None = None) -> None:
        message = message or "Invalid Request"
        super().__init__(status_code, message, phrase or message)


def is_unsupported_format(error: BaseException) -> bool:
    # By name as well, so the real toolkit's (or sagemaker_containers') class counts.
    return any(cls.__name__ == "UnsupportedFormatError" for cls in type(error).__mro__)


def toolkit_status(error: BaseException) -> int | None:
    """The status a toolkit-style error asks for, or None for any other exception."""
    if not any(cls.__name__ == "BaseInferenceToolkitError" for cls in type(error).__mro__):
        return None
    status = getattr(error, "status_code", None)
    if isinstance(status, int) and 100 <= status <= 599:
        return status
    return None
