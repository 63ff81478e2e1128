// Builds the dashboard into tandem/api/dashboard/static/ (committed, so `pip install` and the
// tests need no node). A developer step: Node >= 18 (Debian 12's nodejs 18 will do) and
// `npm ci` here, then `npm run build` (or `node build.mjs --check` to fail when the committed
// output is stale).
import { mkdirSync, readFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const major = Number(process.versions.node.split(".")[0]);
if (major < 18) {
  console.error(`frontend/build.mjs needs Node >= 18 (esbuild's minimum); this is ${process.version}`);
  process.exit(2);
}
let build;
try {
  ({ build } = await import("esbuild"));
} catch (err) {
  console.error(`esbuild is not installed: run \`npm ci\` in frontend/ first (${err.message})`);
  process.exit(2);
}

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "tandem", "api", "dashboard", "static");
const check = process.argv.includes("--check");

const result = await build({
  entryPoints: { app: join(here, "src", "main.js"), "app-style": join(here, "src", "styles.css") },
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  legalComments: "eof",
  write: false,
  outdir: out,
  logLevel: "warning",
});

let stale = false;
mkdirSync(out, { recursive: true });
const files = result.outputFiles.map((f) => ({ path: f.path.replace("app-style.css", "app.css"), text: f.text }));
files.push({ path: join(out, "index.html"), text: readFileSync(join(here, "src", "index.html"), "utf8") });
for (const f of files) {
  const current = existsSync(f.path) ? readFileSync(f.path, "utf8") : null;
  if (current === f.text) continue;
  stale = true;
  if (!check) {
    const { writeFileSync } = await import("node:fs");
    writeFileSync(f.path, f.text);
    console.log("wrote", f.path);
  } else {
    console.error("stale:", f.path);
  }
}
if (check && stale) process.exit(1);
