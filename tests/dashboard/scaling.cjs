// The endpoint page's autoscaling section in Debian's Chromium (playwright-core); prints what
// it saw as one JSON line. Usage: node scaling.cjs <tandem url> <endpoint name> [screenshot.png]
"use strict";

const path = require("node:path");
const { chromium } = require(path.join(__dirname, "..", "..", "frontend", "node_modules", "playwright-core"));

const [base, endpoint, shot] = process.argv.slice(2);
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

async function main() {
  const out = { errors: [] };
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: FLAGS, headless: true });
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    await context.addInitScript(() => {
      localStorage.setItem("tandem.dashboard", JSON.stringify({ range: 3600, refresh: 0 }));
    });
    const page = await context.newPage();
    page.on("pageerror", (e) => out.errors.push(`pageerror: ${e.message}`));
    await page.goto(`${base}/dashboard/#/endpoints/${endpoint}`);
    await page.locator('[data-testid="scaling-activities"]').waitFor({ timeout: 30000 });
    out.limits = await page.locator('[data-testid="scaling"] p.muted').first().textContent();
    out.marks = await page.$$eval('[data-testid="scaling-axis"] .scaling-mark', (els) => els.map((e) => ({
      status: e.dataset.status, left: parseFloat(e.style.left),
    })));
    out.rows = await page.$$eval('[data-testid="scaling-activities"] tbody tr', (rows) =>
      rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent)));
    if (shot) await page.locator('[data-testid="scaling"]').screenshot({ path: shot });
    out.injected = await page.evaluate(() => [window.__xss ?? null,
      document.querySelectorAll('[data-testid="scaling"] img, [data-testid="scaling"] script').length]);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
