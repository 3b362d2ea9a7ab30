// The proof-of-work worker. Built on its own and inlined into widget.js as a string, started
// from a blob: URL (CSP: `worker-src blob:`). Abort is worker.terminate(): the loop never yields.
import { PowSearch } from "./pow";
import { envFacts } from "./browserenv";

export interface WorkRequest {
  prefix: string;
  bits: number;
  count: number;
}

export type WorkMessage =
  | { type: "env"; facts: string }
  | { type: "progress"; hashes: number; solved: number }
  | { type: "done"; nonces: number[]; hashes: number }
  | { type: "error"; message: string };

const SLICE = 25_000;

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<WorkRequest>) => void) | null;
  postMessage(message: WorkMessage): void;
};

scope.onmessage = (event) => {
  const { prefix, bits, count } = event.data;
  // The browser as this worker sees it, for the page to compare (main thread vs worker).
  scope.postMessage({ type: "env", facts: envFacts(navigator) });
  try {
    const search = new PowSearch(prefix, bits, count);
    while (!search.step(SLICE)) {
      scope.postMessage({ type: "progress", hashes: search.hashes, solved: search.nonces.length });
    }
    scope.postMessage({ type: "done", nonces: search.nonces, hashes: search.hashes });
  } catch (error) {
    scope.postMessage({ type: "error", message: String(error) });
  }
};
