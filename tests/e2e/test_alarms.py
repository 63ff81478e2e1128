"""The one alarm test in real time, end to end: a container answers 500s, the router counts
Invocation5XXErrors, and once that minute closes the 1-minute alarm goes to ALARM and its
webhook receives the SNS-style notification (about a minute; the other alarm tests step a
ManualClock)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.e2e.support import client, deploy, stage_container

pytestmark = pytest.mark.slow


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict]]]:  # type: ignore[type-arg]
    received: list[dict] = []  # type: ignore[type-arg]

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            kind = self.headers["x-amz-sns-message-type"]
            received.append({"body": json.loads(body), "type": kind})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hook", received
    httpd.shutdown()
    httpd.server_close()


def test_5xx_alarm_fires_in_real_time_and_calls_its_webhook(  # type: ignore[no-untyped-def]
    server, sagemaker, runtime, receiver
) -> None:
    url, received = receiver
    cw = client(server, "cloudwatch")
    deploy(sagemaker, "alarmed", [stage_container("only")])
    cw.put_metric_alarm(
        AlarmName="alarmed-5xx", Namespace="AWS/SageMaker", MetricName="Invocation5XXErrors",
        Dimensions=[{"Name": "EndpointName", "Value": "alarmed"},
                    {"Name": "VariantName", "Value": "AllTraffic"}],
        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=2.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData="notBreaching",
        AlarmActions=[f"arn:tandem:webhook:{url}"],
    )  # fmt: skip
    failed_at = time.time()
    for _ in range(3):
        with pytest.raises(runtime.exceptions.ModelError):
            runtime.invoke_endpoint(EndpointName="alarmed", Body=b'{"status": 500}',
                                    ContentType="application/json")  # fmt: skip
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        [alarm] = cw.describe_alarms(AlarmNames=["alarmed-5xx"])["MetricAlarms"]
        if alarm["StateValue"] == "ALARM" and received:
            break
        time.sleep(0.5)
    assert alarm["StateValue"] == "ALARM", alarm["StateReason"]
    # Not before the errors' minute closed.
    assert alarm["StateTransitionedTimestamp"].timestamp() >= failed_at // 60 * 60 + 60
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 datapoint [3.0 (")
    assert json.loads(alarm["StateReasonData"])["evaluatedDatapoints"][0]["value"] == 3.0
    [note] = received
    assert note["type"] == "Notification"
    message = json.loads(note["body"]["Message"])
    assert (message["AlarmName"], message["NewStateValue"]) == ("alarmed-5xx", "ALARM")
    history = cw.describe_alarm_history(AlarmName="alarmed-5xx", HistoryItemType="Action")
    assert [i["HistorySummary"] for i in history["AlarmHistoryItems"]] == [
        f"Successfully executed action arn:tandem:webhook:{url}"]
