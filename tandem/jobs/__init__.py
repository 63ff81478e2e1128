"""Jobs: training jobs, batch transform jobs and notebook instances with lifecycle scripts.

``build_job_manager`` wires them from the server's parts; ``JobManager`` is what the API
(``tandem.api.sagemaker_jobs``) calls.
"""

from .assembly import build_job_manager
from .manager import JobManager
from .notebooks import NotebookService
from .records import JobStatus
from .training import TrainingJob, TrainingRunner
from .transform import TransformJob, TransformRunner

__all__ = ["build_job_manager", "JobManager", "JobStatus", "NotebookService", "TrainingJob",
           "TrainingRunner", "TransformJob", "TransformRunner"]
