import assert from "node:assert/strict";
import { test } from "node:test";
import {
  MAX_BYTES,
  MAX_EVENTS,
  MAX_KEYS,
  Recorder,
  heldButton,
  packEvents,
  toV2,
  type PointerLike,
  type TelemetryEvent,
} from "../src/telemetry";

const START = 1000;
const ptr = (type: string, t: number, x: number, y: number, extra: Partial<PointerLike> = {}): PointerLike => ({
  type,
  timeStamp: START + t,
  pointerType: "mouse",
  isPrimary: true,
  clientX: x,
  clientY: y,
  button: type === "pointermove" ? -1 : 0,
  buttons: 0,
  ...extra,
});
const key = (type: string, t: number, code: string, extra: object = {}) => ({ type, timeStamp: START + t, code, repeat: false, ...extra });
const snap = (rec: Recorder) => rec.snapshot([1280, 720], "none", {});

test("moves are sampled at 8 ms; the pending move is written before a click", () => {
  const rec = new Recorder(START);
  rec.pointer(ptr("pointermove", 10, 1, 1));
  rec.pointer(ptr("pointermove", 12, 2, 2)); // pending
  rec.pointer(ptr("pointermove", 15, 3, 3)); // replaces the pending one
  rec.pointer(ptr("pointermove", 18, 4.256, 4)); // 8 ms after the last written: written
  rec.pointer(ptr("pointermove", 20, 5, 5)); // pending
  rec.pointer(ptr("pointerdown", 21, 5, 5, { button: 0, buttons: 1 }));
  rec.pointer(ptr("pointermove", 23, 6, 6, { buttons: 1 })); // drag: 5 ms after the last move
  rec.pointer(ptr("pointerup", 40, 6, 6, { button: 0 }));
  assert.deepEqual(snap(rec).events, [
    [10, "m", 1, 1, -1],
    [18, "m", 4.26, 4, -1],
    [20, "m", 5, 5, -1],
    [21, "d", 5, 5, 0],
    [23, "m", 6, 6, 0],
    [40, "u", 6, 6, 0],
  ]);
  assert.equal(snap(rec).pointer, "mouse");
});

test("the first pointer type is primary; others carry ptype; non-primary touches are ignored", () => {
  const rec = new Recorder(START);
  rec.pointer(ptr("pointerdown", 5, 10, 10, { pointerType: "touch", buttons: 1 }));
  rec.pointer(ptr("pointermove", 20, 11, 11, { pointerType: "touch", isPrimary: false, buttons: 1 }));
  rec.pointer(ptr("pointermove", 30, 12, 12, { pointerType: "pen" }));
  rec.pointer(ptr("pointercancel", 31, 12, 12, { pointerType: "touch", button: -1 }));
  const data = snap(rec);
  assert.equal(data.pointer, "touch");
  assert.deepEqual(data.events, [
    [5, "d", 10, 10, 0],
    [30, "m", 12, 12, -1, "p"],
    [31, "u", 12, 12, 0],
  ]);
});

test("held buttons map to the lowest-numbered button", () => {
  assert.equal(heldButton(0), -1);
  assert.equal(heldButton(1), 0);
  assert.equal(heldButton(4), 1);
  assert.equal(heldButton(2), 2);
  assert.equal(heldButton(6), 1);
  assert.equal(heldButton(8), 3);
  assert.equal(heldButton(16), 4);
});

test("scrolls follow the 8 ms rule and flush before a down", () => {
  const rec = new Recorder(START);
  rec.scroll(START + 100, 0, 10);
  rec.scroll(START + 104, 0, 20);
  rec.pointer(ptr("pointerdown", 105, 1, 1));
  assert.deepEqual(snap(rec).events, [
    [100, "s", 0, 10, -1],
    [104, "s", 0, 20, -1],
    [105, "d", 1, 1, 0],
  ]);
});

test("a blur only when focused, a focus only after a blur", () => {
  const rec = new Recorder(START, true, false);
  rec.focus(START + 10, true); // no "f" without a "b"
  rec.focus(START + 20, false); // blur
  rec.focus(START + 25, false); // then hidden: still one "b"
  rec.focus(START + 30, true);
  rec.focus(START + 31, true);
  assert.deepEqual(snap(rec).events, [
    [20, "b", 0, 0, -1],
    [30, "f", 0, 0, -1],
  ]);
  const hidden = new Recorder(START, false, true);
  hidden.focus(START + 5, false);
  assert.deepEqual(hidden.snapshot(null, "none", {}).events, []);
  assert.equal(hidden.snapshot(null, "none", {}).hints.hidden_at_start, true);
});

