import { describe, expect, it } from "vitest";

import { detectLanguage, format } from ".";
import { en } from "./en";
import { ko } from "./ko";

describe("language", () => {
  it("keeps the user's stored choice over the browser's", () => {
    expect(detectLanguage("en", ["ko-KR"])).toBe("en");
    expect(detectLanguage("ko", ["en-US"])).toBe("ko");
  });
  it("follows the browser's first known language, else English", () => {
    expect(detectLanguage(null, ["ko-KR", "en-US"])).toBe("ko");
    expect(detectLanguage(null, ["fr-FR", "en-GB", "ko"])).toBe("en");
    expect(detectLanguage("de", ["ja-JP"])).toBe("en");
    expect(detectLanguage(null, [])).toBe("en");
  });
});

describe("tables", () => {
  it("Korean has a non-empty string for every English key and no extra keys", () => {
    expect(Object.keys(ko).sort()).toEqual(Object.keys(en).sort());
    for (const [key, value] of Object.entries(ko)) expect(value.trim(), key).not.toBe("");
  });
  it("uses the same placeholders in both languages", () => {
    const names = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(names(ko[key]), key).toEqual(names(en[key]));
    }
  });
  it("formats placeholders and leaves unknown ones visible", () => {
    expect(format("{count} results", { count: 3 })).toBe("3 results");
    expect(format("{a} and {b}", { a: 1 })).toBe("1 and {b}");
  });
});
