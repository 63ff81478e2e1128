// A log event list that stays responsive with tens of thousands of lines: rows are appended in
// batches through a DocumentFragment, the list keeps at most `max` rows (dropping the oldest),
// and off-screen rows skip layout (CSS content-visibility). Messages are untrusted: textContent.

import { h, fmtTime } from "./dom.js";

export class LogView {
  constructor({ max = 10000, showStream = true } = {}) {
    this.max = max;
    this.group = "";  // the log group shown: trace links carry it back
    this.showStream = showStream;
    this.count = 0;
    this.el = h("div", { class: "log-list", "data-testid": "log-list", role: "log" });
  }

  clear() {
    this.el.replaceChildren();
    this.count = 0;
  }

  /** Append events [{timestamp, message, logStreamName, eventId}] in order. */
  append(events) {
    if (!events.length) return;
    const stick = this.el.scrollHeight - this.el.scrollTop - this.el.clientHeight < 40;
    const start = Math.max(0, events.length - this.max);
    const frag = document.createDocumentFragment();
    for (let i = start; i < events.length; i++) frag.append(this.row(events[i]));
    this.el.append(frag);
    this.count += events.length - start;
    while (this.count > this.max) {
      this.el.firstChild.remove();
      this.count--;
    }
    if (stick) this.el.scrollTop = this.el.scrollHeight;
  }

  row(e) {
    const row = document.createElement("div");
    row.className = "log-row";
    if (e.eventId) row.dataset.eventId = e.eventId;
    const time = document.createElement("span");
    time.className = "t";
    time.textContent = fmtTime(e.timestamp);
    row.append(time);
    if (this.showStream && e.logStreamName) {
      const stream = document.createElement("span");
      stream.className = "s";
      // A name too long for its column is cut at its start (CSS): its end, the instance and
      // container, tells streams apart. The whole name is the tooltip.
      stream.title = e.logStreamName;
      const name = document.createElement("span");
      name.textContent = e.logStreamName;
      stream.append(name);
      row.append(stream);
    }
    const msg = document.createElement("span");
    msg.className = "m";
    appendMessage(msg, e.message, this.group);
    row.append(msg);
    return row;
  }

  messages() {
    return [...this.el.querySelectorAll(".m")].map((m) => m.textContent);
  }
}

// A trace id in a line: the handler runtime's `trace_id=<32 hex>` suffix, or a ModelError's
// "Trace ID: <32 hex>".
const TRACE_ID = /(?:trace_id=|Trace ID: )([0-9a-f]{32})(?![0-9a-f])/;

/** The message as text nodes, its trace id (if any) as a link to the trace's page. */
function appendMessage(el, message, group) {
  const m = TRACE_ID.exec(message);
  if (!m) {
    el.textContent = message;
    return;
  }
  const at = m.index + m[0].length - 32;
  const params = group ? `?${new URLSearchParams({ group })}` : "";
  const link = h("a", { href: `#/traces/${m[1]}${params}`, class: "trace-link", "data-testid": "trace-link",
    title: "This request's hops and timings", text: m[1] });
  el.append(message.slice(0, at), link, message.slice(at + 32));
}

export function emptyNote(text) {
  return h("div", { class: "muted", text });
}
