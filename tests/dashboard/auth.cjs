// The dashboard against a server started with --auth-file: node auth.cjs <url> <key id> <secret>
"use strict";

const path = require("node:path");
const { chromium } = require(path.join(__dirname, "..", "..", "frontend", "node_modules", "playwright-core"));

const [base, keyId, secret] = process.argv.slice(2);
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

(async () => {
  const out = { errors: [] };
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: FLAGS, headless: true });
  try {
    const page = await (await browser.newContext()).newPage();
    page.on("pageerror", (e) => out.errors.push(e.message));
    await page.goto(`${base}/dashboard/#/endpoints`);
    const form = page.locator('[data-testid="signin"]');
    await form.waitFor();
    out.first = await page.locator('[data-testid="signin-error"]').textContent();
    await page.fill('input[name="accessKeyId"]', keyId);
    await page.fill('input[name="secretAccessKey"]', "not-the-secret");
    await page.click('[data-testid="signin"] button[type="submit"]');
    await page.locator('[data-testid="signin-error"]', { hasText: "InvalidSignature" }).waitFor();
    out.wrong = await page.locator('[data-testid="signin-error"]').textContent();
    await page.fill('input[name="secretAccessKey"]', secret);
    await page.click('[data-testid="signin"] button[type="submit"]');
    await page.locator('tr[data-endpoint="signed"]').waitFor();
    out.endpoints = await page.$$eval("tr[data-endpoint]", (rows) => rows.map((r) => r.dataset.endpoint));
    out.formHidden = await page.locator("#signin").isHidden();
    out.stored = await page.evaluate(() => JSON.parse(sessionStorage.getItem("tandem.credentials")).accessKeyId);
    await page.goto(`${base}/dashboard/#/logs`);
    await page.locator('[data-testid="log-groups"] a').first().waitFor();
    out.groups = await page.$$eval('[data-testid="log-groups"] a', (els) => els.map((e) => e.textContent));
    await page.click("#signout");
    await form.waitFor();
    out.afterSignOut = await page.evaluate(() => sessionStorage.getItem("tandem.credentials"));
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + "\n");
})().catch((err) => { process.stderr.write(String(err && err.stack || err) + "\n"); process.exit(1); });
