import assert from "node:assert/strict";
import { test } from "node:test";
import { STRINGS, pickLanguage, translator } from "../src/i18n";
import { normalize, resolveCallback } from "../src/options";

test("defaults: managed, rendered at once, auto theme, haechi-response", () => {
  const o = normalize({ sitekey: "hk_x" });
  assert.equal(o.mode, "managed");
  assert.equal(o.execution, "render");
  assert.equal(o.theme, "auto");
  assert.equal(o.size, "normal");
  assert.equal(o.responseField, true);
  assert.equal(o.responseFieldName, "haechi-response");
  assert.equal(o.refreshExpired, "auto");
});

test("kebab-case and camelCase keys; size=invisible means invisible mode run on execute()", () => {
  const cb = () => undefined;
  const o = normalize({ sitekey: "k", size: "invisible", expiredCallback: cb, "error-callback": "onErr", responseFieldName: "tok", tabindex: "3" });
  assert.equal(o.mode, "invisible");
  assert.equal(o.execution, "execute");
  assert.equal(o.size, "normal");
  assert.equal(o.callbacks["expired-callback"], cb);
  assert.equal(o.callbacks["error-callback"], "onErr");
  assert.equal(o.responseFieldName, "tok");
  assert.equal(o.tabindex, 3);
  assert.equal(normalize({ sitekey: "k", "response-field": "false" }).responseField, false);
  assert.equal(normalize({ sitekey: "k", theme: "neon" }).theme, "auto");
});

test("callbacks by global name, dotted paths too", () => {
  const g = globalThis as Record<string, unknown>;
  g.myApp = { done: () => "ok" };
  assert.equal(resolveCallback("myApp.done")?.(), "ok");
  assert.equal(resolveCallback("nope.nothing"), undefined);
  delete g.myApp;
});

test("one string table: same keys and placeholders in Korean and English", () => {
  assert.deepEqual(Object.keys(STRINGS.ko).sort(), Object.keys(STRINGS.en).sort());
  for (const k of Object.keys(STRINGS.en) as (keyof typeof STRINGS.en)[]) {
    assert.deepEqual(STRINGS.ko[k].match(/\{\d\}/g)?.sort(), STRINGS.en[k].match(/\{\d\}/g)?.sort(), k);
  }
  assert.equal(translator("ko")("choose", 1, 9), "1개에서 9개 사이의 칸을 고르세요.");
  assert.equal(pickLanguage("auto", ["ko-KR", "en"]), "ko");
  assert.equal(pickLanguage("auto", ["fr"]), "en");
  assert.equal(pickLanguage("ko", ["en"]), "ko");
  assert.equal(pickLanguage(undefined, []), "en");
});
