// /hcaptcha/1/api.js: an `hcaptcha` object and `.h-captcha` divs, as hCaptcha's script has
// them, backed by Haechi. Fills `h-captcha-response`, `g-recaptcha-response` (unless
// `recaptchacompat=off`) and `haechi-response`.
import { find, getResponse, ready, remove, render, reset } from "../registry";
import { boot, element, vendorOptions } from "./common";

type Params = Record<string, unknown>;
let recaptchaCompat = true;
let language: string | null = null;

const hcaptcha = {
  render(container: string | HTMLElement, params: Params = {}): string | undefined {
    const el = element(container);
    if (!el) return undefined;
    const options = vendorOptions(el, params, { "chalexpired-callback": "timeout-callback", hl: "language" });
    options.language ??= language ?? undefined;
    const fields = recaptchaCompat ? ["g-recaptcha-response", "haechi-response"] : ["haechi-response"];
    return render(el, { "response-field-name": "h-captcha-response", ...options }, { fields });
  },
  /** `{async: true}` returns a promise of `{response, key}`, as hCaptcha's does. */
  execute(id?: string, options: { async?: boolean; rqdata?: string } = {}): Promise<{ response: string; key: string }> | undefined {
    const run = find(id)?.execute();
    if (!options.async) {
      void run?.catch(() => undefined);
      return undefined;
    }
    if (!run) return Promise.reject(new Error("invalid-hcaptcha-id"));
    return run.then((response) => ({ response, key: "" }));
  },
  reset: (id?: string) => reset(id),
  remove: (id?: string) => remove(id),
  getResponse: (id?: string) => getResponse(id) ?? "",
  getRespKey: () => "",
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
