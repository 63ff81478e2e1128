"""Shipping: telemetry of an instance on another host, home through tandem's own API.

A remote agent is handed a ``LogShipper`` for its log service and a ``MetricShipper`` for its
metrics registry. They batch lines into PutLogEvents and samples into PutMetricData (the
CloudWatch agent's way), sign with SigV4, retry with backoff and jitter, and spool to a
bounded directory while no server answers. Delivery is at least once (see ``outbox``).
"""

from .batches import MetricSample, prepare_events, split_log_events, split_metric_datums
from .client import DeliveryError, Refused, ShipClient, Unreachable
from .config import ShipperConfig
from .logs import LogShipper, LogShippingStats
from .metrics import MetricShipper, ShippedSeries
from .outbox import Outbox, OutboxStats
from .requests import ShipRequest
from .spool import Spool

__all__ = [
    "ShipperConfig",
    "LogShipper",
    "LogShippingStats",
    "MetricShipper",
    "ShippedSeries",
    "ShipClient",
    "ShipRequest",
    "DeliveryError",
    "Unreachable",
    "Refused",
    "Outbox",
    "OutboxStats",
    "Spool",
    "MetricSample",
    "prepare_events",
    "split_log_events",
    "split_metric_datums",
]
