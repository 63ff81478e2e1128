"""Routing snapshots derived from the catalogue's documents equal what the leader publishes from
the fleets it runs, for the same state: same variants, weights, routing, containers, execution
mode, instance URLs in the same order, kept load counters, and the same rules on what is not
routable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.clock import ManualClock
from tandem.serving.catalog_snapshots import CatalogEndpoint, snapshot_from_catalog
from tandem.serving.fleets import EndpointRun, Fleet
from tandem.serving.instance_records import InstanceRecord
from tandem.serving.launcher import ContainerSpec, InstanceHandle, InstanceSpec, InstanceStatus
from tandem.serving.model import (
    Endpoint,
    EndpointConfig,
    EndpointStatus,
    Model,
    VariantState,
)
from tandem.serving.router import RoutedEndpoint, RoutedInstance, RoutedVariant, Router
from tandem.serving.snapshots import publish
from tandem.telemetry.metrics import MetricRegistry

_REGION, _ACCOUNT = "us-east-1", "000000000000"


def _router() -> Router:
    return Router(MetricRegistry(ManualClock()), account_id=_ACCOUNT, region=_REGION)


def _shape(snapshot: RoutedEndpoint | None) -> Any:
    if snapshot is None:
        return None
    return (
        snapshot.name,
        snapshot.log_group_arn,
        [
            (
                v.name, v.weight, v.strategy, v.mode, v.containers, v.primary_only,
                [(i.instance_id, i.urls, i.outstanding) for i in v.instances],
                len(v.series.container_latency), sorted(v.series.container_direct),
            )
            for v in snapshot.variants
        ],
    )  # fmt: skip


def _model(name: str, hostnames: list[str], direct: bool, primary: bool) -> Model:
    if primary:
        request: dict[str, Any] = {"ModelName": name, "PrimaryContainer": {"Image": "x/y"}}
    else:
        request = {
            "ModelName": name,
            "Containers": [{"ContainerHostname": h, "Image": "x/y"} for h in hostnames],
            "InferenceExecutionConfig": {"Mode": "Direct" if direct else "Serial"},
        }
    return Model.parse(request, 1.0)


def _config(name: str, variants: list[tuple[str, str, str]]) -> EndpointConfig:
    return EndpointConfig.parse({
        "EndpointConfigName": name,
        "ProductionVariants": [
            {"VariantName": v, "ModelName": m, "InitialInstanceCount": 1,
             "RoutingConfig": {"RoutingStrategy": routing}}
            for v, m, routing in variants
        ],
    }, 1.0)  # fmt: skip


def _handle(record: InstanceRecord, endpoint: str) -> InstanceHandle:
    spec = InstanceSpec.for_endpoint(
        endpoint, record.variant, [ContainerSpec(n, ("serve",)) for n in record.ports],
        Path("/nonexistent"), instance_id=record.instance_id)  # fmt: skip
    return InstanceHandle(record.instance_id, spec, InstanceStatus.IN_SERVICE,
                          record.host or "", dict(record.ports))  # fmt: skip


@st.composite
def _states(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 3))
    models, variants = [], []
    for index in range(count):
        primary = draw(st.booleans())
        hostnames = ["primary"] if primary else [f"c{j}" for j in range(draw(st.integers(1, 3)))]
        direct = not primary and len(hostnames) > 1 and draw(st.booleans())
        models.append(_model(f"Model-{index}", hostnames, direct, primary))
        variants.append((f"V{index}", f"Model-{index}",
                         draw(st.sampled_from(["LEAST_OUTSTANDING_REQUESTS", "RANDOM"]))))
    config = _config("Cfg", variants)
    # OutOfService endpoints are never restored: the leader has nothing to publish for them.
    status = draw(st.sampled_from(
        [s for s in EndpointStatus if s is not EndpointStatus.OUT_OF_SERVICE]))
    weights = [draw(st.floats(0.0, 10.0)) for _ in range(count)]
    records, ready = [], []
    for n in range(draw(st.integers(0, 8))):
        index = draw(st.integers(0, count - 1))
        names = [c.hostname for c in models[index].containers]
        ports = {name: 9000 + 10 * n + k for k, name in enumerate(names)}
        kind = draw(st.sampled_from(["ready", "ready", "pending", "draining", "other-config",
                                     "other-endpoint"]))
        record = InstanceRecord(f"i-{n:017x}", "Ep", f"V{index}", "Cfg")
        if kind == "pending":
            records.append(record)
            continue
        record = record.ready(f"10.0.0.{n + 1}", ports)
        if kind == "draining":
            record = record.draining()
        elif kind == "other-config":
            record = InstanceRecord(record.instance_id, "Ep", record.variant, "Next", "InService",
                                    record.host, ports)
        elif kind == "other-endpoint":
            record = InstanceRecord(record.instance_id, "Other", record.variant, "Cfg",
                                    "InService", record.host, ports)
        else:
            ready.append(record)
        records.append(record)
    # What the router routes already (or not): some of the ready instances, with requests in
    # flight, and one that has gone since.
    routed_before = draw(st.booleans())
    kept = [r for r in ready if draw(st.booleans())] if routed_before else []
    loads = {r.instance_id: draw(st.integers(0, 5)) for r in kept}
    return {"models": models, "config": config, "status": status, "weights": weights,
            "records": records, "ready": ready, "routed_before": routed_before, "loads": loads}


def _publish_before(router: Router, state: dict[str, Any]) -> None:
    if not state["routed_before"]:
        return
    by_id = {r.instance_id: r for r in state["ready"]}
    variants = []
    for variant, model in zip(state["config"].variants, state["models"], strict=True):
        names = [c.hostname for c in model.containers]
        instances = []
        for instance_id, load in state["loads"].items():
            record = by_id[instance_id]
            if record.variant != variant.name:
                continue
            instance = RoutedInstance(
                instance_id, [f"http://{record.host}:{record.ports[n]}/invocations" for n in names])
            instance.outstanding = load
            instances.append(instance)
        gone = RoutedInstance("i-fffffffffffffffff", ["http://10.9.9.9:1/invocations"] * len(names))
        series = router.variant_series("Ep", variant.name, names, model.is_pipeline, False)
        variants.append(RoutedVariant(variant.name, 1.0, [*instances, gone], variant.routing,
                                      series, mode=model.mode, containers=names,
                                      primary_only=model.primary_only))
    router.publish(RoutedEndpoint("Ep", variants, region=_REGION, account_id=_ACCOUNT))


def _endpoint(state: dict[str, Any]) -> Endpoint:
    return Endpoint("Ep", "Cfg", state["status"], 1.0, 2.0, variants=[
        VariantState(v.name, w, w, 1) for v, w in zip(state["config"].variants,
                                                      state["weights"], strict=True)])  # fmt: skip


def _leader_view(state: dict[str, Any]) -> Any:
    """What the leader routes: DeleteEndpoint and a failure withdraw the endpoint, and every
    reconcile pass publishes the fleets."""
    router = _router()
    _publish_before(router, state)
    endpoint = _endpoint(state)
    fleets = {v.name: Fleet(v, m) for v, m in zip(state["config"].variants, state["models"],
                                                   strict=True)}  # fmt: skip
    for record in state["ready"]:
        fleets[record.variant].instances[record.instance_id] = _handle(record, "Ep")
    if endpoint.status in (EndpointStatus.DELETING, EndpointStatus.FAILED):
        router.withdraw("Ep")
    publish(router, EndpointRun(endpoint, state["config"], fleets), region=_REGION,
            account_id=_ACCOUNT)  # fmt: skip
    return _shape(router.endpoint("Ep"))


def _follower_view(state: dict[str, Any]) -> Any:
    router = _router()
    _publish_before(router, state)
    catalog = CatalogEndpoint(_endpoint(state), state["config"],
                              {m.name.lower(): m for m in state["models"]},
                              [r for r in state["records"] if r.endpoint == "Ep"])  # fmt: skip
    snapshot = snapshot_from_catalog(catalog, router)
    if snapshot is None:
        router.withdraw("Ep")
    else:
        router.publish(snapshot)
    return _shape(router.endpoint("Ep"))


@settings(max_examples=300, deadline=None)
@given(_states())
def test_snapshot_from_the_catalogue_is_what_the_leader_publishes(state: dict[str, Any]) -> None:
    assert _follower_view(state) == _leader_view(state)


def _simple_state(status: EndpointStatus, ready: bool) -> CatalogEndpoint:
    model = _model("M", ["a", "b"], False, False)
    config = _config("Cfg", [("V", "M", "RANDOM")])
    record = InstanceRecord("i-00000000000000001", "Ep", "V", "Cfg")
    if ready:
        record = record.ready("127.0.0.1", {"a": 8001, "b": 8002})
    endpoint = Endpoint("Ep", "Cfg", status, 1.0, 1.0, variants=[VariantState("V", 2.0, 2.0, 1)])
    return CatalogEndpoint(endpoint, config, {"m": model}, [record])


def test_an_inservice_instance_of_a_creating_endpoint_makes_it_routable() -> None:
    snapshot = snapshot_from_catalog(_simple_state(EndpointStatus.CREATING, True), _router())
    assert _shape(snapshot) == (
        "Ep", "arn:aws:logs:us-east-1:000000000000:log-group:/aws/sagemaker/Endpoints/Ep",
        [("V", 2.0, "RANDOM", "Serial", ("a", "b"), False,
          [("i-00000000000000001", ("http://127.0.0.1:8001/invocations",
                                    "http://127.0.0.1:8002/invocations"), 0)], 2, [])],
    )  # fmt: skip


def test_a_creating_endpoint_with_only_pending_instances_is_not_routable() -> None:
    assert snapshot_from_catalog(_simple_state(EndpointStatus.CREATING, False), _router()) is None


def test_an_out_of_service_endpoint_is_not_routable() -> None:
    state = _simple_state(EndpointStatus.OUT_OF_SERVICE, True)
    assert snapshot_from_catalog(state, _router()) is None


def test_an_endpoint_whose_model_is_unknown_is_not_routable() -> None:
    state = _simple_state(EndpointStatus.IN_SERVICE, True)
    state = CatalogEndpoint(state.endpoint, state.config, {}, state.instances)
    assert snapshot_from_catalog(state, _router()) is None
