"""The dashboard signs its calls when the server wants SigV4 (tandem serve --auth-file).

The page's own signer (frontend/src/sigv4.js, in the committed bundle) runs in Debian's
Chromium; every call it sends is checked again here with the server's verifier, and must fail
it once its body is changed.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.config import Config

from tandem.api.auth import InvalidSignature, SignedRequest, verify
from tests.dashboard.browser import chromium, missing
from tests.e2e.support import deploy, stage_container
from tests.server_process import FAST_FLAGS, ServerProcess

KEY_ID, SECRET = "AKIDDASHBOARD", "dashboard/secret+key=="
KEYS = {KEY_ID: SECRET}
UNICODE_PATTERN = '"é  <script>"'

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    reason = missing()
    if reason:
        pytest.skip(reason)
    tmp_path = tmp_path_factory.mktemp("dashboard-auth")
    keys = tmp_path / "keys.toml"
    keys.write_text(f'[[keys]]\naccess_key_id = "{KEY_ID}"\nsecret_access_key = "{SECRET}"\n')
    server = ServerProcess(tmp_path / "data", extra=(*FAST_FLAGS, "--auth-file", str(keys)))
    server.start()
    try:
        sagemaker = boto3.client(
            "sagemaker",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            config=Config(retries={"max_attempts": 1}),
        )
        deploy(sagemaker, "signed", [stage_container("only")])
        return _sign_in_and_browse(server.url)
    finally:
        server.stop()


def _sign_in_and_browse(base: str) -> dict[str, Any]:
    out: dict[str, Any] = {"errors": [], "sent": []}
    with chromium() as browser:
        page = browser.new_context().new_page()
        page.on("pageerror", lambda e: out["errors"].append(e.message))

        def sent(request: Any) -> None:
            if request.method == "POST" and request.url == f"{base}/":
                status = request.response().status
                out["sent"].append((request.all_headers(), request.post_data_buffer or b"", status))

        page.on("requestfinished", sent)
        page.goto(f"{base}/dashboard/#/endpoints")
        form = page.locator('[data-testid="signin"]')
        form.wait_for()
        out["first"] = page.locator('[data-testid="signin-error"]').text_content()
        page.fill('input[name="accessKeyId"]', KEY_ID)
        page.fill('input[name="secretAccessKey"]', "not-the-secret")
        page.click('[data-testid="signin"] button[type="submit"]')
        page.locator('[data-testid="signin-error"]', has_text="InvalidSignature").wait_for()
        out["wrong"] = page.locator('[data-testid="signin-error"]').text_content()
        page.fill('input[name="secretAccessKey"]', SECRET)
        page.click('[data-testid="signin"] button[type="submit"]')
        page.locator('tr[data-endpoint="signed"]').wait_for()
        out["endpoints"] = page.eval_on_selector_all(
            "tr[data-endpoint]", "(rows) => rows.map((r) => r.dataset.endpoint)")
        out["formHidden"] = page.locator("#signin").is_hidden()
        out["stored"] = page.evaluate(
            "() => JSON.parse(sessionStorage.getItem('tandem.credentials')).accessKeyId")
        page.goto(f"{base}/dashboard/#/logs")
        page.locator('[data-testid="log-groups"] a').first.wait_for()
        out["groups"] = page.eval_on_selector_all(
            '[data-testid="log-groups"] a', "(els) => els.map((e) => e.textContent)")
        # A body with non-ASCII text and markup, signed by the page.
        group = quote("/aws/sagemaker/Endpoints/signed", safe="")
        page.goto(f"{base}/dashboard/#/logs?group={group}")
        page.locator('[data-testid="filter-pattern"]').wait_for()
        page.fill('[data-testid="filter-pattern"]', UNICODE_PATTERN)

        def filtered(response: Any) -> bool:
            body = response.request.post_data or ""
            return "FilterLogEvents" in (response.request.headers.get("x-amz-target") or "") \
                and json.loads(body).get("filterPattern") == UNICODE_PATTERN

        with page.expect_response(filtered):
            page.click('[data-testid="filter-button"]')
        page.goto(f"{base}/dashboard/#/metrics")
        page.locator("main h1").wait_for()
        page.click("#signout")
        form.wait_for()
        out["afterSignOut"] = page.evaluate("() => sessionStorage.getItem('tandem.credentials')")
    return out


def test_sign_in_with_a_key_then_every_page_call_is_signed(seen: dict[str, Any]) -> None:
    assert seen["errors"] == []
    assert seen["first"] == "MissingAuthenticationTokenException: Missing Authentication Token"
    assert seen["wrong"].startswith(
        "InvalidSignatureException: The request signature we calculated"
    )
    assert seen["endpoints"] == ["signed"]
    assert seen["formHidden"] is True
    assert seen["stored"] == KEY_ID
    assert seen["groups"] == ["/aws/sagemaker/Endpoints/signed"]
    assert seen["afterSignOut"] is None


def test_signatures_from_the_page_verify_on_the_server(seen: dict[str, Any]) -> None:
    signed = [(h, body, status) for h, body, status in seen["sent"] if "authorization" in h]
    for headers, body, status in signed:
        when = dt.datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        request = SignedRequest("POST", "/", "", headers, body)
        if status == 403:  # signed with the wrong secret, and refused
            with pytest.raises(InvalidSignature):
                verify(request, KEYS, when)
            continue
        assert verify(request, KEYS, when) == KEY_ID, headers["x-amz-target"]
        with pytest.raises(InvalidSignature):
            verify(SignedRequest("POST", "/", "", headers, body + b" "), KEYS, when)
    statuses = [status for _, _, status in signed]
    assert 403 in statuses and statuses.count(200) >= 5, statuses
    targets = {h["x-amz-target"] for h, _, status in signed if status == 200}
    # All three signing names the page uses: sagemaker, logs and monitoring (CloudWatch).
    assert {"SageMaker.ListEndpoints", "Logs_20140328.FilterLogEvents",
            "GraniteServiceVersion20100801.ListMetrics"} <= targets, targets
    patterns = [json.loads(body).get("filterPattern") for h, body, status in signed
                if h["x-amz-target"] == "Logs_20140328.FilterLogEvents" and status == 200]
    assert UNICODE_PATTERN in patterns
