// Shared start-up of the compat scripts: endpoint from the script's own URL, `onload=` and
// `render=` query parameters, implicit rendering of the vendor's div class.
import { api, config, defineElement, find, ready, scriptBase } from "../registry";
import { startRecorder } from "../telemetry";

export { OPTIONS, vendorOptions } from "./options";

export function boot(path: RegExp, vendorClass: string, renderOne: (el: HTMLElement) => unknown): URLSearchParams {
  const script = document.currentScript as HTMLScriptElement | null;
  const params = new URL(script?.src || location.href, location.href).searchParams;
  config.endpoint = script?.dataset.endpoint || scriptBase(script?.src, path);
  config.nonce = script?.nonce ?? "";
  const w = window as unknown as Record<string, unknown>;
  w.haechi ??= api;
  startRecorder();
  defineElement();
  ready(() => {
    // render=explicit, or reCAPTCHA v3's render=<sitekey>: nothing is rendered implicitly.
    if (!params.get("render") || params.get("render") === "onload") {
      for (const el of Array.from(document.querySelectorAll<HTMLElement>(`.${vendorClass}`))) {
        if (el.dataset.sitekey && !find(el)) renderOne(el);
      }
    }
    const onload = params.get("onload");
    const fn = onload ? w[onload] : undefined;
    if (typeof fn === "function") fn();
  });
  return params;
}

export const element = (container: string | HTMLElement): HTMLElement | null =>
  typeof container === "string" ? document.getElementById(container) ?? document.querySelector<HTMLElement>(container) : container;
