// Behaviour telemetry (docs/telemetry.md): pointer, scroll and focus events, key timing (never
// key values), sampled and capped exactly as the format says. One recorder per page, started
// when the script loads; it records v1 rows, and every widget sends its snapshot as v2 (the
// same object with the events packed into columns: smaller, and cheap for the server to read).

import { envFacts, type Nav } from "./browserenv";

export type Event5 = [number, string, number, number, number];
export type Event6 = [number, string, number, number, number, string];
export type TelemetryEvent = Event5 | Event6;
export type KeyEntry = [number, "d" | "u", number];

export interface TelemetryV1 {
  v: 1;
  viewport: [number, number] | null;
  pointer: "mouse" | "touch" | "pen" | "none";
  events: TelemetryEvent[];
  keys: KeyEntry[];
  hints: Record<string, boolean | number>;
  dropped: number;
}

/** v2's events: kinds, pointer types (only when they differ), and t/x/y/button packed. */
export interface PackedEvents {
  k: string;
  d: string;
  p?: string;
}

export interface TelemetryV2 extends Omit<TelemetryV1, "v" | "events"> {
  v: 2;
  events: PackedEvents;
}

/** What the recorder reads from DOM events (a subset, so tests can pass plain objects). */
export interface PointerLike {
  type: string;
  timeStamp: number;
  pointerType: string;
  isPrimary: boolean;
  clientX: number;
  clientY: number;
  button: number;
  buttons: number;
}
export interface KeyLike {
  type: string;
  timeStamp: number;
  code: string;
  repeat: boolean;
  target?: EventTarget | null;
  composedPath?: () => EventTarget[];
}

export const MAX_EVENTS = 2000;
export const MAX_KEYS = 500;
export const MAX_BYTES = 64 * 1024;
export const MAX_T = 1_800_000;
const SAMPLE_MS = 8;
const PTYPE: Record<string, string> = { mouse: "m", touch: "t", pen: "p" };
// Lowest-numbered held button from MouseEvent.buttons: bit 1 -> 0, bit 4 -> 1, bit 2 -> 2, ...
const BUTTON_BITS: [number, number][] = [[1, 0], [4, 1], [2, 2], [8, 3], [16, 4]];

const round = (v: number, limit: number): number =>
  Math.max(-limit, Math.min(limit, Math.round(v * 100) / 100 || 0));

export function heldButton(buttons: number): number {
  for (const [bit, button] of BUTTON_BITS) if (buttons & bit) return button;
  return -1;
}

export class Recorder {
  private start: number;
  private events: TelemetryEvent[] = [];
  private keys: KeyEntry[] = [];
  private dropped = 0;
  private lastT = 0;
  private lastKeyT = 0;
  private lastMoveT = -Infinity;
  private lastScrollT = -Infinity;
  private pendingMove: TelemetryEvent | null = null;
  private pendingScroll: TelemetryEvent | null = null;
  private primary: string | null = null;
  private slots = new Map<string, number>();
  private inFocus: boolean;
  private wroteBlur = false;
  private lastDownButton = 0;
  readonly hiddenAtStart: boolean;

  constructor(now: number, focused = true, hidden = false) {
    this.start = now;
    this.inFocus = focused && !hidden;
    this.hiddenAtStart = hidden;
  }

  /** Time since start for an event, re-basing past 30 minutes; null for events from before. */
  private time(stamp: number, keys = false): number | null {
    let t = Math.round(stamp - this.start);
    if (t < 0) return null;
    if (t > MAX_T) {
      this.dropped += this.events.length + this.keys.length;
      this.events = [];
      this.keys = [];
      this.slots.clear();
      this.pendingMove = this.pendingScroll = null;
      this.start = stamp;
      this.lastT = this.lastKeyT = 0;
      this.lastMoveT = this.lastScrollT = -Infinity;
      t = 0;
    }
    if (keys) return (this.lastKeyT = Math.max(t, this.lastKeyT));
    return Math.max(t, this.lastT);
  }

  private push(event: TelemetryEvent): void {
    this.lastT = event[0];
    if (this.events.length >= MAX_EVENTS) this.shed();
    this.events.push(event);
  }

  /** Make room: the oldest tenth of the moves, else of the scrolls, else of anything. */
  private shed(): void {
    for (const type of ["m", "s", ""]) {
      const matching = this.events.filter((e) => !type || e[1] === type).length;
      if (!matching) continue;
      let budget = Math.max(1, Math.floor(matching / 10));
      const before = this.events.length;
      this.events = this.events.filter((e) => !(budget > 0 && (!type || e[1] === type) && budget--));
      this.dropped += before - this.events.length;
      return;
    }
  }

