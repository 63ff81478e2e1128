"""Built-in algorithms a framework TrainingImage runs in algorithm mode (no user script).

Each is a program run on every training host as ``python -m tandem.jobs.algorithms.<name>``,
reading the same /opt/ml layout (SM_* variables) a container's ``train`` reads.
"""

from __future__ import annotations

from ..metric_definitions import MetricDefinition
from .xgboost_metrics import XGBOOST_ALGORITHM, xgboost_metric_definitions

__all__ = ["XGBOOST_ALGORITHM", "xgboost_metric_definitions", "MetricDefinition"]
