// Bundles app.jsx (React and the wrappers) into one browser script: node build.mjs OUT_FILE.
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

await build({
  entryPoints: [join(dirname(fileURLToPath(import.meta.url)), "app.jsx")],
  outfile: process.argv[2],
  bundle: true,
  format: "iife",
  jsx: "automatic",
  define: { "process.env.NODE_ENV": '"production"' },
  minify: true,
  logLevel: "warning",
});