  private flush(): void {
    if (this.pendingMove) this.push(this.pendingMove);
    if (this.pendingScroll) this.push(this.pendingScroll);
    this.pendingMove = this.pendingScroll = null;
  }

  pointer(e: PointerLike): void {
    if (!e.isPrimary) return;
    const t = this.time(e.timeStamp);
    if (t === null) return;
    this.primary ??= e.pointerType in PTYPE ? e.pointerType : "mouse";
    const kind = e.type === "pointermove" ? "m" : e.type === "pointerdown" ? "d" : "u";
    let button: number;
    if (kind === "m") button = heldButton(e.buttons);
    else if (kind === "d") button = this.lastDownButton = e.button >= 0 && e.button <= 4 ? e.button : 0;
    else button = e.button >= 0 && e.button <= 4 ? e.button : this.lastDownButton;
    const event: TelemetryEvent = [t, kind, round(e.clientX, 1e5), round(e.clientY, 1e5), button];
    const ptype = PTYPE[e.pointerType] ?? "m";
    if (ptype !== PTYPE[this.primary]) event.push(ptype);
    if (kind === "m") {
      if (t - this.lastMoveT >= SAMPLE_MS) {
        this.lastMoveT = t;
        this.pendingMove = null;
        this.push(event);
      } else {
        this.pendingMove = event;
      }
      return;
    }
    this.flush();
    this.push([Math.max(t, this.lastT), ...event.slice(1)] as TelemetryEvent);
  }

  scroll(timeStamp: number, x: number, y: number): void {
    const t = this.time(timeStamp);
    if (t === null) return;
    const event: TelemetryEvent = [t, "s", round(x, 5e7), round(y, 5e7), -1];
    if (t - this.lastScrollT >= SAMPLE_MS) {
      this.lastScrollT = t;
      this.pendingScroll = null;
      this.push(event);
    } else {
      this.pendingScroll = event;
    }
  }

  /** Window focus/blur and visibility changes: a "b" only when focused, an "f" only after a "b". */
  focus(timeStamp: number, focused: boolean): void {
    const t = this.time(timeStamp);
    if (t === null) return;
    if (!focused && this.inFocus) {
      this.flush();
      this.push([Math.max(t, this.lastT), "b", 0, 0, -1]);
      this.wroteBlur = true;
    } else if (focused && this.wroteBlur) {
      this.push([Math.max(t, this.lastT), "f", 0, 0, -1]);
      this.wroteBlur = false;
    }
    this.inFocus = focused;
  }

  key(e: KeyLike): void {
    if (e.type === "keydown" && e.repeat) return;
    const target = (e.composedPath?.()[0] ?? e.target) as { type?: string; tagName?: string } | null;
    if (target?.tagName === "INPUT" && target.type === "password") return;
    const t = this.time(e.timeStamp, true);
    if (t === null) return;
    let slot = this.slots.get(e.code);
    if (slot === undefined) this.slots.set(e.code, (slot = Math.min(this.slots.size, 255)));
    if (this.keys.length >= MAX_KEYS) {
      const cut = MAX_KEYS / 10;
      this.keys.splice(0, cut);
      this.dropped += cut;
    }
    this.keys.push([t, e.type === "keydown" ? "d" : "u", slot]);
  }

  /** The telemetry object to send, within the 64 KiB cap. */
  snapshot(viewport: [number, number] | null, fallbackPointer: TelemetryV1["pointer"], hints: TelemetryV1["hints"]): TelemetryV1 {
    this.flush();
    const valid = viewport && viewport.every((v) => v > 0 && v <= 1e5) ? viewport : null;
    const data: TelemetryV1 = {
      v: 1,
      viewport: valid,
      pointer: (this.primary as TelemetryV1["pointer"]) ?? fallbackPointer,
      events: this.events.slice(),
      keys: this.keys.slice(),
      hints: { ...hints, hidden_at_start: this.hiddenAtStart },
      dropped: this.dropped,
    };
    while (JSON.stringify(data).length > MAX_BYTES) {
      const moves = data.events.filter((e) => e[1] === "m").length;
      let budget = Math.max(1, Math.floor(moves / 10));
      const before = data.events.length;
      data.events = data.events.filter((e) => !(budget > 0 && e[1] === "m" && budget--));
      if (data.events.length === before) break;
      this.events = data.events.slice();
      this.dropped += before - data.events.length;
      data.dropped = this.dropped;
    }
    return data;
  }
}

