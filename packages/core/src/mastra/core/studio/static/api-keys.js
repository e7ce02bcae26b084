// "API keys" page (docs/api-keys.md): your own keys (GET/POST /auth/api-keys, rotate,
// revoke) and, for callers holding users:write, service accounts and their keys.
//
// A new key's secret is shown once, in the copy-once dialog, and lives nowhere else:
// not in a variable of this module, not in storage, not in a URL. Closing the dialog
// (Done, Escape) empties it, so the page never holds the key again.

import { $, h, hide, show } from "./dom.js";
import { formatDateTime, shortId, utcTitle } from "./format.js";
import { client, config, renderErrorState } from "./studio.js";
import { hasPermission } from "./permissions.js";

const OWN = "/auth/api-keys";
const ACCOUNTS = "/auth/service-accounts";
const settings = config.apiKeys || {};

const keysRoot = $("[data-keys-root]");
const keysError = $("[data-keys-error]");
const createButton = $("[data-create-key]");

const keyDialog = $("[data-key-dialog]");
const keyForm = $("[data-key-form]");
const keyOwner = $("[data-key-owner]");
const scopeList = $("[data-scope-list]");
const keyFormError = $("[data-key-form-error]");
const keySubmit = $("[data-key-submit]");

const secretDialog = $("[data-secret-dialog]");
const secretValue = $("[data-secret-value]");
const secretStatus = $("[data-secret-status]");

const confirmDialog = $("[data-confirm-dialog]");
const confirmError = $("[data-confirm-error]");
const confirmOk = $("[data-confirm-ok]");
const graceField = $("[data-grace-field]");
const grace = $("[data-grace]");

let patterns = null; // the permission vocabulary, fetched once
let keyTarget = null; // {base, label, reload} of the create-key dialog
let confirmAction = null;

// -- formatting -----------------------------------------------------------------------

function time(iso) {
  return iso ? h("time", { datetime: iso, title: utcTitle(iso), text: formatDateTime(iso) }) : "-";
}

function status(key, now = Date.now()) {
  if (key.revokedAt) return { label: "Revoked", kind: "failure", active: false };
  if (key.graceUntil) {
    return Date.parse(key.graceUntil) > now
      ? { label: "Rotated", kind: "denied", active: false, note: `valid until ${formatDateTime(key.graceUntil)}` }
      : { label: "Rotated", kind: "muted", active: false };
  }
  if (key.expiresAt && Date.parse(key.expiresAt) <= now) return { label: "Expired", kind: "muted", active: false };
  return { label: "Active", kind: "success", active: true };
}

function problem(err) {
  const issues = err && err.body && Array.isArray(err.body.issues) ? err.body.issues : [];
  const details = issues.map((i) => {
    if (typeof i === "string") return i;
    const where = i && Array.isArray(i.path) && i.path.length ? `${i.path.join(".")}: ` : "";
    return i && i.message ? where + i.message : null;
  }).filter(Boolean);
  return details.length ? `${err.message}: ${details.join("; ")}` : err.message;
}

// -- dialogs ----------------------------------------------------------------------------

for (const button of document.querySelectorAll("[data-dialog-cancel]")) {
  button.addEventListener("click", () => button.closest("dialog").close());
}

// Whatever closes the dialog (Done, Escape), the key leaves the page with it.
function forgetSecret() {
  secretValue.textContent = "";
  hide(secretStatus);
}
// "close" is dispatched after the dialog is gone, so Done and Escape ("cancel") empty it
// before it closes; "close" catches any other way out.
secretDialog.addEventListener("cancel", forgetSecret);
secretDialog.addEventListener("close", forgetSecret);
$("[data-secret-done]").addEventListener("click", () => {
  forgetSecret();
  secretDialog.close();
});
$("[data-secret-copy]").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(secretValue.textContent);
    show(secretStatus, "Copied to the clipboard.");
  } catch {
    const range = document.createRange();
    range.selectNodeContents(secretValue);
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(range);
    show(secretStatus, "Selected: press Ctrl+C (⌘C) to copy.");
  }
});

function showSecret(fullKey) {
  forgetSecret();
  secretValue.textContent = fullKey;
  secretDialog.showModal();
}

function confirm({ title, text, label, rotate = false, run }) {
  $("[data-confirm-title]").textContent = title;
  $("[data-confirm-text]").textContent = text;
  confirmOk.textContent = label;
  graceField.hidden = !rotate;
  grace.value = "0";
  hide(confirmError);
  confirmOk.disabled = false;
  confirmAction = run;
  confirmDialog.showModal();
}

