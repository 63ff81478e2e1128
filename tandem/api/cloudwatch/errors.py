"""CloudWatch's error table: each core error's shape name, query code and HTTP status.

One table for all three protocols (reference §2.5). The JSON and CBOR
protocols send the shape name in ``__type`` and the query code in
``x-amzn-query-error`` (without that header botocore cannot pick the modeled
exception class); the query protocol sends the query code in ``<Code>``.
With ``x-amzn-query-mode: true`` (botocore always sends it) JSON and CBOR use
the query status (404 for ResourceNotFound); without it every 4xx is a 400.
"""

from __future__ import annotations

import dataclasses

from ...errors import (
    InternalFailure,
    InvalidFormat,
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
    LimitExceeded,
    MissingParameter,
    ResourceNotFound,
    TandemError,
    ValidationError,
)
from ..aws_json import SerializationException, UnknownOperation

__all__ = ["WireError", "wire_error", "MalformedRequest", "RequestTooLarge", "UnknownAction",
           "CloudWatchResourceNotFound",
           "NAMESPACE_PREFIX"]  # fmt: skip

NAMESPACE_PREFIX = "com.amazonaws.cloudwatch.v2010_08_01#"


class MalformedRequest(SerializationException):
    """A body that does not decode (bad JSON, CBOR, form encoding or gzip)."""


class UnknownAction(UnknownOperation):
    """An operation CloudWatch's metrics API does not have (or tandem does not serve)."""


class CloudWatchResourceNotFound(ResourceNotFound):
    """The tagging operations' not-found error (``ResourceNotFoundException``, not the
    ``ResourceNotFound`` of the dashboard operations)."""


class RequestTooLarge(TandemError):
    code = "RequestEntityTooLarge"
    status = 413


@dataclasses.dataclass(frozen=True)
class WireError:
    type_name: str  # JSON/CBOR __type suffix (the model's shape name)
    query_code: str  # query <Code>, x-amzn-query-error, botocore's Error.Code
    status: int  # HTTP status under the query protocol or query mode
    fault: str = "Sender"
    namespace: str = NAMESPACE_PREFIX  # of the JSON/CBOR __type

    @property
    def json_type(self) -> str:
        return self.namespace + self.type_name

    def status_for(self, query_mode: bool) -> int:
        return self.status if query_mode or self.status >= 500 else 400


_TABLE: dict[type, WireError] = {
    InvalidParameterValue: WireError(
        "InvalidParameterValueException", "InvalidParameterValue", 400),
    InvalidParameterCombination: WireError(
        "InvalidParameterCombinationException", "InvalidParameterCombination", 400),
    MissingParameter: WireError("MissingRequiredParameterException", "MissingParameter", 400),
    InvalidNextToken: WireError("InvalidNextToken", "InvalidNextToken", 400),
    CloudWatchResourceNotFound: WireError(
        "ResourceNotFoundException", "ResourceNotFoundException", 404),
    LimitExceeded: WireError("LimitExceededFault", "LimitExceeded", 400),
    ResourceNotFound: WireError("ResourceNotFound", "ResourceNotFound", 404),
    InvalidFormat: WireError("InvalidFormatFault", "InvalidFormat", 400),
    # Not in the model: AWS sends coral's shape with the query code ValidationError.
    ValidationError: WireError(
        "ValidationException", "ValidationError", 400, namespace="com.amazon.coral.validate#"),
    UnknownOperation: WireError("UnknownOperationException", "InvalidAction", 400),
    SerializationException: WireError("SerializationException", "MalformedInput", 400),
    RequestTooLarge: WireError("RequestEntityTooLarge", "RequestEntityTooLarge", 413),
    InternalFailure: WireError("InternalServiceFault", "InternalServiceError", 500, "Receiver"),
}  # fmt: skip


def wire_error(error: TandemError) -> WireError:
    """The nearest entry by MRO; an unlisted class keeps its own code and status."""
    for cls in type(error).__mro__:
        if cls in _TABLE:
            return _TABLE[cls]
    return WireError(error.code, error.code, error.status, error.fault)
