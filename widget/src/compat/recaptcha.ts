// /recaptcha/api.js: a `grecaptcha` object and `.g-recaptcha` divs, as Google's script has them
// (v2 checkbox and invisible, and v3's `execute(sitekey, {action})`), backed by Haechi. Fills the
// `<textarea name="g-recaptcha-response">` (id `g-recaptcha-response`, then `-1`, `-2`, …) and
// `haechi-response`. v2 tokens verify without `score` and `action`, as Google's do.
import { find, getResponse, ready, remove, render, reset } from "../registry";
import { OPTIONS, boot, element, vendorOptions } from "./common";

type Params = Record<string, unknown>;
const ids: string[] = []; // reCAPTCHA widget ids are numbers: positions in this list
let language: string | null = null;
const v3 = new Map<string, string>();

const byNumber = (id?: number | string): string | undefined => (id === undefined ? ids[0] : ids[Number(id)]);

const grecaptcha = {
  render(container: string | HTMLElement, params: Params = {}): number {
    const el = element(container);
    if (!el) throw new Error("reCAPTCHA placeholder element must be an element or id");
    const options = vendorOptions(el, params, OPTIONS.recaptcha);
    options.language ??= language ?? undefined;
    const n = ids.length;
    const fieldId = n ? `g-recaptcha-response-${n}` : "g-recaptcha-response";
    const field = "g-recaptcha-response";
    // A v2 widget: siteverify answers as Google does for v2 (no score, no action).
    ids.push(render(el, { ...options, "response-field-name": field }, { fields: ["haechi-response"], fieldId, textareas: [field], api: "recaptcha-v2" }, false));
    return n;
  },
  /** v2 invisible: `execute(id?)` (the token goes to the callback). v3: `execute(sitekey, {action})`. */
  execute(idOrSitekey?: number | string, options?: { action?: string }): Promise<string> | undefined {
    if (typeof idOrSitekey === "string" && options) {
      let id = v3.get(idOrSitekey);
      if (!id) {
        const host = document.createElement("div");
        host.hidden = true;
        document.body.append(host);
        id = render(host, { sitekey: idOrSitekey, size: "invisible", "response-field": false });
        v3.set(idOrSitekey, id);
      }
      reset(id); // v3 asks for a fresh token per action
      return find(id)!.execute({ action: options.action });
    }
    void find(byNumber(idOrSitekey))?.execute().catch(() => undefined);
    return undefined;
  },
  reset: (id?: number) => reset(byNumber(id)),
  getResponse: (id?: number) => getResponse(byNumber(id)) ?? "",
  remove: (id?: number) => remove(byNumber(id)),
  ready: (callback: () => void) => ready(callback),
};

const w = window as unknown as Record<string, unknown>;
w.grecaptcha = grecaptcha;
const params = boot(/\/recaptcha\/api\.js$/, "g-recaptcha", (el) => grecaptcha.render(el));
language = params.get("hl");