confirmOk.addEventListener("click", async () => {
  if (!confirmAction) return;
  confirmOk.disabled = true;
  hide(confirmError);
  try {
    await confirmAction(Number.parseInt(grace.value, 10) || 0);
    confirmAction = null;
    confirmDialog.close();
  } catch (err) {
    show(confirmError, problem(err));
  } finally {
    confirmOk.disabled = false;
  }
});

// -- keys tables ------------------------------------------------------------------------

function keyRow(key, base, reload) {
  const state = status(key);
  const actions = [];
  if (state.active) {
    const rotate = h("button", { type: "button", class: "button button-small button-secondary", "data-rotate": key.id, text: "Rotate", "aria-label": `Rotate ${key.name}` });
    rotate.addEventListener("click", () => confirm({
      title: `Rotate "${key.name}"?`,
      text: "A new key with the same name, scopes and lifetime is issued and shown once. Choose how long the old key keeps working.",
      label: "Rotate key",
      rotate: true,
      run: async (gracePeriodSeconds) => {
        const created = await client.json(`${base}/${encodeURIComponent(key.id)}/rotate`, {
          method: "POST", body: JSON.stringify({ gracePeriodSeconds }),
        });
        await reload();
        showSecret(created.key);
      },
    }));
    actions.push(rotate);
  }
  if (!key.revokedAt) {
    const revoke = h("button", { type: "button", class: "button button-small button-danger-outline", "data-revoke": key.id, text: "Revoke", "aria-label": `Revoke ${key.name}` });
    revoke.addEventListener("click", () => confirm({
      title: `Revoke "${key.name}"?`,
      text: "Every request with this key is refused from now on. This cannot be undone.",
      label: "Revoke key",
      run: async () => {
        await client.json(`${base}/${encodeURIComponent(key.id)}`, { method: "DELETE" });
        await reload();
      },
    }));
    actions.push(revoke);
  }
  return h("tr", { "data-key": key.id },
    h("td", {}, h("span", { class: "key-name", text: key.name })),
    h("td", {}, h("code", { class: "key-prefix", text: key.prefix })),
    h("td", {}, h("ul", { class: "chips chips-mono", "aria-label": "Scopes" },
      ...(key.scopes || []).map((scope) => h("li", { class: "chip", text: scope })))),
    h("td", {}, time(key.createdAt)),
    h("td", {}, time(key.expiresAt)),
    h("td", {}, time(key.lastUsedAt), key.lastUsedIp ? h("span", { class: "key-ip muted", text: key.lastUsedIp }) : null),
    h("td", {}, h("span", { class: `badge badge-${state.kind}`, "data-status": state.label.toLowerCase(), text: state.label }),
      state.note ? h("span", { class: "key-ip muted", text: state.note }) : null),
    h("td", { class: "cell-actions" }, ...actions));
}

function keysTable(keys, caption, base, reload) {
  if (!keys.length) return h("p", { class: "muted empty-text", text: "No keys yet." });
  const headings = ["Name", "Key", "Scopes", "Created", "Expires", "Last used", "Status", ""];
  return h("div", { class: "table-wrap" }, h("table", { class: "table", "data-keys-table": true },
    h("caption", { class: "visually-hidden", text: caption }),
    h("thead", {}, h("tr", {}, ...headings.map(
      (label) => h("th", { scope: "col" }, label || h("span", { class: "visually-hidden", text: "Actions" }))))),
    h("tbody", {}, ...keys.map((key) => keyRow(key, base, reload)))));
}

function unavailable(container) {
  container.replaceChildren(h("div", { class: "empty-state", "data-state": "api-keys-not-configured" },
    h("h2", { text: "API keys not configured" }),
    h("p", { text: "This server has no API key provider configured." })));
}

async function loadOwnKeys() {
  hide(keysError);
  let data;
  try {
    data = await client.json(OWN, { method: "GET" });
  } catch (err) {
    if (err.status === 404) unavailable(keysRoot);
    else if (!renderErrorState(keysRoot, err, "API keys")) show(keysError, problem(err));
    createButton.disabled = true;
    return;
  }
  keysRoot.replaceChildren(keysTable((data && data.keys) || [], "Your API keys", OWN, loadOwnKeys));
  createButton.disabled = false;
}

// -- create a key -----------------------------------------------------------------------

async function vocabulary() {
  if (!patterns) {
    const data = await client.json("/auth/permission-patterns", { method: "GET" });
    patterns = Array.isArray(data && data.patterns) ? data.patterns : [];
  }
  return patterns;
}

