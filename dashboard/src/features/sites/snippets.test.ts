import { describe, expect, it } from "vitest";

import { parseHostnames } from "./hostnames";
import { snippets } from "./snippets";

describe("snippets", () => {
  const all = snippets({ origin: "https://captcha.example.com", sitekey: "hk_abc" });
  it("put this server's origin and the sitekey into the page snippet", () => {
    expect(all.html).toContain('<script src="https://captcha.example.com/v1/widget.js" async defer>');
    expect(all.html).toContain('data-sitekey="hk_abc"');
  });
  it("verify on the server against /siteverify with the haechi-response field", () => {
    for (const kind of ["python", "node", "php"] as const) {
      expect(all[kind]).toContain("https://captcha.example.com");
      expect(all[kind]).toContain("haechi-response");
      expect(all[kind]).not.toContain("hs_"); // never a secret in code: from the environment
    }
  });
  it("name each vendor's compatible script and verify path", () => {
    expect(all.compat).toContain("/recaptcha/api/siteverify");
    expect(all.compat).toContain("/hcaptcha/siteverify");
    expect(all.compat).toContain("/turnstile/v0/siteverify");
  });
});

describe("hostnames", () => {
  it("splits on commas and whitespace, lower-cases and de-duplicates", () => {
    expect(parseHostnames(" Shop.example.com, www.example.com\nshop.example.com ")).toEqual(["shop.example.com", "www.example.com"]);
    expect(parseHostnames("  ")).toEqual([]);
  });
});
