"""The router: one InvokeEndpoint through a pipeline, timed and counted.

The request path reads only an in-memory routing snapshot (``RoutedEndpoint``)
that the endpoint manager publishes; it never waits on the store or the
launcher. Telemetry is recorded into in-memory minute buckets through series
handles resolved once per snapshot, so a request costs a handful of O(1)
``record`` calls.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import itertools
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import InternalFailure, TandemError
from ..telemetry.metrics import MetricRegistry, Series
from .errors import EndpointNotFound, InvocationError, ModelError, ServiceUnavailable
from .hop_client import HopClient, HopConnectError, HopDisconnected, HopTarget, render_headers
from .model import ExecutionMode, RoutingStrategy

if TYPE_CHECKING:
    from ..telemetry.tracing import RequestTrace, RequestTracer

__all__ = [
    "Invocation",
    "InvocationResult",
    "RoutedEndpoint",
    "RoutedInstance",
    "RoutedVariant",
    "Router",
    "MAX_PAYLOAD_BYTES",
]

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
MAX_HOP_PAYLOAD_BYTES = 5 * 1000 * 1000
_NS = "AWS/SageMaker"
_US = "Microseconds"
_log = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class Invocation:
    endpoint_name: str
    body: bytes
    content_type: str | None = None
    accept: str | None = None
    custom_attributes: str | None = None
    target_variant: str | None = None
    target_container: str | None = None
    inference_id: str | None = None
    # Set when tracing is on: the hops' CLIENT spans go here, and each hop carries its
    # traceparent.
    trace: RequestTrace | None = None


@dataclasses.dataclass(slots=True)
class InvocationResult:
    body: bytes
    content_type: str | None
    custom_attributes: str | None
    variant: RoutedVariant
    model_latency_us: float


def _addresses(endpoint: RoutedEndpoint) -> set[tuple[str, int]]:
    return {(t.host, t.port) for v in endpoint.variants for i in v.instances for t in i.targets}


class _Refused(Exception):
    """The first container of an instance refused the connection: the request never started."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class RoutedInstance:
    """One healthy instance as the router sees it: a URL per container, and its load."""

    __slots__ = ("instance_id", "urls", "targets", "outstanding")

    def __init__(self, instance_id: str, urls: Sequence[str]) -> None:
        self.instance_id = instance_id
        self.urls = tuple(urls)
        # Parsed and rendered once here, not on every hop of every request.
        self.targets = tuple(HopTarget.from_url(u) for u in self.urls)
        self.outstanding = 0


_HeaderKey = tuple[str | None, str | None, str | None]
_HEADER_CACHE_LIMIT = 256


def _hop_headers(cache: dict[_HeaderKey, bytes], content_type: str | None,
                 accept: str | None, custom: str | None) -> bytes:
    """The header lines of one hop, rendered once per distinct combination (almost always one
    or two per endpoint) instead of once per hop."""
    key = (content_type, accept, custom)
    headers = cache.get(key)
    if headers is None:
        headers = render_headers(content_type, accept, custom)
        if len(cache) >= _HEADER_CACHE_LIMIT:
            cache.clear()
        cache[key] = headers
    return headers


class _VariantSeries:
    __slots__ = (
        "invocations", "errors_4xx", "errors_5xx", "per_instance", "model_latency",
        "overhead_latency", "container_latency", "container_direct",
    )

    def __init__(self, registry: MetricRegistry, endpoint: str, variant: str,
                 containers: Sequence[str], pipeline: bool, direct: bool) -> None:
        dims = {"EndpointName": endpoint, "VariantName": variant}
        s = registry.series
        self.invocations = s(_NS, "Invocations", dims, "None")
        self.errors_4xx = s(_NS, "Invocation4XXErrors", dims, "None")
        self.errors_5xx = s(_NS, "Invocation5XXErrors", dims, "None")
        self.per_instance = s(_NS, "InvocationsPerInstance", dims, "None")
        self.model_latency = s(_NS, "ModelLatency", dims, _US)
        self.overhead_latency = s(_NS, "OverheadLatency", dims, _US)
        self.container_latency: tuple[Series, ...] = tuple(
            s(_NS, "ContainerLatency", {**dims, "ContainerName": c}, _US) for c in containers
        ) if pipeline else ()
        # Direct multi-container endpoints also count per container (AWS docs).
        self.container_direct: dict[str, tuple[Series, Series, Series]] = {
            c: (
                s(_NS, "Invocations", {**dims, "ContainerName": c}, "None"),
                s(_NS, "Invocation4XXErrors", {**dims, "ContainerName": c}, "None"),
                s(_NS, "Invocation5XXErrors", {**dims, "ContainerName": c}, "None"),
            )
            for c in containers
        } if direct else {}