const I32 = 2147483647;
const centi = (v: number): number => Math.max(-I32, Math.min(I32, Math.round(v * 100)));

/** Events as v2 packs them: per event t uint32, x and y int32 in hundredths of a CSS px, button
 * int8, little-endian, column after column, base64; `p` only when some event has a ptype. */
export function packEvents(events: TelemetryEvent[], primary: string): PackedEvents {
  const n = events.length;
  const view = new DataView(new ArrayBuffer(13 * n));
  const own = PTYPE[primary] ?? "m";
  let k = "";
  let p = "";
  let mixed = false;
  events.forEach((e, i) => {
    view.setUint32(4 * i, e[0], true);
    view.setInt32(4 * (n + i), centi(e[2]), true);
    view.setInt32(4 * (2 * n + i), centi(e[3]), true);
    view.setInt8(12 * n + i, e[4]);
    k += e[1];
    p += e[5] ?? own;
    mixed ||= e.length > 5;
  });
  const bytes = new Uint8Array(view.buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return mixed ? { k, d: btoa(binary), p } : { k, d: btoa(binary) };
}

export const toV2 = (t: TelemetryV1): TelemetryV2 => ({ ...t, v: 2, events: packEvents(t.events, t.pointer) });

/** What the proof-of-work worker saw of the browser (`noteWorkerEnv`), to compare with the page. */
let workerEnv: string | undefined;
/** Input events that a script made rather than the user (`isTrusted` false). */
let untrusted = 0;
/** The visitor's own input so far: when it began, presses and keys (for `waitForInput`). */
const input = { first: -1, downs: 0, keys: 0 };
const inputWaiters = new Set<() => void>();
const noteInput = (t: number, down: boolean, key: boolean): void => {
  if (input.first < 0) input.first = t;
  if (down) input.downs++;
  if (key) input.keys++;
  for (const wake of inputWaiters) wake();
};

/** Resolves once the visitor has given enough input to judge: a press, 3 keys, or 1.2 s since
 *  their first move or key (the server asked with `await_input`: the page had none yet). */
export function waitForInput(signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = (): void => {
      inputWaiters.delete(check);
      clearTimeout(timer);
      signal.removeEventListener("abort", abort);
    };
    const abort = (): void => {
      done();
      reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
    };
    const check = (): void => {
      if (input.first < 0) return;
      const left = input.first + 1200 - performance.now();
      if (input.downs > 0 || input.keys >= 3 || left <= 0) {
        done();
        resolve();
      } else if (timer === undefined) timer = setTimeout(check, left);
    };
    signal.addEventListener("abort", abort);
    inputWaiters.add(check);
    check();
  });
}

/** The input clock (docs/telemetry.md, Hints, `clock_n`/`clock_off`): Chromium on X11 stamps
 *  the system's input in the X server's whole milliseconds, so a page's trusted mouse events
 *  share one fraction of a millisecond; input sent through the DevTools protocol (Playwright,
 *  Puppeteer, Selenium) is stamped on arrival and falls anywhere. Two counts, nothing else. */
export const clock = { base: -1, n: 0, off: 0 };
export function noteClock(stamp: number): void {
  const d = Math.abs((stamp % 1) - (clock.base < 0 ? (clock.base = stamp % 1) : clock.base));
  if (d > 0.15 && d < 0.85) clock.off++;
  clock.n++;
}

/** Chromium on X11 (not ChromeOS or Android). Under Wayland the same agent stamps input on
 *  arrival, and a Wayland window never learns its position: a window at (0, 0) is not judged. */
export const msInputClock = (nav: Nav, x: number, y: number): boolean => /X11; Linux.* Chrome\//.test(nav.userAgent) && !!(x || y);

export const noteWorkerEnv = (facts: string): void => {
  workerEnv = facts;
};

const OS: [RegExp, RegExp, RegExp][] = [
  // UA token, navigator.platform, userAgentData.platform
  [/Windows/, /^Win/, /^Windows$/],
  [/Macintosh|Mac OS X/, /^Mac/, /^macOS$/],
  [/CrOS/, /Linux|CrOS/, /^Chrome OS$/],
  [/Android/, /Linux|Android|^$/, /^Android$/],
  [/X11|Linux/, /Linux|X11|BSD/, /^Linux$/],
];

/** The user agent string against Client Hints and the platform: a spoofed UA string rarely
 *  changes all three (docs/telemetry.md, Hints). Undefined when there is nothing to compare. */
