// Audit log page (SPEC 11.4): filters, infinite scroll, auto-refresh, export, chart,
// event detail and the hash-chain verdict.

import { $, $$, h, hide, show } from "./dom.js";
import { formatEventTime, shortId, utcTitle } from "./format.js";
import { hourlySeries, renderChart } from "./chart.js";
import { loadStoredHeaders } from "./client.js";
import { client, link, renderErrorState } from "./studio.js";

const PER_PAGE = 25;
const REFRESH_MS = 5000;
const DAY = 86_400_000;

const root = $("[data-audit-root]");
const form = $("[data-filters]");
const rowsEl = $("[data-audit-rows]");
const footer = $("[data-audit-footer]");
const sentinel = $("[data-sentinel]");
const chartEl = $("[data-chart]");
const chainEl = $("[data-chain-status]");
const filterError = $("[data-filter-error]");
const exportError = $("[data-export-error]");
const dialog = $("[data-detail]");
const detailBody = $("[data-detail-body]");
const customAction = form.elements.actionCustom;

const state = { page: 0, hasMore: true, loading: false, events: [], generation: 0, filters: {}, stopped: false };

// -- filters -------------------------------------------------------------------------

function localDayBoundary(value, end) {
  if (!value) return null;
  const date = new Date(`${value}T${end ? "23:59:59.999" : "00:00:00.000"}`);
  return Number.isNaN(date.getTime()) ? null : date;
}

function readFilters() {
  const f = form.elements;
  const preset = f.actionPreset.value;
  customAction.hidden = preset !== "custom";
  const from = localDayBoundary(f.from.value, false);
  const to = localDayBoundary(f.to.value, true);
  f.to.min = f.from.value || "";
  f.from.max = f.to.value || "";
  if (from && to && from > to) {
    show(filterError, "The From date must be on or before the To date.");
    return null;
  }
  hide(filterError);
  const filters = {};
  if (f.actorType.value) filters.actorType = f.actorType.value;
  if (f.actorId.value.trim()) filters.actorId = f.actorId.value.trim();
  const prefix = preset === "custom" ? customAction.value.trim() : preset;
  if (prefix) filters.actionPrefix = prefix;
  if (f.outcome.value) filters.outcome = f.outcome.value;
  if (from) filters.startDate = from.toISOString();
  if (to) filters.endDate = to.toISOString();
  return filters;
}

function query(extra = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...state.filters, ...extra })) params.set(key, String(value));
  return params.toString();
}

function hasFilters() {
  return Object.keys(state.filters).length > 0;
}

function setFiltersDisabled(disabled) {
  // Reset stays usable, and the text boxes keep focus while a query runs.
  for (const control of form.querySelectorAll("select, input:not([type=search])")) {
    control.disabled = disabled;
  }
}

// -- table ---------------------------------------------------------------------------

function actorLabel(actor) {
  if (!actor) return "-";
  return actor.email || `${actor.type}:${shortId(actor.id)}`;
}

function resourceLabel(resource) {
  if (!resource) return "-";
  return `${resource.type}:${resource.name || shortId(resource.id)}`;
}

function outcomeBadge(outcome) {
  return h("span", { class: `badge badge-${outcome}`, text: outcome });
}

function eventRow(event) {
  const row = h("tr", {
    tabindex: "0", class: "clickable", "data-event-id": event.id, "data-action": event.action,
    "data-outcome": event.outcome, "aria-label": `${event.action} by ${actorLabel(event.actor)}, ${event.outcome}. Show details`,
  },
  h("td", {}, h("time", { datetime: event.timestamp, title: utcTitle(event.timestamp), text: formatEventTime(event.timestamp) })),
  h("td", { text: actorLabel(event.actor) }),
  h("td", {}, h("code", { text: event.action })),
  h("td", { text: resourceLabel(event.resource) }),
  h("td", {}, outcomeBadge(event.outcome)));
  row.addEventListener("click", () => openDetail(event.id));
  row.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      openDetail(event.id);
    }
  });
  return row;
}

