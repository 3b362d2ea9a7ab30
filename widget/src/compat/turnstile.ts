// /turnstile/v0/api.js: a `turnstile` object and `.cf-turnstile` divs, as Cloudflare's script
// has them, backed by Haechi. Fills `cf-turnstile-response` (or `response-field-name`) and
// `haechi-response`.
import { find, getResponse, isExpired, ready, remove, render, reset } from "../registry";
import { OPTIONS, boot, element, vendorOptions } from "./common";

type Params = Record<string, unknown>;

const turnstile = {
  render(container: string | HTMLElement, params: Params = {}): string | undefined {
    const el = element(container);
    if (!el) return undefined;
    const options = { "response-field-name": "cf-turnstile-response", ...vendorOptions(el, params, OPTIONS.turnstile) };
    return render(el, options, { fields: ["haechi-response"] }, false);
  },
  execute(container: string | HTMLElement, params: Params = {}): void {
    const el = element(container);
    if (el && !find(el)) turnstile.render(el, { ...params, execution: "execute" });
    const overrides = { action: params.action as string | undefined, cdata: params.cData as string | undefined };
    void find(el ?? (container as string))?.execute(overrides).catch(() => undefined);
  },
  reset: (id?: string) => reset(id),
  remove: (id?: string) => remove(id),
  getResponse: (id?: string) => getResponse(id),
  isExpired: (id?: string) => isExpired(id),
  ready: (callback: () => void) => ready(callback),
  implicitRender(): void {
    for (const el of Array.from(document.querySelectorAll<HTMLElement>(".cf-turnstile"))) if (!find(el)) turnstile.render(el);
  },
};

(window as unknown as { turnstile: typeof turnstile }).turnstile = turnstile;
boot(/\/turnstile\/v0\/api\.js$/, "cf-turnstile", (el) => turnstile.render(el));
