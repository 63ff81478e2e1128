// Drives Debian's Chromium through the dashboard with playwright-core and prints what it saw as
// one JSON line; tests/dashboard/test_dashboard.py starts the server, makes the traffic and
// asserts on that JSON. Usage: node dashboard.cjs <tandem url> <screenshot dir>
"use strict";

const path = require("node:path");
const { chromium } = require(path.join(__dirname, "..", "..", "frontend", "node_modules", "playwright-core"));

const [base, shots] = process.argv.slice(2);
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

let lastPage = null;
let lastOut = null;

async function main() {
  const out = { errors: [], requests: [] };
  lastOut = out;
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: FLAGS, headless: true });
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    // Auto-refresh off, so what a test reads is not swapped under it.
    await context.addInitScript(() => {
      localStorage.setItem("tandem.dashboard", JSON.stringify({ range: 3600, refresh: 0 }));
    });
    const page = await context.newPage();
    lastPage = page;
    page.on("pageerror", (e) => out.errors.push(`pageerror: ${e.message}`));
    // Failed API calls are reported by status below; Chromium also logs each one to the console.
    page.on("console", (m) => {
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) out.errors.push(`console: ${m.text()}`);
    });
    out.failed = [];
    page.on("response", (r) => {
      if (r.status() >= 400) out.failed.push(`${r.status()} ${r.request().headers()["x-amz-target"] || r.url()}`);
    });
    page.on("request", (r) => {
      const u = new URL(r.url());
      if (u.origin !== new URL(base).origin) out.requests.push(r.url());
    });

    // The root redirects to the dashboard; the endpoints list.
    await page.goto(`${base}/`);
    out.landed = page.url();
    const row = page.locator('tr[data-endpoint="pipe"]');
    await row.waitFor();
    out.endpointsList = {
      status: await row.locator(".status").textContent(),
      invocations: Number(await row.locator("td[data-invocations]").getAttribute("data-invocations")),
    };
    await page.screenshot({ path: path.join(shots, "endpoints.png") });

    // The endpoint page: a chart per metric, the breakdown in pipeline order.
    await page.goto(`${base}/dashboard/#/endpoints/pipe`);
    await page.locator('figure[data-chart="DiskUtilization"]').waitFor();
    out.charts = await page.$$eval("figure.chart", (figs) => figs.map((f) => ({
      chart: f.dataset.chart, series: JSON.parse(f.dataset.series || "[]"),
      canvas: !!f.querySelector("canvas"),
    })));
    out.breakdown = await page.$$eval('[data-testid="container-breakdown"] .container-name', (els) => els.map((e) => e.textContent));
    await page.screenshot({ path: path.join(shots, "endpoint.png"), fullPage: true });

    // Auto-refresh redraws the page on its own (then off again, so later reads stay still).
    const loaded = await page.evaluate(() => document.body.dataset.loaded);
    await page.selectOption("#refresh", "5");
    const r0 = Date.now();
    await page.waitForFunction((l) => document.body.dataset.loaded !== l, loaded, { timeout: 15000 });
    out.autoRefreshMs = Date.now() - r0;
    await page.selectOption("#refresh", "0");

    // The range picker re-queries the page: seven days are charted at a 7-minute period.
    await page.selectOption("#range", "604800");
    await page.locator("main p.muted", { hasText: "Period 420 s" }).waitFor();
    out.weekPeriodNote = await page.locator("main p.muted").first().textContent();

    // Seven days of one-minute points in the metrics explorer.
    const t0 = Date.now();
    await page.goto(`${base}/dashboard/#/metrics?namespace=Bench%2FDashboard&metric=Load&dims=%5B%5D&stat=Average&period=60`);
    await page.locator('figure[data-chart="Load"] canvas').waitFor();
    out.weekChart = {
      ms: Date.now() - t0,
      series: JSON.parse(await page.locator('figure[data-chart="Load"]').getAttribute("data-series")),
    };
    // Responsive: a hover over the 10,080-point chart is handled within a frame or two.
    const box = await page.locator('figure[data-chart="Load"] .u-over').boundingBox();
    const h0 = Date.now();
    for (let i = 0; i < 20; i++) await page.mouse.move(box.x + (box.width * i) / 20, box.y + box.height / 2);
    out.weekChart.hover20ms = Date.now() - h0;
    out.boto3 = await page.locator('[data-testid="boto3"]').textContent();
    out.awscli = await page.locator('[data-testid="awscli"]').textContent();
    await page.screenshot({ path: path.join(shots, "metrics.png"), fullPage: true });
    await page.selectOption("#range", "3600");

    // Logs: a filter pattern shows exactly the matching lines.
    await page.goto(`${base}/dashboard/#/logs?group=${encodeURIComponent("/aws/sagemaker/Endpoints/pipe")}`);
    await page.locator('[data-testid="log-streams"] a').first().waitFor();
    const search = async (pattern) => {
      const before = await page.evaluate(() => document.body.dataset.logsLoaded || "");
      await page.fill('[data-testid="filter-pattern"]', pattern);
      await page.click('[data-testid="filter-button"]');
      await page.waitForFunction(([b]) => (document.body.dataset.logsLoaded || "") !== b
        || !document.querySelector('[data-testid="filter-error"]').hidden, [before]);
    };
    out.logGroups = await page.$$eval('[data-testid="log-groups"] a', (els) => els.map((e) => e.textContent));
    out.logStreams = await page.$$eval('[data-testid="log-streams"] a', (els) => els.map((e) => e.textContent));
    await search('"line 2"');
    out.filtered = await page.$$eval('[data-testid="log-list"] .m', (els) => els.map((e) => e.textContent));
    // Picking one stream narrows the same search to it.
    const clickAndWait = async (selector) => {
      const before = await page.evaluate(() => document.body.dataset.logsLoaded || "");
      await page.click(selector);
      await page.waitForFunction(([b]) => (document.body.dataset.logsLoaded || "") !== b, [before]);
    };
    await clickAndWait('[data-testid="log-streams"] a[data-stream$="/second"]');
    out.filteredOneStream = await page.$$eval('[data-testid="log-list"] .m', (els) => els.map((e) => e.textContent));
    await clickAndWait('[data-testid="log-streams"] a[data-stream=""]');
    await search("{ $.x = ");
    out.filterError = await page.locator('[data-testid="filter-error"]').textContent();
    out.filterErrorRows = await page.locator('[data-testid="log-list"] .log-row').count();

    // Live tail: a line printed after the page opened appears.
    await search("");
    await page.check('[data-testid="live-tail"]');
    await page.waitForFunction(() => /Live tail/.test(document.querySelector('[data-testid="log-status"]').textContent));
    const sent = Date.now();
    const resp = await fetch(`${base}/endpoints/pipe/invocations`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ instances: [[1]], print: 5 }),
    });
    out.tailInvokeStatus = resp.status;
    await page.locator('[data-testid="log-list"] .m', { hasText: "third: line 4" }).waitFor({ timeout: 20000 });
    out.tailMs = Date.now() - sent;
    out.tailed = await page.$$eval('[data-testid="log-list"] .m', (els) => els.map((e) => e.textContent)
      .filter((t) => /line 4$/.test(t)));
    await page.screenshot({ path: path.join(shots, "logs.png") });
    await page.uncheck('[data-testid="live-tail"]');

    // Untrusted log text: 10,000 lines of HTML render as text and no script runs.
    const x0 = Date.now();
    await page.goto(`${base}/dashboard/#/logs?group=${encodeURIComponent("/aws/sagemaker/Endpoints/xss")}`);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="log-list"] .log-row').length >= 10000,
      null, { timeout: 30000 });
    out.flood = { ms: Date.now() - x0 };
    out.flood.rows = await page.locator('[data-testid="log-list"] .log-row').count();
    out.flood.first = await page.locator('[data-testid="log-list"] .m').first().textContent();
    out.flood.injected = await page.$$eval('[data-testid="log-list"] script, [data-testid="log-list"] img, [data-testid="log-list"] b',
      (els) => els.length);
    out.flood.scrollMs = await page.evaluate(() => new Promise((resolve) => {
      const el = document.querySelector('[data-testid="log-list"]');
      const t = performance.now();
      el.scrollTop = el.scrollHeight;
      requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t)));
    }));
    out.xssFlag = await page.evaluate(() => (window.__xss === undefined ? null : window.__xss));
    await page.screenshot({ path: path.join(shots, "logs-untrusted.png") });

    // Jobs: the page answers, with jobs or with a clear "no jobs".
    await page.goto(`${base}/dashboard/#/jobs`);
    await page.locator("main h1").waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="no-jobs"], [data-testid$="-jobs"], .error'));
    out.jobs = {
      noJobs: await page.locator('[data-testid="no-jobs"]').count(),
      tables: await page.locator('[data-testid$="-jobs"]').count(),
      errors: await page.locator("main .error").allTextContents(),
    };
    await page.screenshot({ path: path.join(shots, "jobs.png") });

    // The jobs page against the jobs operations' shapes, and against a server without them
    // (answered by the test, so their failures are not counted).
    out.failedBeforeFakeJobs = [...out.failed];
    const now = Date.now() / 1000;
    let jobsMode = "fake";
    await page.route(`${base}/`, async (route) => {
      const target = route.request().headers()["x-amz-target"] || "";
      const answer = (status, body) => route.fulfill({ status, contentType: "application/x-amz-json-1.1", body: JSON.stringify(body) });
      if (!/TrainingJob|TransformJob/.test(target)) return route.continue();
      if (jobsMode === "missing") return answer(400, { __type: "UnknownOperationException", message: `Unknown operation ${target}` });
      if (target === "SageMaker.ListTrainingJobs") {
        return answer(200, { TrainingJobSummaries: [{ TrainingJobName: "train-1", TrainingJobStatus: "InProgress", CreationTime: now - 120 }] });
      }
      if (target === "SageMaker.ListTransformJobs") return answer(200, { TransformJobSummaries: [] });
      if (target === "SageMaker.DescribeTrainingJob") {
        return answer(200, { TrainingJobName: "train-1", TrainingJobStatus: "InProgress", SecondaryStatus: "Training",
          CreationTime: now - 120, TrainingStartTime: now - 100, ResourceConfig: { InstanceCount: 2 },
          SecondaryStatusTransitions: [
            { Status: "Starting", StartTime: now - 120, StatusMessage: "Preparing the instances" },
            { Status: "Training", StartTime: now - 100, StatusMessage: "Training image download completed. Training in progress." }],
          FinalMetricDataList: [{ MetricName: "validation:accuracy", Value: 0.9375 }] });
      }
      return route.continue();
    });
    await page.goto(`${base}/dashboard/#/endpoints`);
    await page.goto(`${base}/dashboard/#/jobs`);
    await page.locator('[data-testid="training-jobs"] a').waitFor();
    out.fakeJobs = await page.$$eval('[data-testid="training-jobs"] tbody tr', (rows) => rows.map((r) =>
      [...r.querySelectorAll("td")].slice(0, 2).map((td) => td.textContent)));
    await page.click('[data-testid="training-jobs"] a');
    await page.locator("dl.facts").waitFor();
    out.fakeJob = await page.$$eval("dl.facts dt, dl.facts dd", (els) => els.map((e) => e.textContent));
    out.fakeJobSteps = await page.$$eval("ol.steps li b", (els) => els.map((e) => e.textContent));
    jobsMode = "missing";
    await page.goto(`${base}/dashboard/#/endpoints`);
    await page.goto(`${base}/dashboard/#/jobs`);
    await page.locator('[data-testid="no-jobs"]').waitFor();
    out.missingJobs = await page.locator('[data-testid="no-jobs"]').textContent();
    await page.unroute(`${base}/`);
    out.xssFlagEnd = await page.evaluate(() => (window.__xss === undefined ? null : window.__xss));
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch(async (err) => {
  // What the page showed when a step failed, to tell a slow server from a page that went wrong.
  let seen = "";
  try {
    if (lastPage) {
      seen = `\nurl: ${lastPage.url()}\npage: ${(await lastPage.locator("#page").innerText()).slice(0, 600)}`;
    }
  } catch (e) {
    seen = `\n(the page could not be read: ${e.message})`;
  }
  const what = lastOut ? `\nerrors: ${JSON.stringify(lastOut.errors)}\nfailed: ${JSON.stringify(lastOut.failed)}` : "";
  process.stderr.write(String(err && err.stack || err) + seen + what + "\n");
  process.exit(1);
});
