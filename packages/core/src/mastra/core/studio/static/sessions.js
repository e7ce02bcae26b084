// "Your sessions" page: list and revoke your own sessions (GET/DELETE /auth/sessions).

import { $, h, hide, show } from "./dom.js";
import { describeAgent, formatDateTime, utcTitle } from "./format.js";
import { client, link, renderErrorState } from "./studio.js";

const root = $("[data-sessions-root]");
const error = $("[data-sessions-error]");
const revokeOthers = $("[data-revoke-others]");

function time(iso) {
  return iso ? h("time", { datetime: iso, title: utcTitle(iso), text: formatDateTime(iso) }) : "-";
}

function fail(err) {
  if (!renderErrorState(root, err, "sessions")) show(error, err.message);
}

async function revoke(session, button) {
  button.disabled = true;
  button.textContent = "Revoking...";
  hide(error);
  try {
    await client.json(`/auth/sessions/${encodeURIComponent(session.handle)}`, { method: "DELETE" });
    if (session.current) {
      window.location.assign(link("login"));
      return;
    }
    await load();
  } catch (err) {
    button.disabled = false;
    button.textContent = "Revoke";
    fail(err);
  }
}

function row(session) {
  const button = h("button", {
    type: "button", class: "button button-small button-danger-outline", "data-revoke": session.handle,
    text: session.current ? "Sign out" : "Revoke",
    "aria-label": session.current ? "Sign out this session" : `Revoke session from ${describeAgent(session.userAgent)}`,
  });
  button.addEventListener("click", () => revoke(session, button));
  return h("tr", { "data-session": session.handle, class: session.current ? "is-current" : "" },
    h("td", {},
      h("span", { class: "session-device", text: describeAgent(session.userAgent) }),
      session.current ? h("span", { class: "badge badge-info", text: "This session" }) : null,
      h("span", { class: "session-ua muted", text: session.userAgent || "" })),
    h("td", { text: session.ip || "-" }),
    h("td", {}, time(session.createdAt)),
    h("td", {}, time(session.lastSeenAt)),
    h("td", {}, time(session.expiresAt)),
    h("td", { class: "cell-actions" }, button));
}

async function load() {
  let data;
  try {
    data = await client.json("/auth/sessions", { method: "GET" });
  } catch (err) {
    if (err.status === 404) {
      root.replaceChildren(h("div", { class: "empty-state" },
        h("h2", { text: "Session management not supported" }),
        h("p", { text: "The configured session provider cannot list sessions." })));
      hide(revokeOthers);
      return;
    }
    hide(revokeOthers);
    fail(err);
    return;
  }
  const sessions = (data && data.sessions) || [];
  revokeOthers.hidden = !sessions.some((s) => !s.current);
  const table = h("table", { class: "table", "data-sessions-table": true },
    h("caption", { class: "visually-hidden", text: "Your active sessions" }),
    h("thead", {}, h("tr", {}, ...["Device", "IP address", "Signed in", "Last active", "Expires", ""].map(
      (label) => h("th", { scope: "col" }, label || h("span", { class: "visually-hidden", text: "Actions" }))))),
    h("tbody", {}, ...sessions.map(row)));
  root.replaceChildren(sessions.length ? h("div", { class: "table-wrap" }, table)
    : h("p", { class: "muted", text: "No active sessions." }));
}

revokeOthers.addEventListener("click", async () => {
  revokeOthers.disabled = true;
  hide(error);
  try {
    await client.json("/auth/sessions", { method: "DELETE" });
    await load();
  } catch (err) {
    fail(err);
  } finally {
    revokeOthers.disabled = false;
  }
});

load();