class RoutedVariant:
    """A variant's model (its containers and mode), its healthy instances and its series."""

    __slots__ = ("name", "weight", "instances", "strategy", "series", "mode", "containers",
                 "primary_only", "_rr")

    def __init__(self, name: str, weight: float, instances: Sequence[RoutedInstance],
                 strategy: RoutingStrategy, series: _VariantSeries, *, mode: ExecutionMode,
                 containers: Sequence[str], primary_only: bool) -> None:
        self.name = name
        self.weight = weight
        self.instances = list(instances)
        self.strategy = strategy
        self.series = series
        self.mode = mode
        self.containers = tuple(containers)
        self.primary_only = primary_only
        self._rr = itertools.count()

    def pick(self) -> RoutedInstance:
        instances = self.instances
        if len(instances) == 1:
            return instances[0]
        if self.strategy is RoutingStrategy.RANDOM:
            return random.choice(instances)
        # Least outstanding requests; ties broken round-robin so idle instances share load.
        start = next(self._rr) % len(instances)
        best = instances[start]
        for inst in itertools.chain(instances[start + 1:], instances[:start]):
            if inst.outstanding < best.outstanding:
                best = inst
        return best


class RoutedEndpoint:
    """The routing snapshot of one InService endpoint; replaced whole, never mutated in place
    (except instance load counters)."""

    __slots__ = ("name", "variants", "_by_name", "_cum", "_total", "log_group", "log_group_arn",
                 "console_url")

    def __init__(self, name: str, variants: Sequence[RoutedVariant], *, region: str,
                 account_id: str) -> None:
        self.name = name
        self.variants = tuple(variants)
        self._by_name = {v.name: v for v in variants}
        weights = [v.weight if v.instances else 0.0 for v in variants]
        self._cum = list(itertools.accumulate(weights))
        self._total = self._cum[-1] if self._cum else 0.0
        self.log_group = f"/aws/sagemaker/Endpoints/{name}"
        self.log_group_arn = f"arn:aws:logs:{region}:{account_id}:log-group:{self.log_group}"
        self.console_url = (
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#logEventViewer:group={self.log_group}"
        )

    def pick_variant(self, target: str | None) -> RoutedVariant:
        if target is not None:
            variant = self._by_name.get(target)
            if variant is None:
                raise InvocationError(
                    f"The variant {target} does not exist for endpoint {self.name}."
                )
            return variant
        if self._total <= 0:
            return self.variants[0]
        if len(self.variants) == 1:
            return self.variants[0]
        return self.variants[bisect.bisect_right(self._cum, random.random() * self._total)]


