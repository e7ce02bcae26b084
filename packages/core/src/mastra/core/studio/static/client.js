// Browser client of the Mastra auth API (SPEC 11.1): the studio's equivalent of the
// reference's React hooks, as a plain ES module with no dependencies.

import { permissionChecker } from "./permissions.js";

export { matches, hasPermission, permissionChecker } from "./permissions.js";

const CACHE_MS = 60_000;
const HEADERS_KEY = "mastra.studio.headers";

export class ApiError extends Error {
  constructor(message, status, body, retryAfter = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter; // seconds from a 429's Retry-After, else null
  }
}

function retryAfterSeconds(response) {
  const seconds = Number.parseInt(response.headers.get("Retry-After") || "", 10);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : null;
}

// Trim, add a leading "/", drop a trailing "/"; an explicitly empty prefix means none.
export function normalisePrefix(prefix) {
  if (prefix === undefined || prefix === null) return "/api";
  const text = String(prefix).trim().replace(/^\/+/, "").replace(/\/+$/, "");
  return text ? `/${text}` : "";
}

// Headers saved by the "Authentication Required" screen (token-only servers).
export function loadStoredHeaders(storage = globalThis.localStorage) {
  try {
    const parsed = JSON.parse(storage?.getItem(HEADERS_KEY) || "{}");
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

export function saveStoredHeaders(headers, storage = globalThis.localStorage) {
  storage?.setItem(HEADERS_KEY, JSON.stringify(headers));
}

async function readBody(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function errorText(body, fallback) {
  if (body && typeof body === "object") {
    if (typeof body.message === "string" && body.message) return body.message;
    if (typeof body.error === "string" && body.error) return body.error;
  }
  return fallback;
}

export function createAuthClient(options = {}) {
  const prefix = normalisePrefix(options.apiPrefix);
  const origin = options.baseUrl ? String(options.baseUrl).replace(/\/+$/, "") : "";
  const fetchImpl = options.fetch || globalThis.fetch.bind(globalThis);
  const sleep = options.sleep || ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  const now = options.now || (() => Date.now());
  const extraHeaders = options.headers || (() => loadStoredHeaders());

  let capabilities = null; // {value, at}
  let capabilitiesInFlight = null;
  let me = null;
  let meInFlight = null;

  function url(path) {
    return `${origin}${prefix}${path}`;
  }

  // Every request: cookies included, JSON content type (callers cannot override it).
  function request(path, init = {}) {
    const headers = { ...extraHeaders(), ...(init.headers || {}), "Content-Type": "application/json" };
    return fetchImpl(url(path), { ...init, headers, credentials: "include" });
  }

  async function json(path, init = {}) {
    const response = await request(path, init);
    const body = await readBody(response);
    if (!response.ok) {
      throw new ApiError(errorText(body, `Request failed: ${response.status}`), response.status, body);
    }
    return body;
  }

  function invalidate() {
    capabilities = null;
    me = null;
  }

  async function getCapabilities({ force = false } = {}) {
    if (!force && capabilities && now() - capabilities.at < CACHE_MS) return capabilities.value;
    if (capabilitiesInFlight) return capabilitiesInFlight;
    capabilitiesInFlight = (async () => {
      const response = await request("/auth/capabilities", { method: "GET" });
      if (!response.ok) {
        throw new ApiError(`Failed to fetch auth capabilities: ${response.status}`, response.status, null);
      }
      const value = await response.json();
      capabilities = { value, at: now() };
      return value;
    })();
    try {
      return await capabilitiesInFlight;
    } finally {
      capabilitiesInFlight = null;
    }
  }

  async function getMe({ force = false } = {}) {
    if (!force && me && now() - me.at < CACHE_MS) return me.value;
    if (meInFlight) return meInFlight;
    meInFlight = (async () => {
      // Only 503 (provider briefly unavailable) is worth retrying: 3 retries, 500 ms·2ⁿ ≤ 8 s.
      for (let attempt = 0; ; attempt += 1) {
        const response = await request("/auth/me", { method: "GET" });
        if (response.ok) {
          const value = await readBody(response);
          me = { value, at: now() };
          return value;
        }
        if (response.status !== 503 || attempt >= 3) {
          throw new ApiError(`Failed to fetch current user: ${response.status}`, response.status, null);
        }
        await sleep(Math.min(500 * 2 ** attempt, 8000));
      }
    })();
    try {
      return await meInFlight;
    } finally {
      meInFlight = null;
    }
  }

  async function action(path, body, fallback) {
    const response = await request(path, { method: "POST", body: JSON.stringify(body ?? {}) });
    const data = await readBody(response);
    if (!response.ok) {
      throw new ApiError(errorText(data, typeof fallback === "function" ? fallback(response.status) : fallback),
        response.status, data, retryAfterSeconds(response));
    }
    invalidate();
    return data;
  }

  return {
    apiPrefix: prefix,
    url,
    request,
    json,
    invalidate,
    getCapabilities,
    getMe,
    signIn: (email, password) =>
      action("/auth/credentials/sign-in", { email, password }, "Invalid email or password"),
    signUp: (email, password, name) =>
      action("/auth/credentials/sign-up", name ? { email, password, name } : { email, password },
        "Failed to create account"),
    signOut: () => action("/auth/logout", {}, (status) => `Failed to logout: ${status}`),
    // The session stays; the server revokes the user's other sessions.
    changePassword: (currentPassword, newPassword) =>
      action("/auth/credentials/change-password", { currentPassword, newPassword },
        (status) => `Failed to change password: ${status}`),
    // Admins only (403 otherwise): the resolved permissions of one role, for "Preview as role".
    rolePermissions: (roleId) =>
      json(`/auth/roles/${encodeURIComponent(roleId)}/permissions`, { method: "GET" }),
    async startSSO(redirect) {
      const query = redirect ? `?redirect_uri=${encodeURIComponent(redirect)}` : "";
      const response = await request(`/auth/sso/login${query}`, { method: "GET" });
      const data = await readBody(response);
      if (!response.ok || !data || typeof data.url !== "string") {
        throw new ApiError(errorText(data, `Failed to initiate SSO login: ${response.status}`), response.status, data);
      }
      invalidate();
      return data.url;
    },
    async permissions() {
      return permissionChecker(await getCapabilities());
    },
    async hasPermission(permission) {
      return (await this.permissions()).hasPermission(permission);
    },
    async hasAnyPermission(list) {
      return (await this.permissions()).hasAnyPermission(list);
    },
    async hasAllPermissions(list) {
      return (await this.permissions()).hasAllPermissions(list);
    },
  };
}
