"""Typed domain errors.

Each error class declares the wire identity it has in the AWS API that
reports it: ``code`` (the error code / shape name botocore matches), ``status``
(HTTP status), and for CloudWatch's query-compatible protocols ``query_code``.
The core raises these; each protocol in ``tandem.api`` maps them in one place
by walking the class's MRO, so a subclass inherits its parent's mapping.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "TandemError",
    "InvalidParameterValue",
    "InvalidParameterCombination",
    "MissingParameter",
    "LimitExceeded",
    "InvalidNextToken",
    "ResourceNotFound",
    "ResourceAlreadyExists",
    "InvalidFilterPattern",
    "ValidationException",
    "ValidationError",
    "InvalidFormat",
    "ConfigError",
    "InternalFailure",
]


class TandemError(Exception):
    """Base of every error tandem reports to a client."""

    code: ClassVar[str] = "InternalFailure"
    status: ClassVar[int] = 500
    # Sender (client's fault) or Receiver (ours), as the query protocol reports it.
    fault: ClassVar[str] = "Sender"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class InvalidParameterValue(TandemError):
    """A parameter has a value outside what the API accepts."""

    code = "InvalidParameterValue"
    status = 400


class InvalidParameterCombination(TandemError):
    """Parameters that may not be given together, or a combination that is too large."""

    code = "InvalidParameterCombination"
    status = 400


class MissingParameter(TandemError):
    """A required parameter is absent."""

    code = "MissingParameter"
    status = 400


class LimitExceeded(TandemError):
    code = "LimitExceeded"
    status = 400


class InvalidNextToken(TandemError):
    code = "InvalidNextToken"
    status = 400


class ResourceNotFound(TandemError):
    code = "ResourceNotFoundException"
    status = 400


class ResourceAlreadyExists(TandemError):
    code = "ResourceAlreadyExistsException"
    status = 400


class InvalidFilterPattern(InvalidParameterValue):
    """A CloudWatch Logs filter pattern that does not parse; ``position`` is 0-based."""

    def __init__(self, message: str, pattern: str, position: int) -> None:
        super().__init__(
            f"Invalid filter pattern at position {position + 1}: {message}",
            pattern=pattern,
            position=position,
        )
        self.pattern = pattern
        self.position = position


class ValidationException(TandemError):
    """SageMaker control-plane validation and not-found errors (boto3 waiters rely on this code)."""

    code = "ValidationException"
    status = 400


class ValidationError(TandemError):
    """CloudWatch's unmodelled validation failure (query code ``ValidationError``): alarm
    members that break a rule the model cannot express, and GetMetricData's refused time
    range."""

    code = "ValidationError"
    status = 400


class InvalidFormat(TandemError):
    """CloudWatch's InvalidFormat: a member whose text is not in the expected format (JSON)."""

    code = "InvalidFormat"
    status = 400


class ConfigError(TandemError):
    """A settings or deployment file that cannot be used; names the file and the field."""

    code = "ValidationException"
    status = 400


class InternalFailure(TandemError):
    code = "InternalFailure"
    status = 500
    fault = "Receiver"


class StoreUnavailable(TandemError):
    """The shared store (PostgreSQL) did not answer; names it (never its password)."""

    code = "ServiceUnavailable"
    status = 503
    fault = "Receiver"
