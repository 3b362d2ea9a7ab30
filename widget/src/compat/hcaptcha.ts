// /hcaptcha/1/api.js: an `hcaptcha` object and `.h-captcha` divs, as hCaptcha's script has
// them, backed by Haechi. Fills the `<textarea>`s `h-captcha-response` and `g-recaptcha-response`
// (unless `recaptchacompat=off`) and `haechi-response`; each response gets a response key.
import { find, getResponse, ready, remove, render, reset } from "../registry";
import { OPTIONS, boot, element, vendorOptions } from "./common";

type Params = Record<string, unknown>;
// The response key of each response (hCaptcha's `ekey`): random, one per token, kept while the
// token is the widget's response.
const keys = new Map<string, string>();
const responseKey = (): string => {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return "E0_" + btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_");
};
let recaptchaCompat = true;
let language: string | null = null;

const hcaptcha = {
  render(container: string | HTMLElement, params: Params = {}): string | undefined {
    const el = element(container);
    if (!el) return undefined;
    const options = vendorOptions(el, params, OPTIONS.hcaptcha);
    options.language ??= language ?? undefined;
    const textareas = recaptchaCompat ? ["h-captcha-response", "g-recaptcha-response"] : ["h-captcha-response"];
    const onToken = (token: string): void => void keys.set(token, responseKey());
    return render(el, { ...options, "response-field-name": textareas[0] }, { fields: [...textareas.slice(1), "haechi-response"], textareas, onToken }, false);
  },
  /** `{async: true}` returns a promise of `{response, key}`, as hCaptcha's does. */
  execute(id?: string, options: { async?: boolean; rqdata?: string } = {}): Promise<{ response: string; key: string }> | undefined {
    const run = find(id)?.execute();
    if (!options.async) {
      void run?.catch(() => undefined);
      return undefined;
    }
    if (!run) return Promise.reject(new Error("invalid-hcaptcha-id"));
    return run.then((response) => ({ response, key: keys.get(response) ?? "" }));
  },
  reset: (id?: string) => reset(id),
  remove: (id?: string) => remove(id),
  getResponse: (id?: string) => getResponse(id) ?? "",
  getRespKey: (id?: string) => keys.get(getResponse(id) ?? "") ?? "",
  setData: () => undefined,
  close: (id?: string) => reset(id),
  ready: (callback: () => void) => ready(callback),
};

const w = window as unknown as Record<string, unknown>;
w.hcaptcha = hcaptcha;
const params = boot(/\/hcaptcha\/1\/api\.js$/, "h-captcha", (el) => hcaptcha.render(el));
recaptchaCompat = params.get("recaptchacompat") !== "off";
language = params.get("hl");
if (recaptchaCompat) w.grecaptcha ??= hcaptcha;
