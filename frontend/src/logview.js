// A log event list that stays responsive with tens of thousands of lines: rows are appended in
// batches through a DocumentFragment, the list keeps at most `max` rows (dropping the oldest),
// and off-screen rows skip layout (CSS content-visibility). Messages are untrusted: textContent.

import { h, fmtTime } from "./dom.js";

export class LogView {
  constructor({ max = 10000, showStream = true } = {}) {
    this.max = max;
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
    msg.textContent = e.message;
    row.append(msg);
    return row;
  }

  messages() {
    return [...this.el.querySelectorAll(".m")].map((m) => m.textContent);
  }
}

export function emptyNote(text) {
  return h("div", { class: "muted", text });
}
