#!/usr/bin/env node
// tbah (each storage driver) against Buildah 1.28 overlay: the steps of issue #17, same machine,
// same run, tools taking turns, fresh stores, on a journaled loop ext4 the bench mounts itself,
// with a local registry. Prints markdown on stdout, writes JSON (see bench/README.md).
// Usage: sudo node bench/run.mjs [--quick] [--runs N] [--case NAME] [--doc docs/performance.md] ...
// Plain Node and the binaries: nothing beyond node:*, /usr/bin/time, mount, mkfs.ext4, dd, gzip,
// tar, buildah, docker-registry, busybox-static and tbah's build.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GNU_TIME, abortAll, measure } from './lib/exec.mjs';
import { diskFloor, gzipFloor, sha256Floor } from './lib/floors.mjs';
import { loadSampler, machineInfo } from './lib/machine.mjs';
import { renderMarkdown, replaceSection } from './lib/markdown.mjs';
import { REGISTRY_BINARY, remoteManifest, startRegistry } from './lib/registry.mjs';
import { summarise } from './lib/report.mjs';
import { createScratchFs } from './lib/scratch-fs.mjs';
import { STEPS, containerName, neededSteps } from './lib/steps.mjs';
import { DERIVED, ROWS } from './lib/targets.mjs';
import { buildahTool, describeLayers, probeTbahDriver, tbahTool } from './lib/tools.mjs';
import { BASE_SHAPES, DEFAULT_SHAPE, QUICK_SHAPE, RANDOM_SHARE, generateBases, generateWorkload } from './lib/workload.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const bundle = path.join(repo, 'dist', 'tbah.cjs');
const pgzipModule = path.join(repo, 'build', 'src', 'core', 'layer', 'pgzip.js');

const CASES = [...STEPS.map((s) => s.name), 'startup', 'floors'];
const USAGE = `usage: sudo node bench/run.mjs [options]
  --quick             small workload, 1 run, few repetitions: checks the bench in ~1-2 min (not a measurement)
  --runs N            runs (default 3; --quick 1); in each run the tools take turns at every step,
                      the first tool rotating from run to run; every run starts from empty stores
  --case NAME         only these (repeat or comma-separate; what they depend on runs too):
                        ${CASES.join(', ')}
  --drivers LIST      tbah storage drivers (default dir,overlay); one not available here is n/a
  --buildah-drivers L Buildah storage drivers (default overlay; vfs possible)
  --startup-runs N    alternating runs of each start-up command (default 20; --quick 5)
  --fs ext4|tmpfs     the file system the bench mounts for itself (default ext4: a journaled loop image)
  --fs-size SIZE      its size (default 16g; --quick 4g)
  --with-extra-ca     keep NODE_EXTRA_CA_CERTS for the steps (default: unset; start-up is reported both ways)
  --cpu-prof DIR      run tbah under node --cpu-prof, profiles in DIR/<seq>-<driver>-<command>/ (skews times)
  --build             npm run build first (done anyway when dist/ or build/ is missing)
  --out FILE          JSON results (default bench/results/latest.json)
  --doc FILE          also rewrite FILE's generated section (between the bench:begin/end markers)`;

function parseArgs(argv) {
  const o = { runs: null, startupRuns: null, cases: [], drivers: ['dir', 'overlay'], buildahDrivers: ['overlay'], fs: 'ext4',
    fsSize: null, quick: false, withExtraCa: false, cpuProf: null, build: false, out: path.join(here, 'results', 'latest.json'), doc: null };
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
      case '--buildah-drivers': o.buildahDrivers = val().split(',').filter(Boolean); break;
      case '--fs': o.fs = val(); break;
      case '--fs-size': o.fsSize = val(); break;
      case '--quick': o.quick = true; break;
      case '--with-extra-ca': o.withExtraCa = true; break;
      case '--cpu-prof': o.cpuProf = path.resolve(val()); break;
      case '--build': o.build = true; break;
      case '--out': o.out = path.resolve(val()); break;
      case '--doc': o.doc = path.resolve(val()); break;
      case '-h': case '--help': console.log(USAGE); process.exit(0); break;
      default: throw new Error(`unknown argument ${a}\n${USAGE}`);
    }
  }
  for (const c of o.cases) if (!CASES.includes(c)) throw new Error(`--case ${c}: expected one of ${CASES.join(', ')}`);
  if (o.cases.length === 0) o.cases = [...CASES];
  for (const d of o.drivers) if (!['dir', 'overlay'].includes(d)) throw new Error(`--drivers ${d}: expected dir or overlay`);
  for (const d of o.buildahDrivers) if (!['vfs', 'overlay'].includes(d)) throw new Error(`--buildah-drivers ${d}: expected vfs or overlay`);
  if (!['ext4', 'tmpfs'].includes(o.fs)) throw new Error(`--fs ${o.fs}: expected ext4 or tmpfs`);
  o.runs ??= o.quick ? 1 : 3;
  o.startupRuns ??= o.quick ? 5 : 20;
  o.fsSize ??= o.quick ? '4g' : '16g';
  // Repetitions of the short commands inside one run (each is a sample): more samples where one
  // call is tens of milliseconds and the machine's noise is of the same size.
  o.repeat = o.quick ? { short: 1, calls: 2 } : { short: 3, calls: 5 };
  return o;
}

