// Bundles the CLI into one ESM file: halves start-up versus loading node_modules
// file by file (docs/architecture.md, "Start-up"). The native addon stays external.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/tbah.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  external: ['fs-native-extensions'],
  banner: {
    js: "import { createRequire as __tbahCreateRequire } from 'node:module'; const require = __tbahCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
