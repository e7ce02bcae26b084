// "Authentication Required" screen for servers without a login method: the visitor
// stores the header Studio should send, then capabilities are fetched again.

import { $, hide, show } from "./dom.js";
import { loadStoredHeaders, saveStoredHeaders } from "./client.js";
import { client } from "./studio.js";

const form = $("[data-header-form]");
const error = $("[data-header-error]");
const status = $("[data-header-status]");
const stored = loadStoredHeaders();
const [firstName] = Object.keys(stored);
if (firstName) form.elements["header-name"].value = firstName;

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  hide(error);
  hide(status);
  const name = form.elements["header-name"].value.trim();
  const value = form.elements["header-value"].value.trim();
  if (!/^[A-Za-z0-9-]+$/.test(name) || !value) {
    show(error, "Enter a header name and a value.");
    return;
  }
  saveStoredHeaders({ [name]: value });
  client.invalidate();
  try {
    const caps = await client.getCapabilities({ force: true });
    if (caps.user) {
      show(status, `Connected as ${caps.user.name || caps.user.email || caps.user.id}. API requests from Studio now carry this header.`);
    } else {
      show(error, "The server did not accept these headers.");
    }
  } catch (err) {
    show(error, err.message);
  }
});
