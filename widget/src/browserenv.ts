// Facts about the browser that the page and the proof-of-work worker must agree on: automation
// that patches the page's navigator (stealth plugins, a user-agent override) rarely patches
// the worker's too. Shared by telemetry.ts (page) and worker.ts (worker); kept tiny.
export type Nav = Navigator & {
  userAgentData?: { brands?: { brand: string; version: string }[]; platform?: string };
};

export const envFacts = (nav: Nav): string =>
  [
    nav.userAgent,
    nav.platform,
    nav.hardwareConcurrency,
    (nav.languages ?? []).join(),
    (nav.userAgentData?.brands ?? []).map((b) => b.brand + b.version).join(),
  ].join("|");