function renderFooter(errorText) {
  footer.replaceChildren();
  if (errorText) {
    footer.append(h("p", { class: "inline-error", role: "alert", text: errorText }));
  } else if (state.loading && state.events.length) {
    footer.append(h("p", { class: "muted", text: "Loading more events..." }));
  } else if (state.loading) {
    footer.append(h("p", { class: "muted", text: "Loading events..." }));
  } else if (!state.events.length) {
    footer.append(h("p", { class: "empty-text", "data-empty": true,
      text: hasFilters() ? "No audit events found for applied filters" : "No audit events found yet" }));
  } else if (!state.hasMore) {
    footer.append(h("p", { class: "muted", "data-all-loaded": true, text: "All events loaded" }));
  }
}

function stop(error) {
  state.stopped = true;
  observer.disconnect();
  renderErrorState(root, error, "audit logs");
}

async function loadPage(reset, { quiet = false } = {}) {
  if (state.stopped) return;
  if (!reset && (state.loading || !state.hasMore)) return;
  const generation = reset ? ++state.generation : state.generation;
  const page = reset ? 0 : state.page + 1;
  state.loading = true;
  if (reset && !quiet) {
    setFiltersDisabled(true);
    rowsEl.replaceChildren();
    state.events = [];
  }
  renderFooter();
  try {
    const data = await client.json(`/audit?${query({ page, perPage: PER_PAGE })}`, { method: "GET" });
    if (generation !== state.generation) return; // a newer filter superseded this answer
    const events = data.events || [];
    state.page = page;
    state.hasMore = Boolean(data.pagination && data.pagination.hasMore);
    if (reset) {
      state.events = events;
      rowsEl.replaceChildren(...events.map(eventRow));
    } else {
      // Offset pages shift when new events arrive: skip rows already on screen.
      const shown = new Set(state.events.map((e) => e.id));
      const fresh = events.filter((e) => !shown.has(e.id));
      state.events.push(...fresh);
      rowsEl.append(...fresh.map(eventRow));
    }
    state.loading = false;
    renderFooter();
  } catch (err) {
    if (generation !== state.generation) return;
    state.loading = false;
    if (err.status === 401 || err.status === 403) stop(err);
    else renderFooter("Error loading audit logs");
  } finally {
    if (reset && !quiet) setFiltersDisabled(false);
  }
}

// -- chart and chain -----------------------------------------------------------------

async function loadChart() {
  const now = new Date();
  let end = state.filters.endDate ? new Date(state.filters.endDate) : now;
  if (end > now) end = now;
  const start = state.filters.startDate ? new Date(state.filters.startDate) : new Date(end.getTime() - DAY);
  try {
    const data = await client.json(`/audit/stats?${query({ bucket: "hour", startDate: start.toISOString(), endDate: end.toISOString() })}`, { method: "GET" });
    renderChart(chartEl, hourlySeries(data.buckets, start > end ? end : start, end));
  } catch (err) {
    if (err.status === 401 || err.status === 403) return stop(err);
    chartEl.replaceChildren(h("p", { class: "inline-error", text: "Could not load activity." }));
  }
}

async function loadChain() {
  chainEl.className = "chain-status";
  chainEl.textContent = "Checking the hash chain...";
  try {
    const response = await fetch(link("_studio/chain-status"), {
      credentials: "include", headers: { ...loadStoredHeaders(), Accept: "application/json" },
    });
    const data = await response.json();
    if (!response.ok) throw new Error(data.message || data.error || `status ${response.status}`);
    if (data.ok) {
      chainEl.classList.add("chain-ok");
      chainEl.textContent = data.count
        ? `Hash chain verified up to event ${data.lastSeq ?? data.count} (${data.count} events checked)`
        : "Hash chain verified (no events yet)";
    } else {
      chainEl.classList.add("chain-broken");
      chainEl.textContent = `Hash chain broken at event ${data.brokenSeq} (id ${data.brokenId}): ${data.reason}`;
    }
  } catch (err) {
    chainEl.classList.add("chain-unknown");
    chainEl.textContent = `Hash chain status unavailable: ${err.message}`;
  }
}

// -- detail --------------------------------------------------------------------------

function detailRow(label, value, mono = false) {
  const content = value instanceof Node ? value : h(mono ? "code" : "span", { text: value ?? "-" });
  return [h("dt", { text: label }), h("dd", {}, content)];
}