class Router:
    """Routes invocations over keep-alive connection pools to the containers."""

    def __init__(self, registry: MetricRegistry, *, account_id: str, region: str,
                 invocation_timeout: float = 60.0, tracer: RequestTracer | None = None) -> None:
        self.registry = registry
        self.account_id = account_id
        self.region = region
        self.invocation_timeout = invocation_timeout
        self._endpoints: dict[str, RoutedEndpoint] = {}
        self._client: HopClient | None = None
        self._headers: dict[_HeaderKey, bytes] = {}
        # Tracing is on when set (server.py): spans from the clock stamps taken here.
        self.tracer = tracer
        # Told when the router finds an instance dead (connection refused), so the manager
        # replaces it without waiting for the next /ping.
        self.on_dead_instance: Callable[[str, str], None] = lambda instance_id, why: None

    # -- snapshot ----------------------------------------------------------

    def publish(self, endpoint: RoutedEndpoint) -> None:
        old = self._endpoints.get(endpoint.name)
        self._endpoints[endpoint.name] = endpoint
        if old is not None:
            self._forget(_addresses(old) - _addresses(endpoint))

    def withdraw(self, name: str) -> None:
        old = self._endpoints.pop(name, None)
        if old is not None:
            self._forget(_addresses(old))

    def _forget(self, addresses: set[tuple[str, int]]) -> None:
        # Containers that left the rotation: their pools go (replaced instances get new ports).
        if self._client is not None:
            for host, port in addresses:
                self._client.forget(host, port)

    def endpoint(self, name: str) -> RoutedEndpoint | None:
        return self._endpoints.get(name)

    def endpoints(self) -> list[RoutedEndpoint]:
        """Every routable endpoint's current snapshot."""
        return list(self._endpoints.values())

    def variant_series(self, endpoint: str, variant: str, containers: Sequence[str],
                       pipeline: bool, direct: bool) -> _VariantSeries:
        return _VariantSeries(self.registry, endpoint, variant, containers, pipeline, direct)

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        # No cookies, no decompression, no default headers: a hop forwards bytes.
        self._client = HopClient()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    # -- the request path --------------------------------------------------

    async def invoke(self, inv: Invocation) -> InvocationResult:
        endpoint = self._endpoints.get(inv.endpoint_name)
        if endpoint is None:
            raise EndpointNotFound(inv.endpoint_name, self.account_id)
        if len(inv.body) > MAX_PAYLOAD_BYTES:
            raise InvocationError(
                f"Request body of {len(inv.body)} bytes exceeds the limit of "
                f"{MAX_PAYLOAD_BYTES} bytes."
            )
        variant = endpoint.pick_variant(inv.target_variant)
        direct = variant.mode is ExecutionMode.DIRECT
        if direct:
            if inv.target_container is None:
                raise InvocationError(
                    "TargetContainerHostname is required for an endpoint with Direct "
                    "invocation mode."
                )
            try:
                indexes: Sequence[int] = (variant.containers.index(inv.target_container),)
            except ValueError:
                raise InvocationError(
                    f"The container {inv.target_container} does not exist in endpoint "
                    f"{endpoint.name}."
                ) from None
        else:
            if inv.target_container is not None:
                raise InvocationError(
                    "TargetContainerHostname can only be specified for an endpoint with Direct "
                    "invocation mode."
                )
            indexes = range(len(variant.containers))
        series = variant.series
        counted = False
        while True:
            if not variant.instances:
                unavailable = ServiceUnavailable(
                    f"No healthy instance of variant {variant.name} of endpoint {endpoint.name} "
                    "is available; try again."
                )
                if counted:  # every instance refused the connection: a 5XX of this variant
                    self._count_failure(variant, indexes[0], unavailable)
                raise unavailable
            instance = variant.pick()
            if not counted:
                counted = True
                series.invocations.record(1.0)
                series.per_instance.record(1.0 / len(variant.instances))
                if direct:
                    series.container_direct[variant.containers[indexes[0]]][0].record(1.0)
            instance.outstanding += 1
            try:
                return await self._chain(endpoint, variant, instance, inv, indexes)
            except _Refused as refused:
                # Nothing reached the instance: it is dead. Take it out of rotation now and
                # send the request to another one.
                if instance in variant.instances:
                    variant.instances.remove(instance)
                self.on_dead_instance(instance.instance_id, refused.reason)
            except TandemError:
                raise
            except Exception:  # noqa: BLE001 - answered as InternalFailure, counted, logged once
                _log.exception("InvokeEndpoint %s failed", endpoint.name)
                failure = InternalFailure(
                    "An internal error occurred; the server log has the details."
                )
                self._count_failure(variant, indexes[0], failure)
                raise failure from None
            finally:
                instance.outstanding -= 1

    @staticmethod
    def _count_failure(variant: RoutedVariant, index: int, error: TandemError) -> None:
        """A counted invocation that failed on the server's side: Invocation5XXErrors, and the
        variant in the error so OverheadLatency is recorded once the answer is written."""
        series = variant.series
        series.errors_4xx.record(0.0)
        series.errors_5xx.record(1.0)
        if variant.mode is ExecutionMode.DIRECT:
            direct = series.container_direct[variant.containers[index]]
            direct[1].record(0.0)
            direct[2].record(1.0)
        error.details["variant"] = variant
        error.details["model_latency_us"] = 0.0

    async def _chain(self, endpoint: RoutedEndpoint, variant: RoutedVariant,
                     instance: RoutedInstance, inv: Invocation,
                     indexes: Sequence[int]) -> InvocationResult:
        client = self._client
        assert client is not None, "Router.start() was not awaited"
        series = variant.series
        containers = variant.containers
        targets = instance.targets
        cache = self._headers
        body = inv.body
        content_type = inv.content_type
        accept = inv.accept
        attributes = inv.custom_attributes
        custom = None
        model_us = 0.0
        first = indexes[0]
        last = indexes[-1]
        perf = time.perf_counter
        trace = inv.trace
        # With tracing on, each hop's traceparent line (drawn at once) and where it is recorded.
        lines: list[bytes] | None = None
        hops: list[Any] | None = None
        if trace is not None:
            lines = trace.route(variant.name, instance.instance_id, len(indexes))
            hops = trace.hops
            urls = instance.urls
        i = first
        t0 = perf()
        # One deadline for the whole chain (one timer per request, not one per hop); ``i``
        # and ``t0`` say which container it expired in.
        try:
            async with asyncio.timeout(self.invocation_timeout):
                for i in indexes:
                    headers = _hop_headers(cache, content_type,
                                           accept if i == last else None, attributes)
                    if lines is not None:
                        headers += lines[i - first]
                    t0 = perf()
                    try:
                        resp = await client.post(targets[i], headers, body)
                    except HopConnectError as exc:
                        name = containers[i]
                        t1 = perf()
                        if trace is not None:
                            trace.hop(name, instance.urls[i], t0, t1, 0, "connect_error")
                        if i == first:
                            raise _Refused(f"container {name}: {exc}") from None
                        elapsed = (t1 - t0) * 1e6
                        self.on_dead_instance(instance.instance_id,
                                              f"container {name} refused a connection")
                        raise self._model_failure(
                            endpoint, variant, name, model_us + elapsed, 0,
                            f"Connection to container {name} failed: {exc}",
                        ) from None
                    except (HopDisconnected, OSError) as exc:
                        t1 = perf()
                        elapsed = (t1 - t0) * 1e6
                        name = containers[i]
                        if trace is not None:
                            trace.hop(name, instance.urls[i], t0, t1, 0, "disconnected")
                        raise self._model_failure(
                            endpoint, variant, name, model_us + elapsed, 0,
                            f"Connection to container {name} failed: {exc}",
                        ) from None
                    status = resp.status
                    data = resp.body
                    custom = resp.custom_attributes
                    t1 = perf()
                    elapsed = (t1 - t0) * 1e6
                    model_us += elapsed
                    if hops is not None:
                        hops.append((containers[i], urls[i], t0, t1, status, None))
                    if series.container_latency:
                        series.container_latency[i].record(elapsed)
                    if not 200 <= status < 300:
                        raise self._model_failure(
                            endpoint, variant, containers[i], model_us, status,
                            data.decode("utf-8", errors="replace"),
                        )
                    if i != last and len(data) > MAX_HOP_PAYLOAD_BYTES:
                        name, nxt = containers[i], containers[i + 1]
                        raise self._model_failure(
                            endpoint, variant, name, model_us, 200,
                            f"Received response from {name} with status code 200. However, "
                            f"the request payload from {name} to {nxt} is {len(data)} bytes, "
                            "which has exceeded the maximum limit of 5 MB.",
                            plain=True,
                        )
                    body = data
                    content_type = resp.content_type
        except TimeoutError:
            name = containers[i]
            t1 = perf()
            elapsed = (t1 - t0) * 1e6
            if trace is not None:
                trace.hop(name, instance.urls[i], t0, t1, 0, "timeout")
            raise self._model_failure(
                endpoint, variant, name, model_us + elapsed, 0,
                f"Your invocation timed out while waiting for a response from container {name}. "
                "Review the latency metrics for each container in Amazon CloudWatch, resolve the "
                "issue, and try again.",
            ) from None
        series.model_latency.record(model_us)
        series.errors_4xx.record(0.0)
        series.errors_5xx.record(0.0)
        if variant.mode is ExecutionMode.DIRECT:
            direct = series.container_direct[variant.containers[last]]
            direct[1].record(0.0)
            direct[2].record(0.0)
        return InvocationResult(body, content_type, custom, variant, model_us)

    def _model_failure(self, endpoint: RoutedEndpoint, variant: RoutedVariant, container: str,
                       model_us: float, status: int, message: str, *,
                       plain: bool = False) -> ModelError:
        series = variant.series
        series.model_latency.record(model_us)
        client_side = 400 <= status < 500
        series.errors_4xx.record(1.0 if client_side else 0.0)
        series.errors_5xx.record(0.0 if client_side else 1.0)
        if variant.mode is ExecutionMode.DIRECT:
            direct = series.container_direct[container]
            direct[1].record(1.0 if client_side else 0.0)
            direct[2].record(0.0 if client_side else 1.0)
        who = "primary" if variant.primary_only else container
        see = (f" See {endpoint.console_url} in account {self.account_id} for more information.")
        if plain:
            text = message + see
        else:
            kind = "client" if client_side else "server"
            text = f'Received {kind} error ({status}) from {who} with message "{message}".{see}'
        error = ModelError(
            text,
            original_status=status,
            original_message=message,
            log_stream_arn=endpoint.log_group_arn,
            error_code="CLIENT_ERROR_FROM_MODEL" if client_side else "SERVER_ERROR_FROM_MODEL",
        )
        error.details["variant"] = variant
        error.details["model_latency_us"] = model_us
        return error

    @staticmethod
    def record_overhead(variant: RoutedVariant, model_latency_us: float,
                        total_seconds: float) -> None:
        """Record OverheadLatency once the response has been written: total minus ModelLatency."""
        variant.series.overhead_latency.record(max(total_seconds * 1e6 - model_latency_us, 0.0))
