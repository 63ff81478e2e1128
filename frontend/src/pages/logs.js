// Logs: groups -> streams -> events, CloudWatch filter patterns (server errors shown inline),
// and a live tail that polls FilterLogEvents from the last event seen, deduplicating by eventId.

import { logs, paginate } from "../api.js";
import { h, clear, errorBox, fmtTime } from "../dom.js";
import { LogView } from "../logview.js";

const MAX_EVENTS = 10000;
const TAIL_INTERVAL_MS = 1000;

export async function mount(root, ctx) {
  const q = ctx.query;
  const state = { group: q.get("group") || "", stream: q.get("stream") || "", pattern: q.get("pattern") || "" };
  const groupsEl = h("ul", { class: "pick", "data-testid": "log-groups" });
  const streamsEl = h("ul", { class: "pick", "data-testid": "log-streams" });
  const patternEl = h("input", { type: "search", class: "pattern", placeholder: 'Filter pattern, e.g. "ERROR" or { $.level = "error" }',
    value: state.pattern, "data-testid": "filter-pattern", spellcheck: "false",
    onkeydown: (e) => { if (e.key === "Enter") search(); } });
  const tailBox = h("input", { type: "checkbox", "data-testid": "live-tail", onchange: (e) => (e.target.checked ? startTail() : stopTail()) });
  const errorEl = h("div", { class: "error", role: "alert", "data-testid": "filter-error", hidden: true });
  const statusEl = h("span", { class: "muted", "data-testid": "log-status" });
  const view = new LogView({ max: MAX_EVENTS });
  root.append(h("h1", { text: "Logs" }), h("div", { class: "logs-layout" },
    h("aside", {}, h("h3", { text: "Log groups" }), groupsEl, h("h3", { text: "Streams" }), streamsEl),
    h("section", { class: "logs-main" },
      h("div", { class: "form-row" }, patternEl,
        h("button", { type: "button", onclick: () => search(), "data-testid": "filter-button", text: "Search" }),
        h("label", { class: "inline" }, tailBox, " Live tail"), statusEl),
      errorEl, view.el)));

  let tail = null;
  let generation = 0;

  function syncHash() {
    const params = new URLSearchParams();
    for (const k of ["group", "stream", "pattern"]) if (state[k]) params.set(k, state[k]);
    // Only while the address is still this page's (see pages/metrics.js).
    if (location.hash.startsWith("#/logs")) {
      history.replaceState(null, "", `#/logs${params.toString() ? `?${params}` : ""}`);
    }
  }

  function showError(err) {
    errorEl.hidden = !err;
    errorEl.textContent = err ? (err.message || String(err)) : "";
  }

  async function loadGroups() {
    const groups = await paginate(logs, "DescribeLogGroups", { limit: 50 }, "logGroups", "nextToken");
    if (!state.group && groups.length) state.group = groups[0].logGroupName;
    clear(groupsEl).append(...(groups.length ? groups.map((g) => h("li", {},
      h("a", { href: "#", class: g.logGroupName === state.group ? "active" : "", dataset: { group: g.logGroupName },
        text: g.logGroupName, onclick: (e) => { e.preventDefault(); pickGroup(g.logGroupName); } }))) :
      [h("li", { class: "muted", text: "No log groups yet." })]));
  }

  async function loadStreams() {
    clear(streamsEl);
    if (!state.group) return;
    const streams = (await logs("DescribeLogStreams", { logGroupName: state.group, orderBy: "LastEventTime",
      descending: true, limit: 50 })).logStreams || [];
    const item = (name, label) => h("li", {}, h("a", { href: "#", class: name === state.stream ? "active" : "",
      dataset: { stream: name }, text: label,
      onclick: (e) => { e.preventDefault(); state.stream = name; loadStreams(); search(); } }));
    streamsEl.append(item("", "All streams"), ...streams.map((s) => item(s.logStreamName, s.logStreamName)));
  }

  async function pickGroup(name) {
    state.group = name;
    state.stream = "";
    await loadGroups();
    await loadStreams();
    await search();
  }

  function request(extra) {
    const body = { logGroupName: state.group, filterPattern: state.pattern, limit: MAX_EVENTS, ...extra };
    if (state.stream) body.logStreamNames = [state.stream];
    return body;
  }

  async function fetchEvents(body, seen) {
    const events = [];
    let token;
    do {
      const resp = await logs("FilterLogEvents", token ? { ...body, nextToken: token } : body);
      for (const e of resp.events || []) {
        if (seen && seen.has(e.eventId)) continue;
        if (seen) seen.add(e.eventId);
        events.push(e);
      }
      token = resp.nextToken;
    } while (token && events.length < MAX_EVENTS);
    return events;
  }

  async function search() {
    state.pattern = patternEl.value;  // as typed: error positions then match the box
    syncHash();
    const mine = ++generation;
    if (!state.group) return;
    statusEl.textContent = "Searching…";
    const startTime = Date.now() - ctx.range * 1000;
    view.group = state.group;
    try {
      const seen = new Set();
      const events = await fetchEvents(request({ startTime }), seen);
      if (mine !== generation) return;
      showError(null);
      view.clear();
      view.append(events);
      statusEl.textContent = `${events.length}${events.length >= MAX_EVENTS ? "+" : ""} events`;
      if (tail) tail.seen = seen;
      document.body.dataset.logsLoaded = String(mine);
    } catch (err) {
      if (mine !== generation) return;
      view.clear();
      showError(err);
      statusEl.textContent = "";
    }
  }

  function startTail() {
    stopTail();
    const me = { seen: new Set(), since: Date.now() - 10000, timer: null, stopped: false };
    for (const row of view.el.querySelectorAll(".log-row")) me.seen.add(row.dataset.eventId);
    tail = me;
    const tick = async () => {
      if (me.stopped) return;
      try {
        const events = await fetchEvents(request({ startTime: me.since }), me.seen);
        if (events.length) {
          events.sort((a, b) => a.timestamp - b.timestamp);
          view.append(events);
          // Events can land a little late; look back a few seconds and let eventIds dedupe.
          me.since = Math.max(me.since, events[events.length - 1].timestamp - 5000);
          if (me.seen.size > 5 * MAX_EVENTS) me.seen = new Set([...me.seen].slice(-MAX_EVENTS));
        }
        showError(null);
        statusEl.textContent = `Live tail · last poll ${fmtTime(Date.now()).slice(11, 19)}`;
      } catch (err) {
        showError(err);
      }
      if (!me.stopped) me.timer = setTimeout(tick, TAIL_INTERVAL_MS);
    };
    tick();
  }

  function stopTail() {
    if (tail) {
      tail.stopped = true;
      clearTimeout(tail.timer);
      tail = null;
    }
  }

  try {
    await loadGroups();
    await loadStreams();
    await search();
  } catch (err) {
    root.append(errorBox(err));
  }
  return {
    refresh: async () => { await loadGroups(); if (!tail) { await loadStreams(); await search(); } },
    unmount: stopTail,
  };
}
