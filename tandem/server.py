"""The tandem server: the store, telemetry, alarms, launcher, router and endpoint manager.

One process, one port, every API on it. ``TandemServer`` owns every
background task it starts and stops them in reverse order: the HTTP site
first (no new requests), then the endpoints (containers get SIGTERM), then
telemetry (a last flush of metrics and logs), then the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import gc
import logging
import os
import socket
import urllib.parse
from pathlib import Path
from typing import Any

from aiohttp import web

from .api import dashboard as dashboard_api
from .api import prometheus as prometheus_api
from .api import runtime as runtime_api
from .api import traces as traces_api
from .api.app import build_app
from .api.auth import load_keys
from .api.autoscaling import AutoScalingService
from .api.cloudwatch import CloudWatchOperations, CloudWatchService
from .api.cloudwatch.tag_operations import TagOperations
from .api.logs import LogsService
from .api.s3 import S3Service
from .api.sagemaker import SageMakerService
from .api.sagemaker_jobs import SageMakerJobsService
from .api.sts import StsService
from .api.tags import LogsTagsService, SageMakerTagsService
from .clock import Clock, SystemClock
from .config import Settings, aws_credential_environment
from .errors import ConfigError, TandemError
from .eventloop import StallWatchdog
from .jobs import build_job_manager
from .leadership import Leadership
from .objects import FileObjectStore
from .objects.locations import ObjectLocations, OwnLocations
from .scaling.autoscaler import AutoScaler
from .serving.containers import plan_model
from .serving.endpoints import EndpointManager
from .serving.idle_metrics import IdleMetrics
from .serving.launcher import Launcher
from .serving.local_launcher import LocalLauncher
from .serving.ports import PortAllocator
from .serving.router import Router
from .standby import StandbyRouting
from .store import Store, open_store
from .tags import TagStore
from .telemetry.alarms import WEBHOOK_PREFIX, AlarmService, MetricSource, WebhookSender
from .telemetry.logs import LogService
from .telemetry.metrics import (
    MetricFlusher,
    MetricQueries,
    MetricRegistry,
    MetricRollups,
    Retention,
)
from .telemetry.tracing import Tracing

__all__ = ["TandemServer", "advertised_url", "check_agent_server_url"]

_log = logging.getLogger(__name__)
_HOUSEKEEPING_INTERVAL = 60.0
# A server that does not lead within this long after it campaigns serves as a standby meanwhile
# (PostgreSQL leadership's first try comes at once).
_STANDBY_AFTER = 1.0


_UNREACHABLE_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0", "::", "")


def check_agent_server_url(settings: Settings) -> None:
    """With instances on other hosts, the URL their agents ship telemetry to must be one those
    hosts reach: refuse loopback (and the wildcard, which names no address)."""
    url = settings.agent_server_url or f"http://{settings.host}:{settings.port}"
    host = urllib.parse.urlsplit(url).hostname or ""
    if host in _UNREACHABLE_HOSTS or host.startswith("127."):
        raise ConfigError(
            f"launcher {settings.launcher}: agents on other hosts would ship telemetry to "
            f"{url}, which they cannot reach; bind --host to an address they reach or set "
            "--agent-server-url",
            field="agent_server_url",
        )


def advertised_url(settings: Settings, port: int) -> str:
    """The URL other hosts reach this server at, as it advertises it with its lead: the setting
    ``agent_server_url``, else its bound host and port (for a wildcard host, this machine's
    name)."""
    if settings.agent_server_url:
        return settings.agent_server_url.rstrip("/")
    host = settings.host
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class TandemServer:
    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.data_dir = Path(settings.data_dir)
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._watchdog: StallWatchdog | None = None
        self.store: Store | None = None
        self.leadership: Leadership | None = None
        self._leading = asyncio.Event()
        # Set when leadership is lost after it was held: the server must stop (cli/serve.py),
        # so that the new leader runs the reconciler alone.
        self.lost_leadership = asyncio.Event()
        self._resigning = False
        # While another server leads: InvokeEndpoint from the store (``standby``), counted in a
        # registry whose flusher the whole server keeps once it leads.
        self._standby: StandbyRouting | None = None
        self._standby_metrics: tuple[MetricRegistry, MetricFlusher] | None = None
        # Off (None) unless an OTLP endpoint is configured; built once (``_tracing``).
        self.tracing: Tracing | None = None
        # With a Ray launcher, a standby's endpoint launcher joins the cluster while it waits
        # (``_join_early``): the server it becomes uses it.
        self._early_launcher: Launcher | None = None
        self._joining: asyncio.Task[None] | None = None
        # Once this server leads and listens, the standby's hand-over (``_retire_standby``).
        self._retiring: asyncio.Task[None] | None = None

    async def lead(self) -> None:
        """Open the store and return once this server leads it: at once on SQLite; on a
        shared PostgreSQL store once no other server does (a standby waits here, routing
        InvokeEndpoint from the store meanwhile)."""
        if self.store is None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.store = await asyncio.to_thread(
                open_store, self.data_dir, self.settings.store)
        if self.leadership is None:
            holder = f"{socket.gethostname()}:{os.getpid()}:{self.settings.port}"
            self.leadership = self.store.leadership(holder, self._leadership_changed)
            await self.leadership.start()
            try:
                await asyncio.wait_for(self._leading.wait(), timeout=_STANDBY_AFTER)
            except TimeoutError:
                _log.warning("standby: another tandem server leads this store; waiting to lead")
                await self._start_standby()
        await self._leading.wait()

    async def _start_standby(self) -> None:
        assert self.store is not None
        s = self.settings
        registry = MetricRegistry(clock=self.clock)
        flusher = MetricFlusher(registry, self.store.metrics, interval=s.metrics_flush_interval,
                                clock=self.clock)  # fmt: skip
        flusher.start()
        self._standby_metrics = (registry, flusher)
        assert self.leadership is not None
        self._standby = StandbyRouting(s, self.store, registry, self.leadership,
                                       tracing=self._tracing())  # fmt: skip
        self.port = await self._standby.start()
        self._start_tracing(self.port)
        if s.launcher != "local":
            self._joining = asyncio.create_task(self._join_early(), name="join the cluster")

    def _tracing(self) -> Tracing | None:
        """The server's tracing, built from its settings once: a standby's carries on as the
        full server's once it leads (one exporter thread, one store of recent traces, nothing
        queued lost at the hand-over)."""
        if self.tracing is None and self.settings.tracing:
            self.tracing = Tracing(self.settings)
        return self.tracing

    def _start_tracing(self, port: int) -> None:
        """Export, as the server bound at ``port`` (the resource's service.instance.id);
        a standby's already exports, as the same server (it keeps its port)."""
        if self.tracing is not None:
            self.tracing.start(advertised_url(self.settings, port))

    async def _join_early(self) -> None:
        """Join the Ray cluster as a standby, so that taking the lead adopts the running
        actors at once; one that cannot join yet joins again when it leads."""
        from .serving.ray_launcher import RayLauncher

        launcher = self._ray_launcher(self.data_dir, detached=True)
        assert isinstance(launcher, RayLauncher)
        try:
            await launcher.join()
        except TandemError as exc:
            _log.warning("standby: could not join the Ray cluster yet: %s", exc)
        self._early_launcher = launcher

    async def _stop_standby(self) -> None:
        if self._retiring is not None:
            self._retiring.cancel()
            await asyncio.gather(self._retiring, return_exceptions=True)
            self._retiring = None
        if self._standby is not None:
            await self._standby.stop()
            self._standby = None

    def _retire_standby(self) -> None:
        """The full server listens: the standby hands its connections over, then stops."""
        standby = self._standby
        if standby is not None:
            # It stays referenced until the server stops: a stop during the hand-over still
            # closes it (``StandbyRouting.stop`` runs once).
            self._retiring = asyncio.create_task(standby.retire(), name="retire the standby")

    def _epoch(self) -> int:
        """The epoch this server leads under; 0 once it does not (its writes are refused)."""
        return self.leadership.epoch if self.leadership is not None else 0

    def _leadership_changed(self, leading: bool, epoch: int) -> None:
        if leading:
            _log.info("leading the store (epoch %d)", epoch)
            self._leading.set()
        elif self._resigning:
            self._leading.clear()  # given up on purpose (a stop), not lost
        elif self._leading.is_set():
            _log.error("lost the lead of the store (epoch %d): stopping", epoch)
            self._leading.clear()
            self.lost_leadership.set()

    async def resign(self) -> None:
        """Stop campaigning and close the store, for a server that never started (a standby
        told to stop)."""
        self._resigning = True
        await self._stop_standby()
        if self._joining is not None:
            self._joining.cancel()
            await asyncio.gather(self._joining, return_exceptions=True)  # never used
            self._joining = None
        if self._runner is None:  # never started in full: what the standby kept is flushed
            if self._early_launcher is not None:
                await self._early_launcher.close()  # it watches nothing
                self._early_launcher = None
            if self._standby_metrics is not None:
                await asyncio.to_thread(self._standby_metrics[1].stop)
            if self.tracing is not None:
                await asyncio.to_thread(self.tracing.stop)
        if self.leadership is not None:
            await self.leadership.stop()
        if self.store is not None:
            await asyncio.to_thread(self.store.close)

    async def start(self) -> int:
        """Lead the store, start every part, bind; returns the port."""
        s = self.settings
        await self.lead()
        assert self.store is not None
        if self._standby_metrics is not None:  # what the standby counted is flushed still
            self.registry, self.flusher = self._standby_metrics
        else:
            self.registry = MetricRegistry(clock=self.clock)
            self.flusher = MetricFlusher(
                self.registry, self.store.metrics, interval=s.metrics_flush_interval,
                clock=self.clock,
            )
            self.flusher.start()
        # Rollups and retention are the leader's: their writes carry its epoch.
        self.rollups = MetricRollups(
            self.store.metrics, Retention.from_settings(s), clock=self.clock, epoch=self._epoch
        )
        self.logs = LogService(
            self.store.logs,
            clock=self.clock,
            flush_interval=s.logs_flush_interval,
            region=s.region,
            account_id=s.account_id,
            epoch=self._epoch,
        )
        await self.logs.start()
        self.ports = PortAllocator()
        # tandem's own S3: objects are plain files under <data-dir>/s3.
        self.objects = await asyncio.to_thread(FileObjectStore, self.data_dir / "s3", s.region)
        self.locations = await asyncio.to_thread(self._locations)
        self.launcher = await self._endpoint_launcher()
        # Exporting starts once the port is bound (its spans say which server sent them).
        tracing = self._tracing()
        self.router = Router(
            self.registry,
            account_id=s.account_id,
            region=s.region,
            invocation_timeout=s.invocation_timeout,
            tracer=tracing.tracer if tracing is not None else None,
        )
        await self.router.start()
        self.manager = EndpointManager(
            catalog=self.store.catalog,
            launcher=self.launcher,
            router=self.router,
            settings=s,
            plan_model=self._traced_plan(functools.partial(plan_model, objects=self.locations)),
            clock=self.clock,
            epoch=self._epoch,
        )
        await self.manager.start()
        self.jobs = build_job_manager(
            s,
            registry=self.registry,
            logs=self.logs,
            catalog=self.store.catalog,
            endpoints=self.manager,
            clock=self.clock,
            ports=self.ports,
            tracing=self.tracing,
            objects=self.locations,
            aws_environment=self.aws_environment,
            cluster_launcher=self._jobs_launcher(),
            transform_launcher=self._jobs_launcher(transform=True),
        )
        await self.jobs.start()
        self.queries = MetricQueries(
            self.store.metrics,
            clock=self.clock,
            retention=Retention.from_settings(s),
            live=self.flusher,
        )
        self.alarms = AlarmService(
            self.store.alarms,
            # Through the queries' view: alarms read what queries read, unflushed minutes too.
            MetricSource(self.queries.store, self.queries),
            clock=self.clock,
            region=s.region,
            account_id=s.account_id,
            # The closed minute's buckets reach the store within one flush interval.
            evaluation_delay=s.metrics_flush_interval + 1.0,
        )
        self.webhooks = WebhookSender(s.region, s.account_id)
        self.alarms.register_action_handler(WEBHOOK_PREFIX, self.webhooks)
        await self.alarms.start()
        # Application Auto Scaling: target tracking owns alarms; scaling alarm actions set
        # DesiredInstanceCount through the endpoint manager. Idle variants publish zeros.
        self.autoscaler = AutoScaler(
            self.store.catalog,
            self.manager,
            self.alarms,
            MetricSource(self.queries.store, self.queries),
            region=s.region,
            account_id=s.account_id,
            clock=self.clock,
        )
        await self.autoscaler.start()
        self.idle_metrics = IdleMetrics(self.router, clock=self.clock)
        self.idle_metrics.start()
        # Plain PutMetricData requests are recorded on the loop's next turn, after the answer;
        # the metric reads record what is still deferred before they query.
        self.tags = TagStore(self.store.catalog)
        self.cloudwatch = CloudWatchOperations(
            self.registry,
            self.queries,
            self.clock,
            defer=asyncio.get_running_loop().call_soon,
            tagging=TagOperations(self.tags, region=s.region, account_id=s.account_id),
            alarms=self.alarms,
        )
        cloudwatch = CloudWatchService(self.cloudwatch)
        auth_keys = load_keys(s.auth_file) if s.auth_file is not None else None
        self.app = build_app(
            [
                SageMakerService(self.manager, tags=self.tags),
                SageMakerJobsService(self.jobs, tags=self.tags),
                SageMakerTagsService(self.tags, self.manager, self.jobs),
                LogsService(self.logs, tags=self.tags),
                LogsTagsService(self.tags, self.logs),
                AutoScalingService(self.autoscaler.service, tags=self.tags),
            ],
            cloudwatch,
            auth_keys=auth_keys,
            s3=S3Service(
                self.objects, account_id=s.account_id, region=s.region, auth_keys=auth_keys
            ),
            sts=StsService(s.account_id),
        )
        runtime_api.add_routes(self.app, self.router)
        prometheus_api.add_routes(
            self.app,
            prometheus_api.TandemCollector(
                self.registry, self.clock, alarms=self.alarms.alarms,
                trace_stats=self.tracing.exporter.stats if self.tracing is not None else None,
            ),
        )
        traces_api.add_routes(self.app, self.tracing.recent if self.tracing else None)
        dashboard_api.add_routes(self.app)
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        # The standby's port, if it served as one: the address a load balancer knows. Its
        # listener is still open (SO_REUSEPORT), so no connection is refused meanwhile.
        site = web.TCPSite(self._runner, s.host, self.port or s.port, reuse_address=True,
                           reuse_port=self._standby is not None)  # fmt: skip
        await site.start()
        self._retire_standby()
        # The one site's bound address: (host, port) or, for IPv6, (host, port, flow, scope).
        self.port = int(self._runner.addresses[0][1])
        self._start_tracing(self.port)
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="housekeeping"))
        # Everything built so far lives as long as the server: move it out of the collector's
        # generations so the full collections that requests trigger do not walk it each time
        # (measured: a full collection of the ~55,000 start-up objects took ~20 ms, a stall
        # for every request in flight; ~0 ms frozen).
        gc.collect()
        gc.freeze()
        # Watching from here on: the collection above is start-up's one deliberate pause (in a
        # test process, whose heap it walks too, it can take a second).
        if s.loop_stall_warning > 0:
            self._watchdog = StallWatchdog(asyncio.get_running_loop(), s.loop_stall_warning)
            self._watchdog.start()
        assert self.leadership is not None
        await self.leadership.advertise(advertised_url(s, self.port))
        _log.info("tandem listening on http://%s:%s", s.host, self.port)
        return self.port

    async def _endpoint_launcher(self) -> Launcher:
        """Where endpoint instances run (setting ``launcher``)."""
        s = self.settings
        if s.launcher == "local":
            launcher = LocalLauncher(
                metrics_registry=self.registry,
                log_service=self.logs,
                usage_interval=s.usage_interval,
                clock=self.clock,
                data_dir=self.data_dir,
                ports=self.ports,
                objects=self.locations,
            )
            await launcher.start()
            return launcher
        check_agent_server_url(s)
        if self._joining is not None:
            await self._joining  # under way since this server stood by
            self._joining = None
        if self._early_launcher is not None:
            return self._early_launcher
        return self._ray_launcher(self.data_dir, detached=True)

    def _jobs_launcher(self, *, transform: bool = False) -> Launcher | None:
        """Where training hosts (or transform instances) run: on the Ray cluster when
        endpoints do (None: the jobs' own local launcher). Training hosts' actors are detached
        and left running when the server stops: the next server re-attaches to the job.
        Transform instances' actors are not: the server that runs the job sends their
        records, so they end with it (a restarted server reports the job Failed)."""
        if self.settings.launcher == "local":
            return None
        return self._ray_launcher(self.data_dir / "jobs", detached=not transform,
                                  report_events=False)

    def _ray_launcher(self, data_dir: Path, *, detached: bool,
                      report_events: bool = True) -> Launcher:
        from .serving.ray_launcher import RayLauncher, parse_ray_address  # ray: only when asked

        s = self.settings
        # With --auth, agents sign with the file's first key: it travels in the actors'
        # constructor arguments, so the Ray cluster must be as trusted as the server.
        keys = load_keys(s.auth_file) if s.auth_file is not None else {"tandem": "tandem"}
        return RayLauncher(
            parse_ray_address(s.launcher),
            self._agent_url,
            data_dir,
            region=s.region,
            usage_interval=s.usage_interval,
            logs_flush_interval=min(s.logs_flush_interval, 0.5),
            metrics_flush_interval=s.metrics_flush_interval,
            resource_scale=s.ray_resource_scale,
            credentials=next(iter(keys.items())),
            # Detached actors outlive the server: a restarted server attaches to them.
            leave_running=detached,
            detached=detached,
            report_events=report_events,  # each job watches its own instances
            agent_work_dir=s.agent_work_dir,
            s3_endpoint_url=s.s3_endpoint_url.strip(),
            unavailable_limit=s.agent_unreachable_limit,
        )

    def _agent_url(self) -> str:
        """Where agents ship telemetry: the setting, else this server's URL; "" while its port
        is not known yet (a server attaching to running agents before it binds port 0)."""
        if self.settings.agent_server_url:
            return self.settings.agent_server_url
        port = self.port or self.settings.port
        return f"http://{self.settings.host}:{port}" if port else ""

    def _traced_plan(self, plan: Any) -> Any:
        """``plan`` with the tracing environment added to every container (theirs wins)."""
        tracing = self.tracing
        if tracing is None:
            return plan

        def traced(model: Any, base_dir: Path, work_dir: Path) -> Any:
            return [
                dataclasses.replace(spec, env=tracing.with_environment(
                    spec.env, tracing.container_environment(spec.name)))
                for spec in plan(model, base_dir, work_dir)
            ]

        return traced
    def _locations(self) -> ObjectLocations:
        """Where models' and jobs' s3:// locations live (setting ``s3_endpoint_url``)."""
        url = self.settings.s3_endpoint_url.strip()
        if not url:
            return OwnLocations(self.objects)
        from .objects.remote import RemoteLocations  # boto3: only for a remote store

        return RemoteLocations(None if url == "aws" else url, self.settings.region)

    def aws_environment(self) -> dict[str, str]:
        """What points a child's AWS CLI and SDKs at this server (and at the configured S3
        store): notebook lifecycle scripts get it."""
        region = self.settings.region
        env = {"AWS_ENDPOINT_URL": self.url, "AWS_DEFAULT_REGION": region, "AWS_REGION": region,
               "AWS_ACCESS_KEY_ID": "tandem", "AWS_SECRET_ACCESS_KEY": "tandem"}
        env.update(aws_credential_environment())
        remote = self.settings.s3_endpoint_url.strip()
        if remote:
            env["AWS_ENDPOINT_URL_S3"] = (
                f"https://s3.{region}.amazonaws.com" if remote == "aws" else remote
            )
        return env

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.port}"

    async def _housekeeping(self) -> None:
        """Metric rollups and retention, once a minute, off the request path (the log service
        sweeps its own retention)."""
        while True:
            await asyncio.sleep(_HOUSEKEEPING_INTERVAL)
            try:
                await asyncio.to_thread(self.rollups.run)
            except Exception:  # noqa: BLE001 - retried next minute, logged
                _log.exception("metric rollups failed")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # The listener closes first: no request reaches an instance that is being stopped.
        # Remote instances are left running (a restarted server re-attaches to them), so their
        # agents' last lines wait in their spools until a server answers again.
        await self._stop_standby()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.jobs.stop()
        await self.autoscaler.stop()
        await self.idle_metrics.stop()
        await self.manager.stop()
        await self.router.close()
        await self.logs.stop()
        await self.alarms.stop()
        await self.webhooks.close()
        self.cloudwatch.record_pending()  # before the last flush
        await asyncio.to_thread(self.flusher.stop)
        if self.tracing is not None:
            await asyncio.to_thread(self.tracing.stop)
        await self.resign()
        if self._watchdog is not None:
            self._watchdog.stop()
        # Hand the start-up heap back to the collector (servers started in-process, as tests
        # do, would otherwise keep theirs for good).
        gc.unfreeze()