async function openDetail(id) {
  detailBody.replaceChildren(h("p", { class: "muted", text: "Loading event..." }));
  if (!dialog.open) dialog.showModal();
  try {
    const e = await client.json(`/audit/${encodeURIComponent(id)}`, { method: "GET" });
    const actor = e.actor || {};
    const resource = e.resource;
    detailBody.replaceChildren(h("dl", { class: "details", "data-event-detail": true },
      ...detailRow("Action", e.action, true),
      ...detailRow("Outcome", outcomeBadge(e.outcome)),
      ...detailRow("Time", `${new Date(e.timestamp).toLocaleString()} (${e.timestamp})`),
      ...detailRow("Sequence", String(e.seq)),
      ...detailRow("Event id", e.id, true),
      ...detailRow("Actor", `${actor.type}:${actor.id}${actor.email ? ` (${actor.email})` : ""}`),
      ...detailRow("IP address", actor.ip),
      ...detailRow("User agent", actor.userAgent),
      ...(actor.organizationId ? detailRow("Organization", actor.organizationId) : []),
      ...detailRow("Resource", resource ? `${resource.type}:${resource.id}${resource.name ? ` (${resource.name})` : ""}` : "-"),
      ...detailRow("Duration", e.duration !== undefined ? `${e.duration} ms` : "-"),
      ...detailRow("Metadata", h("pre", { class: "code-block", text: JSON.stringify(e.metadata || {}, null, 2) })),
      ...detailRow("Previous hash", e.prevHash, true),
      ...detailRow("Hash", e.hash, true)));
  } catch (err) {
    detailBody.replaceChildren(h("p", { class: "inline-error", role: "alert", text: err.message }));
  }
}

$("[data-detail-close]").addEventListener("click", () => dialog.close());
dialog.addEventListener("click", (event) => {
  if (event.target === dialog) dialog.close();
});

// -- export --------------------------------------------------------------------------

function filenameFrom(header, format) {
  const match = /filename="([^"]+)"/.exec(header || "");
  return match ? match[1] : `audit-export.${format}`;
}

for (const button of $$("[data-export]")) {
  const label = button.querySelector("span");
  const original = label.textContent;
  button.addEventListener("click", async () => {
    const format = button.dataset.export;
    hide(exportError);
    for (const b of $$("[data-export]")) b.disabled = true;
    label.textContent = "Exporting...";
    try {
      const response = await client.request(`/audit/export?${query({ format })}`, { method: "GET" });
      if (!response.ok) throw new Error(String(response.status));
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: filenameFrom(response.headers.get("Content-Disposition"), format), hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch {
      show(exportError, "Failed to export audit logs");
    } finally {
      for (const b of $$("[data-export]")) b.disabled = false;
      label.textContent = original;
    }
  });
}

// -- wiring --------------------------------------------------------------------------

function applyFilters() {
  const filters = readFilters();
  if (!filters) return;
  state.filters = filters;
  state.hasMore = true;
  loadPage(true);
  loadChart();
}

let typingTimer = null;
form.addEventListener("change", (event) => {
  // Text boxes apply through the debounced input handler; their blur-time change
  // event would otherwise fire a second, redundant query.
  if (event.target.type !== "search") applyFilters();
});
form.addEventListener("input", (event) => {
  if (event.target.type !== "search") return;
  clearTimeout(typingTimer);
  typingTimer = setTimeout(applyFilters, 350);
});
form.addEventListener("submit", (event) => {
  event.preventDefault();
  applyFilters();
});
form.addEventListener("reset", () => {
  // The reset event fires before the controls are cleared.
  setTimeout(() => {
    customAction.hidden = true;
    applyFilters();
  }, 0);
});

const observer = new IntersectionObserver((entries) => {
  if (entries.some((entry) => entry.isIntersecting) && state.events.length && state.hasMore && !state.loading) {
    loadPage(false);
  }
}, { rootMargin: "120px" });
observer.observe(sentinel);

function atTop() {
  return window.scrollY <= 2 && ($("[data-table-wrap]").scrollTop || 0) <= 2;
}

setInterval(() => {
  if (state.stopped || state.loading || dialog.open) return;
  if (document.visibilityState !== "visible" || !atTop()) return;
  loadPage(true, { quiet: true });
  loadChart();
}, REFRESH_MS);

state.filters = readFilters() || {};
loadPage(true);
loadChart();
loadChain();
