// The page-wide API (`window.haechi`): explicit rendering, the custom element and the implicit
// rendering of `<div class="haechi" data-sitekey>`. Compat scripts build their vendor objects
// on top of the same functions.
import { fromAttributes, fromDataset, normalize } from "./options";
import { startRecorder } from "./telemetry";
import { Widget, type Environment } from "./widget";

export interface Config {
  endpoint: string;
  nonce: string;
}

const widgets = new Map<string, Widget>();
let seq = 0;
export const config: Config = { endpoint: "", nonce: "" };

/** The origin (and path prefix) the script came from: `https://c.example/v1/widget.js` -> `https://c.example`. */
export function scriptBase(src: string | undefined, path: RegExp): string {
  if (!src) return "";
  const url = new URL(src, location.href);
  return url.origin + url.pathname.replace(path, "");
}

export type Ref = string | Element | undefined;

export function find(ref?: Ref): Widget | undefined {
  if (ref === undefined || ref === null) return widgets.values().next().value;
  if (typeof ref === "string") {
    const byId = widgets.get(ref);
    if (byId) return byId;
    const el = document.querySelector(ref);
    return el ? find(el) : undefined;
  }
  for (const w of widgets.values()) if (w.container === ref || w.host === ref || w.container.contains(ref)) return w;
  return undefined;
}

function mount(container: HTMLElement, host: HTMLElement, raw: Record<string, unknown>, env: Partial<Environment> = {}): Widget {
  startRecorder();
  const options = normalize(raw);
  const id = `haechi-${++seq}`;
  const widget = new Widget(id, container, host, options, { endpoint: options.endpoint ?? config.endpoint, nonce: config.nonce, ...env });
  widgets.set(id, widget);
  return widget;
}

/** Render into `target` (an element or a selector); its `data-` attributes are defaults unless
 * `attributes` is false (compat scripts read the vendor's attributes themselves). */
export function render(target: string | Element, options: Record<string, unknown> = {}, env?: Partial<Environment>, attributes = true): string {
  const container = (typeof target === "string" ? document.querySelector(target) : target) as HTMLElement | null;
  if (!container) throw new Error(`haechi: nothing matches ${String(target)}`);
  const existing = find(container);
  if (existing && existing.container === container) return existing.id;
  const host = document.createElement("div");
  container.append(host);
  return mount(container, host, attributes ? { ...fromDataset(container), ...options } : options, env).id;
}

export function execute(ref?: Ref, overrides: { action?: string; cdata?: string } = {}): Promise<string> {
  const widget = find(ref);
  return widget ? widget.execute(overrides) : Promise.reject(new Error("haechi: no widget"));
}

export function reset(ref?: Ref): void {
  find(ref)?.reset();
}

export function getResponse(ref?: Ref): string | undefined {
  return find(ref)?.token || undefined;
}

export function isExpired(ref?: Ref): boolean {
  return find(ref)?.expired ?? false;
}

export function remove(ref?: Ref): void {
  const widget = find(ref);
  if (!widget) return;
  widget.remove();
  widgets.delete(widget.id);
}

export function ready(callback: () => void): void {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => callback(), { once: true });
  else queueMicrotask(callback);
}

/** Render every `selector` element that has a sitekey and no widget yet. */
export function renderAll(selector: string, env?: Partial<Environment>): void {
  for (const el of Array.from(document.querySelectorAll<HTMLElement>(selector))) {
    if (el.dataset.sitekey && !find(el)) render(el, {}, env);
  }
}

/** `<haechi-widget sitekey="…">`: attributes are the options; removing it cleans up. */
export function defineElement(): void {
  if (typeof customElements === "undefined" || customElements.get("haechi-widget")) return;
  customElements.define(
    "haechi-widget",
    class extends HTMLElement {
      private widget?: Widget;
      connectedCallback(): void {
        this.widget = mount(this, this, fromAttributes(this));
      }
      disconnectedCallback(): void {
        if (this.widget) remove(this.widget.id);
        this.widget = undefined;
      }
      get response(): string | undefined {
        return this.widget?.token || undefined;
      }
      execute(): Promise<string> {
        return this.widget ? this.widget.execute() : Promise.reject(new Error("haechi: not connected"));
      }
      reset(): void {
        this.widget?.reset();
      }
    },
  );
}

export const api = { render, execute, reset, getResponse, isExpired, remove, ready };
