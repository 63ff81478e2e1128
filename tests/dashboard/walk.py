"""One walk through every dashboard page in Debian's Chromium, reporting what it saw.

tests/dashboard/test_dashboard.py starts the server and makes the traffic; `walk` drives the
browser and returns a dict the tests each assert one behaviour on. When a step fails, the
error says what the page showed, to tell a slow server from a page that went wrong.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from tests.dashboard.browser import AXES_FIT_JS, chromium

# Auto-refresh off, so what a test reads is not swapped under it.
QUIET = """localStorage.setItem("tandem.dashboard", JSON.stringify({ range: 3600, refresh: 0 }));"""
TEXTS = "(els) => els.map((e) => e.textContent)"
# Which characters of a log row's stream name are on screen, and the message's share of the row.
LONG_ROW_JS = """(row) => {
  const box = row.querySelector(".s").getBoundingClientRect();
  const text = row.querySelector(".s > span").firstChild;
  const shown = (i) => {
    const range = document.createRange();
    range.setStart(text, i);
    range.setEnd(text, i + 1);
    const r = range.getBoundingClientRect();
    return r.left >= box.left - 0.5 && r.right <= box.right + 0.5;
  };
  return { text: text.textContent, title: row.querySelector(".s").title,
    firstShown: shown(0), lastShown: shown(text.length - 1),
    message: row.querySelector(".m").getBoundingClientRect().width,
    row: row.getBoundingClientRect().width };
}"""


def _ms(since: float) -> int:
    return round((time.monotonic() - since) * 1000)


def walk(
    base: str, shots: Path, big_metric: str, long: tuple[str, str, str]
) -> dict[str, Any]:
    """``long``: (endpoint, log group, variant) with names as long as SageMaker allows."""
    out: dict[str, Any] = {"errors": [], "requests": [], "failed": [], "axes": {}, "widths": {}}
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        context.add_init_script(script=QUIET)
        page = context.new_page()
        try:
            _steps(page, base, shots, big_metric, long, out)
        except Exception as error:
            try:
                seen = f"\nurl: {page.url}\npage: {page.locator('#page').inner_text()[:600]}"
            except Exception as unreadable:  # noqa: BLE001 - only to describe the failure
                seen = f"\n(the page could not be read: {unreadable})"
            raise AssertionError(
                f"{error}{seen}\nerrors: {out['errors']}\nfailed: {out['failed']}"
            ) from error
        finally:
            context.close()
    return out


def _steps(
    page: Any,
    base: str,
    shots: Path,
    big_metric: str,
    long: tuple[str, str, str],
    out: dict[str, Any],
) -> None:
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(base))

    def console(message: Any) -> None:
        # Failed API calls are reported by status below; Chromium also logs each one.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            out["errors"].append(f"console: {message.text}")

    def response(r: Any) -> None:
        if r.status >= 400:
            out["failed"].append(f"{r.status} {r.request.headers.get('x-amz-target') or r.url}")

    def request(r: Any) -> None:
        if "{0.scheme}://{0.netloc}".format(urlsplit(r.url)) != origin:
            out["requests"].append(r.url)

    page.on("pageerror", lambda e: out["errors"].append(f"pageerror: {e.message}"))
    page.on("console", console)
    page.on("response", response)
    page.on("request", request)

    def axes(name: str) -> None:
        out["axes"][name] = page.evaluate(AXES_FIT_JS)

    def width(name: str) -> None:  # how wide the page lays out (more than the window: scrolls)
        out["widths"][name] = page.evaluate("() => document.documentElement.scrollWidth")

    # The root redirects to the dashboard; the endpoints list.
    page.goto(f"{base}/")
    out["landed"] = page.url
    row = page.locator('tr[data-endpoint="pipe"]')
    row.wait_for()
    out["endpointsList"] = {
        "status": row.locator(".status").text_content(),
        "invocations": int(row.locator("td[data-invocations]").get_attribute("data-invocations")),
    }
    page.screenshot(path=shots / "endpoints.png")

    # The endpoint page: a chart per metric, the breakdown in pipeline order.
    page.goto(f"{base}/dashboard/#/endpoints/pipe")
    page.locator('figure[data-chart="DiskUtilization"]').wait_for()
    out["charts"] = page.eval_on_selector_all("figure.chart", """(figs) => figs.map((f) => ({
      chart: f.dataset.chart, series: JSON.parse(f.dataset.series || "[]"),
      canvas: !!f.querySelector("canvas") }))""")
    out["breakdown"] = page.eval_on_selector_all(
        '[data-testid="container-breakdown"] .container-name', TEXTS)
    axes("endpoint@1440")
    page.screenshot(path=shots / "endpoint.png", full_page=True)
    page.set_viewport_size({"width": 1024, "height": 1000})
    page.wait_for_function("() => [...document.querySelectorAll('figure.chart canvas')]"
                           ".every((c) => c.getBoundingClientRect().right <= 1024)")
    axes("endpoint@1024")
    width("endpoint@1024")
    page.goto(f"{base}/dashboard/#/endpoints/{long[0]}")
    page.locator('figure[data-chart="DiskUtilization"]').wait_for()
    width("long-endpoint@1024")
    page.goto(f"{base}/dashboard/#/endpoints")
    page.locator(f'tr[data-endpoint="{long[0]}"]').wait_for()
    width("endpoints@1024")
    # A status badge is one line, however the names around it wrap.
    out["statusLines"] = page.eval_on_selector_all("td .status", """(els) => els.map((e) => {
      const style = getComputedStyle(e);
      const text = e.getBoundingClientRect().height - parseFloat(style.paddingTop)
        - parseFloat(style.paddingBottom);
      return Math.round(text / (parseFloat(style.fontSize) * 1.25));
    })""")
    # Back, for the refresh and range steps; only the endpoint page sets data-loaded.
    page.evaluate("() => { delete document.body.dataset.loaded; }")
    page.goto(f"{base}/dashboard/#/endpoints/pipe")
    page.locator('figure[data-chart="DiskUtilization"]').wait_for()
    page.wait_for_function("() => document.body.dataset.loaded")
    page.set_viewport_size({"width": 1440, "height": 1000})

    # Auto-refresh redraws the page on its own (then off again, so later reads stay still).
    loaded = page.evaluate("() => document.body.dataset.loaded")
    page.select_option("#refresh", "5")
    r0 = time.monotonic()
    page.wait_for_function("(l) => document.body.dataset.loaded !== l", arg=loaded,
                           timeout=15_000)
    out["autoRefreshMs"] = _ms(r0)
    page.select_option("#refresh", "0")

    # The range picker re-queries the page: seven days are charted at a 7-minute period.
    page.select_option("#range", "604800")
    page.locator("main p.muted", has_text="Period 420 s").wait_for()
    out["weekPeriodNote"] = page.locator("main p.muted").first.text_content()

    # Seven days of one-minute points in the metrics explorer.
    t0 = time.monotonic()
    page.goto(f"{base}/dashboard/#/metrics?namespace=Bench%2FDashboard&metric=Load"
              "&dims=%5B%5D&stat=Average&period=60")
    page.locator('figure[data-chart="Load"] canvas').wait_for()
    out["weekChart"] = {
        "ms": _ms(t0),
        "series": json.loads(
            page.locator('figure[data-chart="Load"]').get_attribute("data-series") or "[]"),
    }
    # Responsive: a hover over the 10,080-point chart is handled within a frame or two.
    box = page.locator('figure[data-chart="Load"] .u-over').bounding_box()
    h0 = time.monotonic()
    for i in range(20):
        page.mouse.move(box["x"] + box["width"] * i / 20, box["y"] + box["height"] / 2)
    out["weekChart"]["hover20ms"] = _ms(h0)
    out["boto3"] = page.locator('[data-testid="boto3"]').text_content()
    out["awscli"] = page.locator('[data-testid="awscli"]').text_content()
    out["loadCaption"] = page.locator('figure[data-chart="Load"] figcaption').inner_text()
    page.screenshot(path=shots / "metrics.png", full_page=True)

    # Six- and seven-digit values: every axis label fits beside its chart, at 1440 and 1024 px.
    dims = quote(json.dumps([["EndpointName", long[0]], ["VariantName", long[2]]]), safe="")
    page.goto(f"{base}/dashboard/#/metrics?namespace=Bench%2FDashboard&metric={big_metric}"
              f"&dims={dims}&stat=Maximum&period=60")
    page.locator(f'figure[data-chart="{big_metric}"] canvas').wait_for()
    out["bigCaption"] = page.locator(f'figure[data-chart="{big_metric}"] figcaption').inner_text()
    axes("explorer@1440")
    page.set_viewport_size({"width": 1024, "height": 1000})
    page.wait_for_function("() => document.querySelector('figure.chart canvas')"
                           ".getBoundingClientRect().right <= 1024")
    axes("explorer@1024")
    width("explorer@1024")
    page.select_option("#range", "3600")
    # A 63-character stream name leaves the message most of the row.
    page.goto(f"{base}/dashboard/#/logs?group={quote(long[1], safe='')}")
    page.locator('[data-testid="log-list"] .log-row').first.wait_for()
    width("logs@1024")
    out["longStream"] = page.eval_on_selector('[data-testid="log-list"] .log-row', LONG_ROW_JS)
    page.set_viewport_size({"width": 1440, "height": 1000})

    # Logs: a filter pattern shows exactly the matching lines.
    page.goto(f"{base}/dashboard/#/logs?group={quote('/aws/sagemaker/Endpoints/pipe', safe='')}")
    # This group's own streams (the previous page also listed streams).
    page.locator('[data-testid="log-streams"] a[data-stream$="/first"]').wait_for()
    page.wait_for_function("() => document.body.dataset.logsLoaded")

    def search(pattern: str) -> None:
        before = page.evaluate("() => document.body.dataset.logsLoaded || ''")
        page.fill('[data-testid="filter-pattern"]', pattern)
        page.click('[data-testid="filter-button"]')
        page.wait_for_function("""(b) => (document.body.dataset.logsLoaded || "") !== b
            || !document.querySelector('[data-testid="filter-error"]').hidden""", arg=before)

    def click_and_wait(selector: str) -> None:
        before = page.evaluate("() => document.body.dataset.logsLoaded || ''")
        page.click(selector)
        page.wait_for_function("(b) => (document.body.dataset.logsLoaded || '') !== b",
                               arg=before)

    lines = '[data-testid="log-list"] .m'
    out["logGroups"] = page.eval_on_selector_all('[data-testid="log-groups"] a', TEXTS)
    out["logStreams"] = page.eval_on_selector_all('[data-testid="log-streams"] a', TEXTS)
    search('"line 2"')
    out["filtered"] = page.eval_on_selector_all(lines, TEXTS)
    out["pipeStreamsShown"] = page.eval_on_selector_all('[data-testid="log-list"] .s', TEXTS)
    out["pipeStreamsCut"] = page.eval_on_selector_all(
        '[data-testid="log-list"] .s',
        "(els) => els.filter((e) => e.scrollWidth > e.clientWidth).length",
    )
    # Picking one stream narrows the same search to it.
    click_and_wait('[data-testid="log-streams"] a[data-stream$="/second"]')
    out["filteredOneStream"] = page.eval_on_selector_all(lines, TEXTS)
    click_and_wait('[data-testid="log-streams"] a[data-stream=""]')
    search("{ $.x = ")
    out["filterError"] = page.locator('[data-testid="filter-error"]').text_content()
    out["filterErrorRows"] = page.locator('[data-testid="log-list"] .log-row').count()

    # Live tail: a line printed after the page opened appears.
    search("")
    page.check('[data-testid="live-tail"]')
    page.wait_for_function("""() => /Live tail/.test(
        document.querySelector('[data-testid="log-status"]').textContent)""")
    sent = time.monotonic()
    request = urllib.request.Request(
        f"{base}/endpoints/pipe/invocations", method="POST",
        data=json.dumps({"instances": [[1]], "print": 5}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        out["tailInvokeStatus"] = response.status
    page.locator(lines, has_text="third: line 4").wait_for(timeout=20_000)
    out["tailMs"] = _ms(sent)
    out["tailed"] = [t for t in page.eval_on_selector_all(lines, TEXTS) if t.endswith("line 4")]
    page.screenshot(path=shots / "logs.png")
    page.uncheck('[data-testid="live-tail"]')

    # Untrusted log text: 10,000 lines of HTML render as text and no script runs.
    x0 = time.monotonic()
    page.goto(f"{base}/dashboard/#/logs?group={quote('/aws/sagemaker/Endpoints/xss', safe='')}")
    page.wait_for_function("""() => document.querySelectorAll(
        '[data-testid="log-list"] .log-row').length >= 10000""", timeout=30_000)
    flood: dict[str, Any] = {"ms": _ms(x0)}
    flood["rows"] = page.locator('[data-testid="log-list"] .log-row').count()
    flood["first"] = page.locator(lines).first.text_content()
    flood["injected"] = page.eval_on_selector_all(
        '[data-testid="log-list"] script, [data-testid="log-list"] img, '
        '[data-testid="log-list"] b', "(els) => els.length")
    flood["scrollMs"] = page.evaluate("""() => new Promise((resolve) => {
      const el = document.querySelector('[data-testid="log-list"]');
      const t = performance.now();
      el.scrollTop = el.scrollHeight;
      requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t)));
    })""")
    out["flood"] = flood
    out["xssFlag"] = page.evaluate("() => (window.__xss === undefined ? null : window.__xss)")
    page.screenshot(path=shots / "logs-untrusted.png")

    # Jobs: the page answers, with jobs or with a clear "no jobs".
    page.goto(f"{base}/dashboard/#/jobs")
    page.locator("main h1").wait_for()
    page.wait_for_function("""() => document.querySelector(
        '[data-testid="no-jobs"], [data-testid$="-jobs"], .error')""")
    out["jobs"] = {
        "noJobs": page.locator('[data-testid="no-jobs"]').count(),
        "tables": page.locator('[data-testid$="-jobs"]').count(),
        "errors": page.locator("main .error").all_text_contents(),
    }
    page.screenshot(path=shots / "jobs.png")

    # The jobs page against the jobs operations' shapes, and against a server without them
    # (answered by the test, so their failures are not counted).
    out["failedBeforeFakeJobs"] = list(out["failed"])
    _fake_jobs(page, base, out)
    out["xssFlagEnd"] = page.evaluate("() => (window.__xss === undefined ? null : window.__xss)")


def _fake_jobs(page: Any, base: str, out: dict[str, Any]) -> None:
    now = time.time()
    mode = {"jobs": "fake"}

    def answer(route: Any, status: int, body: dict[str, Any]) -> None:
        route.fulfill(status=status, content_type="application/x-amz-json-1.1",
                      body=json.dumps(body))

    def handle(route: Any) -> None:
        target = route.request.headers.get("x-amz-target", "")
        if "TrainingJob" not in target and "TransformJob" not in target:
            route.continue_()
        elif mode["jobs"] == "missing":
            answer(route, 400, {"__type": "UnknownOperationException",
                                "message": f"Unknown operation {target}"})
        elif target == "SageMaker.ListTrainingJobs":
            answer(route, 200, {"TrainingJobSummaries": [{
                "TrainingJobName": "train-1", "TrainingJobStatus": "InProgress",
                "CreationTime": now - 120}]})
        elif target == "SageMaker.ListTransformJobs":
            answer(route, 200, {"TransformJobSummaries": []})
        elif target == "SageMaker.DescribeTrainingJob":
            answer(route, 200, {
                "TrainingJobName": "train-1", "TrainingJobStatus": "InProgress",
                "SecondaryStatus": "Training", "CreationTime": now - 120,
                "TrainingStartTime": now - 100, "ResourceConfig": {"InstanceCount": 2},
                "SecondaryStatusTransitions": [
                    {"Status": "Starting", "StartTime": now - 120,
                     "StatusMessage": "Preparing the instances"},
                    {"Status": "Training", "StartTime": now - 100,
                     "StatusMessage": "Training image download completed. Training in progress."},
                ],
                "FinalMetricDataList": [{"MetricName": "validation:accuracy", "Value": 0.9375}],
            })
        else:
            route.continue_()

    page.route(f"{base}/", handle)
    page.goto(f"{base}/dashboard/#/endpoints")
    page.goto(f"{base}/dashboard/#/jobs")
    page.locator('[data-testid="training-jobs"] a').wait_for()
    out["fakeJobs"] = page.eval_on_selector_all(
        '[data-testid="training-jobs"] tbody tr',
        """(rows) => rows.map((r) => [...r.querySelectorAll("td")].slice(0, 2)
            .map((td) => td.textContent))""")
    page.click('[data-testid="training-jobs"] a')
    page.locator("dl.facts").wait_for()
    out["fakeJob"] = page.eval_on_selector_all("dl.facts dt, dl.facts dd", TEXTS)
    out["fakeJobSteps"] = page.eval_on_selector_all("ol.steps li b", TEXTS)
    mode["jobs"] = "missing"
    page.goto(f"{base}/dashboard/#/endpoints")
    page.goto(f"{base}/dashboard/#/jobs")
    page.locator('[data-testid="no-jobs"]').wait_for()
    out["missingJobs"] = page.locator('[data-testid="no-jobs"]').text_content()
    page.unroute(f"{base}/")
