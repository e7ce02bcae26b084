// Forgot-password and reset-password forms (SPEC 9.4 password-reset routes).

import { $, hide, show } from "./dom.js";
import { client, config, link } from "./studio.js";

function wire(form, handler) {
  if (!form) return;
  const submit = $("[data-submit]", form);
  const error = $("[data-form-error]", form);
  const status = $("[data-form-status]", form);
  const label = submit.textContent;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    hide(error);
    hide(status);
    submit.disabled = true;
    submit.textContent = "Sending...";
    try {
      const message = await handler(form);
      show(status, message);
      form.querySelectorAll("input").forEach((input) => (input.value = ""));
    } catch (err) {
      show(error, err.message);
    } finally {
      submit.disabled = false;
      submit.textContent = label;
    }
  });
}

wire($("[data-forgot-form]"), async (form) => {
  const email = form.elements.email.value.trim();
  if (!email) throw new Error("Enter your email.");
  await client.json("/auth/credentials/password-reset", { method: "POST", body: JSON.stringify({ email }) });
  return "If an account exists for that email, a reset link is on its way.";
});

wire($("[data-reset-form]"), async (form) => {
  const password = form.elements.password.value;
  if (!config.resetToken) throw new Error("This reset link is incomplete. Request a new one.");
  if (password.length < 8) throw new Error("Password must be at least 8 characters");
  if (password !== form.elements.confirm.value) throw new Error("The passwords do not match.");
  await client.json("/auth/credentials/password-reset/confirm", {
    method: "POST",
    body: JSON.stringify({ token: config.resetToken, password }),
  });
  window.setTimeout(() => window.location.assign(link("login")), 1500);
  return "Your password was changed. Sign in with the new password.";
});
