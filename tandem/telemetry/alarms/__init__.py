"""CloudWatch metric alarms: the model, a pure evaluator, the history, actions and the service.

No wire formats in here: ``tandem.api.cloudwatch`` translates PutMetricAlarm & co. into these
calls. The contract other parts build on (target tracking, step scaling):

- ``MetricAlarm`` (``model``): every PutMetricAlarm member (``AlarmInput``, snake_case:
  ``alarm_name``, ``metric_name``, ``namespace``, ``statistic``/``extended_statistic``,
  ``dimensions`` as ``((name, value), ...)``, ``period``, ``evaluation_periods``,
  ``datapoints_to_alarm``, ``threshold``, ``comparison_operator``, ``treat_missing_data``,
  ``metrics`` for metric math, ``alarm_actions``/``ok_actions``/``insufficient_data_actions``
  ...) plus ``alarm_arn``, ``owner``, ``state_value`` (``AlarmState``), ``state_reason``,
  ``state_reason_data`` (JSON text) and the timestamps (epoch seconds).
- ``evaluator.evaluate(alarm, samples, range_start, now, current)``: pure; closed periods
  in, ``Evaluation(state, reason, reason_data)`` out (None keeps the state). M out of N with
  TreatMissingData exactly as CloudWatch documents it (see ``evaluator``'s docstring).
- ``AlarmService`` (``service``), one per server, started and stopped by the server:
  - ``await put_metric_alarm(alarm_input: AlarmInput, *, owner: str | None = None)``:
    validates (CloudWatch's error codes), creates or replaces, records a ConfigurationUpdate.
    ``owner`` marks an alarm another service creates (target tracking passes its own name);
    a call whose ``owner`` differs from the alarm's, such as a plain PutMetricAlarm on an
    owned alarm, is refused with a ValidationError naming the owner.
  - ``await delete_alarms(names, *, owner=None)``: same owner rule; unknown names skipped.
  - ``register_action_handler(prefix, handler)``, ``handler`` being
    ``async (alarm: MetricAlarm, change: AlarmStateChange) -> None``: for each ARN of the
    actions of the new state (AlarmActions / OKActions / InsufficientDataActions) that
    starts with ``prefix`` (the longest registered prefix wins), the handler runs as a task,
    off the evaluation path; its exceptions are logged and recorded as a failed Action in
    the history, never raised into the evaluator. It runs on every state change (from an
    evaluation or SetAlarmState) while the alarm's actions are enabled, and, for Auto
    Scaling policy ARNs (``arn:aws:autoscaling:...:scalingPolicy:...``), again at every
    evaluation (once a minute) while the alarm stays in that state, as CloudWatch
    re-invokes scaling actions: then ``change.repeated`` is True and old == new state.
    ``change.action_arn`` is the ARN being run (e.g. ``<PolicyARN>:createdBy/<uuid>``).
  - ``alarms()``, ``get(name)``: the in-memory snapshot (no I/O).
  - ``await evaluate(minute=None)``: one pass now (tests step it with ``ManualClock``); the
    server's loop calls it once per minute of its ``Clock``, ``evaluation_delay`` seconds
    after the minute closes (so the minute's metrics are flushed). One owned task, started
    by ``start()`` and cancelled by ``stop()``: the seam for leader-only evaluation.
- Webhook actions (``webhook``): ``arn:tandem:webhook:<http(s) URL>`` POSTs the SNS-style
  notification, with retries, backoff and a timeout per attempt.
"""

from .actions import REPEATING_PREFIX, ActionDispatcher, ActionHandler
from .evaluator import Evaluation, Sample, evaluate, evaluation_range
from .model import (
    AlarmHistoryItem,
    AlarmInput,
    AlarmState,
    AlarmStateChange,
    HistoryItemType,
    MetricAlarm,
    TreatMissingData,
)
from .service import AlarmService
from .source import AlarmSource, MetricSource
from .store import AlarmStore
from .validation import WEBHOOK_PREFIX, validate_alarm
from .webhook import WebhookSender

__all__ = [
    "AlarmService",
    "AlarmInput",
    "MetricAlarm",
    "AlarmState",
    "AlarmStateChange",
    "AlarmHistoryItem",
    "HistoryItemType",
    "TreatMissingData",
    "AlarmStore",
    "AlarmSource",
    "MetricSource",
    "ActionDispatcher",
    "ActionHandler",
    "REPEATING_PREFIX",
    "WEBHOOK_PREFIX",
    "WebhookSender",
    "Evaluation",
    "Sample",
    "evaluate",
    "evaluation_range",
    "validate_alarm",
]
