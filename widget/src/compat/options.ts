// Each vendor's documented widget options, by name, and how they map to Haechi's (docs/widget.md).
/** A vendor's documented render() options: the vendor's name -> Haechi's (`""`: the same name).
 * The data- attribute of option `name` is `data-<name in lower case>` (`cData` -> `data-cdata`). */
export type OptionTable = Record<string, string>;

const SHARED: OptionTable = { sitekey: "", theme: "", size: "", tabindex: "", callback: "", "expired-callback": "", "error-callback": "" };

/** The options each vendor documents that Haechi honours; any other option is ignored, as the
 * vendor ignores unknown ones (so a vendor's `endpoint` can never redirect Haechi's calls). */
export const OPTIONS: Record<"recaptcha" | "hcaptcha" | "turnstile", OptionTable> = {
  recaptcha: { ...SHARED, hl: "language" },
  hcaptcha: { ...SHARED, hl: "language", "chalexpired-callback": "timeout-callback", "close-callback": "" },
  turnstile: {
    ...SHARED,
    action: "",
    cData: "cdata",
    "timeout-callback": "",
    language: "",
    execution: "",
    appearance: "",
    "response-field": "",
    "response-field-name": "",
    "refresh-expired": "",
  },
};

/** Options from the element's data- attributes, overridden by render() parameters, renamed. */
export function vendorOptions(el: Pick<Element, "getAttribute">, params: Record<string, unknown>, table: OptionTable): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, ours] of Object.entries(table)) {
    const value = params[name] ?? el.getAttribute("data-" + name.toLowerCase());
    if (value !== undefined && value !== null) out[ours || name] = value;
  }
  return out;
}
