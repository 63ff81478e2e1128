"""Routing snapshots: an endpoint's fleets as the router sees them (``RoutedEndpoint``).

A snapshot is published whole after every reconcile; instances that stay keep their load
counters, so least-outstanding-requests routing and drains see the requests in flight.
"""

from __future__ import annotations

from .fleets import EndpointRun
from .model import EndpointStatus, ExecutionMode, Model, ProductionVariant
from .router import RoutedEndpoint, RoutedInstance, RoutedVariant, Router

__all__ = ["publish", "routable", "routed_instances", "routed_variant"]


def routed_instances(router: Router, endpoint_name: str) -> dict[str, RoutedInstance]:
    """The instances of the snapshot the router routes from now, by id."""
    snapshot = router.endpoint(endpoint_name)
    if snapshot is None:
        return {}
    return {i.instance_id: i for v in snapshot.variants for i in v.instances}


def publish(router: Router, run: EndpointRun, *, region: str, account_id: str) -> None:
    """Publish the fleets taking traffic; nothing for a Deleting or Failed endpoint, nor for
    one that was never routable and still lacks an instance in some variant."""
    endpoint = run.endpoint
    if endpoint.status in (EndpointStatus.DELETING, EndpointStatus.FAILED):
        return
    if not run.fleets:
        return
    old = routed_instances(router, endpoint.name)
    weights = run.weights()
    variants = []
    for fleet in run.fleets.values():
        model = fleet.model
        names = [c.hostname for c in model.containers]
        instances = [
            # Keep the load counters of instances that stay.
            old.get(h.instance_id)
            or RoutedInstance(
                h.instance_id, [f"http://{h.host}:{h.ports[n]}/invocations" for n in names]
            )
            for h in fleet.instances.values()
        ]
        variants.append(routed_variant(router, endpoint.name, fleet.variant, model,
                                       weights.get(fleet.variant.name, 0.0), instances))
    if not routable(endpoint.status, router.endpoint(endpoint.name) is not None, variants):
        return
    router.publish(RoutedEndpoint(endpoint.name, variants, region=region, account_id=account_id))


def routed_variant(router: Router, endpoint_name: str, variant: ProductionVariant, model: Model,
                   weight: float, instances: list[RoutedInstance]) -> RoutedVariant:
    """A variant as the router routes it: its instances, weight, routing and series."""
    names = [c.hostname for c in model.containers]
    series = router.variant_series(endpoint_name, variant.name, names, model.is_pipeline,
                                   model.mode is ExecutionMode.DIRECT)  # fmt: skip
    return RoutedVariant(variant.name, weight, instances, variant.routing, series,
                         mode=model.mode, containers=names, primary_only=model.primary_only)


def routable(status: EndpointStatus, routed_now: bool, variants: list[RoutedVariant]) -> bool:
    """Whether a snapshot of ``variants`` may be published: not before every variant has an
    instance; once InService (or routed already) it stays routable and answers
    ServiceUnavailable while instances are replaced."""
    return status is EndpointStatus.IN_SERVICE or routed_now or all(v.instances for v in variants)
