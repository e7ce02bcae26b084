// Account page: change the password while signed in
// (POST /auth/credentials/change-password; the server revokes every other session).

import { $, hide, show } from "./dom.js";
import { client } from "./studio.js";

const form = $("[data-password-change-form]");
const submit = $("[data-submit]", form);
const error = $("[data-form-error]", form);
const status = $("[data-form-status]", form);
const label = submit.textContent;

function problem(err) {
  if (err.status === 429 && err.retryAfter !== null) {
    return `${err.message} (try again in ${err.retryAfter} s)`;
  }
  return err.message;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  hide(error);
  hide(status);
  const current = form.elements.current.value;
  const password = form.elements.password.value;
  if (!current || !password) {
    show(error, "Enter your current password and a new password.");
    return;
  }
  if (password !== form.elements.confirm.value) {
    show(error, "The new passwords do not match.");
    form.elements.confirm.focus();
    return;
  }
  submit.disabled = true;
  submit.textContent = "Changing password...";
  try {
    await client.changePassword(current, password);
    form.reset();
    show(status, "Your password was changed. Your other sessions were signed out.");
  } catch (err) {
    show(error, problem(err));
  } finally {
    submit.disabled = false;
    submit.textContent = label;
  }
});
