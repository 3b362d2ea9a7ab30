// Bundles a test app (React or Vue, and the wrappers) into one browser script:
// node build.mjs ENTRY OUT_FILE (ENTRY relative to tests/compat).
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

await build({
  entryPoints: [join(dirname(fileURLToPath(import.meta.url)), process.argv[2])],
  outfile: process.argv[3],
  bundle: true,
  format: "iife",
  jsx: "automatic",
  define: {
    "process.env.NODE_ENV": '"production"',
    __VUE_OPTIONS_API__: "true",
    __VUE_PROD_DEVTOOLS__: "false",
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: "false",
  },
  minify: true,
  logLevel: "warning",
});
