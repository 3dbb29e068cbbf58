// npm's `prepare` hook: runs on `npm install`/`npm ci` in this directory, before
// `npm pack`, and when another project installs this directory
// (`npm install /path/to/clone`) or a git URL. It makes sure build/ (the
// library) and dist/ (the CLI bundle) exist and are current:
// - up to date (newer than every source): nothing to do, so installs stay fast;
// - the build tools missing (a fresh clone installed by path, where npm does
//   not install devDependencies): install them first from package-lock.json,
//   preferring npm's cache;
// - then `npm run build`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outputs = ['build/src/index.js', 'build/src/index.d.ts', 'dist/tbah.cjs', 'dist/tbah.cjs.cache'].map((f) => path.join(root, f));
const inputs = ['src', 'scripts/bundle.mjs', 'tsconfig.json', 'package.json'].map((f) => path.join(root, f));

function newest(p) {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return readdirSync(p).reduce((m, n) => Math.max(m, newest(path.join(p, n))), st.mtimeMs);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    console.error(`tbah prepare: ${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}

const oldestOutput = Math.min(...outputs.map((f) => (existsSync(f) ? statSync(f).mtimeMs : -Infinity)));
if (oldestOutput >= Math.max(...inputs.map(newest))) process.exit(0);

const npm = process.env['npm_execpath'] ? [process.execPath, process.env['npm_execpath']] : ['npm'];
if (!existsSync(path.join(root, 'node_modules', 'typescript', 'package.json')) || !existsSync(path.join(root, 'node_modules', 'esbuild', 'package.json'))) {
  console.error('tbah prepare: installing the build tools (typescript, esbuild) into this clone');
  // --ignore-scripts: this is already the prepare step; do not start it again.
  run(npm[0], [...npm.slice(1), 'ci', '--include=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error']);
}
run(npm[0], [...npm.slice(1), 'run', 'build', '--silent']);
