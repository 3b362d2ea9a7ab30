// After `vite build`: print every JS/CSS file's gzip size, and the JavaScript each page needs
// when it is the first one opened (the entry chunk, the route's split chunks, their static
// imports). Fails when any page's first load exceeds the budget (200 KB gzipped by default).
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET = Number(process.env.HAECHI_DASHBOARD_BUDGET ?? 200 * 1024);
const dist = new URL("../dist/", import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(dist, ".vite/manifest.json"), "utf8"));
const sizes = new Map();
const gz = (file) => {
  if (!sizes.has(file)) sizes.set(file, gzipSync(readFileSync(join(dist, file)), { level: 9 }).length);
  return sizes.get(file);
};
const kb = (n) => `${(n / 1024).toFixed(1).padStart(7)} KB`;

const closure = (keys) => {
  const files = new Set();
  const walk = (key) => {
    const chunk = manifest[key];
    if (!chunk || files.has(chunk.file)) return;
    files.add(chunk.file);
    for (const dep of chunk.imports ?? []) walk(dep);
  };
  keys.forEach(walk);
  return files;
};
const jsSize = (files) => [...files].filter((f) => f.endsWith(".js")).reduce((s, f) => s + gz(f), 0);

const entryKey = Object.keys(manifest).find((k) => manifest[k].isEntry);
if (!entryKey) throw new Error("no entry in the manifest");
const entry = closure([entryKey]);

const all = new Set();
for (const chunk of Object.values(manifest)) {
  all.add(chunk.file);
  for (const css of chunk.css ?? []) all.add(css);
}
console.log("\ndashboard bundle (gzip -9)");
for (const f of [...all].filter((f) => /\.(js|css)$/.test(f)).sort((a, b) => gz(b) - gz(a))) {
  console.log(`${kb(gz(f))}  ${entry.has(f) || (manifest[entryKey].css ?? []).includes(f) ? "entry" : "lazy "}  ${f}`);
}

// A page = one route file; its split chunks (component, loader, notFoundComponent...) load together.
const pages = new Map();
for (const key of Object.keys(manifest)) {
  const match = /^src\/routes\/(.+)\.tsx\?tsr-split=/.exec(key);
  if (match) pages.set(match[1], [...(pages.get(match[1]) ?? []), key]);
}
console.log("\nfirst load per page (JavaScript, gzip -9)");
let worst = { page: "(entry only)", size: jsSize(entry) };
for (const [page, keys] of [...pages].sort()) {
  const size = jsSize(new Set([...entry, ...closure(keys)]));
  console.log(`${kb(size)}  /${page.replace(/(^|\/)index$/, "").replace(/\$$/, "*")}`);
  if (size > worst.size) worst = { page, size };
}
const ok = worst.size <= BUDGET;
console.log(
  `largest first load: ${(worst.size / 1024).toFixed(1)} of ${(BUDGET / 1024).toFixed(0)} KB gzipped ` +
    `(${worst.page}; ${ok ? "budget ok" : "OVER BUDGET"})`,
);
if (!ok) {
  // Without index.html, `make dashboard` builds again next time instead of keeping this build.
  rmSync(join(dist, "index.html"), { force: true });
  process.exit(1);
}
