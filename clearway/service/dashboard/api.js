// The API as the dashboard uses it: a bearer token kept in sessionStorage (this tab only),
// JSON in and out, and every error turned into one readable message.

const TOKEN_KEY = "clearway.token";

export class ApiError extends Error {
  constructor(status, body, fallback) {
    const detail = body && typeof body.detail === "string" ? body.detail : fallback;
    super(detail);
    this.status = status;
    this.error = (body && body.error) || "HTTP " + status;
    this.fields = (body && Array.isArray(body.fields)) ? body.fields : [];
  }
  // "403 PermissionDeniedError: role viewer may not ..." — shown as is to the user.
  get plain() {
    const fields = this.fields.map((f) => `${f.field}: ${f.message}`).join("; ");
    const msg = this.message + (fields && !this.message.includes(fields) ? ` (${fields})` : "");
    return this.status ? `${this.status} ${this.error}: ${msg}` : msg;
  }
}

export function loadToken() {
  try {
    const raw = sessionStorage.getItem(TOKEN_KEY);
    if (!raw) return null;
    const tok = JSON.parse(raw);
    if (!tok.access_token || Date.parse(tok.expires_at) - Date.now() < 5000) {
      sessionStorage.removeItem(TOKEN_KEY);
      return null;
    }
    return tok;
  } catch {
    return null;
  }
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

async function parse(resp) {
  const text = await resp.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text.slice(0, 300) };
  }
}

/** Exchange an API key for a bearer token (POST /auth/token); stores it. */
export async function login(key) {
  let resp;
  try {
    resp = await fetch("/auth/token", { method: "POST", headers: { "X-API-Key": key } });
  } catch (e) {
    throw new ApiError(0, null, "the service cannot be reached: " + e.message);
  }
  const body = await parse(resp);
  if (!resp.ok) throw new ApiError(resp.status, body, resp.statusText);
  sessionStorage.setItem(TOKEN_KEY, JSON.stringify(body));
  return body;
}

export class Api {
  constructor(onExpired) {
    this.onExpired = onExpired;
  }
  get token() {
    const tok = loadToken();
    return tok ? tok.access_token : null;
  }
  async request(method, path, body) {
    const token = this.token;
    if (!token) {
      this.onExpired("your session has expired; enter your API key again");
      throw new ApiError(401, { detail: "no valid token", error: "CredentialError" }, "");
    }
    const init = { method, headers: { Authorization: "Bearer " + token } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, null, `${method} ${path}: the service cannot be reached (${e.message})`);
    }
    const data = await parse(resp);
    if (resp.status === 401) {
      clearToken();
      this.onExpired((data && data.detail) || "your session has expired");
    }
    if (!resp.ok) throw new ApiError(resp.status, data, resp.statusText);
    return data;
  }
  get(path) { return this.request("GET", path); }
  post(path, body) { return this.request("POST", path, body); }
  put(path, body) { return this.request("PUT", path, body); }
  del(path) { return this.request("DELETE", path); }
}

// Mirrors clearway.service.auth.ROLE_PERMISSIONS (the API enforces it; the UI only hides).
export const PERMISSIONS = {
  viewer: ["read"],
  dispatcher: ["read", "priority.request", "transit.feed"],
  operator: ["read", "priority.request", "priority.cancel_any", "plans.change", "audit.read",
             "transit.feed"],
  admin: ["read", "audit.read", "users.manage"],
  transit: ["transit.feed"],
};

export function may(role, permission) {
  return (PERMISSIONS[role] || []).includes(permission);
}
