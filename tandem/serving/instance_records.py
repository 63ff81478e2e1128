"""Which instances belong to which endpoint: one catalogue document per running instance.

The reconciler writes a record before it asks the launcher for an instance (Pending), again
once the instance is ready (InService, with its host and ports), again when the instance leaves
the rotation (Draining: servers routing from the catalogue stop sending it requests) and
deletes it once the instance has stopped. A restarted server adopts a still-running instance
(a Ray actor outlives the server) only when its record names a fleet that was restored (same
endpoint, variant and config) and it was not draining; a running instance without a record is
stopped, and a record without a running instance (lost while no server watched it) is dropped,
so the planner starts a replacement.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = ["INSTANCE", "InstanceRecord"]

INSTANCE = "endpoint-instance"


@dataclasses.dataclass(frozen=True)
class InstanceRecord:
    instance_id: str
    endpoint: str
    variant: str
    config: str | None
    # Pending until the launcher reports it ready, then InService, Draining once it stops.
    status: str = "Pending"
    host: str | None = None
    ports: Mapping[str, int] = dataclasses.field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        doc["ports"] = dict(self.ports)
        return doc

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> InstanceRecord:
        return cls(doc["instance_id"], doc["endpoint"], doc["variant"], doc.get("config"),
                   doc.get("status", "Pending"), doc.get("host"), dict(doc.get("ports") or {}))

    def ready(self, host: str, ports: Mapping[str, int]) -> InstanceRecord:
        return dataclasses.replace(self, status="InService", host=host, ports=dict(ports))

    def draining(self) -> InstanceRecord:
        return dataclasses.replace(self, status="Draining")