const log = (msg) => process.stderr.write(`${msg}\n`);
const rotate = (xs, k) => xs.map((_, i) => xs[(i + k) % xs.length]);

function gitInfo() {
  const git = (...a) => spawnSync('git', ['-C', repo, ...a], { encoding: 'utf8' });
  const head = git('rev-parse', 'HEAD');
  const status = git('status', '--porcelain', '--', 'src', 'bin', 'scripts', 'package.json');
  const src = git('log', '-1', '--format=%H', '--', 'src', 'bin', 'scripts', 'package.json');
  return {
    commit: head.status === 0 ? head.stdout.trim() : null,
    srcCommit: src.status === 0 ? src.stdout.trim() || null : null, // the last commit that changed what is measured
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

async function main() {
  let opt;
  try {
    opt = parseArgs(process.argv.slice(2));
  } catch (err) {
    log(`bench: ${err.message}`);
    return 2;
  }
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    console.log('bench: not run: it must be root, to mount its own file system and to run Buildah with a private store.\n' +
      'Run it as: sudo node bench/run.mjs [--quick]');
    return 0;
  }
  process.umask(0o022);
  // From a fresh clone (after `npm ci`) the build is made here: one command measures everything.
  if (opt.build || !existsSync(bundle) || !existsSync(pgzipModule)) {
    if (!existsSync(path.join(repo, 'node_modules'))) throw new Error('node_modules is missing: run `npm ci` first');
    log('bench: npm run build…');
    const r = spawnSync('npm', ['run', 'build'], { cwd: repo, stdio: ['ignore', 2, 2] });
    if (r.status !== 0) throw new Error('npm run build failed');
  }
  const notes = [];
  if (newestSource(path.join(repo, 'src')) > statSync(bundle).mtimeMs) {
    const n = 'dist/tbah.cjs is older than src/: measuring the old bundle (pass --build to rebundle)';
    log(`bench: warning: ${n}`);
    notes.push(n);
  }
  const buildahVersion = spawnSync('buildah', ['version'], { encoding: 'utf8' });
  if (buildahVersion.status !== 0) throw new Error('buildah is not installed: the bench compares against it');
  if (!existsSync(REGISTRY_BINARY)) throw new Error(`${REGISTRY_BINARY} not found: install the docker-registry package`);
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
    return await bench(opt, fsys, cleanups, notes, buildahVersion.stdout);
  } catch (err) {
    if (interrupted) { log('bench: interrupted'); return 130; }
    throw err;
  } finally {
    teardown();
  }
}

