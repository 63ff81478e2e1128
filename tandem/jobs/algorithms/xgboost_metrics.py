"""The XGBoost built-in algorithm's metric definitions, as the algorithm publishes them.

Its log prints one line per boosting round, ``[3]#011train-rmse:0.41#011validation-rmse:0.44``
(CloudWatch Logs shows the tab between entries as ``#011``), and SageMaker reads
``train:<metric>`` and ``validation:<metric>`` from it with the regexes below.
"""

from __future__ import annotations

import re

from ..metric_definitions import MetricDefinition

__all__ = ["XGBOOST_ALGORITHM", "XGBOOST_METRICS", "xgboost_metric_definitions"]

# The program a job runs for the XGBoost image in algorithm mode.
XGBOOST_ALGORITHM = "tandem.jobs.algorithms.xgboost_train"

# The evaluation metrics the algorithm documents (xgboost-tuning), for its metric definitions.
XGBOOST_METRICS = (
    "accuracy", "auc", "aucpr", "error", "f1", "gamma-deviance", "logloss", "mae", "map",
    "merror", "mlogloss", "mse", "ndcg", "poisson-nloglik", "rmse", "rmsle", "mape",
    "cox-nloglik", "tweedie-nloglik",
)


# A number, so a train metric followed by ``#011validation-...`` still parses.
_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


def xgboost_metric_definitions() -> list[MetricDefinition]:
    """``train:<m>`` and ``validation:<m>`` for every documented metric, in that order."""
    return [
        MetricDefinition(f"{channel}:{metric}",
                         re.compile(rf".*\[[0-9]+\].*#011{channel}-{re.escape(metric)}:{_NUMBER}"))
        for channel in ("train", "validation") for metric in XGBOOST_METRICS
    ]
