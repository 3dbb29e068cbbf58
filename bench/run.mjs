#!/usr/bin/env node
// tbah against the real Buildah on the same workload, same machine, same run (see bench/README.md).
// Usage: sudo node bench/run.mjs [--runs N] [--case NAME[,NAME]] [--quick] [--fs tmpfs|ext4] ...
// Plain Node and the binaries: nothing beyond node:*, /usr/bin/time, mount, buildah, docker-registry
// (registry cases) and tbah's bundle.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GNU_TIME, abortAll, measure } from './lib/exec.mjs';
import { formatTable, summarise } from './lib/report.mjs';
import { remoteManifest, startRegistry } from './lib/registry.mjs';
import { createScratchFs } from './lib/scratch-fs.mjs';
import { buildahTool, describeLayers, layoutLayers, tbahTool } from './lib/tools.mjs';
import { DEFAULT_SHAPE, QUICK_SHAPE, generateWorkload } from './lib/workload.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const bundle = path.join(repo, 'dist', 'tbah.cjs');

const CASES = ['copy', 'commit', 'push', 'commit+push', 'from-base', 'small-commit', 'small-commit-scratch',
  'push-registry', 'push-registry-again', 'commit+push-registry', 'pull-registry', 'pull+from', 'startup'];
const USAGE = `usage: sudo node bench/run.mjs [options]
  --runs N            runs per case, tools interleaved round-robin in each run (default 5)
  --case NAME         only these cases (repeat or comma-separate):
                        ${CASES.join(', ')}
  --startup-runs N    runs of the start-up case (default 20)
  --drivers LIST      Buildah storage drivers to measure (default vfs,overlay)
  --fs tmpfs|ext4     file system the benchmark mounts for itself (default tmpfs)
  --fs-size SIZE      its size (default 8g)
  --quick             small workload (2 000 files, 5 × 4 MiB): checks the bench, not tbah
  --with-extra-ca     keep NODE_EXTRA_CA_CERTS for the work cases (default: removed; see start-up)
  --cpu-prof DIR      run tbah under node --cpu-prof, profiles in DIR/<seq>-<command>/
  --build             bundle tbah (node scripts/bundle.mjs) before measuring
  --out FILE          JSON results (default bench/results/latest.json)`;

