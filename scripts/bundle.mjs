// Bundles the compiled CLI (dist/src/cli/main.js) into dist/cli/: one file per lazily loaded command instead of
// hundreds of modules. Node 20 spends most of a command's start-up resolving and reading modules; the bundle
// starts `apply` about 350 ms sooner. The unbundled dist/src stays for tests that import modules directly.
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/src/cli/main.js'],
  outdir: 'dist/cli',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: false,
  logLevel: 'warning',
  // CommonJS dependencies call require(); give the ESM bundle one.
  banner: {
    js: "import { createRequire as __sendasappCreateRequire } from 'node:module'; const require = __sendasappCreateRequire(import.meta.url);",
  },
});
