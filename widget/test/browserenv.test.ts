import assert from "node:assert/strict";
import { test } from "node:test";
import { envFacts, type Nav } from "../src/browserenv";
import { uaMismatch } from "../src/telemetry";

const CHROME_LINUX = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";
const CHROME_WIN_131 = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const FIREFOX_WIN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0";
const brands = (v: string) => [
  { brand: "Not:A-Brand", version: "8" },
  { brand: "Chromium", version: v },
];
const nav = (userAgent: string, platform: string, data?: Nav["userAgentData"]): Nav =>
  ({ userAgent, platform, hardwareConcurrency: 8, languages: ["en-US", "en"], userAgentData: data }) as unknown as Nav;

(globalThis as { isSecureContext?: boolean }).isSecureContext = true;

test("a real Chromium agrees with itself", () => {
  assert.equal(uaMismatch(nav(CHROME_LINUX, "Linux x86_64", { brands: brands("156"), platform: "Linux" })), false);
});

test("a user agent spoofed over Client Hints is caught (measured: Playwright's user_agent option)", () => {
  // What Playwright's Chromium 156 reported with a Windows Chrome/131 user agent set.
  assert.equal(uaMismatch(nav(CHROME_WIN_131, "Linux x86_64", { brands: brands("156"), platform: "Windows" })), true);
  // The version alone, the platform alone.
  assert.equal(uaMismatch(nav(CHROME_WIN_131, "Win32", { brands: brands("156"), platform: "Windows" })), true);
  assert.equal(uaMismatch(nav(CHROME_LINUX, "Win32", { brands: brands("156"), platform: "Linux" })), true);
});

test("a Chrome user agent without Client Hints in a secure context is a spoof", () => {
  assert.equal(uaMismatch(nav(CHROME_LINUX, "Linux x86_64")), true);
});

test("browsers without Client Hints are judged by platform only", () => {
  assert.equal(uaMismatch(nav(FIREFOX_WIN, "Win32")), false);
  assert.equal(uaMismatch(nav(FIREFOX_WIN, "Linux x86_64")), true);
  assert.equal(uaMismatch(nav("curl/8", "")), undefined);
});

test("the worker's facts differ when a stealth patch changed only the page", () => {
  const page = nav(CHROME_WIN_131, "Win32", { brands: brands("156"), platform: "Windows" });
  const worker = nav(CHROME_WIN_131, "Linux x86_64", { brands: [] });
  assert.notEqual(envFacts(page), envFacts(worker));
  assert.equal(envFacts(page), envFacts(nav(CHROME_WIN_131, "Win32", { brands: brands("156"), platform: "Windows" })));
});
