"""Alarm actions: a registry of handlers by ARN prefix, run off the evaluation path.

``ActionDispatcher.dispatch`` never waits: each (alarm, action ARN) becomes a task, at most
``max_in_flight`` at once (beyond that the action fails at once, recorded in the history).
A handler's outcome goes to the history as CloudWatch's Action item; its exceptions are
logged and recorded, never raised into the evaluator. Auto Scaling policy ARNs
(``arn:aws:autoscaling:``) are the only actions CloudWatch re-invokes every minute while
the state persists; ``REPEATING_PREFIX`` names them for the service.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .history import action_item
from .model import AlarmHistoryItem, AlarmStateChange, MetricAlarm

__all__ = ["ActionHandler", "ActionDispatcher", "REPEATING_PREFIX"]

_log = logging.getLogger(__name__)

ActionHandler = Callable[[MetricAlarm, AlarmStateChange], Awaitable[None]]
REPEATING_PREFIX = "arn:aws:autoscaling:"


class ActionDispatcher:
    """Handlers by ARN prefix (the longest registered prefix wins)."""

    def __init__(
        self,
        record: Callable[[AlarmHistoryItem], None],
        clock_time: Callable[[], float],
        *,
        max_in_flight: int = 1000,
    ) -> None:
        self._handlers: dict[str, ActionHandler] = {}
        self._record = record
        self._time = clock_time
        self._max = max_in_flight
        self._tasks: set[asyncio.Task[None]] = set()

    def register(self, prefix: str, handler: ActionHandler) -> None:
        self._handlers[prefix] = handler

    def handler_for(self, arn: str) -> ActionHandler | None:
        best = max((p for p in self._handlers if arn.startswith(p)), key=len, default=None)
        return None if best is None else self._handlers[best]

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def dispatch(self, alarm: MetricAlarm, change: AlarmStateChange) -> None:
        """Run the handler of ``change.action_arn`` as a task; returns at once."""
        arn = change.action_arn
        handler = self.handler_for(arn)
        if handler is None:
            self._record(action_item(alarm.alarm_name, arn, self._time(),
                                     "tandem has no handler for this kind of action."))  # fmt: skip
            return
        if len(self._tasks) >= self._max:
            _log.warning("alarm %s: action %s dropped, %d actions in flight",
                         alarm.alarm_name, arn, len(self._tasks))  # fmt: skip
            self._record(action_item(alarm.alarm_name, arn, self._time(),
                                     "too many alarm actions are in progress."))  # fmt: skip
            return
        task = asyncio.create_task(self._run(handler, alarm, change), name=f"alarm-action {arn}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self, handler: ActionHandler, alarm: MetricAlarm, change: AlarmStateChange
    ) -> None:
        try:
            await handler(alarm, change)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failing action is recorded, never raised
            _log.warning("alarm %s: action %s failed: %s", alarm.alarm_name,
                         change.action_arn, exc)  # fmt: skip
            self._record(action_item(alarm.alarm_name, change.action_arn, self._time(),
                                     str(exc) or type(exc).__name__))  # fmt: skip
            return
        if not change.repeated:
            self._record(action_item(alarm.alarm_name, change.action_arn, self._time()))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