function parseArgs(argv) {
  const o = { runs: 5, startupRuns: 20, cases: [], drivers: ['vfs', 'overlay'], fs: 'tmpfs', fsSize: '8g', quick: false,
    withExtraCa: false, cpuProf: null, build: false, out: path.join(here, 'results', 'latest.json') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const flag = a.split('=')[0];
    const int = () => {
      const n = Number(val());
      if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer`);
      return n;
    };
    switch (flag) {
      case '--runs': o.runs = int(); break;
      case '--startup-runs': o.startupRuns = int(); break;
      case '--case': o.cases.push(...val().split(',').filter(Boolean)); break;
      case '--drivers': o.drivers = val().split(',').filter(Boolean); break;
      case '--fs': o.fs = val(); break;
      case '--fs-size': o.fsSize = val(); break;
      case '--quick': o.quick = true; break;
      case '--with-extra-ca': o.withExtraCa = true; break;
      case '--cpu-prof': o.cpuProf = path.resolve(val()); break;
      case '--build': o.build = true; break;
      case '--out': o.out = path.resolve(val()); break;
      case '-h': case '--help': console.log(USAGE); process.exit(0); break;
      default: throw new Error(`unknown argument ${a}\n${USAGE}`);
    }
  }
  for (const c of o.cases) if (!CASES.includes(c)) throw new Error(`--case ${c}: expected one of ${CASES.join(', ')}`);
  if (o.cases.length === 0) o.cases = [...CASES];
  for (const d of o.drivers) if (!['vfs', 'overlay'].includes(d)) throw new Error(`--drivers ${d}: expected vfs or overlay`);
  return o;
}

const log = (msg) => process.stderr.write(`${msg}\n`);

/**
 * Steps of one run, in order. `prepare` is untimed set-up; `argv` is the timed command. A step runs
 * when a selected case records it or a later needed step depends on it.
 */
const STEPS = [
  { name: 'copy', deps: [], prepare: async (t, st, x) => { st.ctr = containerName(await x(t, ['from', 'scratch'])); },
    argv: (t, st, w) => ['copy', st.ctr, w.src, '/data'] },
  { name: 'commit', deps: ['copy'], argv: (t, st) => ['commit', st.ctr, 'bench-big'] },
  { name: 'push', deps: ['commit'], prepare: async (t, st, x, ctx) => { st.out = path.join(ctx.outDir, `${t.name}-run${ctx.run}`); },
    argv: (t, st) => ['push', 'bench-big', `oci:${st.out}:latest`] },
  { name: 'from-base', deps: ['commit'], argv: () => ['from', 'bench-big'], after: (t, st, r) => { st.ctr2 = containerName(r); } },
  { name: 'copy-1file', deps: ['from-base'], argv: (t, st, w) => ['copy', st.ctr2, w.oneFile, '/added.txt'] },
  { name: 'small-commit', deps: ['copy-1file'], argv: (t, st) => ['commit', st.ctr2, 'bench-small'] },
  { name: 'small-commit-scratch', deps: [],
    prepare: async (t, st, x, ctx) => {
      st.ctr3 = containerName(await x(t, ['from', 'scratch']));
      await x(t, ['copy', st.ctr3, ctx.w.oneFile, '/added.txt']);
    },
    argv: (t, st) => ['commit', st.ctr3, 'bench-small-scratch'] },
  // Registry steps (`registry: true`: the registry's access log of the command is recorded).
  // A new repository per tool and run, so every blob is really uploaded; then the same push again,
  // where everything is already there.
  { name: 'push-registry', deps: ['commit'], registry: true,
    prepare: async (t, st, x, ctx) => { st.repo = `bench/push-${t.name}-run${ctx.run}`; },
    argv: (t, st, w, ctx) => ['push', '--tls-verify=false', 'bench-big', `docker://${ctx.registry.host}/${st.repo}:latest`] },
  { name: 'push-registry-again', deps: ['push-registry'], registry: true,
    argv: (t, st, w, ctx) => ['push', '--tls-verify=false', 'bench-big', `docker://${ctx.registry.host}/${st.repo}:latest`] },
  // Pull into an empty store (reset untimed): the same image, pushed once by the bench, for every tool.
  { name: 'pull-registry', deps: [], registry: true, prepare: async (t) => { t.reset(); },
    argv: (t, st, w, ctx) => ['pull', '--tls-verify=false', ctx.pullSource] },
  { name: 'from-pulled', deps: ['pull-registry'], argv: (t, st, w, ctx) => ['from', ctx.pullSource] },
];
/** `from` prints the container name; exit 0 without one is a failure, not a name. */
function containerName(r) {
  const name = r.stdout.trim();
  if (!/^[\w.-]+$/.test(name)) throw new Error(`from exited 0 but printed ${JSON.stringify(r.stdout.slice(0, 200))}, not a container name`);
  return name;
}

/** Cases whose samples are per-run sums of steps (peak RSS: the largest). */
const DERIVED = {
  'commit+push': ['commit', 'push'],
  'commit+push-registry': ['commit', 'push-registry'],
  'pull+from': ['pull-registry', 'from-pulled'],
};

/** Which steps each case records. */
const CASE_STEPS = {
  copy: ['copy'], commit: ['commit'], push: ['push'],
  'from-base': ['from-base'], 'small-commit': ['copy-1file', 'small-commit'], 'small-commit-scratch': ['small-commit-scratch'],
  'push-registry': ['push-registry'], 'push-registry-again': ['push-registry-again'], 'pull-registry': ['pull-registry'],
  ...DERIVED,
};

function neededSteps(cases) {
  const need = new Set();
  const add = (s) => {
    if (need.has(s)) return;
    need.add(s);
    for (const d of STEPS.find((x) => x.name === s).deps) add(d);
  };
  for (const c of cases) for (const s of CASE_STEPS[c] ?? []) add(s);
  return STEPS.filter((s) => need.has(s.name));
}

function recordedSteps(cases) {
  return new Set(cases.flatMap((c) => CASE_STEPS[c] ?? []));
}

const rotate = (xs, k) => xs.map((_, i) => xs[(i + k) % xs.length]);

function gitInfo() {
  const git = (...a) => spawnSync('git', ['-C', repo, ...a], { encoding: 'utf8' });
  const head = git('rev-parse', 'HEAD');
  const status = git('status', '--porcelain');
  return {
    commit: head.status === 0 ? head.stdout.trim() : null,
    uncommittedFiles: status.status === 0 ? status.stdout.split('\n').filter(Boolean).length : null,
  };
}

/**
 * Copy the launcher and the bundle onto the bench fs, so a rebuild of dist/ during the run (other
 * people work in this tree) cannot change what is measured half-way. node_modules is linked: the
 * native addon stays external to the bundle. Returns the copied launcher and a hash of dist/.
 */
function snapshotBuild(dest) {
  mkdirSync(dest, { recursive: true });
  for (const d of ['bin', 'dist']) cpSync(path.join(repo, d), path.join(dest, d), { recursive: true });
  copyFileSync(path.join(repo, 'package.json'), path.join(dest, 'package.json'));
  symlinkSync(path.join(repo, 'node_modules'), path.join(dest, 'node_modules'));
  const h = createHash('sha256');
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (!e.name.endsWith('.map')) h.update(`${path.relative(dest, p)}\0`).update(readFileSync(p));
    }
  };
  walk(path.join(dest, 'dist'));
  return { cli: path.join(dest, 'bin', 'tbah.js'), distSha256: h.digest('hex') };
}

