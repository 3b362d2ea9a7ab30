/**
 * The generated client's transport: the access token in memory (never in storage), the refresh
 * cookie (HttpOnly, set by the API) spent once silently when a request answers 401, and the
 * problem+json errors the API returns, read into field errors for the forms.
 */
import { authRefresh } from "../client";
import { client } from "../client/client.gen";

let accessToken: string | null = null;
let refreshing: Promise<boolean> | null = null;
const listeners = new Set<(signedIn: boolean) => void>();

export function setAccessToken(token: string | null): void {
  accessToken = token;
  for (const listener of listeners) listener(token !== null);
}

export function hasAccessToken(): boolean {
  return accessToken !== null;
}

export function onSessionChange(listener: (signedIn: boolean) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** One refresh at a time, shared by every request that saw a 401 meanwhile. */
export function refreshSession(): Promise<boolean> {
  refreshing ??= authRefresh({ headers: { "X-Haechi-CSRF": "1" } })
    .then(({ data }) => {
      setAccessToken(data?.access_token ?? null);
      return data !== undefined;
    })
    .catch(() => {
      setAccessToken(null);
      return false;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

const NO_RETRY = /\/v1\/auth\/(login|refresh|logout)$/;
// 401s that answer the form, not the session (a wrong current password, a wrong code): the
// session is fine, so no refresh and no second try.
const FORM_401 = new Set(["wrong-password", "bad-otp", "otp-required", "bad-credentials", "reauth-required", "bad-passkey", "bad-challenge", "invalid-ticket"]);

async function isFormRefusal(response: Response): Promise<boolean> {
  if (!(response.headers.get("content-type") ?? "").includes("json")) return false;
  const body: unknown = await response
    .clone()
    .json()
    .catch(() => null);
  return isProblem(body) && typeof body.code === "string" && FORM_401.has(body.code);
}

async function sessionFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const request = new Request(input, init);
  const send = (token: string | null) => {
    const attempt = request.clone();
    if (token) attempt.headers.set("authorization", `Bearer ${token}`);
    return fetch(attempt);
  };
  const response = await send(accessToken);
  if (response.status !== 401 || NO_RETRY.test(new URL(request.url).pathname)) return response;
  if (await isFormRefusal(response)) return response;
  if (!(await refreshSession())) return response;
  return send(accessToken);
}

client.setConfig({ baseUrl: "/api", fetch: sessionFetch, credentials: "same-origin" });

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  code?: string;
  detail?: string;
  errors?: { loc?: (string | number)[]; msg?: string; type?: string }[];
}

export function isProblem(value: unknown): value is Problem {
  return typeof value === "object" && value !== null && ("code" in value || "detail" in value);
}

/** problem+json → `{field: message}` from `errors[].loc` (the last name in it), and the rest. */
export function problemFields(problem: Problem, fields: readonly string[]): { fields: Record<string, string>; detail: string | null } {
  const found: Record<string, string> = {};
  for (const error of problem.errors ?? []) {
    const name = [...(error.loc ?? [])].reverse().find((part) => typeof part === "string" && fields.includes(part));
    if (typeof name === "string" && error.msg && !(name in found)) found[name] = error.msg;
  }
  const unplaced = Object.keys(found).length === 0 || (problem.errors ?? []).length > Object.keys(found).length;
  return { fields: found, detail: unplaced ? (problem.detail ?? problem.title ?? null) : null };
}