// Only what the caller holds (SPEC 4.2; a "*" in a scope is literal, so a wildcard
// scope is offered only when a grant covers all of it). Without RBAC every caller may
// do everything, so every pattern is offered.
function offered(list) {
  return config.rbac ? list.filter((pattern) => hasPermission(config.permissions, pattern)) : list;
}

async function fillScopes() {
  let list;
  try {
    list = offered(await vocabulary());
  } catch (err) {
    scopeList.replaceChildren(h("p", { class: "inline-error", text: problem(err) }));
    return;
  }
  if (!list.length) {
    scopeList.replaceChildren(h("p", { class: "muted", text: "You hold no permission a key could carry." }));
    return;
  }
  scopeList.replaceChildren(...list.map((pattern) => h("label", { class: "scope-option" },
    h("input", { type: "checkbox", name: "scopes", value: pattern }), h("span", { text: pattern }))));
}

function openKeyDialog(target) {
  keyTarget = target;
  keyForm.reset();
  hide(keyFormError);
  keyOwner.textContent = target.label;
  keySubmit.disabled = false;
  keyDialog.showModal();
  fillScopes();
}

function keyBody(form) {
  const body = { name: form.elements.name.value.trim(), scopes: [] };
  for (const box of form.querySelectorAll('input[name="scopes"]:checked')) body.scopes.push(box.value);
  const days = form.elements.expiresInDays.value.trim();
  if (days) body.expiresInDays = Number(days);
  const cidrs = form.elements.ipAllowlist.value.split(/[\s,]+/).filter(Boolean);
  if (cidrs.length) body.ipAllowlist = cidrs;
  return body;
}

keyForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  hide(keyFormError);
  const body = keyBody(keyForm);
  if (!body.name) return show(keyFormError, "Give the key a name.");
  if (!body.scopes.length) return show(keyFormError, "Choose at least one scope.");
  if (body.expiresInDays !== undefined && !(Number.isInteger(body.expiresInDays) && body.expiresInDays > 0)) {
    return show(keyFormError, "Expiry must be a whole number of days.");
  }
  keySubmit.disabled = true;
  try {
    const created = await client.json(keyTarget.base, { method: "POST", body: JSON.stringify(body) });
    keyForm.reset();
    keyDialog.close();
    await keyTarget.reload();
    showSecret(created.key);
  } catch (err) {
    show(keyFormError, problem(err));
  } finally {
    keySubmit.disabled = false;
  }
});

createButton.addEventListener("click", () =>
  openKeyDialog({ base: OWN, label: "A personal key: it acts as you.", reload: loadOwnKeys }));

// -- service accounts (users:write) -----------------------------------------------------

