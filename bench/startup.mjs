#!/usr/bin/env node
// Per-call start-up of tbah's short commands against Node's own (`node -e 0`), same run.
// Usage: node bench/startup.mjs [--runs N] [--only config,mount] [--ca with|without|both]
//                               [--dir DIR] [--tbah PATH/TO/bin/tbah.js] [--baseline OTHER/bin/tbah.js] [--json FILE]
// Plain node:* only. Every round runs `node -e 0` and each command once, the order
// rotating from round to round; the table gives medians and the difference to
// `node -e 0` of the same pass. A pass runs without NODE_EXTRA_CA_CERTS and one
// with it (the file this shell inherited, else the system bundle), as any HTTPS-
// capable Node start pays for it (tbah's launcher drops it for the commands that
// never use TLS: bin/tbah.js). Each tbah call runs the launcher file itself, as
// a user's PATH would, through its #! line. The store is on tmpfs (/dev/shm) unless --dir
// says otherwise: config, mount and umount fsync what they write, and a disk's
// fsync is not start-up.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const USAGE = `usage: node bench/startup.mjs [--runs N] [--only CMD[,CMD]] [--ca with|without|both] [--dir DIR] [--tbah FILE] [--json FILE]
  --runs N     rounds per pass (default 21); each round runs every command once
  --only LIST  only these commands (node -e 0 always runs): config, mount, umount, containers, images, inspect
               (the default), version, and run-import, push-import, pull-import, from-import, commit-import
               (each fails at its first step: what the command pays for its modules)
  --ca MODE    NODE_EXTRA_CA_CERTS: without, with, or both passes (default both)
  --dir DIR    where the throw-away store goes (default /dev/shm, else the temp directory)
  --tbah FILE  the launcher to measure (default bin/tbah.js of this checkout)
  --baseline FILE  also measure the same commands through another build's launcher, in the same rounds
  --json FILE  also write the medians as JSON`;

function parseArgs(argv) {
  const o = { runs: 21, only: null, ca: 'both', dir: null, tbah: path.resolve(here, '..', 'bin', 'tbah.js'), baseline: null, json: null };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    const val = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--runs': o.runs = Number(val()); if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error('--runs needs a positive integer'); break;
      case '--only': o.only = val().split(',').filter(Boolean); break;
      case '--ca': o.ca = val(); if (!['with', 'without', 'both'].includes(o.ca)) throw new Error('--ca is with, without or both'); break;
      case '--dir': o.dir = path.resolve(val()); break;
      case '--tbah': o.tbah = path.resolve(val()); break;
      case '--baseline': o.baseline = path.resolve(val()); break;
      case '--json': o.json = path.resolve(val()); break;
      case '-h': case '--help': console.log(USAGE); process.exit(0); break;
      default: throw new Error(`unknown option ${argv[i]}\n${USAGE}`);
    }
  }
  return o;
}

const CTR = 'startup-ctr';
const IMG = 'localhost/startup-img:latest';
/** The measured commands; each leaves the store as it found it (config sets the same value). */
const COMMANDS = {
  config: ['config', '--env', 'A=1', CTR],
  mount: ['mount', CTR],
  umount: ['umount', CTR],
  containers: ['containers'],
  images: ['images'],
  inspect: ['inspect', CTR],
  version: ['version'],
  // What the heavier commands pay before their work: each fails at its first step (exit 125).
  'run-import': ['run', 'no-such-container', '--', 'true'],
  'push-import': ['push', 'no-such-image', 'oci:/nonexistent/layout'],
  'pull-import': ['pull', 'oci:/nonexistent/layout'],
  'from-import': ['from', 'oci:/nonexistent/layout'],
  'commit-import': ['commit', 'no-such-container'],
};
/** Exit status other than 0 a command is expected to end with. */
const STATUS = { 'run-import': 125, 'push-import': 125, 'pull-import': 125, 'from-import': 125, 'commit-import': 125 };
const DEFAULT = ['config', 'mount', 'umount', 'containers', 'images', 'inspect'];

function run(argv, env, status = 0) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== status) throw new Error(`${argv.slice(1).join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
  return ms;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function pass(o, names, env) {
  // tbah runs as a user's PATH runs it: the launcher itself, through its #! line.
  const cases = [['node -e 0', [process.execPath, '-e', '0'], 0], ...names.map((n) => [n, [o.tbah, ...COMMANDS[n]], STATUS[n] ?? 0])];
  if (o.baseline) cases.push(...names.map((n) => [`${n} (baseline)`, [o.baseline, ...COMMANDS[n]], STATUS[n] ?? 0]));
  for (const [, argv, status] of cases) run(argv, env, status); // warm the page cache, untimed
  const times = new Map(cases.map(([n]) => [n, []]));
  for (let r = 0; r < o.runs; r++) {
    for (let k = 0; k < cases.length; k++) {
      const [n, argv, status] = cases[(k + r) % cases.length];
      times.get(n).push(run(argv, env, status));
    }
  }
  return new Map([...times].map(([n, xs]) => [n, { median: median(xs), min: Math.min(...xs) }]));
}

const o = parseArgs(process.argv.slice(2));
const names = o.only ?? DEFAULT;
for (const n of names) if (!COMMANDS[n]) throw new Error(`unknown command ${n}; known: ${Object.keys(COMMANDS).join(', ')}`);
for (const f of [o.tbah, o.baseline]) if (f && !existsSync(f)) throw new Error(`${f} not found (npm run build?)`);

const ca = process.env.NODE_EXTRA_CA_CERTS || ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt'].find(existsSync);
const passes = [];
if (o.ca !== 'with') passes.push(['without NODE_EXTRA_CA_CERTS', undefined]);
if (o.ca !== 'without') {
  if (ca) passes.push([`with NODE_EXTRA_CA_CERTS=${ca}`, ca]);
  else console.error('no CA bundle found: the pass with NODE_EXTRA_CA_CERTS is skipped');
}

const parent = o.dir ?? (statSync('/dev/shm', { throwIfNoEntry: false })?.isDirectory() ? '/dev/shm' : os.tmpdir());
const dir = mkdtempSync(path.join(parent, 'tbah-startup-'));
// The launchers' #! lines find `node` on PATH: make that the node that runs `node -e 0`.
const baseEnv = { ...process.env, TBAH_ROOT: path.join(dir, 'root'), PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}` };
delete baseEnv.NODE_EXTRA_CA_CERTS;
delete baseEnv.NODE_OPTIONS;
const results = {};
try {
  // A scratch container and one committed image: enough for every command to do its real work.
  const tbah = (...args) => run([o.tbah, ...args], baseEnv);
  tbah('from', '--name', CTR, 'scratch');
  tbah('config', '--env', 'A=1', '--label', 'bench=startup', CTR);
  tbah('commit', CTR, IMG);
  console.log(`node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, ${o.runs} rounds, store in ${parent}`);
  for (const [title, caFile] of passes) {
    const env = { ...baseEnv };
    if (caFile) env.NODE_EXTRA_CA_CERTS = caFile;
    const m = pass(o, names, env);
    const floor = m.get('node -e 0');
    results[caFile ? 'with' : 'without'] = Object.fromEntries(m);
    console.log(`\n${title}`);
    console.log('| command | median (ms) | over `node -e 0` | min (ms) | over `node -e 0` |');
    console.log('|---|---:|---:|---:|---:|');
    const over = (v, f) => `${v - f >= 0 ? '+' : ''}${(v - f).toFixed(1)}`;
    for (const [n, v] of m) {
      const floorRow = n === 'node -e 0';
      console.log(`| ${floorRow ? '`node -e 0`' : `\`tbah ${n}\``} | ${v.median.toFixed(1)} | ${floorRow ? '' : over(v.median, floor.median)} | ${v.min.toFixed(1)} | ${floorRow ? '' : over(v.min, floor.min)} |`);
    }
  }
  console.log(`load after: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  if (o.json) writeFileSync(o.json, `${JSON.stringify({ node: process.version, runs: o.runs, storeDir: parent, ms: results }, null, 2)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
