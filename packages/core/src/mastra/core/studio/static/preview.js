// "Preview as role" (SPEC 11.3): an admin picks a role in the user menu and every page
// renders as that role would see it. Pages are rendered by the server, so the choice
// travels in a browser-session cookie on the studio path holding the role id only; the
// server honours it solely for admins and only to hide things. API requests are still
// authorized with the admin's own permissions: this is a UI preview, not a role switch.

import { $, h, hide, show } from "./dom.js";
import { client, config } from "./studio.js";

const settings = config.preview || {};

function write(value, extra = "") {
  if (!settings.cookie) return;
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `${settings.cookie}=${value}; Path=${config.basePath || "/"}; SameSite=Strict${secure}${extra}`;
}

function present() {
  return Boolean(settings.cookie) && document.cookie.split("; ").some((c) => c.startsWith(`${settings.cookie}=`));
}

export function clearPreview() {
  if (present()) write("", "; Max-Age=0");
}

async function choose(role, buttons, error) {
  hide(error);
  for (const button of buttons) button.disabled = true;
  try {
    // The admin-only route says whether this role can be resolved at all; the server
    // resolves the same role again for every page it renders.
    await client.rolePermissions(role.id);
  } catch (err) {
    show(error, err.message);
    for (const button of buttons) button.disabled = false;
    return;
  }
  write(encodeURIComponent(role.id));
  window.location.reload();
}

async function fillMenu() {
  const root = $("[data-preview-roles]");
  const error = $("[data-preview-error]");
  if (!root) return;
  let roles = [];
  try {
    const capabilities = await client.getCapabilities();
    roles = Array.isArray(capabilities.availableRoles) ? capabilities.availableRoles : [];
  } catch (err) {
    root.replaceChildren();
    show(error, err.message);
    return;
  }
  if (!roles.length) {
    root.replaceChildren(h("p", { class: "muted menu-note", text: "No roles to preview." }));
    return;
  }
  const buttons = roles.map((role) => h("button", {
    type: "button", class: "menu-item menu-item-role", "data-preview-role": role.id,
    "aria-pressed": String(role.id === settings.roleId), text: role.name || role.id,
  }));
  buttons.forEach((button, i) => button.addEventListener("click", () => choose(roles[i], buttons, error)));
  root.replaceChildren(...buttons);
}

export function setupPreview() {
  // A cookie the server did not honour (signed out, not an admin, role gone) is dropped.
  if (!settings.roleId) clearPreview();
  const exit = $("[data-preview-exit]");
  if (exit) {
    exit.addEventListener("click", () => {
      exit.disabled = true;
      clearPreview();
      window.location.reload();
    });
  }
  if (settings.available) fillMenu();
}