function setupServiceAccounts() {
  const section = $("[data-service-accounts]");
  if (!section || !settings.serviceAccounts) return;
  const root = $("[data-accounts-root]");
  const error = $("[data-accounts-error]");
  const panel = $("[data-account-keys]");
  const panelRoot = $("[data-account-keys-root]");
  const panelError = $("[data-account-keys-error]");
  const dialog = $("[data-account-dialog]");
  const form = $("[data-account-form]");
  const formError = $("[data-account-form-error]");
  const roleList = $("[data-role-list]");
  const newAccount = $("[data-create-account]");
  let selected = null;

  async function loadAccountKeys() {
    if (!selected) return;
    hide(panelError);
    const base = `${ACCOUNTS}/${encodeURIComponent(selected.id)}/api-keys`;
    try {
      const data = await client.json(base, { method: "GET" });
      panelRoot.replaceChildren(keysTable((data && data.keys) || [], `Keys of ${selected.name}`, base,
        loadAccountKeys));
    } catch (err) {
      show(panelError, problem(err));
    }
  }

  function selectAccount(account) {
    selected = account;
    $("[data-account-keys-title]").textContent = `Keys of ${account.name}`;
    panel.hidden = false;
    loadAccountKeys();
  }

  $("[data-create-account-key]").addEventListener("click", () => {
    if (!selected) return;
    openKeyDialog({
      base: `${ACCOUNTS}/${encodeURIComponent(selected.id)}/api-keys`,
      label: `For the service account ${selected.name}: scopes are checked against its roles.`,
      reload: loadAccountKeys,
    });
  });

  function accountRow(account) {
    const keys = h("button", { type: "button", class: "button button-small button-secondary", text: "Keys", "aria-label": `Keys of ${account.name}` });
    keys.addEventListener("click", () => selectAccount(account));
    const toggle = h("button", { type: "button", class: "button button-small button-secondary", text: account.disabled ? "Enable" : "Disable" });
    toggle.addEventListener("click", async () => {
      toggle.disabled = true;
      hide(error);
      try {
        await client.json(`${ACCOUNTS}/${encodeURIComponent(account.id)}`, {
          method: "PATCH", body: JSON.stringify({ disabled: !account.disabled }),
        });
        await load();
      } catch (err) {
        toggle.disabled = false;
        show(error, problem(err));
      }
    });
    const remove = h("button", { type: "button", class: "button button-small button-danger-outline", text: "Delete", "aria-label": `Delete ${account.name}` });
    remove.addEventListener("click", () => confirm({
      title: `Delete the service account "${account.name}"?`,
      text: "Its keys stop working at once. This cannot be undone.",
      label: "Delete service account",
      run: async () => {
        await client.json(`${ACCOUNTS}/${encodeURIComponent(account.id)}`, { method: "DELETE" });
        if (selected && selected.id === account.id) {
          selected = null;
          panel.hidden = true;
        }
        await load();
      },
    }));
    return h("tr", { "data-account": account.id },
      h("td", {}, h("span", { class: "key-name", text: account.name }),
        h("span", { class: "key-ip muted", title: account.id, text: shortId(account.id) })),
      h("td", {}, h("ul", { class: "chips", "aria-label": "Roles" }, ...(account.roles || []).map((r) => h("li", { class: "chip", text: r })))),
      h("td", {}, h("span", { class: `badge badge-${account.disabled ? "muted" : "success"}`, text: account.disabled ? "Disabled" : "Active" })),
      h("td", {}, time(account.createdAt)),
      h("td", { title: account.createdBy || "", text: account.createdBy ? shortId(account.createdBy) : "-" }),
      h("td", { class: "cell-actions" }, keys, toggle, remove));
  }

  async function load() {
    hide(error);
    let data;
    try {
      data = await client.json(ACCOUNTS, { method: "GET" });
    } catch (err) {
      if (err.status === 404) unavailable(root);
      else if (!renderErrorState(root, err, "service accounts")) show(error, problem(err));
      return;
    }
    const accounts = (data && data.serviceAccounts) || [];
    newAccount.disabled = false;
    if (!accounts.length) {
      root.replaceChildren(h("p", { class: "muted empty-text", text: "No service accounts yet." }));
      return;
    }
    const headings = ["Name", "Roles", "Status", "Created", "Created by", ""];
    root.replaceChildren(h("div", { class: "table-wrap" }, h("table", { class: "table", "data-accounts-table": true },
      h("caption", { class: "visually-hidden", text: "Service accounts" }),
      h("thead", {}, h("tr", {}, ...headings.map(
        (label) => h("th", { scope: "col" }, label || h("span", { class: "visually-hidden", text: "Actions" }))))),
      h("tbody", {}, ...accounts.map(accountRow)))));
  }

  async function fillRoles() {
    let roles = [];
    try {
      const capabilities = await client.getCapabilities();
      roles = Array.isArray(capabilities.availableRoles) ? capabilities.availableRoles : [];
    } catch (err) {
      roleList.replaceChildren(h("p", { class: "inline-error", text: problem(err) }));
      return;
    }
    roleList.replaceChildren(...roles.map((role) => h("label", { class: "scope-option" },
      h("input", { type: "checkbox", name: "roles", value: role.id }), h("span", { text: role.name || role.id }))));
    if (!roles.length) roleList.replaceChildren(h("p", { class: "muted", text: "No roles to assign." }));
  }

  newAccount.addEventListener("click", () => {
    form.reset();
    hide(formError);
    dialog.showModal();
    fillRoles();
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    hide(formError);
    const name = form.elements.name.value.trim();
    const roles = Array.from(form.querySelectorAll('input[name="roles"]:checked'), (box) => box.value);
    if (!name) return show(formError, "Give the service account a name.");
    if (!roles.length) return show(formError, "Choose at least one role.");
    const submit = $("[data-account-submit]", form);
    submit.disabled = true;
    try {
      const account = await client.json(ACCOUNTS, { method: "POST", body: JSON.stringify({ name, roles }) });
      dialog.close();
      await load();
      if (account && account.id) selectAccount(account);
    } catch (err) {
      show(formError, problem(err));
    } finally {
      submit.disabled = false;
    }
  });

  load();
}

loadOwnKeys();
setupServiceAccounts();