test("keys: timing and slots only; no repeats; nothing from password fields", () => {
  const rec = new Recorder(START);
  rec.key(key("keydown", 1, "KeyA"));
  rec.key(key("keydown", 2, "KeyA", { repeat: true }));
  rec.key(key("keyup", 3, "KeyA"));
  rec.key(key("keydown", 4, "KeyB"));
  rec.key(key("keyup", 5, "KeyB"));
  rec.key(key("keydown", 6, "KeyA"));
  rec.key(key("keydown", 7, "KeyC", { target: { tagName: "INPUT", type: "password" } }));
  const data = snap(rec);
  assert.deepEqual(data.keys, [
    [1, "d", 0],
    [3, "u", 0],
    [4, "d", 1],
    [5, "u", 1],
    [6, "d", 0],
  ]);
  assert.ok(!JSON.stringify(data).includes("Key"));
});

test("time never decreases and events before the start are not recorded", () => {
  const rec = new Recorder(START);
  rec.pointer(ptr("pointermove", -5, 1, 1));
  rec.pointer(ptr("pointerdown", 50, 1, 1));
  rec.pointer(ptr("pointerup", 49.4, 1, 1));
  assert.deepEqual(snap(rec).events.map((e) => e[0]), [50, 50]);
});

test("caps: oldest moves go first, keys keep the newest, every drop is counted", () => {
  const rec = new Recorder(START);
  rec.pointer(ptr("pointerdown", 0, 0, 0));
  for (let i = 1; i <= MAX_EVENTS + 50; i++) rec.pointer(ptr("pointermove", i * 10, i, i));
  for (let i = 0; i < MAX_KEYS + 10; i++) rec.key(key(i % 2 ? "keyup" : "keydown", i, "KeyA"));
  const data = snap(rec);
  assert.ok(data.events.length <= MAX_EVENTS);
  assert.deepEqual(data.events[0], [0, "d", 0, 0, 0]);
  assert.ok(data.keys.length <= MAX_KEYS);
  assert.equal(data.keys[data.keys.length - 1][0], MAX_KEYS + 9);
  const written = MAX_EVENTS + 51 + MAX_KEYS + 10;
  assert.equal(data.events.length + data.keys.length + data.dropped, written);
});

test("the serialized object stays within 64 KiB", () => {
  const rec = new Recorder(START);
  for (let i = 1; i <= MAX_EVENTS; i++) rec.pointer(ptr("pointermove", i * 10, 12345.67 + i, 23456.78 + i, { pointerType: i % 2 ? "mouse" : "pen" }));
  const data = snap(rec);
  assert.ok(JSON.stringify(data).length <= MAX_BYTES);
  assert.equal(data.events.length + data.dropped, MAX_EVENTS);
  assert.ok(data.dropped > 0);
});

test("past 30 minutes the recording re-bases", () => {
  const rec = new Recorder(START);
  rec.pointer(ptr("pointermove", 10, 1, 1));
  rec.key(key("keydown", 11, "KeyA"));
  rec.pointer(ptr("pointermove", 1_800_001, 2, 2));
  const data = snap(rec);
  assert.deepEqual(data.events, [[0, "m", 2, 2, -1]]);
  assert.equal(data.dropped, 2);
});

test("snapshot shape: viewport validated, media-query pointer fallback", () => {
  const rec = new Recorder(START);
  const data = rec.snapshot([0, 720], "touch", { cores: 4 });
  assert.equal(data.viewport, null);
  assert.equal(data.pointer, "touch");
  assert.deepEqual(Object.keys(data), ["v", "viewport", "pointer", "events", "keys", "hints", "dropped"]);
  assert.equal(data.hints.cores, 4);
});

test("v2 packs the events into columns the server reads back exactly", () => {
  const rows: TelemetryEvent[] = [
    [0, "m", 4.26, -3, -1],
    [17, "d", 100000, 0.5, 0],
    [1800000, "s", 5e7, -5e7, -1, "t"],
  ];
  const packed = packEvents(rows, "mouse");
  assert.equal(packed.k, "mds");
  assert.equal(packed.p, "mmt");
  const bytes = Buffer.from(packed.d, "base64");
  assert.equal(bytes.length, 13 * 3);
  const n = 3;
  assert.deepEqual([0, 1, 2].map((i) => bytes.readUInt32LE(4 * i)), [0, 17, 1800000]);
  assert.deepEqual([0, 1, 2].map((i) => bytes.readInt32LE(4 * (n + i))), [426, 10000000, 2147483647]);
  assert.deepEqual([0, 1, 2].map((i) => bytes.readInt32LE(4 * (2 * n + i))), [-300, 50, -2147483647]);
  assert.deepEqual([0, 1, 2].map((i) => bytes.readInt8(12 * n + i)), [-1, 0, -1]);
  assert.equal(packEvents(rows.slice(0, 2), "mouse").p, undefined);
  assert.deepEqual(packEvents([], "mouse"), { k: "", d: "" });
});

test("the page's telemetry is v2: the snapshot with its events packed", () => {
  const rec = new Recorder(START);
  rec.pointer(ptr("pointermove", 10, 1, 1));
  const v1 = snap(rec);
  const v2 = toV2(v1);
  assert.equal(v2.v, 2);
  assert.deepEqual(v2.events, packEvents(v1.events, v1.pointer));
  assert.deepEqual({ ...v2, v: 1, events: v1.events }, v1);
});
