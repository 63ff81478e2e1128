// Screenshots of the main pages for docs/: node screenshots.cjs <tandem url> <out dir> <endpoint>
"use strict";

const path = require("node:path");
const { chromium } = require(path.join(__dirname, "..", "..", "frontend", "node_modules", "playwright-core"));

const [base, out, endpoint] = process.argv.slice(2);
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

(async () => {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: FLAGS, headless: true });
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 960 } });
    await context.addInitScript(() => {
      localStorage.setItem("tandem.dashboard", JSON.stringify({ range: 900, refresh: 0 }));
    });
    const page = await context.newPage();
    const shot = async (name, full = false) => page.screenshot({ path: path.join(out, `${name}.png`), fullPage: full });
    await page.goto(`${base}/dashboard/#/endpoints`);
    await page.locator(`tr[data-endpoint="${endpoint}"]`).waitFor();
    await shot("endpoints");
    await page.goto(`${base}/dashboard/#/endpoints/${endpoint}`);
    await page.locator('figure[data-chart="DiskUtilization"]').waitFor();
    await shot("endpoint", true);
    const dims = JSON.stringify([["EndpointName", endpoint], ["VariantName", "AllTraffic"]]);
    await page.goto(`${base}/dashboard/#/metrics?${new URLSearchParams({ namespace: "AWS/SageMaker",
      metric: "ModelLatency", dims, stat: "p99", period: "60" })}`);
    await page.locator('figure[data-chart="ModelLatency"]').waitFor();
    await shot("metrics", true);
    await page.goto(`${base}/dashboard/#/logs?${new URLSearchParams({ group: `/aws/sagemaker/Endpoints/${endpoint}`,
      pattern: "?error ?Traceback ?ERROR" })}`);
    await page.locator('[data-testid="log-list"] .log-row').first().waitFor();
    await shot("logs");
    await page.goto(`${base}/dashboard/#/jobs`);
    await page.locator("main h1").waitFor();
    await page.waitForTimeout(500);
    await shot("jobs");
  } finally {
    await browser.close();
  }
})().catch((err) => { console.error(err); process.exit(1); });