export function uaMismatch(nav: Nav): boolean | undefined {
  const ua = nav.userAgent;
  const chrome = / Chrome\/(\d+)\./.exec(ua);
  const data = nav.userAgentData;
  let mismatch = false;
  if (chrome && !/ (CriOS|EdgiOS)\//.test(ua) && globalThis.isSecureContext) {
    // Every Chromium since 90 has userAgentData in a secure context, one brand at the UA's major.
    mismatch = !data || !(data.brands ?? []).some((b) => b.version === chrome[1]);
  }
  const os = OS.find(([token]) => token.test(ua));
  if (os) {
    if (nav.platform && !os[1].test(nav.platform)) mismatch = true;
    if (data?.platform && !os[2].test(data.platform)) mismatch = true;
  }
  return chrome || os ? mismatch : undefined;
}

/** Cheap environment observations (docs/telemetry.md, Hints); absent ones are left out. */
export function collectHints(): Record<string, boolean | number> {
  const hints: Record<string, boolean | number> = {};
  const nav = navigator as Nav;
  const put = (name: string, value: unknown, max?: number): void => {
    if (typeof value === "boolean") hints[name] = value;
    else if (typeof value === "number" && Number.isFinite(value) && (max === undefined || (value >= -max && value <= max)))
      hints[name] = value;
  };
  put("webdriver", nav.webdriver);
  const brands = nav.userAgentData?.brands ?? [];
  put("headless", /HeadlessChrome/.test(nav.userAgent) || brands.some((b) => /HeadlessChrome/.test(b.brand)));
  try {
    put("in_iframe", window !== window.top);
  } catch {
    put("in_iframe", true);
  }
  put("languages", nav.languages?.length, 100);
  put("touch_points", nav.maxTouchPoints, 256);
  put("dpr", Math.round(devicePixelRatio * 100) / 100, 16);
  put("ua_mismatch", uaMismatch(nav));
  if (workerEnv !== undefined) put("worker_mismatch", workerEnv !== envFacts(nav));
  // A desktop window with no browser interface around the page: headless, or a kiosk.
  put("no_ui", outerWidth === innerWidth && outerHeight === innerHeight && !nav.maxTouchPoints);
  put("untrusted", untrusted, 1e6);
  if (clock.n && msInputClock(nav, screenX, screenY)) {
    put("clock_n", clock.n, 1e6);
    put("clock_off", clock.off, 1e6);
  }
  return hints;
}

/** The page's recorder, listening from the first call on. */
let pageRecorder: Recorder | undefined;

export function startRecorder(): Recorder {
  if (pageRecorder) return pageRecorder;
  const rec = (pageRecorder = new Recorder(performance.now(), document.hasFocus(), document.visibilityState === "hidden"));
  const opts = { capture: true, passive: true };
  const onPointer = (e: PointerEvent): void => {
    if (!e.isTrusted) untrusted++;
    else {
      if (e.pointerType !== "touch") noteClock(e.timeStamp);
      if (e.type !== "pointerup" && e.type !== "pointercancel") noteInput(e.timeStamp, e.type === "pointerdown", false);
    }
    rec.pointer(e);
  };
  // A click made by a script (element.click(), dispatchEvent) has no pointer events behind it.
  addEventListener("click", (e) => e.isTrusted || untrusted++, opts);
  for (const type of ["pointermove", "pointerdown", "pointerup", "pointercancel"])
    addEventListener(type, onPointer as EventListener, opts);
  addEventListener("scroll", (e) => rec.scroll(e.timeStamp, scrollX, scrollY), opts);
  addEventListener("focus", (e) => e.target === window && rec.focus(e.timeStamp, true), opts);
  addEventListener("blur", (e) => e.target === window && rec.focus(e.timeStamp, false), opts);
  document.addEventListener(
    "visibilitychange",
    (e) => rec.focus(e.timeStamp, document.visibilityState === "visible"),
    opts,
  );
  const onKey = (e: KeyboardEvent): void => {
    if (!e.isTrusted) untrusted++;
    else if (e.type === "keydown") noteInput(e.timeStamp, false, true);
    rec.key(e);
  };
  document.addEventListener("keydown", onKey, opts);
  document.addEventListener("keyup", onKey, opts);
  return rec;
}

export function pageTelemetry(): TelemetryV2 {
  const rec = startRecorder();
  const media = (q: string): boolean => matchMedia?.(`(pointer: ${q})`).matches;
  const fallback = media("fine") ? "mouse" : media("coarse") ? "touch" : "none";
  return toV2(rec.snapshot([innerWidth, innerHeight], fallback, collectHints()));
}
