// Page context shared by every studio script: the server-injected configuration and
// one auth client per page (ES modules are singletons, so all scripts share it).

import { createAuthClient } from "./client.js";
import { h } from "./dom.js";

function readConfig() {
  const node = document.getElementById("mastra-studio-config");
  try {
    return JSON.parse(node ? node.textContent : "{}");
  } catch {
    return {};
  }
}

export const config = readConfig();
export const client = createAuthClient({ apiPrefix: config.apiPrefix });

// Every full-page link is prefixed with the base path, never doubled.
export function link(slug = "") {
  const base = config.basePath || "/";
  return base + String(slug).replace(/^\/+/, "");
}

// Same rule as the server: only a same-origin relative path, else the studio root.
export function safeRedirect(target) {
  const fallback = link("");
  if (typeof target !== "string" || !target.startsWith("/") || target.startsWith("//")) return fallback;
  if (/[\\\u0000-\u001f\u007f]/.test(target)) return fallback;
  return target;
}

export function loginHref() {
  const here = window.location.pathname + window.location.search + window.location.hash;
  return `${link("login")}?redirect=${encodeURIComponent(here)}`;
}

// Per-page API error states (SPEC 11.3): 401 → session expired, 403 → permission denied.
export function renderErrorState(container, error, resource) {
  const status = error && error.status;
  let node;
  if (status === 401) {
    node = h("div", { class: "state", "data-state": "session-expired", role: "alert" },
      h("h2", { text: "Session expired" }),
      h("p", { text: "Your session has expired. Please log in again to continue." }),
      h("a", { class: "button", href: loginHref(), text: "Log in" }));
  } else if (status === 403) {
    node = h("div", { class: "state", "data-state": "permission-denied", role: "alert" },
      h("h2", { text: "Permission denied" }),
      h("p", { text: `You don't have permission to access ${resource}. Contact your administrator for access.` }));
  } else {
    return false;
  }
  container.replaceChildren(node);
  return true;
}
