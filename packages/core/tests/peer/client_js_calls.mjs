// Makes the given calls with the published @mastra/client-js (MastraClient) and prints
// each result as JSON.
// stdin: {"baseUrl": ..., "headers": {...}, "calls": [["getPermissionPatterns"], ["request", path, options], ...]}
// stdout: [{"ok": true, "value": ...} | {"ok": false, "status": 401, "body": {...}, "message": "..."}, ...]
import { MastraClient } from "@mastra/client-js";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { baseUrl, headers, calls } = JSON.parse(input);

// retries: 0 so a refused call fails at once (the client retries 5xx and network errors).
const client = new MastraClient({ baseUrl, headers, retries: 0 });
const results = [];
for (const [method, ...args] of calls) {
  try {
    results.push({ ok: true, value: await client[method](...args) });
  } catch (error) {
    results.push({ ok: false, status: error.status ?? null, body: error.body ?? null, message: String(error.message) });
  }
}
process.stdout.write(JSON.stringify(results));
