// Events per hour, stacked by outcome, drawn as inline SVG (no chart library, no CDN).

import { svg } from "./dom.js";

const HOUR = 3_600_000;
const OUTCOMES = ["success", "failure", "denied"];
const WIDTH = 720;
const HEIGHT = 190;
const PAD = { top: 12, right: 8, bottom: 26, left: 34 };

function hourLabel(date) {
  const hours = date.getHours() % 12 || 12;
  return `${hours} ${date.getHours() < 12 ? "AM" : "PM"}`;
}

function dayLabel(date) {
  return date.toLocaleDateString(undefined, { month: "short", day: "2-digit" });
}

function niceMax(value) {
  if (value <= 4) return 4;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

// Buckets may be sparse: fill every hour of [start, end] so gaps show as zero.
export function hourlySeries(buckets, start, end) {
  const first = Math.floor(start.getTime() / HOUR) * HOUR;
  const last = Math.floor(end.getTime() / HOUR) * HOUR;
  const byHour = new Map();
  for (const bucket of buckets || []) {
    const t = Math.floor(new Date(bucket.start).getTime() / HOUR) * HOUR;
    if (!Number.isNaN(t)) byHour.set(t, bucket);
  }
  const series = [];
  for (let t = first; t <= last && series.length < 24 * 31 + 1; t += HOUR) {
    const b = byHour.get(t) || {};
    series.push({ start: new Date(t), success: b.success || 0, failure: b.failure || 0, denied: b.denied || 0 });
  }
  return series;
}

export function renderChart(container, series) {
  const total = series.reduce((sum, s) => sum + s.success + s.failure + s.denied, 0);
  const max = niceMax(Math.max(0, ...series.map((s) => s.success + s.failure + s.denied)));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(series.length, 1);
  const barW = Math.max(1, slot * 0.72);
  const y = (v) => PAD.top + plotH - (v / max) * plotH;
  const hours = series.length;
  const label = `Activity chart: ${total} event${total === 1 ? "" : "s"} over ${hours} hour${hours === 1 ? "" : "s"}`;

  const root = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "chart-svg", role: "img", "aria-label": label,
    preserveAspectRatio: "none", "data-total": total,
  });
  for (const fraction of [0, 0.5, 1]) {
    const value = Math.round(max * fraction);
    root.append(
      svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(value), y2: y(value), class: "chart-grid" }),
      svg("text", { x: PAD.left - 6, y: y(value) + 4, class: "chart-axis", "text-anchor": "end", text: String(value) }),
    );
  }
  const labelEvery = Math.max(1, Math.ceil(hours / 8));
  series.forEach((point, i) => {
    const x = PAD.left + i * slot + (slot - barW) / 2;
    const group = svg("g", { class: "chart-bar", "data-hour": point.start.toISOString() });
    group.append(svg("title", {
      text: `${dayLabel(point.start)} ${hourLabel(point.start)}: ${point.success} success, ${point.failure} failure, ${point.denied} denied`,
    }));
    let base = 0;
    for (const outcome of OUTCOMES) {
      const value = point[outcome];
      if (!value) continue;
      group.append(svg("rect", {
        x, width: barW, y: y(base + value), height: Math.max(0.5, y(base) - y(base + value)),
        class: `bar-${outcome}`, "data-outcome": outcome, "data-count": value,
      }));
      base += value;
    }
    root.append(group);
    if (i % labelEvery === 0) {
      root.append(svg("text", {
        x: x + barW / 2, y: HEIGHT - 8, class: "chart-axis", "text-anchor": "middle",
        text: point.start.getHours() === 0 || i === 0 ? dayLabel(point.start) : hourLabel(point.start),
      }));
    }
  });
  container.replaceChildren(root);
  return total;
}
