// State timelines on a time axis: one row per thing (an alarm), coloured segments per state.
// Pure DOM: positions are percentages of the page's time range, so rows line up with the charts.

import { h, fmtTime } from "./dom.js";

/**
 * Segments [{start, end, state}] (seconds) from a state at the range's start and the changes
 * after it [{time, state}] (ascending), clipped to [rangeStart, rangeEnd].
 */
export function segments(initial, changes, rangeStart, rangeEnd) {
  const out = [];
  let state = initial;
  let from = rangeStart;
  for (const c of changes) {
    const at = Math.min(Math.max(c.time, rangeStart), rangeEnd);
    if (at > from && state) out.push({ start: from, end: at, state });
    state = c.state;
    from = Math.max(from, at);
  }
  if (rangeEnd > from && state) out.push({ start: from, end: rangeEnd, state });
  return out;
}

/** A block of rows [{label, title, segments}] over [start, end] (seconds). */
export function stateTimeline(range, rows, attrs = {}) {
  const [start, end] = range;
  const span = Math.max(1, end - start);
  const pct = (t) => `${(100 * (t - start)) / span}%`;
  return h("div", { class: "timeline", ...attrs },
    rows.map((row) => h("div", { class: "timeline-row", dataset: { name: row.label } },
      h("div", { class: "timeline-label", title: row.title || row.label, text: row.label }),
      h("div", { class: "timeline-track" },
        row.segments.map((s) => h("div", {
          class: `timeline-seg state-${String(s.state).toLowerCase()}`,
          style: `left:${pct(s.start)};width:${(100 * (s.end - s.start)) / span}%`,
          title: `${s.state} ${fmtTime(s.start * 1000)} – ${fmtTime(s.end * 1000)}`,
          dataset: { state: s.state },
        }))))),
    h("div", { class: "timeline-axis" },
      h("span", { text: fmtTime(start * 1000).slice(0, 16) }),
      h("span", { text: fmtTime(end * 1000).slice(0, 16) })));
}