async function bench(opt, fsys, cleanups, notes, buildahVersionText) {
  const t0 = Date.now();
  const load = loadSampler(5000);
  const loadBefore = Math.round(os.loadavg()[0] * 100) / 100;
  const machine = machineInfo(fsys.backingDir);
  const base = fsys.dir;
  const tmpDir = path.join(base, 'tmp');
  mkdirSync(tmpDir, { recursive: true });
  const sel = new Set(opt.cases);
  log(`bench: ${fsys.kind} (${fsys.size}) at ${base}; generating the workload…`);
  const w = generateWorkload(path.join(base, 'work'), opt.quick ? QUICK_SHAPE : DEFAULT_SHAPE);
  const bases = generateBases(path.join(base, 'layers'), opt.quick ? BASE_SHAPES.quick : BASE_SHAPES.default);
  const sum = (ls, k) => ls.reduce((a, l) => a + l[k], 0);
  const fatLayers = bases.fat;
  const bigLayers = [...bases.fat, ...bases.bigExtra];
  log(`bench: tree ${w.entries} files / ${(w.bytes / 2 ** 20).toFixed(0)} MiB; fat base ${sum(fatLayers, 'files')} files / ` +
    `${(sum(fatLayers, 'bytes') / 2 ** 20).toFixed(0)} MiB; big base ${sum(bigLayers, 'files')} files / ${(sum(bigLayers, 'bytes') / 2 ** 20).toFixed(0)} MiB`);

  const build = snapshotBuild(path.join(base, 'tbah-build'));
  const node = process.execPath;
  const caFile = process.env.NODE_EXTRA_CA_CERTS || (existsSync('/etc/ssl/certs/ca-certificates.crt') ? '/etc/ssl/certs/ca-certificates.crt' : null);
  const run = (t, args) => measure(t.argv(args), { env: t.env, tmpDir });

  // Floors first, on the fresh file system.
  const floors = {};
  if (sel.has('floors')) {
    log('bench: floors (disk, sha256, gzip)…');
    floors.disk = diskFloor(base, opt.quick ? 128 : 1024, fsys.image);
    floors.sha256 = sha256Floor(node, opt.quick ? 128 : 512);
    const tar = path.join(tmpDir, 'tree.tar');
    const r = spawnSync('tar', ['-cf', tar, '-C', w.src, '.'], { stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new Error(`tar of the tree: ${String(r.stderr).trim()}`);
    floors.gzip = gzipFloor(node, tar, pgzipModule);
    rmSync(tar, { force: true });
    log(`bench: disk write ${floors.disk.writeMiBs} / read ${floors.disk.readMiBs} MiB/s; sha256 ${floors.sha256.MiBs} MiB/s; ` +
      `gzip -6 ${floors.gzip.gnuGzip.MiBs} (gzip), ${floors.gzip.nodeZlib.MiBs} (zlib), ${floors.gzip.tbahParallel.MiBs ?? '-'} (tbah parallel) MiB/s`);
  }

  // The registry and the two base images, pushed once by tbah: every tool pulls the same bytes.
  const steps = neededSteps(opt.cases.filter((c) => STEPS.some((s) => s.name === c)));
  const registry = await startRegistry(path.join(base, 'registry'));
  cleanups.push(registry.stopSync);
  const registryVersion = (spawnSync(REGISTRY_BINARY, ['--version'], { encoding: 'utf8' }).stdout || '').trim() || null;
  log(`bench: registry on ${registry.host}; building the base images…`);
  const setup = tbahTool({ node, cli: build.cli, root: path.join(base, 'tbah-setup'), tmpDir, driver: 'dir' });
  const images = await pushBases(setup, run, registry, fatLayers, bases.bigExtra);
  log(`bench: fat ${images.fat.ref} ${(images.fat.compressedBytes / 1e6).toFixed(1)} MB; big ${images.big.ref} ${(images.big.compressedBytes / 1e6).toFixed(1)} MB`);

  // The tools, each checked to really use its store and driver; one that cannot is n/a, never faked.
  const toolInfo = {};
  const tools = [];
  for (const driver of opt.buildahDrivers) {
    const t = buildahTool({ driver, dir: path.join(base, `buildah-${driver}`), tmpDir });
    try {
      const c = await run(t, ['from', 'scratch']);
      await run(t, ['rm', containerName(c)]);
      if (!existsSync(path.join(t.root, `${driver}-containers`))) throw new Error(`buildah did not use the store in ${t.root}`);
      toolInfo[t.name] = { available: true, ...t.info() };
      tools.push(t);
    } catch (err) {
      toolInfo[t.name] = { available: false, reason: String(err.message).split('\n').slice(-1)[0] };
      log(`bench: ${t.name} does not work here: ${toolInfo[t.name].reason}`);
    }
    t.reset();
  }
  for (const driver of opt.drivers) {
    const t = tbahTool({ node, cli: build.cli, root: path.join(base, `tbah-${driver}`), tmpDir, driver, cpuProfDir: opt.cpuProf });
    if (!opt.withExtraCa) delete t.env.NODE_EXTRA_CA_CERTS;
    const probe = await probeTbahDriver(t, w.oneFile, run);
    toolInfo[t.name] = { available: probe.ok, probe, ...(probe.ok ? {} : { reason: probe.reason }) };
    log(`bench: ${t.name}: ${probe.ok ? `ok (rootfs ${probe.mountType ?? 'a plain directory'}, selected by ${probe.selectedBy}; from --storage-driver ${probe.fromFlag})` : `n/a: ${probe.reason}`}`);
    if (probe.ok) tools.push(t);
  }
  const columns = [...opt.buildahDrivers.map((d) => `buildah-${d}`), ...opt.drivers.map((d) => `tbah-${d}`)];

  // The runs.
  const samples = {}; // record → tool → [sample]
  const failures = [];
  const artifacts = {};
  const reps = (s) => (s.repeat ? opt.repeat[s.repeat] : 1);
  for (let runNo = 1; runNo <= opt.runs && steps.length > 0; runNo++) {
    const order = rotate(tools, runNo - 1);
    for (const t of order) t.reset();
    const state = new Map(order.map((t) => [t, { failed: new Set() }]));
    for (const step of steps) {
      for (let rep = 1; rep <= reps(step); rep++) {
        for (const t of order) {
          const st = state.get(t);
          if (st.failed.has(step.name)) continue;
          if (step.deps.some((d) => st.failed.has(d))) { st.failed.add(step.name); continue; }
          const c = {
            w, run: runNo, rep, registry, fatRef: images.fat.ref, bigRef: images.big.ref,
            reset: (tool) => tool.reset(),
            x: (args) => run(t, args),
            time: async (record, args, { registry: reg = false } = {}) => {
              const mark = reg ? registry.mark() : 0;
              const r = await run(t, args);
              const { stdout: _drop, ...sample } = r;
              if (reg) sample.registry = await registry.traffic(mark);
              ((samples[record] ??= {})[t.name] ??= []).push({ run: runNo, rep, ...sample });
              log(`run ${runNo}/${opt.runs}  ${record.padEnd(16)} ${t.name.padEnd(16)} ${r.secs.toFixed(3)} s` +
                (r.rssKiB !== null ? `  ${Math.round(r.rssKiB / 1024)} MiB` : '') + (sample.registry ? `  ${describeTraffic(sample.registry)}` : ''));
              return r;
            },
          };
          try {
            await step.run(t, st, c);
          } catch (err) {
            if (err.message === 'aborted') throw err;
            st.failed.add(step.name);
            failures.push({ run: runNo, step: step.name, tool: t.name, error: String(err.message).slice(0, 2000) });
            log(`run ${runNo}/${opt.runs}  ${step.name.padEnd(16)} ${t.name.padEnd(16)} FAILED: ${String(err.message).split('\n').slice(0, 3).join(' | ')}`);
            continue;
          }
          if (runNo === 1) recordArtifacts(artifacts, t, step.name);
        }
      }
    }
    for (const t of order) t.reset();
  }

  // Derived rows: per-run sums (copy + commit), for runs in which every part succeeded.
  for (const [name, parts] of Object.entries(DERIVED)) {
    for (const [tool, firsts] of Object.entries(samples[parts[0]] ?? {})) {
      for (const first of firsts) {
        const all = parts.map((p) => samples[p]?.[tool]?.find((s) => s.run === first.run));
        if (all.some((s) => s === undefined)) continue;
        const add = (k) => (all.some((s) => s[k] === null) ? null : all.reduce((a, s) => a + s[k], 0));
        ((samples[name] ??= {})[tool] ??= []).push({ run: first.run, rep: 1, secs: add('secs'), userS: add('userS'), sysS: add('sysS'),
          cpuS: add('cpuS'), rssKiB: all.some((s) => s.rssKiB === null) ? null : Math.max(...all.map((s) => s.rssKiB)) });
      }
    }
  }

  // Per-call start-up, with and without NODE_EXTRA_CA_CERTS, against a small store.
  let startup = null;
  if (sel.has('startup')) startup = await measureStartup(opt, { node, cli: build.cli, base, tmpDir, caFile, w, run, tools });

  const steps2 = {};
  const recordsOf = (stepName) => (DERIVED[stepName] ? DERIVED[stepName] : [stepName]);
  for (const name of [...ROWS.map((r) => r.step), 'copy-1file-1g']) {
    if (!samples[name] && !failures.some((f) => STEPS.find((s) => s.name === f.step)?.records.some((r) => recordsOf(name).includes(r)))) continue;
    const toolsSum = {};
    for (const t of columns) {
      const s = samples[name]?.[t] ?? [];
      const failedRuns = [...new Set(failures.filter((f) => f.tool === t && STEPS.find((x) => x.name === f.step)?.records.some((r) => recordsOf(name).includes(r))).map((f) => f.run))];
      if (s.length === 0 && failedRuns.length === 0) continue;
      toolsSum[t] = { ...summarise(s), failedRuns };
    }
    const ratio = {};
    const b = toolsSum[columns.find((c) => c.startsWith('buildah-'))]?.median;
    for (const [tool, s] of Object.entries(toolsSum)) {
      if (tool.startsWith('tbah-') && typeof s.median === 'number' && typeof b === 'number' && b > 0) ratio[tool] = Math.round((s.median / b) * 1000) / 1000;
    }
    steps2[name] = { tools: toolsSum, ratio };
  }

  const fsFeatures = fsys.features;
  const results = {
    schema: 2,
    date: new Date().toISOString(),
    durationS: Math.round((Date.now() - t0) / 1000),
    options: { runs: opt.runs, startupRuns: opt.startupRuns, repeat: opt.repeat, cases: opt.cases, drivers: opt.drivers,
      buildahDrivers: opt.buildahDrivers, quick: opt.quick, withExtraCa: opt.withExtraCa, cpuProf: Boolean(opt.cpuProf) },
    machine,
    load: { before: loadBefore, during: load.stop(), after: Math.round(os.loadavg()[0] * 100) / 100 },
    fs: { kind: fsys.kind, size: fsys.size, journal: fsFeatures ? fsFeatures.includes('has_journal') : null, features: fsFeatures,
      mountOptions: fsys.mountOptions, loopDirectIo: fsys.loopDirectIo },
    tbah: { ...gitInfo(), bundleMtime: statSync(bundle).mtime.toISOString(), distSha256: build.distSha256 },
    buildah: { version: /Version:\s*(\S+)/.exec(buildahVersionText)?.[1] ?? null },
    tools: toolInfo,
    columns,
    registry: { version: registryVersion, host: registry.host, images },
    env: { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS ?? null, caFileForStartup: caFile, BUILDAH_RUNTIME: 'runc' },
    workload: {
      tree: { ...w.shape, entries: w.entries, dirs: w.dirs, bytes: w.bytes, sha256: w.sha256 },
      fat: { layers: fatLayers.map(({ dir: _d, ...l }) => l), files: sum(fatLayers, 'files'), bytes: sum(fatLayers, 'bytes') },
      big: { layers: bigLayers.map(({ dir: _d, ...l }) => l), files: sum(bigLayers, 'files'), bytes: sum(bigLayers, 'bytes') },
      randomShare: RANDOM_SHARE,
      busyboxSha256: bases.busyboxSha256,
    },
    floors,
    steps: steps2,
    startup,
    artifacts,
    failures,
    notes,
  };
  mkdirSync(path.dirname(opt.out), { recursive: true });
  writeFileSync(opt.out, JSON.stringify(results, null, 2) + '\n');
  const md = renderMarkdown(results);
  process.stdout.write(md);
  if (opt.doc) {
    writeFileSync(opt.doc, replaceSection(readFileSync(opt.doc, 'utf8'), md));
    log(`bench: ${opt.doc} updated`);
  }
  log(`bench: JSON in ${path.relative(process.cwd(), opt.out) || opt.out}; ${Math.round((Date.now() - t0) / 1000)} s in all`);
  return 0;
}

/**
 * Commit the layer directories one by one (one layer each, --timestamp 0 so the bytes do not
 * depend on the day) and push the fat base, then the 1 GiB base (the same 4 layers + the bulk
 * ones), to the local registry. Returns their refs, digests and compressed sizes.
 */
async function pushBases(t, run, registry, fatLayers, extraLayers) {
  const x = async (args) => (await run(t, args)).stdout.trim();
  t.reset();
  const ctr = await x(['from', 'scratch']);
  const out = {};
  const layers = [['fat', fatLayers], ['big', extraLayers]];
  for (const [name, ls] of layers) {
    for (const l of ls) {
      await x(['copy', '-q', ctr, `${l.dir}/.`, '/']);
      await x(['commit', '-q', '--timestamp', '0', ctr, `bench-${name}`]);
    }
    const repoName = `bench/${name}`;
    await x(['push', '-q', '--tls-verify=false', `bench-${name}`, `docker://${registry.host}/${repoName}:latest`]);
    const m = await remoteManifest(registry.host, repoName, 'latest');
    out[name] = { ref: `${registry.host}/${repoName}:latest`, digest: m.digest, mediaType: m.mediaType,
      compressedBytes: m.manifest.layers.reduce((a, l) => a + l.size, 0), layers: describeLayers(m.manifest.layers) };
  }
  t.reset();
  return out;
}

async function measureStartup(opt, { node, cli, base, tmpDir, caFile, w, run, tools }) {
  log('bench: per-call start-up…');
  const tb = tools.find((t) => t.kind === 'tbah');
  const bu = tools.find((t) => t.kind === 'buildah');
  // A store with one image and one container, so containers/images/inspect have something to list.
  const prep = async (t) => {
    t.reset();
    const c = containerName(await run(t, ['from', 'scratch']));
    await run(t, ['copy', t.kind === 'tbah' ? '-q' : '-q', c, w.oneFile, '/added.txt']);
    await run(t, ['commit', '-q', c, 'bench-startup']);
  };
  const cmds = [{ name: 'node -e 0', argv: [node, '-e', '0'] }];
  if (bu) {
    await prep(bu);
    cmds.push({ name: 'buildah --version', argv: ['buildah', '--version'] }, { name: 'buildah containers', argv: bu.argv(['containers']), env: bu.env });
  }
  if (tb) {
    await prep(tb);
    for (const a of [['version'], ['containers'], ['images'], ['inspect', 'bench-startup']]) {
      cmds.push({ name: `tbah ${a.join(' ')}`, argv: [node, cli, ...a], env: tb.env });
    }
  }
  const variants = { plain: false, ...(caFile ? { ca: true } : {}) };
  const out = {};
  for (const [key, withCa] of Object.entries(variants)) {
    const per = {};
    const envOf = (c) => {
      const env = { ...(c.env ?? process.env), TMPDIR: tmpDir };
      if (withCa) env.NODE_EXTRA_CA_CERTS = caFile; else delete env.NODE_EXTRA_CA_CERTS;
      return env;
    };
    for (const c of cmds) await measure(c.argv, { env: envOf(c), tmpDir }); // warm the page cache
    for (let r = 1; r <= opt.startupRuns; r++) {
      for (const c of rotate(cmds, r - 1)) {
        const { stdout: _drop, ...s } = await measure(c.argv, { env: envOf(c), tmpDir });
        (per[c.name] ??= []).push({ run: r, ...s });
      }
    }
    out[key] = Object.fromEntries(Object.entries(per).map(([k, v]) => [k, summarise(v)]));
  }
  if (tb) tb.reset();
  if (bu) bu.reset();
  return { runs: opt.startupRuns, caFile, commands: cmds.map((c) => c.name), variants: out };
}

/** What each tool wrote in run 1: the stored layers of the tree commit (tbah gzips at commit, Buildah does not). */
function recordArtifacts(artifacts, t, step) {
  if (step !== 'commit') return;
  try {
    (artifacts[t.name] ??= {}).commit = describeLayers(t.storedLayers('bench-app'));
  } catch (err) {
    (artifacts[t.name] ??= {}).commitError = String(err.message);
  }
}

const MiB = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
/** One command's registry traffic, from the access log. */
function describeTraffic(t) {
  const parts = [];
  if (t.uploaded) parts.push(`${t.uploaded} uploaded (${MiB(t.uploadedBytes)})`);
  if (t.mounted) parts.push(`${t.mounted} mounted`);
  if (t.present) parts.push(`${t.present} there`);
  if (t.fetched) parts.push(`${t.fetched} fetched (${MiB(t.fetchedBytes)})`);
  return `blobs: ${parts.join(', ') || 'none'}; ${t.requests} req`;
}

main().then((code) => { process.exitCode = code; }, (err) => {
  log(`bench: ${err && err.stack ? err.stack : err}`);
  process.exitCode = 1;
});
