"""Application Auto Scaling, composed: the persisted state, the control plane and the
executor, wired to the endpoint manager and the alarm service. One per server."""

from __future__ import annotations

from ..clock import Clock, SystemClock
from ..serving.catalog import CatalogStore
from ..serving.endpoints import EndpointManager
from ..telemetry.alarms import AlarmService
from ..telemetry.alarms.source import AlarmSource
from .executor import ACTION_PREFIX, ScalingExecutor
from .service import ScalingService
from .state import ScalingState

__all__ = ["AutoScaler"]


class AutoScaler:
    def __init__(
        self,
        catalog: CatalogStore,
        endpoints: EndpointManager,
        alarms: AlarmService,
        source: AlarmSource,
        *,
        region: str,
        account_id: str,
        clock: Clock | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        self.state = ScalingState(catalog)
        self.executor = ScalingExecutor(
            self.state,
            endpoints,
            source=source,
            clock=self.clock,
            alarm_state=lambda name: getattr(alarms.get(name), "state_value", None),
        )
        self.service = ScalingService(
            self.state,
            endpoints,
            alarms,
            region=region,
            account_id=account_id,
            clock=self.clock,
            on_registered=self.executor.on_registered,
        )
        self.executor.on_endpoint_gone = self.service.forget_endpoint
        endpoints.update_checks.append(self.service.check_update)
        alarms.register_action_handler(ACTION_PREFIX, self.executor.on_alarm)

    async def start(self) -> None:
        await self.state.load(self.clock.time())
        self.executor.start()

    async def stop(self) -> None:
        await self.executor.stop()
