// Bundles the CLI for bin/tbah.js (why and what it buys: docs/performance-startup.md):
// - dist/tbah.cjs: the CLI and commander in one CommonJS file. CommonJS, so that
//   Node's ESM loader never starts and the launcher can compile the file with a
//   V8 code cache (vm.Script). A module reached only through `await import()`
//   runs when first imported, so each command initialises only what it uses.
// - dist/tbah.cjs.cache: the V8 code cache of dist/tbah.cjs, written by running
//   the short commands against a throw-away store (the functions they compile
//   are what the cache holds). Made here, at build time, never at run time.
// The native addon (fs-native-extensions) stays in node_modules.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(repo, 'dist');
const bundle = path.join(dist, 'tbah.cjs');
const launcher = path.join(repo, 'bin', 'tbah.js');
/** Replaced by the first 16 hex digits of the bundle's sha256; the launcher matches it against the cache's. */
const BUILD_ID_PLACEHOLDER = '/*tbah-build:0000000000000000*/';

const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', charset: 'ascii', logLevel: 'warning' };

rmSync(dist, { recursive: true, force: true }); // no stale chunk or cache from an older layout
const result = await build({
  ...common,
  entryPoints: [path.join(repo, 'src/cli/main.ts')],
  outfile: bundle,
  sourcemap: 'linked',
  metafile: true,
  external: ['fs-native-extensions'],
  // src/ is ESM; the only import.meta it uses is createRequire(import.meta.url), made
  // here on first use. The banner's "use strict" keeps the file strict (esbuild's own
  // comes after the banner, where it is no directive).
  banner: { js: `${BUILD_ID_PLACEHOLDER}"use strict";var __tbahImportMeta={get url(){return require("node:url").pathToFileURL(__filename).href}};` },
  define: { 'import.meta': '__tbahImportMeta' },
});
const dynamicImports = Object.values(result.metafile.outputs).flatMap((o) => o.imports)
  .filter((i) => i.kind === 'dynamic-import' && i.external);
if (dynamicImports.length > 0) {
  throw new Error(`dist/tbah.cjs would import() ${dynamicImports.map((i) => i.path).join(', ')} at run time: bundle it or require it`);
}

// esbuild escapes every non-ASCII character in code (charset: ascii), so what is
// left is in comments: make those ASCII too (one character for each UTF-16 unit,
// so the source map stays right), and the launcher can read the file as latin1,
// twice as fast as decoding UTF-8.
const text = readFileSync(bundle, 'utf8').replace(/[^\x00-\x7f]/g, '?');
if (!text.startsWith(BUILD_ID_PLACEHOLDER)) throw new Error('dist/tbah.cjs does not start with the build-id banner');
// The build id: same length as the placeholder, so the source map stays right.
const id = createHash('sha256').update(text).digest('hex').slice(0, 16);
writeFileSync(bundle, `/*tbah-build:${id}*/${text.slice(BUILD_ID_PLACEHOLDER.length)}`);

trainCodeCache();

/**
 * Each step is one CLI call through the launcher that reads the cache the
 * previous step wrote and writes it back with what it compiled, so the cache
 * ends up holding every function those calls ran. A step that fails only
 * makes the cache cover less: the CLI is the same with or without it.
 */
function trainCodeCache() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tbah-code-cache-'));
  const cacheFile = `${bundle}.cache`;
  // A plain `node`: V8 accepts a cache only under the flags it was made with.
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, TBAH_ROOT: path.join(dir, 'store'), LANG: 'C' };
  const steps = [
    ['from', '--name', 'c', 'scratch'],
    ['config', '--env', 'A=1', '--label', 'l=1', '--cmd', 'sh', 'c'],
    ['containers'],
    ['inspect', 'c'],
    ['mount', 'c'],
    ['umount', 'c'],
    ['commit', 'c', 'i'],
    ['images'],
    ['inspect', '--type', 'image', 'i'],
    ['rm', 'c'],
    ['rmi', 'i'],
    ['--help'],
  ];
  const failed = [];
  try {
    for (const args of steps) {
      // The arguments go inside the script: after `-e CODE`, Node itself would take `inspect` as its debugger.
      const L = JSON.stringify(launcher);
      const code = `process.argv = [process.execPath, ${L}, ...${JSON.stringify(args)}]; require(${L}).run({ saveCache: true });`;
      const r = spawnSync(process.execPath, ['-e', code], { env, cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
      if (r.status !== 0) failed.push(`${args.join(' ')}: ${r.status ?? r.signal} ${r.stderr.trim().split('\n')[0] ?? ''}`);
    }
  } finally {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch (err) {
      console.error(`bundle: warning: could not remove the training store ${dir}: ${err.message}`);
    }
  }
  let size = 0;
  try {
    size = readFileSync(cacheFile).length;
  } catch {
    // reported below
  }
  if (size === 0) console.error('bundle: warning: no code cache was made; tbah works without it, only starts slower');
  for (const f of failed) console.error(`bundle: warning: code-cache training step failed (the cache covers less): ${f}`);
}