/** Newest mtime under src/, to warn when the bundle is older than the sources. */
function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function hostInfo() {
  const cpus = os.cpus();
  return { kernel: os.release(), cpus: cpus.length, cpuModel: cpus[0]?.model ?? null,
    memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version };
}

async function main() {
  let opt;
  try {
    opt = parseArgs(process.argv.slice(2));
  } catch (err) {
    log(`bench: ${err.message}`);
    return 2;
  }
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    console.log('bench: not run: it must be root, to mount its own tmpfs/ext4 and to run Buildah with a private store.\n' +
      'Run it as: sudo node bench/run.mjs [--runs N] [--case NAME]');
    return 0;
  }
  process.umask(0o022);
  if (opt.build) {
    const r = spawnSync(process.execPath, ['scripts/bundle.mjs'], { cwd: repo, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('bundling tbah failed');
  }
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run \`npm run build\` (or pass --build)`);
  const notes = [];
  if (newestSource(path.join(repo, 'src')) > statSync(bundle).mtimeMs) {
    const n = 'dist/tbah.cjs is older than src/: measuring the old bundle (pass --build to rebundle)';
    log(`bench: warning: ${n}`);
    notes.push(n);
  }
  const buildahVersion = spawnSync('buildah', ['version'], { encoding: 'utf8' });
  const haveBuildah = buildahVersion.status === 0;
  if (!haveBuildah) {
    log('bench: warning: buildah not found: measuring tbah alone');
    notes.push('buildah not available');
  }
  if (!GNU_TIME) notes.push('/usr/bin/time not found: no CPU time or peak RSS');

  const fsys = createScratchFs(opt.fs, opt.fsSize);
  // Synchronous clean-ups that must run before the file system goes (the registry serves from it).
  const cleanups = [];
  let tornDown = false;
  const teardown = () => {
    if (tornDown) return;
    tornDown = true;
    for (const c of cleanups.reverse()) {
      try { c(); } catch (err) { log(`bench: cleanup: ${err.message}`); }
    }
    const errs = fsys.teardown();
    for (const e of errs) log(`bench: cleanup: ${e}`);
  };
  let interrupted = false;
  const onSignal = (sig) => {
    if (interrupted) { teardown(); process.exit(130); }
    interrupted = true;
    log(`\nbench: ${sig}: stopping the running command and cleaning up (again to force)`);
    abortAll();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  process.on('exit', teardown);

  try {
    return await bench(opt, fsys, cleanups, notes, haveBuildah, buildahVersion.stdout);
  } catch (err) {
    if (interrupted) { log('bench: interrupted'); return 130; }
    throw err;
  } finally {
    teardown();
  }
}

async function bench(opt, fsys, cleanups, notes, haveBuildah, buildahVersionText) {
  const t0 = Date.now();
  const bundleMtime = statSync(bundle).mtime;
  const loadBefore = os.loadavg().map((x) => Math.round(x * 100) / 100);
  const base = fsys.dir;
  const tmpDir = path.join(base, 'tmp');
  const outDir = path.join(base, 'out');
  for (const d of [tmpDir, outDir]) mkdirSync(d, { recursive: true });
  log(`bench: ${fsys.kind} (${fsys.size}) at ${base}; generating the workload…`);
  const shape = opt.quick ? QUICK_SHAPE : DEFAULT_SHAPE;
  const w = generateWorkload(path.join(base, 'work'), shape);
  log(`bench: workload ${w.entries} files, ${(w.bytes / 2 ** 20).toFixed(0)} MiB, sha256 ${w.sha256.slice(0, 16)}…`);

  const build = snapshotBuild(path.join(base, 'tbah-build'));
  const { cli } = build;
  const caFile = process.env.NODE_EXTRA_CA_CERTS || (existsSync('/etc/ssl/certs/ca-certificates.crt') ? '/etc/ssl/certs/ca-certificates.crt' : null);
  const workTmp = path.join(base, 'tmp');
  const tools = [tbahTool({ node: process.execPath, cli, root: path.join(base, 'tbah'), tmpDir: workTmp, cpuProfDir: opt.cpuProf })];
  if (!opt.withExtraCa) delete tools[0].env.NODE_EXTRA_CA_CERTS;
  // The store must be where we put it: a tool writing to its default store would measure the root disk.
  {
    const t = tools[0];
    const c = await measure(t.argv(['from', 'scratch']), { env: t.env, tmpDir });
    if (!existsSync(path.join(t.root, 'oci-layout'))) throw new Error(`tbah did not create its store in ${t.root}: is TBAH_ROOT honoured?`);
    await measure(t.argv(['rm', containerName(c)]), { env: t.env, tmpDir });
    t.reset();
  }
  const buildahInfo = {};
  if (haveBuildah) {
    for (const driver of opt.drivers) {
      const t = buildahTool({ driver, dir: path.join(base, `buildah-${driver}`), tmpDir: workTmp });
      // Measure what works: a driver that cannot even create a scratch container is skipped.
      try {
        const c = await measure(t.argv(['from', 'scratch']), { env: t.env, tmpDir });
        await measure(t.argv(['rm', containerName(c)]), { env: t.env, tmpDir });
        if (!existsSync(path.join(t.root, `${driver}-containers`))) throw new Error(`buildah did not use the store in ${t.root}`);
        buildahInfo[driver] = { ok: true, ...t.info() };
        tools.push(t);
      } catch (err) {
        buildahInfo[driver] = { ok: false, error: String(err.message).slice(0, 500) };
        notes.push(`buildah --storage-driver ${driver} skipped: ${String(err.message).split('\n').slice(-1)[0]}`);
        log(`bench: buildah ${driver} does not work here, skipped`);
      }
      t.reset();
    }
  }

  const steps = neededSteps(opt.cases);
  const recorded = recordedSteps(opt.cases);
  const ctx = { w, outDir, registry: null, pullSource: null };
  let registryInfo = null;
  if (steps.some((s) => s.registry)) {
    ctx.registry = await startRegistry(path.join(base, 'registry'));
    cleanups.push(ctx.registry.stopSync);
    const v = spawnSync('/usr/bin/docker-registry', ['--version'], { encoding: 'utf8' });
    registryInfo = { version: (v.stdout || '').trim() || null, host: ctx.registry.host };
    log(`bench: registry on ${ctx.registry.host}`);
    if (steps.some((s) => s.name === 'pull-registry')) {
      registryInfo.pullSource = await preparePullSource(tools[0], ctx, tmpDir);
      ctx.pullSource = registryInfo.pullSource.ref;
      log(`bench: pull source ${ctx.pullSource} (${registryInfo.pullSource.digest})`);
    }
  }

  const samples = {}; // case → tool → [sample]
  const push = (c, tool, s) => { ((samples[c] ??= {})[tool] ??= []).push(s); };
  const artifacts = {};
  const x = (t, args) => measure(t.argv(args), { env: t.env, tmpDir });

  const failures = [];
  if (steps.length > 0) {
    for (let run = 1; run <= opt.runs; run++) {
      const order = rotate(tools, run - 1);
      const state = new Map(order.map((t) => [t, { failed: new Set() }]));
      for (const t of order) t.reset(); // every run starts from an empty store
      ctx.run = run;
      for (const step of steps) {
        for (const t of order) {
          const st = state.get(t);
          // A failed step fails what depends on it, for this tool in this run; the others go on.
          if (step.deps.some((d) => st.failed.has(d))) { st.failed.add(step.name); continue; }
          let r;
          let traffic;
          try {
            if (step.prepare) await step.prepare(t, st, x, ctx);
            const mark = step.registry ? ctx.registry.mark() : 0;
            r = await x(t, step.argv(t, st, w, ctx));
            if (step.registry) traffic = await ctx.registry.traffic(mark);
            if (step.after) step.after(t, st, r);
          } catch (err) {
            if (err.message === 'aborted') throw err;
            st.failed.add(step.name);
            failures.push({ run, step: step.name, tool: t.name, error: String(err.message).slice(0, 2000) });
            log(`run ${run}/${opt.runs}  ${step.name.padEnd(20)} ${t.name.padEnd(16)} FAILED: ${String(err.message).split('\n').slice(0, 3).join(' | ')}`);
            continue;
          }
          const { stdout: _drop, ...sample } = r;
          if (traffic) sample.registry = traffic;
          if (recorded.has(step.name)) push(step.name, t.name, { run, ...sample });
          log(`run ${run}/${opt.runs}  ${step.name.padEnd(20)} ${t.name.padEnd(16)} ${r.secs.toFixed(3)} s` +
            (r.rssKiB !== null ? `  ${Math.round(r.rssKiB / 1024)} MiB` : '') + (traffic ? `  ${describeTraffic(traffic)}` : ''));
          if (run === 1) await recordArtifacts(artifacts, t, step.name, st, ctx);
        }
      }
      for (const t of order) t.reset();
      rmSync(outDir, { recursive: true, force: true });
      mkdirSync(outDir);
    }
  }

  if (opt.cases.includes('startup')) {
    const node = process.execPath;
    const variants = [['startup', false], ...(caFile ? [['startup+ca', true]] : [])];
    const startupTools = [
      { name: 'tbah', argv: [node, cli, 'version'] },
      ...(haveBuildah ? [{ name: 'buildah', argv: ['buildah', 'version'] }] : []),
      { name: 'node -e 0', argv: [node, '-e', '0'] },
    ];
    for (const [caseName, withCa] of variants) {
      const env = { ...process.env, TMPDIR: tmpDir, TBAH_ROOT: path.join(base, 'tbah') };
      if (withCa) env.NODE_EXTRA_CA_CERTS = caFile; else delete env.NODE_EXTRA_CA_CERTS;
      for (const t of startupTools) await measure(t.argv, { env, tmpDir }); // warm the page cache
      for (let run = 1; run <= opt.startupRuns; run++) {
        for (const t of rotate(startupTools, run - 1)) {
          const { stdout: _drop, ...sample } = await measure(t.argv, { env, tmpDir });
          push(caseName, t.name, { run, ...sample });
        }
      }
      log(`${caseName}: ${opt.startupRuns} runs done`);
    }
  }

  // Derived cases: per run, the sum of their steps (e.g. commit+push: what it costs to get a
  // compressed image out), for the runs in which every step succeeded.
  for (const [name, parts] of Object.entries(DERIVED)) {
    if (!opt.cases.includes(name)) continue;
    const add = (a, b) => (a === null || b === null ? null : a + b);
    for (const [tool, firsts] of Object.entries(samples[parts[0]] ?? {})) {
      for (const first of firsts) {
        const all = parts.map((p) => samples[p]?.[tool]?.find((s) => s.run === first.run));
        if (all.some((s) => s === undefined)) continue;
        push(name, tool, all.slice(1).reduce((a, b) => ({ run: a.run, secs: a.secs + b.secs, cpuS: add(a.cpuS, b.cpuS),
          userS: add(a.userS, b.userS), sysS: add(a.sysS, b.sysS), rssKiB: a.rssKiB === null ? null : Math.max(a.rssKiB, b.rssKiB) }),
        { run: first.run, secs: first.secs, cpuS: first.cpuS, userS: first.userS, sysS: first.sysS, rssKiB: first.rssKiB }));
      }
    }
  }

  const order = ['copy', 'commit', 'push', 'commit+push', 'from-base', 'copy-1file', 'small-commit', 'small-commit-scratch',
    'push-registry', 'commit+push-registry', 'push-registry-again', 'pull-registry', 'from-pulled', 'pull+from', 'startup', 'startup+ca'];
  const cases = {};
  for (const name of order) {
    const derived = DERIVED[name];
    if (derived ? !opt.cases.includes(name) : !recorded.has(name) && !['startup', 'startup+ca'].includes(name)) continue;
    const inCase = (f) => (derived ? derived.includes(f.step) : f.step === name);
    const failedRuns = {};
    for (const f of failures.filter(inCase)) (failedRuns[f.tool] ??= new Set()).add(f.run);
    if (!samples[name] && Object.keys(failedRuns).length === 0) continue;
    const toolsSum = {};
    for (const t of [...new Set([...tools.map((t) => t.name), ...Object.keys(samples[name] ?? {})])]) {
      const s = samples[name]?.[t] ?? [];
      if (s.length === 0 && !failedRuns[t]) continue;
      toolsSum[t] = { ...summarise(s), failedRuns: failedRuns[t] ? [...failedRuns[t]] : [] };
    }
    const ratio = {};
    const tb = toolsSum.tbah?.median;
    for (const [tool, s] of Object.entries(toolsSum)) {
      if (tool !== 'tbah' && typeof tb === 'number' && s.median > 0) ratio[tool] = Math.round((tb / s.median) * 1000) / 1000;
    }
    cases[name] = { tools: toolsSum, ratio };
  }

  const results = {
    schema: 1,
    date: new Date().toISOString(),
    durationS: Math.round((Date.now() - t0) / 1000),
    options: { runs: opt.runs, startupRuns: opt.startupRuns, cases: opt.cases, drivers: opt.drivers, quick: opt.quick,
      withExtraCa: opt.withExtraCa, cpuProf: Boolean(opt.cpuProf) },
    host: { ...hostInfo(), loadavgBefore: loadBefore, loadavgAfter: os.loadavg().map((x) => Math.round(x * 100) / 100) },
    fs: { kind: fsys.kind, size: fsys.size },
    tbah: { ...gitInfo(), bundleMtime: bundleMtime.toISOString(), distSha256: build.distSha256 },
    buildah: haveBuildah ? { version: /Version:\s*(\S+)/.exec(buildahVersionText)?.[1] ?? null, drivers: buildahInfo } : null,
    registry: registryInfo,
    env: { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS ?? null, caFileForStartup: caFile, BUILDAH_RUNTIME: 'runc' },
    workload: { ...w.shape, entries: w.entries, dirs: w.dirs, bytes: w.bytes, sha256: w.sha256 },
    cases,
    artifacts,
    failures,
    notes,
  };
  mkdirSync(path.dirname(opt.out), { recursive: true });
  writeFileSync(opt.out, JSON.stringify(results, null, 2) + '\n');

  console.log(`tbah vs Buildah ${results.buildah?.version ?? '(absent)'} — ${opt.runs} run(s), ${fsys.kind}, workload ${w.entries} files / ${(w.bytes / 2 ** 20).toFixed(0)} MiB, ` +
    `${os.cpus().length} CPUs, load ${results.host.loadavgBefore[0]} → ${results.host.loadavgAfter[0]}`);
  console.log(formatTable(cases));
  const described = describeArtifacts(artifacts);
  if (described) console.log(described);
  const traffic = describeRegistryTraffic(cases);
  if (traffic) console.log(traffic);
  for (const f of failures) console.log(`FAILED: run ${f.run} ${f.step} ${f.tool}: ${f.error.split('\n').slice(0, 2).join(' | ')}`);
  for (const n of notes) console.log(`note: ${n}`);
  console.log(`JSON: ${path.relative(process.cwd(), opt.out) || opt.out}`);
  return 0;
}

/** What each tool wrote, from run 1: compression of stored and pushed layers, and their sizes. */
async function recordArtifacts(artifacts, t, step, st, ctx) {
  const a = (artifacts[t.name] ??= {});
  try {
    if (step === 'commit') a.commit = describeLayers(t.storedLayers('bench-big'));
    if (step === 'push') a.push = describeLayers(layoutLayers(st.out));
    if (step === 'small-commit') a.smallCommit = describeLayers(t.storedLayers('bench-small'));
    if (step === 'push-registry') {
      const m = await remoteManifest(ctx.registry.host, st.repo, 'latest');
      a.pushRegistry = { mediaType: m.mediaType, digest: m.digest, layers: describeLayers(m.manifest.layers) };
    }
  } catch (err) {
    a[`${step}Error`] = String(err.message);
  }
}

function describeArtifacts(artifacts) {
  const kind = (mt) => (mt.endsWith('+gzip') || mt.endsWith('.gzip') ? 'gzip' : mt.endsWith('+zstd') ? 'zstd' : 'uncompressed');
  const one = (ls) => (ls ? ls.map((l) => `${kind(l.mediaType)} ${(l.size / 2 ** 20).toFixed(1)} MiB`).join(' + ') : '-');
  const lines = ['layers written (run 1):'];
  for (const [tool, a] of Object.entries(artifacts)) {
    if (!a.commit && !a.push && !a.smallCommit && !a.pushRegistry) continue;
    const parts = [`commit: ${one(a.commit)}`];
    if (a.push) parts.push(`push: ${one(a.push)}`);
    if (a.smallCommit) parts.push(`small commit: ${one(a.smallCommit)}`);
    if (a.pushRegistry) parts.push(`push-registry: ${one(a.pushRegistry.layers)}`);
    lines.push(`  ${tool.padEnd(16)} ${parts.join('; ')}`);
  }
  return lines.length > 1 ? lines.join('\n') : '';
}

const MiB = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
/** One command's registry traffic, from the access log. */
function describeTraffic(t) {
  const parts = [];
  if (t.uploaded) parts.push(`${t.uploaded} uploaded (${MiB(t.uploadedBytes)}, ${t.uploadChunks} PATCH)`);
  if (t.mounted) parts.push(`${t.mounted} mounted`);
  if (t.present) parts.push(`${t.present} already there`);
  if (t.fetched) parts.push(`${t.fetched} fetched (${MiB(t.fetchedBytes)})`);
  return `blobs: ${parts.join(', ') || 'none'}; ${t.requests} requests`;
}

/** Registry traffic per tool and case, when it was the same in every run (else every run's). */
function describeRegistryTraffic(cases) {
  const lines = ['registry traffic (access log):'];
  for (const [name, c] of Object.entries(cases)) {
    for (const [tool, s] of Object.entries(c.tools)) {
      const ts = s.samples.filter((x) => x.registry).map((x) => describeTraffic(x.registry));
      if (ts.length === 0) continue;
      const same = ts.every((x) => x === ts[0]);
      lines.push(`  ${name.padEnd(20)} ${tool.padEnd(16)} ${same ? ts[0] : ts.map((x, i) => `run ${i + 1}: ${x}`).join(' | ')}`);
    }
  }
  return lines.length > 1 ? lines.join('\n') : '';
}

/**
 * The image every tool pulls, pushed once before the runs (untimed) by tbah from the same workload
 * (from scratch, copy, commit, push), so all pull identical bytes. tbah's store is emptied after.
 */
async function preparePullSource(t, ctx, tmpDir) {
  const x = (args) => measure(t.argv(args), { env: t.env, tmpDir });
  t.reset();
  const ctr = containerName(await x(['from', 'scratch']));
  await x(['copy', ctr, ctx.w.src, '/data']);
  await x(['commit', ctr, 'bench-pull-src']);
  const repo = 'bench/pull-src';
  await x(['push', '--tls-verify=false', 'bench-pull-src', `docker://${ctx.registry.host}/${repo}:latest`]);
  t.reset();
  const m = await remoteManifest(ctx.registry.host, repo, 'latest');
  return { ref: `${ctx.registry.host}/${repo}:latest`, pushedBy: 'tbah', digest: m.digest, mediaType: m.mediaType,
    layers: describeLayers(m.manifest.layers) };
}

main().then((code) => { process.exitCode = code; }, (err) => {
  log(`bench: ${err && err.stack ? err.stack : err}`);
  process.exitCode = 1;
});
