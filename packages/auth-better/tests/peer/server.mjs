// A real Better Auth server for the interop tests (not shipped).
//
// Env: BA_DB (SQLite file), BA_PORT, BA_SECRET, BA_TRUSTED (comma list of extra
// trusted origins). Email + password is on; the reset e-mail "delivery" keeps
// the last URL per address, readable at GET /__test/reset?email=... so the tests
// can drive the reset flow (GET /__test/outbox lists every link in order). The
// admin plugin adds `role` and `banned` (the columns the Python embedded mode owns)
// and refuses banned users, so a ban written by Python is enforced here too; it is
// also what remote mode's admin account calls (get-user, list/revoke user sessions).
// A password reset revokes the user's sessions (remote mode's reset relies on it).
import http from "node:http";
import Database from "better-sqlite3";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import { admin } from "better-auth/plugins/admin";

const port = Number(process.env.BA_PORT);
const baseURL = `http://127.0.0.1:${port}`;
const resetLinks = new Map();
const outbox = [];

const options = {
  database: new Database(process.env.BA_DB),
  secret: process.env.BA_SECRET,
  baseURL,
  basePath: "/api/auth",
  trustedOrigins: (process.env.BA_TRUSTED || "").split(",").filter(Boolean),
  emailAndPassword: {
    enabled: true,
    revokeSessionsOnPasswordReset: true,
    sendResetPassword: async ({ user, url, token }) => {
      resetLinks.set(user.email, { url, token });
      outbox.push({ email: user.email, url, token });
    },
  },
  plugins: [admin({ defaultRole: "viewer" })],
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
};

if (process.env.BA_MIGRATE !== "0") {
  const { runMigrations } = await getMigrations(options);
  await runMigrations();
}
const auth = betterAuth(options);
const handler = toNodeHandler(auth);

const server = http.createServer((req, res) => {
  const url = new URL(req.url, baseURL);
  if (url.pathname === "/__test/reset") {
    const entry = resetLinks.get(url.searchParams.get("email")) || null;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(entry));
    return;
  }
  if (url.pathname === "/__test/outbox") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(outbox));
    return;
  }
  if (url.pathname === "/__test/health") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
    return;
  }
  handler(req, res);
});
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`listening ${port}\n`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
