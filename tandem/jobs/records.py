"""Job records shared by training and transform: statuses, transitions, names, ARNs."""

from __future__ import annotations

import dataclasses
import enum
import re
from typing import Any

from ..errors import ValidationException

__all__ = ["JobStatus", "StatusTransition", "validate_job_name", "JobStopped"]

_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


class JobStatus(enum.StrEnum):
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED)


@dataclasses.dataclass
class StatusTransition:
    """One SecondaryStatusTransitions entry."""

    status: str
    start_time: float
    status_message: str
    end_time: float | None = None

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Status": self.status, "StartTime": self.start_time,
                               "StatusMessage": self.status_message}
        if self.end_time is not None:
            out["EndTime"] = self.end_time
        return out


class JobStopped(Exception):
    """Raised inside a job's run when StopTrainingJob/StopTransformJob asked it to stop."""


def validate_job_name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValidationException(
            f"1 validation error detected: Value {value!r} at '{field}' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
    return value
