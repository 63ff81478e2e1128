// The dashboard shell: hash routes, the global time range and auto-refresh.

import { h, clear, errorBox } from "./dom.js";
import { credentials, setCredentials } from "./api.js";
import { RANGES, REFRESH } from "./time.js";
import { destroyCharts } from "./chart.js";
import * as endpoints from "./pages/endpoints.js";
import * as endpoint from "./pages/endpoint.js";
import * as metrics from "./pages/metrics.js";
import * as logsPage from "./pages/logs.js";
import * as jobs from "./pages/jobs.js";
import * as trace from "./pages/trace.js";

const ROUTES = [
  [/^\/endpoints\/([^/]+)$/, endpoint, "endpoints"],
  [/^\/endpoints\/?$/, endpoints, "endpoints"],
  [/^\/metrics\/?$/, metrics, "metrics"],
  [/^\/logs\/?$/, logsPage, "logs"],
  [/^\/jobs(?:\/([^/]+)\/([^/]+))?\/?$/, jobs, "jobs"],
  [/^\/traces\/([0-9a-f]{32})$/, trace, "logs"],
];

const state = { range: 3600, refresh: 30, current: null, timer: null };
const root = document.getElementById("page");

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/endpoints";
  const [path, query = ""] = raw.split("?");
  return { path, query: new URLSearchParams(query) };
}

let routeGeneration = 0;

async function route() {
  const mine = ++routeGeneration;
  document.getElementById("signout").hidden = !credentials();
  const { path, query } = parseHash();
  if (state.current && state.current.unmount) state.current.unmount();
  state.current = null;
  destroyCharts(root);
  clear(root);
  const match = ROUTES.map(([re, mod, nav]) => [path.match(re), mod, nav]).find(([m]) => m);
  if (!match) {
    root.append(errorBox(new Error(`No page at ${path}.`)));
    return;
  }
  const [m, mod, nav] = match;
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === nav);
  const ctx = {
    params: m.slice(1).map((p) => (p === undefined ? p : decodeURIComponent(p))),
    query,
    get range() { return state.range; },
  };
  try {
    const page = (await mod.mount(root, ctx)) || {};
    // Another route may have started while this page loaded: then this one is already gone.
    if (mine !== routeGeneration) {
      if (page.unmount) page.unmount();
      return;
    }
    state.current = page;
  } catch (err) {
    if (mine === routeGeneration) root.append(errorBox(err));
  }
}

async function refresh() {
  if (state.current && state.current.refresh) {
    try {
      await state.current.refresh();
    } catch (err) {
      console.error(err);
    }
  }
}

function schedule() {
  clearInterval(state.timer);
  if (state.refresh > 0) state.timer = setInterval(refresh, state.refresh * 1000);
}

function controls() {
  const saved = JSON.parse(localStorage.getItem("tandem.dashboard") || "{}");
  if (RANGES.some(([v]) => v === saved.range)) state.range = saved.range;
  if (REFRESH.some(([v]) => v === saved.refresh)) state.refresh = saved.refresh;
  const save = () => localStorage.setItem("tandem.dashboard",
    JSON.stringify({ range: state.range, refresh: state.refresh }));
  const range = document.getElementById("range");
  for (const [v, label] of RANGES) range.append(h("option", { value: v, text: label, selected: v === state.range }));
  range.addEventListener("change", () => { state.range = Number(range.value); save(); refresh(); });
  const every = document.getElementById("refresh");
  for (const [v, label] of REFRESH) every.append(h("option", { value: v, text: label, selected: v === state.refresh }));
  every.addEventListener("change", () => { state.refresh = Number(every.value); save(); schedule(); });
  document.getElementById("reload").addEventListener("click", refresh);
}

/** The sign-in form, shown when the server wants signed requests (tandem serve --auth-file). */
function signIn() {
  const box = document.getElementById("signin");
  window.addEventListener("tandem:auth", (event) => {
    if (!box.hidden) return;
    const err = event.detail;
    const keyId = h("input", { name: "accessKeyId", autocomplete: "username", required: true, size: 24,
      value: (credentials() || {}).accessKeyId || "" });
    const secret = h("input", { name: "secretAccessKey", type: "password", autocomplete: "current-password", required: true, size: 44 });
    clear(box).append(h("form", { class: "signin", "data-testid": "signin",
      onsubmit: (e) => {
        e.preventDefault();
        setCredentials({ accessKeyId: keyId.value.trim(), secretAccessKey: secret.value });
        box.hidden = true;
        route();
      } },
    h("strong", { text: "This server wants signed requests." }),
    h("span", { class: "muted", text: " Enter an access key from its --auth-file; it is kept in this tab only." }),
    h("div", { class: "form-row" },
      h("label", {}, "Access key ID", keyId), h("label", {}, "Secret access key", secret),
      h("button", { type: "submit", text: "Sign in" })),
    h("div", { class: "error", "data-testid": "signin-error", text: err.message })));
    box.hidden = false;
  });
  const out = document.getElementById("signout");
  out.hidden = !credentials();
  out.addEventListener("click", () => { setCredentials(null); out.hidden = true; route(); });
  window.addEventListener("tandem:auth", () => { out.hidden = !credentials(); });
}

controls();
signIn();
schedule();
window.addEventListener("hashchange", route);
route();
