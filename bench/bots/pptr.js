// The bot zoo's Puppeteer families (bench/bots/zoo.py drives this over stdin/stdout, one JSON
// object a line): Debian's Chromium through puppeteer-extra with puppeteer-extra-plugin-stealth,
// its checkbox approached with npm ghost-cursor or with the zoo's own paths; and Firefox ESR
// through Puppeteer's WebDriver BiDi (no geckodriver needed). Install: `npm ci` in bench/bots.
//
// Requests: {"id", "op": "open", "browser": "chrome"|"firefox", "headless", "ua", "url"}
//           {"id", "op": "act", "strategy", "start": [x, y], "target": [x, y], "steps": [[dt, x, y]...], "dwell"}
//           {"id", "op": "close"} · {"id", "op": "quit"}
// Answers:  {"id", "ok": true, ...} or {"id", "ok": false, "error"}.
"use strict";

const readline = require("node:readline");
const puppeteerCore = require("puppeteer-core");
const { addExtra } = require("puppeteer-extra");
const StealthPlugin = require("puppeteer-extra-plugin-stealth");
const { createCursor } = require("ghost-cursor");

const stealth = addExtra(puppeteerCore);
stealth.use(StealthPlugin());

const browsers = new Map();
let current = null; // {context, page}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const rand = (a, b) => a + Math.random() * (b - a);

async function browser(kind, headless, at00) {
  const key = `${kind}/${headless}/${!!at00}`;
  if (!browsers.has(key)) {
    const launched =
      kind === "firefox"
        ? puppeteerCore.launch({
            browser: "firefox",
            executablePath: "/usr/bin/firefox-esr",
            headless,
            args: ["--width=1280", "--height=800"],
          })
        : stealth.launch({
            executablePath: "/usr/bin/chromium",
            headless,
            args: [
              "--no-sandbox",
              "--disable-blink-features=AutomationControlled",
              ...(at00 ? ["--window-position=0,0"] : []),
            ],
          });
    browsers.set(key, await launched);
  }
  return browsers.get(key);
}

// The widget's checkbox, inside its shadow root.
const BOX =
  "[document.getElementById('w'), ...document.querySelectorAll('#w *')]" +
  ".find((el) => el.shadowRoot).shadowRoot.querySelector('.box')";

async function open(req) {
  const b = await browser(req.browser, req.headless, req.at00);
  const context = await b.createBrowserContext();
  const page = await context.newPage();
  if (req.ua) await page.setUserAgent(req.ua);
  await page.setViewport({ width: 1280, height: 720 });
  current = { context, page };
  await page.goto(req.url);
  return { version: await b.version() };
}

async function act(req) {
  const { page } = current;
  const [tx, ty] = req.target;
  switch (req.strategy) {
    case "none":
      await page.evaluate(`${BOX}.click()`);
      return {};
    case "keyboard":
      await page.keyboard.press("Tab");
      await page.keyboard.press("Tab");
      await sleep(rand(100, 300));
      await page.keyboard.press("Space");
      return {};
    case "teleport":
      await page.mouse.click(tx, ty);
      return {};
    case "ghost": {
      // ghost-cursor: a Bézier approach from where the pointer is, with Fitts-law timing and
      // overshoot, onto the checkbox (the zoo's aim point: its element-based click cannot see
      // into the widget's shadow root under Firefox), then a click as its click() does it.
      const cursor = createCursor(page, { x: req.start[0], y: req.start[1] });
      await cursor.moveTo({ x: tx, y: ty }, { moveDelay: 0 });
      await sleep(rand(50, 200));
      await page.mouse.down();
      await sleep(rand(60, 120));
      await page.mouse.up();
      return {};
    }
    default: {
      // The zoo's own paths (bench/bots/paths.py): straight, eased, windmouse, lowvar, zigzag,
      // a human approach replayed verbatim.
      await page.mouse.move(req.start[0], req.start[1]);
      for (const [dt, x, y] of req.steps) {
        if (dt > 0) await sleep(dt);
        await page.mouse.move(x, y);
      }
      await sleep(50);
      await page.mouse.down();
      await sleep(req.dwell);
      await page.mouse.up();
      return {};
    }
  }
}

async function close() {
  if (current) {
    const { context } = current;
    current = null;
    await context.close().catch(() => {});
  }
  return {};
}

async function handle(req) {
  if (req.op === "open") return open(req);
  if (req.op === "act") return act(req);
  if (req.op === "close") return close();
  if (req.op === "quit") {
    await close();
    for (const b of browsers.values()) await b.close().catch(() => {});
    browsers.clear();
    return {};
  }
  throw new Error(`unknown op ${req.op}`);
}

const lines = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on("line", (line) => {
  queue = queue.then(async () => {
    let req = {};
    try {
      req = JSON.parse(line);
      const out = await handle(req);
      process.stdout.write(JSON.stringify({ id: req.id, ok: true, ...out }) + "\n");
    } catch (error) {
      process.stdout.write(JSON.stringify({ id: req.id, ok: false, error: String(error) }) + "\n");
    }
    if (req.op === "quit") process.exit(0);
  });
});
lines.on("close", () => {
  queue.then(async () => {
    for (const b of browsers.values()) await b.close().catch(() => {});
    process.exit(0);
  });
});
