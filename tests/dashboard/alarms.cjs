// Opens an endpoint's page in Debian's Chromium (playwright-core) and prints what its alarm
// panel shows as one JSON line; tests/dashboard/test_alarm_panel.py asserts on it.
// Usage: node alarms.cjs <tandem url> <endpoint> <screenshot path>
"use strict";

const path = require("node:path");
const { chromium } = require(path.join(__dirname, "..", "..", "frontend", "node_modules", "playwright-core"));

const [base, endpoint, shot] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"] });
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1200 } });
    await context.addInitScript(() => {
      localStorage.setItem("tandem.dashboard", JSON.stringify({ range: 900, refresh: 0 }));
    });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${base}/#/endpoints/${endpoint}`);
    const panel = page.locator("[data-testid=endpoint-alarms]");
    await panel.waitFor({ timeout: 60000 });
    const rows = await panel.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => ({
      name: tr.dataset.alarm, cells: [...tr.cells].map((td) => td.textContent),
      badge: tr.querySelector(".status")?.className || "",
    })));
    const timeline = await panel.locator(".timeline-row").evaluateAll((els) => els.map((row) => ({
      name: row.dataset.name,
      segments: [...row.querySelectorAll(".timeline-seg")].map((s) => ({
        state: s.dataset.state, left: parseFloat(s.style.left), width: parseFloat(s.style.width) })),
    })));
    const injected = await page.evaluate(() => window.__xss || null);
    const boldInPanel = await panel.locator("b").count();
    await panel.screenshot({ path: shot });
    console.log(JSON.stringify({ rows, timeline, injected, boldInPanel, errors }));
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
