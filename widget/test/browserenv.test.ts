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

test("the input clock: the system's input shares one fraction of a millisecond, the DevTools protocol's does not", async () => {
  const { clock, noteClock, msInputClock } = await import("../src/telemetry");
  // Measured (Chromium 156, Xvfb): xdotool moves at 4107.8, 4143.8, ...; Playwright's at 661.3, 682.8, 722.6, 747.5, ...
  for (const t of [4107.799999999988, 4143.799999999988, 4419.800000000012, 5004.799999999988]) noteClock(t);
  assert.deepEqual({ n: clock.n, off: clock.off }, { n: 4, off: 0 });
  Object.assign(clock, { base: -1, n: 0, off: 0 });
  for (const t of [661.2999999999884, 682.7999999999884, 722.5999999999767, 747.5, 769.4000000000233, 789.9000000000233]) noteClock(t);
  assert.deepEqual({ n: clock.n, off: clock.off }, { n: 6, off: 4 });
  // Judged only for Chromium on X11 in a window that knows its position (not Wayland's (0, 0)).
  assert.equal(msInputClock(nav(CHROME_LINUX, "Linux x86_64"), 10, 10), true);
  assert.equal(msInputClock(nav(CHROME_LINUX, "Linux x86_64"), 0, 0), false);
  assert.equal(msInputClock(nav(CHROME_WIN_131, "Win32"), 10, 10), false);
  assert.equal(msInputClock(nav(FIREFOX_WIN, "Win32"), 10, 10), false);
});
