"""Application Auto Scaling's errors, each with the wire code AWS gives it (awsJson1_1, 400)."""

from __future__ import annotations

from ..errors import TandemError

__all__ = [
    "ScalingValidation",
    "ObjectNotFound",
    "ConcurrentUpdate",
    "FailedResourceAccess",
    "ScalingLimitExceeded",
    "ScalableTargetNotFound",
]


class ScalingValidation(TandemError):
    """A bad request: enums, namespace/dimension combinations, ranges, a resource not InService."""

    code = "ValidationException"
    status = 400


class ObjectNotFound(TandemError):
    """An unregistered scalable target, or a policy that does not exist."""

    code = "ObjectNotFoundException"
    status = 400


class ConcurrentUpdate(TandemError):
    """Another register/put/delete on the same scalable target is in flight."""

    code = "ConcurrentUpdateException"
    status = 400


class FailedResourceAccess(TandemError):
    """The policy's CloudWatch alarms could not be created or read."""

    code = "FailedResourceAccessException"
    status = 400


class ScalingLimitExceeded(TandemError):
    code = "LimitExceededException"
    status = 400


class ScalableTargetNotFound(TandemError):
    """A tagging call names an ARN that is no registered scalable target."""

    code = "ResourceNotFoundException"
    status = 400
