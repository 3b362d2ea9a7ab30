import assert from "node:assert/strict";
import { test } from "node:test";
import { OPTIONS, vendorOptions } from "../src/compat/options";
import { normalize } from "../src/options";

const element = (attrs: Record<string, string> = {}) => ({ getAttribute: (name: string) => attrs[name] ?? null });
const cb = () => undefined;

// Each vendor's documented render() option, the value given, and where it lands in Haechi's options.
type Row = [vendorName: string, value: unknown, check: (o: ReturnType<typeof normalize>) => unknown, expected: unknown];
const shared: Row[] = [
  ["sitekey", "k1", (o) => o.sitekey, "k1"],
  ["theme", "dark", (o) => o.theme, "dark"],
  ["size", "compact", (o) => o.size, "compact"],
  ["tabindex", "4", (o) => o.tabindex, 4],
  ["callback", cb, (o) => o.callbacks.callback, cb],
  ["expired-callback", cb, (o) => o.callbacks["expired-callback"], cb],
  ["error-callback", cb, (o) => o.callbacks["error-callback"], cb],
];
const TABLES: Record<keyof typeof OPTIONS, Row[]> = {
  recaptcha: [...shared, ["hl", "ko", (o) => o.language, "ko"], ["size", "invisible", (o) => o.mode, "invisible"]],
  hcaptcha: [
    ...shared,
    ["hl", "ko", (o) => o.language, "ko"],
    ["size", "invisible", (o) => o.mode, "invisible"],
    ["chalexpired-callback", cb, (o) => o.callbacks["timeout-callback"], cb],
    ["close-callback", cb, (o) => o.callbacks["close-callback"], cb],
  ],
  turnstile: [
    ...shared,
    ["size", "flexible", (o) => o.size, "flexible"],
    ["action", "login", (o) => o.action, "login"],
    ["cData", "sess-1", (o) => o.cdata, "sess-1"],
    ["timeout-callback", cb, (o) => o.callbacks["timeout-callback"], cb],
    ["language", "ko", (o) => o.language, "ko"],
    ["execution", "execute", (o) => o.execution, "execute"],
    ["appearance", "interaction-only", (o) => o.appearance, "interaction-only"],
    ["response-field", false, (o) => o.responseField, false],
    ["response-field-name", "tt", (o) => o.responseFieldName, "tt"],
    ["refresh-expired", "manual", (o) => o.refreshExpired, "manual"],
  ],
};

for (const [vendor, rows] of Object.entries(TABLES) as [keyof typeof OPTIONS, Row[]][]) {
  test(`${vendor}: every documented option, as a render() parameter and as a data- attribute`, () => {
    for (const [name, value, check, expected] of rows) {
      const fromParams = normalize(vendorOptions(element(), { sitekey: "k", [name]: value }, OPTIONS[vendor]));
      assert.deepEqual(check(fromParams), expected, `${vendor} render({${name}})`);
      if (typeof value === "function") continue; // data- attributes name global functions
      const fromAttribute = normalize(vendorOptions(element({ [`data-${name.toLowerCase()}`]: String(value) }), {}, OPTIONS[vendor]));
      assert.deepEqual(check(fromAttribute), expected, `${vendor} data-${name.toLowerCase()}`);
    }
    const documented = new Set(rows.map(([name]) => name));
    assert.deepEqual(Object.keys(OPTIONS[vendor]).filter((name) => !documented.has(name)), [], "an option without a test row");
  });
}

test("render() parameters override data- attributes; undefined parameters do not", () => {
  const el = element({ "data-theme": "dark", "data-cdata": "from-attr" });
  const o = vendorOptions(el, { theme: "light", cData: undefined }, OPTIONS.turnstile);
  assert.equal(o.theme, "light");
  assert.equal(o.cdata, "from-attr");
});

test("options a vendor documents for itself never reach Haechi's (endpoint, mode, badge)", () => {
  const el = element({ "data-endpoint": "https://api.hcaptcha.com", "data-mode": "non-interactive" });
  const o = vendorOptions(el, { sitekey: "k", endpoint: "https://evil.example", badge: "inline", "c-data": "x" }, OPTIONS.hcaptcha);
  assert.deepEqual(Object.keys(o), ["sitekey"]);
  assert.equal(normalize(o).endpoint, undefined);
  assert.equal(vendorOptions(element(), { cdata: "lowercase" }, OPTIONS.turnstile).cdata, undefined);
});
