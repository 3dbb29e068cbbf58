// Bundles the CLI into one ESM file: halves start-up versus loading node_modules
// file by file (docs/architecture.md, "Start-up"). The native addon stays external.
import { build } from 'esbuild';

await build({
  // Code splitting: each command's core module is a chunk loaded by dynamic
  // import, so a command pays start-up only for what it uses.
  entryPoints: { tbah: 'src/cli/main.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
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
