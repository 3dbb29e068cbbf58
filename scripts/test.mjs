// Runs the compiled tests with Node's test runner (CI reads its summary).
// Usage: node scripts/test.mjs [unit|integration]  (default: both)
import { readdirSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const which = process.argv[2];
const suites = which ? [which] : ['unit', 'integration'];
const files = [];
for (const s of suites) {
  const dir = path.join('build', 'test', s);
  if (!existsSync(dir)) continue;
  for (const f of readdirSync(dir).sort()) if (f.endsWith('.test.js')) files.push(path.join(dir, f));
}
if (files.length === 0) {
  console.error('no compiled tests found: run `npm run build` first');
  process.exit(1);
}
// Integration tests share system services (registry ports, loop mounts): one file at a time.
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
