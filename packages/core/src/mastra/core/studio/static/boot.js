// Loaded by every page: user menu, sign-out, role preview, responsive navigation, avatar fallback.

import { $, $$, hide, show } from "./dom.js";
import { clearPreview, setupPreview } from "./preview.js";
import { client } from "./studio.js";

function setupUserMenu() {
  const menu = $("[data-user-menu]");
  if (!menu) return;
  const trigger = $("[data-user-menu-trigger]", menu);
  const panel = $("[data-user-menu-panel]", menu);
  const close = (focusTrigger) => {
    panel.hidden = true;
    trigger.setAttribute("aria-expanded", "false");
    if (focusTrigger) trigger.focus();
  };
  trigger.addEventListener("click", () => {
    const opening = panel.hidden;
    panel.hidden = !opening;
    trigger.setAttribute("aria-expanded", String(opening));
    if (opening) {
      const first = panel.querySelector("a, button");
      if (first) first.focus();
    }
  });
  menu.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !panel.hidden) close(true);
  });
  document.addEventListener("click", (event) => {
    if (!panel.hidden && !menu.contains(event.target)) close(false);
  });
  // Rendered disabled: a click before this module has run would otherwise do nothing.
  trigger.disabled = false;

  const button = $("[data-sign-out]", menu);
  const label = $("[data-sign-out-label]", menu);
  const error = $("[data-sign-out-error]", menu);
  button.addEventListener("click", async () => {
    button.disabled = true;
    label.textContent = "Signing out...";
    hide(error);
    try {
      const result = await client.signOut();
      clearPreview(); // the next person to sign in here starts from their own view
      if (result && typeof result.redirectTo === "string" && result.redirectTo) {
        window.location.assign(result.redirectTo);
      } else {
        window.location.reload();
      }
    } catch (err) {
      show(error, err.message);
      button.disabled = false;
      label.textContent = "Sign out";
    }
  });
}

function setupAvatar() {
  // External avatars are blocked by the CSP (img-src 'self'); fall back to initials.
  for (const img of $$("[data-avatar]")) {
    const fail = () => img.remove();
    if (img.complete && img.naturalWidth === 0) fail();
    else img.addEventListener("error", fail, { once: true });
  }
}

function setupNavToggle() {
  const toggle = $("[data-nav-toggle]");
  const sidebar = $("[data-sidebar]");
  if (!toggle || !sidebar) return;
  toggle.addEventListener("click", () => {
    const open = !sidebar.classList.contains("is-open");
    sidebar.classList.toggle("is-open", open);
    toggle.setAttribute("aria-expanded", String(open));
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && sidebar.classList.contains("is-open")) {
      sidebar.classList.remove("is-open");
      toggle.setAttribute("aria-expanded", "false");
      toggle.focus();
    }
  });
  toggle.disabled = false; // rendered disabled until it works (see setupUserMenu)
}

setupUserMenu();
setupPreview();
setupAvatar();
setupNavToggle();
