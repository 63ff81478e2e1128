"""``AlarmService``: the alarms' state, their once-a-minute evaluation and their actions.

Every alarm lives in memory (a snapshot the describe calls read without I/O) and in the
store, written in call order by one writer thread. The evaluation loop is one owned task:
once per minute of the injected clock (``evaluation_delay`` seconds after the minute closes,
so the minute's data has been flushed) it reads each alarm's datapoints from the store on a
thread, evaluates them (``evaluator.evaluate``) and applies the changes on the event loop:
state, history, actions. ``evaluate`` runs one pass by hand (tests, benchmarks); a minute is
never evaluated twice.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import json
import logging
import math
from collections.abc import Sequence
from typing import Any

from ...clock import Clock, SystemClock
from ...errors import InvalidFormat, ResourceNotFound, ValidationError
from .actions import REPEATING_PREFIX, ActionDispatcher, ActionHandler
from .evaluator import Evaluation, evaluate, evaluation_range
from .history import configuration_update, state_update
from .model import AlarmHistoryItem, AlarmInput, AlarmState, AlarmStateChange, MetricAlarm
from .source import AlarmSource
from .store import AlarmStore
from .validation import validate_alarm

__all__ = ["AlarmService", "HISTORY_RETENTION"]

_log = logging.getLogger(__name__)
HISTORY_RETENTION = 14 * 86400.0  # CloudWatch keeps alarm history for two weeks
_POLL = 1.0  # seconds between looks at the clock (a ManualClock moves between them)


class AlarmService:
    """Alarms: configuration (put, delete, enable/disable actions, set state), evaluation
    and actions. Every method runs on the event loop; store I/O goes to threads."""

    def __init__(
        self,
        store: AlarmStore,
        source: AlarmSource,
        *,
        clock: Clock | None = None,
        region: str = "us-east-1",
        account_id: str = "000000000000",
        evaluation_delay: float = 6.0,
    ) -> None:
        self.store = store
        self.source = source
        self.clock = clock or SystemClock()
        self.region = region
        self.account_id = account_id
        self.evaluation_delay = evaluation_delay
        self._alarms: dict[str, MetricAlarm] = {}
        self._writer = concurrent.futures.ThreadPoolExecutor(1, "alarm-store")
        self._pending: set[asyncio.Future[Any]] = set()
        self._batch: tuple[dict[str, MetricAlarm], list[AlarmHistoryItem],
                           asyncio.Future[Any]] | None = None  # fmt: skip
        self.actions = ActionDispatcher(self._record, self.clock.time)
        self._task: asyncio.Task[None] | None = None
        self._last_minute = -math.inf
        self._running: asyncio.Future[int] | None = None
        self._last_sweep = -math.inf
        self.passes = 0
        self.last_pass_seconds = 0.0

    # -- lifecycle ----------------------------------------------------------------

    async def start(self, *, evaluate: bool = True) -> None:
        """Load the stored alarms; with ``evaluate``, start the once-a-minute loop."""
        alarms = await asyncio.to_thread(self.store.load_alarms)
        self._alarms = {a.alarm_name: a for a in alarms}
        if evaluate:
            self._task = asyncio.create_task(self._loop(), name="alarm-evaluator")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._running is not None and not self._running.done():
            self._running.cancel()  # a pass the loop was awaiting through a shield
            await asyncio.gather(self._running, return_exceptions=True)
        await self.actions.close()
        await self.flush()
        self._writer.shutdown(wait=True)

    async def flush(self) -> None:
        """Wait for every store write queued so far."""
        self._submit_batch()
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def register_action_handler(self, prefix: str, handler: ActionHandler) -> None:
        """Run ``handler(alarm, change)`` for each action ARN starting with ``prefix``."""
        self.actions.register(prefix, handler)

    # -- reads (memory only) --------------------------------------------------------

    def alarms(self) -> list[MetricAlarm]:
        """Every alarm, by name (safe to call from another thread: one atomic copy)."""
        return sorted(list(self._alarms.values()), key=lambda a: a.alarm_name)

    def get(self, name: str) -> MetricAlarm | None:
        return self._alarms.get(name)

    # -- writes ---------------------------------------------------------------------

    def _persist(self, alarms: Sequence[MetricAlarm] = (), history: Sequence[AlarmHistoryItem] = (),
                 deleted: Sequence[str] = ()) -> asyncio.Future[Any]:  # fmt: skip
        """Queue a store write; returns its future. Saves made in one turn of the loop (a
        pass's state changes, a burst of action outcomes) share one transaction; a delete
        goes after every save queued before it."""
        loop = asyncio.get_running_loop()
        if deleted:
            self._submit_batch()
            return self._track(loop.run_in_executor(
                self._writer, self.store.delete, list(deleted), list(history)))  # fmt: skip
        if self._batch is None:
            self._batch = ({}, [], loop.create_future())
            loop.call_soon(self._submit_batch)
        batch_alarms, batch_history, future = self._batch
        for alarm in alarms:
            batch_alarms[alarm.alarm_name] = alarm
        batch_history.extend(history)
        return future

    def _submit_batch(self) -> None:
        if self._batch is None:
            return
        alarms, history, future = self._batch
        self._batch = None
        loop = asyncio.get_running_loop()
        written = self._track(loop.run_in_executor(
            self._writer, self.store.save, list(alarms.values()), history))  # fmt: skip

        def settle(done: asyncio.Future[Any]) -> None:
            if future.done():
                return
            if done.cancelled():
                future.cancel()
            elif done.exception() is not None:
                future.set_exception(done.exception())  # type: ignore[arg-type]
            else:
                future.set_result(None)

        written.add_done_callback(settle)

    def _track(self, future: asyncio.Future[Any]) -> asyncio.Future[Any]:
        self._pending.add(future)
        future.add_done_callback(self._written)
        return future

    def _written(self, future: asyncio.Future[Any]) -> None:
        self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            _log.error("alarm store write failed", exc_info=future.exception())

    def _record(self, item: AlarmHistoryItem) -> None:
        self._persist(history=[item])

    def _owner_check(self, name: str, owner: str | None, verb: str) -> None:
        current = self._alarms.get(name)
        if current is not None and current.owner != owner:
            if current.owner is not None:
                raise ValidationError(
                    f"The alarm {name} is managed by {current.owner} and cannot be {verb} "
                    "directly; change or delete the resource that owns it."
                )
            raise ValidationError(f"The alarm {name} exists and is not managed by {owner}.")

    async def put_metric_alarm(
        self, alarm_input: AlarmInput, *, owner: str | None = None
    ) -> MetricAlarm:
        """Create or replace an alarm (the whole configuration; the state, owner and tags of
        an existing alarm are kept). ``owner`` marks an alarm another service manages."""
        config = validate_alarm(alarm_input)
        name = config.alarm_name
        self._owner_check(name, owner, "changed")
        now = self.clock.time()
        current = self._alarms.get(name)
        fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(AlarmInput)}
        if current is None:
            alarm = MetricAlarm(
                **fields,
                alarm_arn=f"arn:aws:cloudwatch:{self.region}:{self.account_id}:alarm:{name}",
                alarm_configuration_updated_timestamp=now,
                state_updated_timestamp=now,
                state_transitioned_timestamp=now,
                owner=owner,
            )
            kind = "Create"
        else:
            fields["tags"] = current.tags  # Tags apply on creation only
            alarm = dataclasses.replace(
                current, **fields, alarm_configuration_updated_timestamp=now
            )
            kind = "Update"
        self._alarms[name] = alarm
        await self._persist([alarm], [configuration_update(alarm, kind, now)])
        return alarm

    async def delete_alarms(self, names: Sequence[str], *, owner: str | None = None) -> None:
        """Delete the named alarms; unknown names are skipped (as CloudWatch does)."""
        for name in names:
            self._owner_check(name, owner, "deleted")
        now = self.clock.time()
        gone = [self._alarms.pop(n) for n in dict.fromkeys(names) if n in self._alarms]
        if gone:
            await self._persist(history=[configuration_update(a, "Delete", now) for a in gone],
                                deleted=[a.alarm_name for a in gone])  # fmt: skip

    async def set_actions_enabled(self, names: Sequence[str], enabled: bool) -> None:
        changed = []
        for name in dict.fromkeys(names):
            alarm = self._alarms.get(name)
            if alarm is not None and alarm.actions_enabled != enabled:
                changed.append(dataclasses.replace(alarm, actions_enabled=enabled))
                self._alarms[name] = changed[-1]
        if changed:
            now = self.clock.time()
            await self._persist(changed, [configuration_update(a, "Update", now) for a in changed])

    async def set_alarm_state(
        self, name: str, state: AlarmState, reason: str, reason_data: str | None
    ) -> None:
        """SetAlarmState: a change (if it is one) with its history and actions; the next
        evaluation may set the state back."""
        alarm = self._alarms.get(name)
        if alarm is None:
            raise ResourceNotFound(f"Alarm {name} not found")
        if len(reason) > 1023:
            raise ValidationError("StateReason must be at most 1023 characters long.")
        if reason_data is not None:
            try:
                json.loads(reason_data)
            except ValueError:
                raise InvalidFormat(
                    "Unable to parse the StateReasonData: it must be valid JSON."
                ) from None
            if len(reason_data) > 4000:
                raise ValidationError("StateReasonData must be at most 4000 characters long.")
        await self._change(alarm, state, reason, reason_data, self.clock.time())

    async def describe_alarm_history(
        self,
        alarm_name: str | None = None,
        item_type: str | None = None,
        start: float | None = None,
        end: float | None = None,
        ascending: bool = False,
        after: int | None = None,
        limit: int = 100,
    ) -> tuple[list[AlarmHistoryItem], int | None]:
        """History items, newest first unless ``ascending`` (read after pending writes)."""
        await self.flush()
        return await asyncio.to_thread(self.store.read_history, alarm_name, item_type, start,
                                       end, ascending, after, limit)  # fmt: skip

    def _change(self, alarm: MetricAlarm, state: AlarmState, reason: str,
                reason_data: str | None, now: float) -> asyncio.Future[Any]:  # fmt: skip
        """Apply a state (a change of it, or only a new reason), queue its write and run the
        actions of a change; returns the write's future."""
        old = alarm
        transitioned = state != old.state_value
        alarm = dataclasses.replace(
            old,
            state_value=state,
            state_reason=reason,
            state_reason_data=reason_data,
            state_updated_timestamp=now,
            state_transitioned_timestamp=now if transitioned else old.state_transitioned_timestamp,
        )
        self._alarms[alarm.alarm_name] = alarm
        history = []
        if transitioned:
            history.append(state_update(alarm.alarm_name, old.state_value, old.state_reason,
                                        state, reason, reason_data, now))  # fmt: skip
        future = self._persist([alarm], history)
        if transitioned and alarm.actions_enabled:
            for arn in alarm.actions_for(state):
                change = AlarmStateChange(
                    alarm_name=alarm.alarm_name, old_state=old.state_value, new_state=state,
                    reason=reason, reason_data=reason_data, timestamp=now, action_arn=arn,
                )  # fmt: skip
                self.actions.dispatch(alarm, change)
        return future

    # -- evaluation -------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            now = self.clock.time()
            minute = (now - self.evaluation_delay) // 60 * 60
            if minute > self._last_minute:
                try:
                    await self.evaluate(minute)
                except Exception:  # noqa: BLE001 - retried next minute, logged
                    _log.exception("alarm evaluation failed")
            wait = minute + 60 + self.evaluation_delay - self.clock.time()
            await asyncio.sleep(min(max(wait, 0.05), _POLL))

    async def evaluate(self, minute: float | None = None) -> int:
        """One evaluation pass over every alarm for the minute ending at ``minute`` (default:
        the newest closed minute); returns how many alarms changed state. A minute already
        evaluated is not evaluated again: the call waits for that pass and returns 0."""
        now = self.clock.time()
        if minute is None:
            minute = now // 60 * 60
        if minute <= self._last_minute:
            if self._running is not None and not self._running.done():
                await asyncio.shield(self._running)
            return 0
        self._last_minute = minute
        self._running = asyncio.ensure_future(self._pass(int(minute), now))
        return await asyncio.shield(self._running)

    async def _pass(self, minute: int, now: float) -> int:
        snapshot = list(self._alarms.values())
        started = self.clock.monotonic()
        results = await asyncio.to_thread(self._evaluate_all, snapshot, minute, now)
        self.last_pass_seconds = self.clock.monotonic() - started
        self.passes += 1
        changed = 0
        writes = []
        for alarm, outcome in results:
            if self._alarms.get(alarm.alarm_name) is not alarm:
                continue  # replaced, deleted or set while the pass ran: evaluated next minute
            if outcome is not None and outcome.state != alarm.state_value:
                writes.append(self._change(alarm, outcome.state, outcome.reason,
                                           outcome.reason_data_json(), now))  # fmt: skip
                changed += 1
            elif alarm.actions_enabled:
                self._repeat_scaling_actions(alarm, now)
        if now - self._last_sweep > 3600:
            self._last_sweep = now
            self._writer.submit(self.store.delete_history_before, now - HISTORY_RETENTION)
        await asyncio.gather(*writes)
        return changed

    def _repeat_scaling_actions(self, alarm: MetricAlarm, now: float) -> None:
        """CloudWatch re-invokes Auto Scaling actions every minute the state persists."""
        for arn in alarm.actions_for(alarm.state_value):
            if arn.startswith(REPEATING_PREFIX):
                self.actions.dispatch(alarm, AlarmStateChange(
                    alarm_name=alarm.alarm_name, old_state=alarm.state_value,
                    new_state=alarm.state_value, reason=alarm.state_reason,
                    reason_data=alarm.state_reason_data, timestamp=now, action_arn=arn,
                    repeated=True))  # fmt: skip

    def _evaluate_all(
        self, alarms: Sequence[MetricAlarm], minute: int, now: float
    ) -> list[tuple[MetricAlarm, Evaluation | None]]:
        out = []
        shared: dict[Any, Any] = {}
        ranges = [(minute - evaluation_range(a.evaluation_periods) * a.evaluation_period, a)
                  for a in alarms]  # fmt: skip
        # Widest range first, so alarms on one metric reuse its read (see MetricSource).
        ranges.sort(key=lambda pair: pair[0])
        for start, alarm in ranges:
            try:
                samples = self.source.samples(alarm, start, minute, shared)
                outcome = evaluate(alarm, samples, start, now, alarm.state_value)
            except Exception:  # noqa: BLE001 - one broken alarm must not stop the others
                _log.exception("alarm %s could not be evaluated", alarm.alarm_name)
                continue
            out.append((alarm, outcome))
        return out
