// The two browser-facing calls of docs/api.md. Bodies go as text/plain JSON, which spares the
// browser a CORS preflight; no cookies, no credentials.
import type { PowChallenge } from "./pow";
import type { TelemetryV2 } from "./telemetry";

export interface SelectTask {
  kind: "select";
  grid: { rows: number; cols: number };
  cells: { id: string; image?: string; label?: string; alt?: string }[];
  select: { min: number; max: number };
}
export interface DrawTask {
  kind: "draw";
  image: string;
  canvas: { width: number; height: number };
}
export interface AudioTask {
  kind: "audio";
  audio: string;
  input: { format: "digits" | "text"; maxLength: number };
}
export type Task = (SelectTask | DrawTask | AudioTask) & {
  type: string;
  locale: "en" | "ko";
  prompt: string;
  alternatives?: "audio"[];
};

export interface Challenge {
  v: 1;
  challenge: string;
  pow: PowChallenge;
  task: Task | null;
  expires_at: number;
  expires_in: number;
  /** The page showed no input yet: solve once the visitor has moved, typed or touched. */
  await_input?: boolean;
}

export type SolveOutcome =
  | { outcome: "token"; token: string; expires_in: number }
  | { outcome: "step_up"; challenge: Challenge }
  | { outcome: "fail"; code: string };

/** A request that did not give an answer: `code` is the server's error code or `network`. */
export class RequestError extends Error {
  constructor(
    readonly code: string,
    readonly status = 0,
    readonly retryAfter = 0,
  ) {
    super(code);
  }
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

async function post<T>(endpoint: string, path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  let response: Response;
  try {
    response = await fetch(endpoint + path, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      signal,
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new RequestError("network");
  }
  const data = (await response.json().catch(() => null)) as { error?: { code?: string } } | null;
  if (!response.ok || !data) {
    const retryAfter = Number(response.headers.get("retry-after")) || 0;
    throw new RequestError(data?.error?.code ?? `http-${response.status}`, response.status, retryAfter);
  }
  return data as T;
}

export interface ChallengeParams {
  sitekey: string;
  action?: string;
  cdata?: string;
  /** The vendor API a compat script served (`recaptcha-v2`); see docs/api-dialects.md. */
  api?: string;
  locale: string;
  telemetry: TelemetryV2;
  /** The visitor asked for the accessible alternative to a visual task. */
  prefer?: "audio";
}

/** Blob URLs may be paths (the server's default): they are the endpoint's, like the API's. */
export function absoluteUrl(endpoint: string, url: string): string {
  return url.startsWith("/") && !url.startsWith("//") ? endpoint.replace(/\/+$/, "") + url : url;
}

export function resolveTask(task: Task | null, endpoint: string): Task | null {
  if (!task) return task;
  const abs = (url: string): string => absoluteUrl(endpoint, url);
  if (task.kind === "select") return { ...task, cells: task.cells.map((c) => (c.image ? { ...c, image: abs(c.image) } : c)) };
  if (task.kind === "draw") return { ...task, image: abs(task.image) };
  return { ...task, audio: abs(task.audio) };
}

const resolveChallenge = (challenge: Challenge, endpoint: string): Challenge => ({
  ...challenge,
  task: resolveTask(challenge.task, endpoint),
});

export const requestChallenge = async (endpoint: string, params: ChallengeParams, signal?: AbortSignal): Promise<Challenge> =>
  resolveChallenge(await post<Challenge>(endpoint, "/v1/challenge", { v: 1, ...params }, signal), endpoint);

export const solveChallenge = (
  endpoint: string,
  challenge: string,
  solution: { pow?: number[]; answer?: unknown },
  telemetry: TelemetryV2,
  signal?: AbortSignal,
): Promise<SolveOutcome> =>
  post<SolveOutcome>(endpoint, "/v1/solve", { v: 1, challenge, solution, telemetry }, signal).then((outcome) =>
    outcome.outcome === "step_up" ? { ...outcome, challenge: resolveChallenge(outcome.challenge, endpoint) } : outcome,
  );
