"""A standby: while another server leads the shared store, this one already serves every call.

It binds its port and answers InvokeEndpoint (and ``GET /ping``) from a Router that a
RoutingFollower keeps equal to the catalogue (``serving.routing_follower``), so a load balancer
can send it traffic beside the leader. Its invocations are counted in the server's metric
registry, flushed to the store like the leader's, and traced by the server's ``Tracing`` as the
leader traces its own. Every other call is forwarded to the leader, at the URL the leader
advertised with its lead (``api.forwarding``). Once it leads, the whole server starts on the
same port beside it (SO_REUSEPORT); then the standby stops accepting, answers on its open
connections for a few seconds more, each answer closing its connection, and stops.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from .api import runtime as runtime_api
from .api.app import build_app
from .api.auth import load_keys
from .api.forwarding import LeaderForwarding
from .config import Settings
from .leadership import Leadership
from .serving.router import Router
from .serving.routing_follower import RoutingFollower
from .store import Store
from .telemetry.metrics import MetricRegistry
from .telemetry.tracing import Tracing

__all__ = ["StandbyRouting"]

_log = logging.getLogger(__name__)

# Once the full server listens beside it, how long the standby keeps serving the connections it
# has: each answer it gives then says "Connection: close", so a load balancer moves its
# keep-alive connections to the full server itself. Closing them at once loses any request
# the balancer is sending on one at that moment (measured: 1 of ~2,000 through haproxy).
RETIRE_AFTER = 5.0
# After that, how long requests still in flight on it may take (not aiohttp's default 60 s).
_SHUTDOWN_TIMEOUT = 2.0


class StandbyRouting:
    def __init__(self, settings: Settings, store: Store, registry: MetricRegistry,
                 leadership: Leadership, tracing: Tracing | None = None) -> None:  # fmt: skip
        self.settings = settings
        # The tracing is the server's (started, and stopped or kept once it leads, there).
        self.router = Router(registry, account_id=settings.account_id, region=settings.region,
                             invocation_timeout=settings.invocation_timeout,
                             tracer=tracing.tracer if tracing is not None else None)  # fmt: skip
        self.follower = RoutingFollower(store.catalog, store.catalog_feed(), self.router,
                                        resync_interval=settings.routing_resync_interval)
        self.forwarding = LeaderForwarding(leadership,
                                           answer_timeout=settings.invocation_timeout)
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._retiring = False
        self._stopping: asyncio.Future[None] | None = None
        self.port: int | None = None

    async def start(self) -> int:
        """Follow the store, bind; returns the port."""
        s = self.settings
        await self.router.start()
        await self.follower.start()
        await self.forwarding.start()
        auth_keys = load_keys(s.auth_file) if s.auth_file is not None else None
        app = build_app([], auth_keys=auth_keys, forward=self.forwarding)
        runtime_api.add_routes(app, self.router)
        app.on_response_prepare.append(self._close_once_retiring)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await self._runner.setup()
        # SO_REUSEPORT: the full server this one becomes binds the same port while this
        # listener still accepts (the kernel allows it only to the same user).
        site = self._site = web.TCPSite(self._runner, s.host, s.port, reuse_address=True,
                                        reuse_port=True)  # fmt: skip
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        _log.warning("standby: routing InvokeEndpoint on http://%s:%d from the store",
                     s.host, self.port)  # fmt: skip
        return self.port

    async def _close_once_retiring(self, request: web.Request,
                                   response: web.StreamResponse) -> None:  # fmt: skip
        if self._retiring:
            # on_response_prepare runs after aiohttp chose the headers: say it, and do it.
            response.headers["Connection"] = "close"
            response.force_close()

    async def retire(self) -> None:
        """The full server listens on the same port: stop accepting, let the connections this
        one has move over (each answer closes its connection), then stop."""
        self._retiring = True
        if self._site is not None:
            await self._site.stop()
            self._site = None
        await asyncio.sleep(RETIRE_AFTER)
        await self.stop()

    async def stop(self) -> None:
        """Close the listener and the connections (requests in flight answered first), stop
        following. Once: every caller waits for the same stop, which a caller's cancellation
        does not cut short."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.forwarding.close()
        await self.follower.stop()
        await self.router.close()
