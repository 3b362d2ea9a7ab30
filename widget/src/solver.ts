// Runs a proof-of-work search off the main thread: in an inline Web Worker when the page allows
// one, else in short slices on the main thread (yielding between them, so input stays
// responsive). Progress, abort and a timeout either way.
import { PowSearch, type PowChallenge } from "./pow";
import type { WorkMessage } from "./worker";
import { noteWorkerEnv } from "./telemetry";

declare const __WORKER_SOURCE__: string;

export interface PowResult {
  nonces: number[];
  hashes: number;
  ms: number;
  mode: "worker" | "main" | "none";
}

export interface SolveOptions {
  onProgress?: (fraction: number) => void;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Tests and pages with `worker-src 'none'` may force the main-thread path. */
  noWorker?: boolean;
}

let workerUrl: string | undefined;
let workersBroken = false;

function startWorker(): Worker {
  workerUrl ??= URL.createObjectURL(new Blob([__WORKER_SOURCE__], { type: "text/javascript" }));
  return new Worker(workerUrl);
}

export class PowAborted extends Error {
  constructor(readonly reason: "abort" | "timeout") {
    super(`pow ${reason}`);
  }
}

export function solvePow(pow: PowChallenge, options: SolveOptions = {}): Promise<PowResult> {
  const started = performance.now();
  if (pow.count <= 0) return Promise.resolve({ nonces: [], hashes: 0, ms: 0, mode: "none" });
  const expected = pow.count * 2 ** pow.bits;
  const progress = (hashes: number): void => options.onProgress?.(1 - Math.exp(-hashes / expected));

  return new Promise<PowResult>((resolve, reject) => {
    let finished = false;
    let worker: Worker | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (error: Error | null, result?: PowResult): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      worker?.terminate();
      options.signal?.removeEventListener("abort", onAbort);
      if (error) reject(error);
      else resolve(result as PowResult);
    };
    const onAbort = (): void => finish(new PowAborted("abort"));
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener("abort", onAbort);
    if (options.timeoutMs) timer = setTimeout(() => finish(new PowAborted("timeout")), options.timeoutMs);

    const onMain = (): void => {
      const search = new PowSearch(pow.prefix, pow.bits, pow.count);
      const slice = (): void => {
        if (finished) return;
        const until = performance.now() + 8;
        try {
          while (!search.step(2000)) {
            if (performance.now() >= until) {
              progress(search.hashes);
              setTimeout(slice, 0);
              return;
            }
          }
        } catch (error) {
          return finish(error as Error);
        }
        finish(null, { nonces: search.nonces, hashes: search.hashes, ms: performance.now() - started, mode: "main" });
      };
      slice();
    };

    if (options.noWorker || workersBroken || typeof Worker === "undefined") return onMain();
    let heard = false;
    const fallBack = (): void => {
      worker?.terminate();
      worker = undefined;
      workersBroken = true;
      onMain();
    };
    try {
      worker = startWorker();
    } catch {
      return fallBack();
    }
    worker.onmessage = (event: MessageEvent<WorkMessage>) => {
      heard = true;
      const message = event.data;
      if (message.type === "env") noteWorkerEnv(message.facts);
      else if (message.type === "progress") progress(message.hashes);
      else if (message.type === "done")
        finish(null, { nonces: message.nonces, hashes: message.hashes, ms: performance.now() - started, mode: "worker" });
      else finish(new Error(message.message));
    };
    // A worker that cannot start (CSP without `worker-src blob:`, a sandbox) fails with an
    // error event before saying anything: the search then runs on the main thread instead.
    worker.onerror = (event) => {
      event.preventDefault?.();
      if (!heard && !finished) fallBack();
      else finish(new Error("pow worker failed"));
    };
    worker.postMessage({ prefix: pow.prefix, bits: pow.bits, count: pow.count });
  });
}
