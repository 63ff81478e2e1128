"""Routing snapshots from the catalogue: what a server that does not run an endpoint routes.

The leader publishes an endpoint's snapshot from the fleets it runs (``snapshots.publish``).
Every other server sharing the store derives the same snapshot from the documents the leader
writes: the endpoint's record (status, weights, config), its config (variants, routing), the
models (containers, execution mode) and one record per instance (``instance_records``). An
instance takes traffic from the moment its record is InService under the endpoint's current
config, until the record says Draining or is deleted. The rules on what is routable are the
leader's; ``snapshot_from_catalog`` is tested against ``publish`` for the same state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from .instance_records import InstanceRecord
from .model import Endpoint, EndpointConfig, EndpointStatus, Model
from .router import RoutedEndpoint, RoutedInstance, Router
from .snapshots import routable, routed_instances, routed_variant

__all__ = ["CatalogEndpoint", "snapshot_from_catalog", "NOT_ROUTABLE"]

# Statuses whose endpoint takes no traffic: withdrawn by DeleteEndpoint and on failure, and
# never restored (out of service).
NOT_ROUTABLE = (EndpointStatus.DELETING, EndpointStatus.FAILED, EndpointStatus.OUT_OF_SERVICE)
_ROUTED_RECORD = "InService"


@dataclasses.dataclass(frozen=True)
class CatalogEndpoint:
    """What the catalogue holds about one endpoint: its record, its current config (None if
    unknown), the models that config names (by name, lower case) and the instance records
    naming the endpoint, in the order they were written."""

    endpoint: Endpoint
    config: EndpointConfig | None
    models: Mapping[str, Model]
    instances: Sequence[InstanceRecord]


def snapshot_from_catalog(state: CatalogEndpoint, router: Router) -> RoutedEndpoint | None:
    """The snapshot ``router`` should route ``state``'s endpoint from, or None if it should
    route none (withdrawn). Instances the router routes now keep their load counters; nothing
    is published here."""
    endpoint, config = state.endpoint, state.config
    if endpoint.status in NOT_ROUTABLE or config is None or not config.variants:
        return None
    models = []
    for variant in config.variants:
        model = state.models.get(variant.model_name.lower())
        if model is None:  # the config names a model this server never saw
            return None
        models.append(model)
    current = router.endpoint(endpoint.name)
    old = routed_instances(router, endpoint.name)
    weights = {s.name: s.desired_weight for s in endpoint.variants}
    variants = []
    for variant, model in zip(config.variants, models, strict=True):
        names = [c.hostname for c in model.containers]
        instances = []
        for record in state.instances:
            if (
                record.variant != variant.name
                or record.status != _ROUTED_RECORD
                or record.config is None
                or record.config.lower() != config.name.lower()
                or record.host is None
                or any(n not in record.ports for n in names)
            ):
                continue
            urls = [f"http://{record.host}:{record.ports[n]}/invocations" for n in names]
            kept = old.get(record.instance_id)
            # Keep the load counters of instances that stay.
            instances.append(
                kept if kept is not None and list(kept.urls) == urls
                else RoutedInstance(record.instance_id, urls)
            )
        variants.append(routed_variant(router, endpoint.name, variant, model,
                                       weights.get(variant.name, 0.0), instances))
    if not routable(endpoint.status, current is not None, variants):
        return None  # as on the leader
    return RoutedEndpoint(endpoint.name, variants, region=router.region,
                          account_id=router.account_id)
