"""Application Auto Scaling for SageMaker variants: scalable targets, target-tracking and
step scaling policies, scaling activities.

``capacity`` is the pure arithmetic (target tracking, steps, cooldowns); ``model`` the
records and their validation; ``policy_alarms`` the alarms target tracking owns;
``state`` the in-memory view persisted in the catalogue; ``service`` the control plane;
``executor`` turns alarm actions into DesiredInstanceCount changes through the endpoint
manager and follows them until SageMaker has fulfilled them. No HTTP in here.
"""

from .capacity import AdjustmentType, Decision, NotScaledReason, ScalingHistory, StepAdjustment
from .errors import (
    ConcurrentUpdate,
    FailedResourceAccess,
    ObjectNotFound,
    ScalingLimitExceeded,
    ScalingValidation,
)

__all__ = [
    "AdjustmentType",
    "Decision",
    "NotScaledReason",
    "ScalingHistory",
    "StepAdjustment",
    "ConcurrentUpdate",
    "FailedResourceAccess",
    "ObjectNotFound",
    "ScalingLimitExceeded",
    "ScalingValidation",
]
