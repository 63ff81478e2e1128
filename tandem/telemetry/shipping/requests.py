"""The wire requests a shipper sends: awsJson bodies for PutLogEvents, CreateLogGroup,
CreateLogStream (Logs, awsJson 1.1) and PutMetricData (CloudWatch, awsJson 1.0).

A ``ShipRequest`` is also what the spool keeps on disk: one header line, then the body.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson

__all__ = [
    "ShipRequest",
    "put_log_events",
    "create_log_group",
    "create_log_stream",
    "put_metric_data",
    "LOGS_TARGET",
    "CLOUDWATCH_TARGET",
]

LOGS_TARGET = "Logs_20140328"
CLOUDWATCH_TARGET = "GraniteServiceVersion20100801"
_CONTENT_TYPES = {"logs": "application/x-amz-json-1.1", "monitoring": "application/x-amz-json-1.0"}


@dataclass(frozen=True, slots=True)
class ShipRequest:
    """One API call: its signing service, its operation, its body, and what it carries."""

    service: str  # the SigV4 service name: "logs" or "monitoring"
    operation: str
    body: bytes
    items: int = 0  # log events or metric datums, counted when the request is dropped
    group: str = ""
    stream: str = ""

    @property
    def target(self) -> str:
        prefix = LOGS_TARGET if self.service == "logs" else CLOUDWATCH_TARGET
        return f"{prefix}.{self.operation}"

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES[self.service]

    def to_bytes(self) -> bytes:
        header = orjson.dumps(
            {
                "service": self.service, "operation": self.operation, "items": self.items,
                "group": self.group, "stream": self.stream,
            }
        )
        return header + b"\n" + self.body

    @classmethod
    def from_bytes(cls, data: bytes) -> ShipRequest:
        header, _, body = data.partition(b"\n")
        h = orjson.loads(header)
        return cls(h["service"], h["operation"], body, h["items"], h["group"], h["stream"])


def put_log_events(
    group: str, stream: str, timestamps: Sequence[int], messages: Sequence[str]
) -> ShipRequest:
    body = orjson.dumps(
        {
            "logGroupName": group,
            "logStreamName": stream,
            "logEvents": [
                {"timestamp": t, "message": m} for t, m in zip(timestamps, messages, strict=True)
            ],
        }
    )
    return ShipRequest("logs", "PutLogEvents", body, len(messages), group, stream)


def create_log_group(group: str) -> ShipRequest:
    return ShipRequest("logs", "CreateLogGroup", orjson.dumps({"logGroupName": group}), 0, group)


def create_log_stream(group: str, stream: str) -> ShipRequest:
    body = orjson.dumps({"logGroupName": group, "logStreamName": stream})
    return ShipRequest("logs", "CreateLogStream", body, 0, group, stream)


def put_metric_data(namespace: str, datums: Sequence[dict[str, object]]) -> ShipRequest:
    body = orjson.dumps({"Namespace": namespace, "MetricData": list(datums)})
    return ShipRequest("monitoring", "PutMetricData", body, len(datums))
