// The npm `better-auth` client (createAuthClient, pinned 1.7.25) against the Python
// server's embedded Better Auth API. Node has no cookie jar, so each client gets a tiny
// one through `customFetchImpl` (what a browser would do), plus the Origin header a
// browser sends. Prints one JSON object: every call with its status and payload.
// Env: MASTRA_URL (server origin); GET $MASTRA_URL/__test/outbox lists reset links.
import { createAuthClient } from "better-auth/client";

const origin = process.env.MASTRA_URL;
const baseURL = `${origin}/api/auth`;
const email = "node-client@example.com";
const passwords = ["node client password", "changed client password", "reset client password"];
const calls = [];

function withJar() {
  const cookies = new Map();
  const cookieHeader = () => [...cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  const customFetchImpl = async (input, init = {}) => {
    const headers = new Headers(init.headers || {});
    if (cookies.size) headers.set("cookie", cookieHeader());
    headers.set("origin", origin);
    const response = await fetch(input, { ...init, headers });
    for (const setCookie of response.headers.getSetCookie()) {
      const pair = setCookie.split(";", 1)[0];
      const name = pair.slice(0, pair.indexOf("=")).trim();
      const value = pair.slice(pair.indexOf("=") + 1);
      if (!value || /max-age=0/i.test(setCookie)) cookies.delete(name);
      else cookies.set(name, value);
    }
    return response;
  };
  const client = createAuthClient({ baseURL, fetchOptions: { customFetchImpl } });
  return { client, cookies, cookieHeader, customFetchImpl };
}

async function call(name, promise) {
  const { data, error } = await promise;
  const entry = { call: name, ok: !error, data: data ?? null };
  if (error) entry.error = { status: error.status, code: error.code ?? null, message: error.message ?? null };
  calls.push(entry);
  return entry;
}

async function raw(name, jar, path, init = {}) {
  const response = await jar.customFetchImpl(`${origin}${path}`, init);
  const entry = { call: name, ok: response.ok, status: response.status, data: await response.json() };
  calls.push(entry);
  return entry;
}

const a = withJar();
const b = withJar();
const c = withJar();

await call("signUp.email", a.client.signUp.email({ email, password: passwords[0], name: "Node Client" }));
await call("getSession", a.client.getSession());
await call("signOut", a.client.signOut());
await call("getSession after signOut", a.client.getSession());
await call("signIn.email wrong password", a.client.signIn.email({ email, password: "not the password" }));
await call("signIn.email", a.client.signIn.email({ email, password: passwords[0] }));
await call("signIn.email second client", b.client.signIn.email({ email, password: passwords[0] }));
const listed = await call("listSessions", a.client.listSessions());
const mine = (await a.client.getSession()).data.session.id;
const other = listed.data.find((s) => s.id !== mine);
await call("revokeSession", a.client.revokeSession({ token: other.token }));
await call("getSession revoked client", b.client.getSession());
await call("signIn.email second client again", b.client.signIn.email({ email, password: passwords[0] }));
await call(
  "changePassword",
  a.client.changePassword({ currentPassword: passwords[0], newPassword: passwords[1], revokeOtherSessions: true }),
);
await call("getSession after changePassword", a.client.getSession());
await call("getSession other client after changePassword", b.client.getSession());
await call("updateUser", a.client.updateUser({ name: "Renamed Client" }));
await call("getSession after updateUser", a.client.getSession());
await raw("our /auth/me with its cookie", a, "/api/auth/me");
await raw("our /auth/credentials/sign-in", c, "/api/auth/credentials/sign-in", {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ email, password: passwords[1] }),
});
await call("getSession of our session", c.client.getSession());
await call("requestPasswordReset", a.client.requestPasswordReset({ email, redirectTo: "/studio/reset-password" }));
let link;
for (let i = 0; i < 100 && !link; i++) {
  link = (await (await fetch(`${origin}/__test/outbox`)).json()).at(-1);
  if (!link) await new Promise((resolve) => setTimeout(resolve, 50));
}
const token = new URL(link.url).searchParams.get("token");
await call("resetPassword", a.client.resetPassword({ newPassword: passwords[2], token }));
await call("getSession after resetPassword", a.client.getSession());
await call("signIn.email after reset", a.client.signIn.email({ email, password: passwords[2] }));
await call("signOut final", a.client.signOut());
await call("getSession final", a.client.getSession());

console.log(JSON.stringify({ calls, resetUrl: link.url }));
