// Runs the compiled tests with Node's test runner (CI reads its summary).
// Usage: node scripts/test.mjs [unit|integration]  (default: both)
//
// Both rootfs drivers must pass the same integration suite: the whole suite
// runs with the default driver (overlay as root), then the files that exercise
// working containers run again with the other one (TBAH_STORAGE_DRIVER=dir).
import { readdirSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

/** Integration files whose behaviour depends on the rootfs driver. */
const DRIVER_SUITES = ['commands', 'workflow', 'fidelity', 'library', 'run-cli', 'crash', 'overlay', 'examples', 'user-files', 'hostile'];

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

function runTests(list, env) {
  // Integration tests share system services (registry ports, loop mounts): one file at a time.
  const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...list], { stdio: 'inherit', env });
  return r.status ?? 1;
}

let status = runTests(files, process.env);
const isRoot = process.getuid?.() === 0;
const other = isRoot ? 'dir' : undefined; // without root only dir exists
const again = files.filter((f) => f.includes(`${path.sep}integration${path.sep}`) && DRIVER_SUITES.includes(path.basename(f, '.test.js')));
if (other !== undefined && again.length > 0 && !process.env.TBAH_STORAGE_DRIVER) {
  console.log(`\n# the driver-dependent integration files again with TBAH_STORAGE_DRIVER=${other}: ${again.map((f) => path.basename(f)).join(' ')}`);
  const s2 = runTests(again, { ...process.env, TBAH_STORAGE_DRIVER: other });
  if (status === 0) status = s2;
}
process.exit(status);
