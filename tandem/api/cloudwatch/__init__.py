"""CloudWatch metrics and alarms over the three protocols clients speak: awsJson1_0, query and
rpc-v2-cbor.

``operations`` (metrics) and ``alarm_operations`` (alarms) are protocol-neutral; ``json10``,
``query`` (+ ``query_xml``) and ``cbor`` are one wire format each; ``shapes`` declares the
members once; ``errors`` is the one error table; ``service`` is the HTTP edge the app routes to.

Where tandem knowingly differs from CloudWatch:

- at most 10 dimensions per metric (the issue's limit, ``metrics.validation``), not 30;
- periods must be multiples of 60: no high-resolution storage, so StorageResolution 1 is
  accepted and stored at one minute;
- members a shape does not declare are ignored rather than rejected (newer SDKs);
- a datum with none of Value, Values and StatisticValues is ``MissingParameter``
  (AWS's text for this case is unverified);
- alarms: no anomaly-detection, PromQL or composite alarms, no WallClockWindow, and alarm
  periods must be multiples of 60 (each refused with a ValidationError that says so).
"""

from .operations import OPERATION_NAMES, CloudWatchOperations
from .service import CloudWatchService

__all__ = ["CloudWatchService", "CloudWatchOperations", "OPERATION_NAMES"]
