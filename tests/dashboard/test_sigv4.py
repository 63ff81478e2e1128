"""The page's SigV4 signer (frontend/src/sigv4.js) against the server's verifier."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tandem.api.auth import InvalidSignature, SignedRequest, verify

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
KEYS = {"AKIDDASHBOARD": "dashboard/secret+key=="}

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (FRONTEND / "node_modules" / "@noble").is_dir(),
    reason="node and frontend/node_modules (scripts/setup) are needed",
)

_SCRIPT = """
import { signHeaders } from "./src/sigv4.js";
const cases = JSON.parse(process.argv[1]);
console.log(JSON.stringify(cases.map((c) => signHeaders({ ...c, now: new Date(c.now) }))));
"""


def _sign(cases: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    proc = subprocess.run(
        ["node", "--input-type=module", "-e", _SCRIPT, json.dumps(cases)],
        cwd=FRONTEND,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(proc.stdout)


def test_signatures_from_the_page_verify_on_the_server() -> None:
    now = dt.datetime(2026, 11, 25, 13, 15, 0, tzinfo=dt.UTC)
    cases = [
        {
            "service": service,
            "headers": {"X-Amz-Target": target, "Content-Type": kind},
            "body": body,
            "host": "127.0.0.1:8080",
            "accessKeyId": "AKIDDASHBOARD",
            "secretAccessKey": KEYS["AKIDDASHBOARD"],
            "now": now.isoformat(),
        }
        for service, target, kind, body in [
            ("sagemaker", "SageMaker.ListEndpoints", "application/x-amz-json-1.1", "{}"),
            (
                "logs",
                "Logs_20140328.FilterLogEvents",
                "application/x-amz-json-1.1",
                json.dumps({"logGroupName": "/aws/x", "filterPattern": '"é  <script>"'}),
            ),
            (
                "monitoring",
                "GraniteServiceVersion20100801.GetMetricData",
                "application/x-amz-json-1.0",
                json.dumps({"MetricDataQueries": []}),
            ),
        ]
    ]
    for case, signed in zip(cases, _sign(cases), strict=True):
        headers = {k.lower(): v for k, v in case["headers"].items()}
        headers.update(
            {
                "host": case["host"],
                "x-amz-date": signed["X-Amz-Date"],
                "authorization": signed["Authorization"],
            }
        )
        request = SignedRequest("POST", "/", "", headers, case["body"].encode())
        assert verify(request, KEYS, now) == "AKIDDASHBOARD"
        tampered = SignedRequest("POST", "/", "", headers, case["body"].encode() + b" ")
        with pytest.raises(InvalidSignature):
            verify(tampered, KEYS, now)
