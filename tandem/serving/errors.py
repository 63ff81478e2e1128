"""Errors of the serving core, each with the wire identity SageMaker gives it.

The runtime (InvokeEndpoint) and the control plane disagree on the name of a
validation error: the runtime says ``ValidationError``, the control plane
``ValidationException`` — boto3's waiters depend on the latter.
"""

from __future__ import annotations

from ..errors import TandemError, ValidationException

__all__ = [
    "InvocationError",
    "EndpointNotFound",
    "ModelError",
    "ServiceUnavailable",
    "ResourceNotFoundException",
    "ResourceInUse",
    "ResourceLimitExceeded",
]


class InvocationError(TandemError):
    """A request to InvokeEndpoint that SageMaker itself rejects (not the model)."""

    code = "ValidationError"
    status = 400


class EndpointNotFound(InvocationError):
    def __init__(self, name: str, account_id: str) -> None:
        super().__init__(f"Endpoint {name} of account {account_id} not found.", endpoint=name)


class ModelError(TandemError):
    """A container answered non-2xx, crashed or timed out.

    HTTP 424 with ``x-amzn-ErrorType: ModelError``."""

    code = "ModelError"
    status = 424

    def __init__(
        self,
        message: str,
        *,
        original_status: int,
        original_message: str,
        log_stream_arn: str,
        error_code: str,
    ) -> None:
        super().__init__(message)
        self.original_status = original_status
        self.original_message = original_message
        self.log_stream_arn = log_stream_arn
        self.error_code = error_code


class ServiceUnavailable(TandemError):
    """No healthy instance can take the request now (botocore retries 503)."""

    code = "ServiceUnavailable"
    status = 503
    fault = "Receiver"


class ResourceNotFoundException(ValidationException):
    """Control-plane "Could not find ..." — a ValidationException on the wire, as on AWS."""


class ResourceInUse(TandemError):
    code = "ResourceInUse"
    status = 400


class ResourceLimitExceeded(TandemError):
    code = "ResourceLimitExceeded"
    status = 400
