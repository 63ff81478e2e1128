"""The webhook action: an HTTP POST of the SNS-style notification of a state change.

Action ARN: ``arn:tandem:webhook:<url>`` with an http:// or https:// URL, e.g.
``arn:tandem:webhook:https://hooks.example.com/alarms``. The body is what an SNS HTTP(S)
subscription receives (``Type: Notification``, ``Subject``, ``Message`` holding CloudWatch's
alarm JSON as text, ``Timestamp``...), with the header ``x-amz-sns-message-type:
Notification``. Each delivery retries with exponential backoff; every attempt has its own
timeout; at most ``concurrency`` deliveries are on the wire at once. The dispatcher runs
deliveries as tasks, so a hanging or refusing URL never holds up an evaluation.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aiohttp

from .evaluator import iso_millis
from .model import AlarmStateChange, MetricAlarm
from .validation import WEBHOOK_PREFIX

__all__ = ["WebhookSender", "alarm_notification", "sns_envelope", "REGION_NAMES",
           "WEBHOOK_PREFIX"]  # fmt: skip

REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)", "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)", "eu-west-2": "EU (London)", "eu-west-3": "EU (Paris)",
    "eu-central-1": "EU (Frankfurt)", "eu-north-1": "EU (Stockholm)",
    "ap-northeast-1": "Asia Pacific (Tokyo)", "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-southeast-1": "Asia Pacific (Singapore)", "ap-southeast-2": "Asia Pacific (Sydney)",
    "ap-south-1": "Asia Pacific (Mumbai)", "ca-central-1": "Canada (Central)",
    "sa-east-1": "South America (Sao Paulo)",
}  # fmt: skip


def _trigger(alarm: MetricAlarm) -> dict[str, Any]:
    trigger: dict[str, Any]
    if alarm.metrics:
        trigger = {"Metrics": [
            {"Id": q.id, **({"Expression": q.expression} if q.expression else {}),
             **({"MetricStat": {
                 "Metric": {"Dimensions": [{"value": v, "name": n}
                                           for n, v in q.metric_stat.metric.dimensions],
                            "MetricName": q.metric_stat.metric.metric_name,
                            "Namespace": q.metric_stat.metric.namespace},
                 "Period": q.metric_stat.period, "Stat": q.metric_stat.stat}}
                if q.metric_stat is not None else {}),
             **({"Label": q.label} if q.label else {}), "ReturnData": q.return_data}
            for q in alarm.metrics]}  # fmt: skip
    else:
        extended = alarm.statistic is None
        trigger = {
            "MetricName": alarm.metric_name,
            "Namespace": alarm.namespace,
            "StatisticType": "ExtendedStatistic" if extended else "Statistic",
            "Statistic": alarm.extended_statistic if extended else (alarm.statistic or "").upper(),
            "Unit": alarm.unit,
            "Dimensions": [{"value": v, "name": n} for n, v in alarm.dimensions],
            "Period": alarm.period,
        }
    trigger["EvaluationPeriods"] = alarm.evaluation_periods
    if alarm.datapoints_to_alarm is not None:
        trigger["DatapointsToAlarm"] = alarm.datapoints_to_alarm
    trigger.update(
        ComparisonOperator=alarm.comparison_operator,
        Threshold=alarm.threshold,
        TreatMissingData=alarm.treat_missing_data or "missing",
        EvaluateLowSampleCountPercentile=alarm.evaluate_low_sample_count_percentile or "",
    )
    return trigger


def alarm_notification(
    alarm: MetricAlarm, change: AlarmStateChange, region: str, account_id: str
) -> dict[str, Any]:
    """CloudWatch's alarm message, as an SNS topic would carry it."""
    return {
        "AlarmName": alarm.alarm_name,
        "AlarmDescription": alarm.alarm_description,
        "AWSAccountId": account_id,
        "AlarmConfigurationUpdatedTimestamp": iso_millis(
            alarm.alarm_configuration_updated_timestamp
        ),
        "NewStateValue": change.new_state.value,
        "NewStateReason": change.reason,
        "StateChangeTime": iso_millis(change.timestamp),
        "Region": REGION_NAMES.get(region, region),
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": change.old_state.value,
        "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions),
        "InsufficientDataActions": list(alarm.insufficient_data_actions),
        "Trigger": _trigger(alarm),
    }


def sns_envelope(
    alarm: MetricAlarm, change: AlarmStateChange, region: str, account_id: str
) -> dict[str, Any]:
    """The body an SNS HTTP(S) subscription receives for the alarm's notification."""
    message = alarm_notification(alarm, change, region, account_id)
    region_name = REGION_NAMES.get(region, region)
    return {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": change.action_arn,
        "Subject": f'{change.new_state.value}: "{alarm.alarm_name}" in {region_name}'[:100],
        "Message": json.dumps(message, separators=(",", ":")),
        "Timestamp": iso_millis(change.timestamp).replace("+0000", "Z"),
        "SignatureVersion": "1",
    }


class WebhookSender:
    """Delivers notifications to ``arn:tandem:webhook:<url>`` actions (an ``ActionHandler``)."""

    def __init__(
        self,
        region: str,
        account_id: str,
        *,
        attempts: int = 3,
        timeout: float = 5.0,
        backoff: float = 1.0,
        concurrency: int = 16,
    ) -> None:
        self.region = region
        self.account_id = account_id
        self.attempts = attempts
        self.timeout = timeout
        self.backoff = backoff
        self._slots = asyncio.Semaphore(concurrency)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"User-Agent": "tandem-alarms"},
            )
        return self._session

    async def __call__(self, alarm: MetricAlarm, change: AlarmStateChange) -> None:
        url = change.action_arn[len(WEBHOOK_PREFIX) :]
        body = json.dumps(sns_envelope(alarm, change, self.region, self.account_id)).encode()
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": "Notification",
            "x-amz-sns-topic-arn": change.action_arn,
        }
        error = "no attempt made"
        for attempt in range(self.attempts):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            async with self._slots:
                try:
                    async with self._client().post(url, data=body, headers=headers) as resp:
                        if resp.status < 300:
                            return
                        error = f"the webhook answered HTTP {resp.status}"
                        if 400 <= resp.status < 500 and resp.status not in (408, 429):
                            break  # the receiver refuses this body: retrying will not help
                except TimeoutError:
                    error = f"the webhook did not answer within {self.timeout:g} s"
                except aiohttp.ClientError as exc:
                    error = f"the webhook could not be reached ({type(exc).__name__})"
        raise RuntimeError(f"{error} after {attempt + 1} attempt{'s' if attempt else ''}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
