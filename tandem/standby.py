"""A standby: while another server leads the shared store, this one already serves every call.

It binds its port and answers InvokeEndpoint (and ``GET /ping``) from a Router that a
RoutingFollower keeps equal to the catalogue (``serving.routing_follower``), so a load balancer
can send it traffic beside the leader. Its invocations are counted in the server's metric
registry, flushed to the store like the leader's, and traced by the server's ``Tracing`` as the
leader traces its own. Every other call is forwarded to the leader, at the URL the leader
advertised with its lead (``api.forwarding``). Once it leads, the standby's listener closes
(requests in flight get up to 2 s to finish) and the whole server starts
on the same port.
"""

from __future__ import annotations

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

# Once this server leads, how long the standby's requests in flight may take to finish before
# the full server starts: a takeover must not wait out aiohttp's default 60 s (measured: a
# takeover held 30 s and more by one invocation in flight on the standby).
_TAKEOVER_GRACE = 2.0


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
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     shutdown_timeout=_TAKEOVER_GRACE)
        await self._runner.setup()
        site = web.TCPSite(self._runner, s.host, s.port, reuse_address=True)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        _log.warning("standby: routing InvokeEndpoint on http://%s:%d from the store",
                     s.host, self.port)  # fmt: skip
        return self.port

    async def stop(self) -> None:
        """Close the listener (requests in flight answered first), stop following."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.forwarding.close()
        await self.follower.stop()
        await self.router.close()
