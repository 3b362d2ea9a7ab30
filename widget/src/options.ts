// Widget options from render() objects, data- attributes and element attributes, normalised
// once. Keys may be kebab-case (`expired-callback`, as the vendors spell them) or camelCase.
export type Callback = (...args: unknown[]) => void;
export type CallbackName = "callback" | "expired-callback" | "error-callback" | "timeout-callback" | "close-callback";

export interface WidgetOptions {
  sitekey: string;
  action?: string;
  cdata?: string;
  theme: "light" | "dark" | "auto";
  size: "normal" | "compact" | "flexible";
  language: string;
  appearance: "always" | "execute" | "interaction-only";
  mode: "managed" | "invisible" | "non-interactive";
  execution: "render" | "execute";
  refreshExpired: "auto" | "manual" | "never";
  responseField: boolean;
  responseFieldName: string;
  tabindex?: number;
  endpoint?: string;
  callbacks: Partial<Record<CallbackName, Callback | string>>;
}

const CALLBACKS: CallbackName[] = ["callback", "expired-callback", "error-callback", "timeout-callback", "close-callback"];

const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

function pick<T extends string>(value: unknown, allowed: readonly T[], fallback: T): T {
  return allowed.includes(value as T) ? (value as T) : fallback;
}

const text = (value: unknown): string | undefined =>
  value === undefined || value === null || value === "" ? undefined : String(value);

export function normalize(raw: Record<string, unknown>): WidgetOptions {
  const o: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) o[kebab(key)] = value;
  const invisible = o.size === "invisible" || o.mode === "invisible";
  const mode = invisible ? "invisible" : pick(o.mode, ["managed", "non-interactive"] as const, "managed");
  const callbacks: WidgetOptions["callbacks"] = {};
  for (const name of CALLBACKS) {
    const cb = o[name];
    if (typeof cb === "function" || (typeof cb === "string" && cb)) callbacks[name] = cb as Callback | string;
  }
  const tabindex = Number(o.tabindex);
  return {
    sitekey: String(o.sitekey ?? ""),
    action: text(o.action),
    cdata: text(o.cdata),
    theme: pick(o.theme, ["light", "dark", "auto"] as const, "auto"),
    size: pick(o.size, ["normal", "compact", "flexible"] as const, "normal"),
    language: String(o.language ?? o.hl ?? "auto"),
    appearance: pick(o.appearance, ["always", "execute", "interaction-only"] as const, "always"),
    mode,
    execution: pick(o.execution, ["render", "execute"] as const, invisible ? "execute" : "render"),
    refreshExpired: pick(o["refresh-expired"], ["auto", "manual", "never"] as const, "auto"),
    responseField: o["response-field"] !== false && o["response-field"] !== "false",
    responseFieldName: text(o["response-field-name"]) ?? "haechi-response",
    tabindex: Number.isInteger(tabindex) && o.tabindex !== undefined && o.tabindex !== "" ? tabindex : undefined,
    endpoint: text(o.endpoint),
    callbacks,
  };
}

/** Options written as `data-*` attributes on an element. */
export function fromDataset(el: HTMLElement): Record<string, string> {
  return { ...el.dataset } as Record<string, string>;
}

/** Options written as plain attributes (the custom element). */
export function fromAttributes(el: Element): Record<string, string> {
  const out: Record<string, string> = {};
  for (const attr of Array.from(el.attributes)) out[attr.name.replace(/^data-/, "")] = attr.value;
  return out;
}

/** A callback given as a function, or by the name of a global function (data- attributes). */
export function resolveCallback(cb: Callback | string | undefined): Callback | undefined {
  if (typeof cb === "function") return cb;
  if (typeof cb !== "string") return undefined;
  let target: unknown = globalThis;
  for (const part of cb.split(".")) target = (target as Record<string, unknown> | undefined)?.[part];
  return typeof target === "function" ? (target as Callback) : undefined;
}
