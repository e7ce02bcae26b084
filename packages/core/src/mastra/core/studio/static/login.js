// Login / sign-up page (SPEC 11.2): every state is derived from /auth/capabilities.

import { $, h, hide, show } from "./dom.js";
import { client, config, link, safeRedirect } from "./studio.js";

const redirectTarget = safeRedirect(config.redirect);
let mode = config.mode === "signup" ? "signup" : "signin";
let login = null;

const els = {
  loading: $("[data-login-loading]"),
  card: $("[data-login-card]"),
  heading: $("[data-login-heading]"),
  description: $("[data-login-description]"),
  descriptionText: $("[data-login-description-text]"),
  body: $("[data-login-body]"),
  unconfigured: $("[data-login-unconfigured]"),
  failed: $("[data-login-failed]"),
  failedText: $("[data-login-failed-text]"),
  retry: $("[data-login-retry]"),
};

function keyIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const icon = document.createElementNS(ns, "svg");
  icon.setAttribute("viewBox", "0 0 24 24");
  icon.setAttribute("class", "icon");
  icon.setAttribute("width", "18");
  icon.setAttribute("height", "18");
  icon.setAttribute("aria-hidden", "true");
  for (const d of ["M14 10a4 4 0 1 0-3.9 4.9L9 16H7v2H5v2H3v-3l6.1-6.1A4 4 0 0 0 14 10z"]) {
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", "currentColor");
    path.setAttribute("stroke-width", "1.8");
    icon.append(path);
  }
  return icon;
}

function field(label, input) {
  return h("label", { class: "field" }, h("span", { class: "field-label", text: label }), input);
}

function signUpEnabled() {
  return login.type !== "sso" && login.signUpEnabled !== false;
}

function setPending(pending, labelButton, pendingLabel) {
  for (const button of els.body.querySelectorAll("button")) button.disabled = pending;
  for (const input of els.body.querySelectorAll("input")) input.readOnly = pending;
  if (labelButton) labelButton.textContent = pendingLabel;
}

function credentialsForm() {
  const signup = mode === "signup";
  const error = h("p", { class: "inline-error", role: "alert", "data-form-error": true, hidden: true });
  const submit = h("button", {
    type: "submit", class: "button button-block", "data-submit": true,
    text: signup ? "Create account" : "Sign in",
  });
  const name = h("input", { type: "text", name: "name", autocomplete: "name", placeholder: "Your name" });
  const email = h("input", {
    type: "email", name: "email", required: true, autocomplete: "email", placeholder: "you@example.com",
  });
  const password = h("input", {
    type: "password", name: "password", required: true,
    autocomplete: signup ? "new-password" : "current-password",
    placeholder: signup ? "Create a password" : "Enter your password",
  });
  const form = h("form", { class: "form", "data-credentials-form": true, novalidate: true },
    signup ? field("Name (optional)", name) : null,
    field("Email", email),
    field("Password", password),
    submit,
    error);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    hide(error);
    if (!email.value.trim() || !password.value) {
      show(error, "Enter your email and password.");
      (email.value.trim() ? password : email).focus();
      return;
    }
    setPending(true, submit, signup ? "Creating account..." : "Signing in...");
    try {
      if (signup) await client.signUp(email.value.trim(), password.value, name.value.trim() || undefined);
      else await client.signIn(email.value.trim(), password.value);
      window.location.assign(redirectTarget);
    } catch (err) {
      setPending(false, submit, signup ? "Create account" : "Sign in");
      show(error, err.message || (signup ? "Failed to create account" : "Invalid email or password"));
      password.value = "";
      password.focus();
    }
  });
  return form;
}

function ssoButton() {
  const sso = login.sso || {};
  const label = h("span", { text: sso.text || "Sign in" });
  const icon = typeof sso.icon === "string" && sso.icon.startsWith("/") && !sso.icon.startsWith("//")
    ? h("img", { src: sso.icon, alt: "", class: "sso-icon" })
    : keyIcon();
  const error = h("p", { class: "inline-error", role: "alert", hidden: true });
  const button = h("button", { type: "button", class: "button button-secondary button-block", "data-sso": true },
    icon, label);
  button.addEventListener("click", async () => {
    hide(error);
    setPending(true, label, "Redirecting...");
    try {
      // A failed callback came back with the same ?redirect, so a retry keeps the target.
      const url = await client.startSSO(redirectTarget);
      window.location.assign(url);
    } catch (err) {
      setPending(false, label, sso.text || "Sign in");
      show(error, err.message);
    }
  });
  return h("div", { class: "sso" }, button, error);
}

function toggleLine() {
  const signup = mode === "signup";
  const button = h("button", {
    type: "button", class: "link-button", "data-mode-toggle": true, text: signup ? "Sign in" : "Sign up",
  });
  button.addEventListener("click", () => {
    mode = signup ? "signin" : "signup";
    const params = new URLSearchParams(window.location.search);
    params.delete("mode");
    params.delete("error");
    params.delete("error_description");
    const query = params.toString();
    history.replaceState(null, "", link(mode === "signup" ? "signup" : "login") + (query ? `?${query}` : ""));
    render();
  });
  return h("p", { class: "auth-toggle" }, signup ? "Already have an account? " : "Don't have an account? ", button);
}

function render() {
  const hasCredentials = login.type === "credentials" || login.type === "both";
  const hasSSO = login.type === "sso" || login.type === "both";
  if (mode === "signup" && !signUpEnabled()) mode = "signin";
  const signup = mode === "signup";
  els.heading.textContent = signup ? "Create your account" : "Sign in to Mastra Studio";
  document.title = `${signup ? "Create your account" : "Sign in"} · Mastra Studio`;
  if (login.description) {
    els.descriptionText.textContent = login.description;
    show(els.description);
  } else {
    hide(els.description);
  }

  const parts = [];
  if (hasCredentials) parts.push(credentialsForm());
  if (hasCredentials && hasSSO) parts.push(h("div", { class: "divider", role: "separator" }, h("span", { text: "or continue with" })));
  if (hasSSO) parts.push(ssoButton());
  if (hasCredentials && signUpEnabled()) parts.push(toggleLine());
  if (hasCredentials && !signup && config.resetEnabled) {
    parts.push(h("p", { class: "auth-toggle" }, h("a", { href: link("forgot-password"), text: "Forgot your password?" })));
  }
  els.body.replaceChildren(...parts);
  hide(els.loading);
  show(els.card);
  const first = els.body.querySelector("input, button");
  if (first) first.focus();
}

async function load() {
  hide(els.failed);
  hide(els.card);
  show(els.loading);
  let caps;
  try {
    caps = await client.getCapabilities({ force: true });
  } catch (err) {
    hide(els.loading);
    show(els.failed);
    els.failedText.textContent = err.message;
    return;
  }
  if (!caps || !caps.enabled || !caps.login) {
    hide(els.loading);
    show(els.unconfigured);
    return;
  }
  if (caps.user) {
    window.location.replace(redirectTarget);
    return;
  }
  login = caps.login;
  render();
}

els.retry.addEventListener("click", load);
load();
