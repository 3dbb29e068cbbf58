/**
 * A table-driven fuzzer over tbah's real command definitions: every option of
 * every command (walked from the commander program the CLI registers) gets
 * malformed values — empty, huge, negative, out of range, non-numeric,
 * unicode, path traversal, `=` and `,` inside key=value lists. Each case must
 * end as the CLI renders it: exit 125 with a one-line error (never an
 * internal error or stack trace), or exit 0 when the value is legitimately
 * accepted. A failing case must leave the store byte-identical; an accepted
 * one must leave it valid (test/helpers/store-check.ts).
 *
 * The cases run in this process through the same program main.ts builds
 * (process start-up would cost ~2,000 × 150 ms); errors are classified as
 * main.ts's renderer does. A sample also runs through the real binary, and
 * `--root` (cached per process by the CLI) is fuzzed only that way.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Command, CommanderError } from 'commander';
import { registerCommands } from '../../src/cli/commands/index.js';
import { normaliseArgv } from '../../src/cli/argv.js';
import { TbahError, systemError } from '../../src/core/errors.js';
import { Sandbox } from '../helpers/cli.js';
import { checkStore } from '../helpers/store-check.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

/**
 * Malformed values, one of each kind. Output flags (--iidfile, --digestfile …)
 * really write where a value points, so the cases run with the current
 * directory deep inside the sandbox and the absolute traversal resolves inside
 * it too: nothing may ever be written outside the sandbox.
 */
let VALUES: Array<[string, string]> = [
  ['empty', ''],
  ['huge', 'x'.repeat(70_000)],
  ['negative', '-1'],
  ['overflow', '99999999999999999999'],
  ['non-numeric', 'abc'],
  ['fraction', '1.5'],
  ['unicode', 'ünïcødé-名前-🐳'],
  ['traversal', '../../x'],
  ['abs-traversal', '/SANDBOX/../../SANDBOX_NAME/abs-x'],
  ['eq-in-kv', 'a=b=c'],
  ['commas', ',=,'],
  ['bare-eq', '='],
  ['kv-list', 'K=V,K2'],
  ['space', ' \t'],
];

interface Outcome { code: number; internal?: string; stderr: string }

/**
 * Run one command line in this process, exactly as main.ts wires it, and
 * classify the result as main.ts's renderer does.
 */
async function runInProcess(argv: string[]): Promise<Outcome> {
  const program = new Command('tbah')
    .option('--root <dir>', 'store root')
    .option('--storage-driver <driver>', 'rootfs driver of new containers')
    .version('fuzz', '-v, --version', 'print the version')
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: () => undefined, outputError: () => undefined });
  await registerCommands(program, ['node', 'tbah', ...argv]);
  let stderr = '';
  const outWrite = process.stdout.write.bind(process.stdout);
  const errWrite = process.stderr.write.bind(process.stderr);
  process.stdout.write = (() => true) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  process.exitCode = undefined;
  try {
    await program.parseAsync(normaliseArgv(['node', 'tbah', ...argv], program));
    return { code: process.exitCode === undefined ? 0 : Number(process.exitCode), stderr };
  } catch (err) {
    if (err instanceof CommanderError) {
      const help = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help';
      return { code: help ? 0 : 125, stderr };
    }
    if (err instanceof TbahError) return { code: err.exitCode, stderr: `${stderr}tbah: ${err.message}` };
    const sys = systemError(err);
    if (sys) return { code: 125, stderr: `${stderr}tbah: ${sys.message}` };
    return { code: 125, internal: (err as Error)?.stack ?? String(err), stderr };
  } finally {
    process.stdout.write = outWrite;
    process.stderr.write = errWrite;
    process.exitCode = undefined;
  }
}

/** The store's files as bytes (names, types, modes, sizes, contents); locks hold nothing. */
function storePrint(root: string): string {
  const h = createHash('sha256');
  const walk = (dir: string, rel: string): void => {
    let names: string[];
    try { names = readdirSync(dir).sort(); } catch { return; }
    for (const n of names) {
      const p = path.join(dir, n);
      const r = rel ? `${rel}/${n}` : n;
      if (r === 'locks' || r.startsWith('locks/')) continue;
      const st = lstatSync(p);
      // Contents, not times: the restore copy gets new times; what a failure must not change is bytes.
      h.update(`${r}\0${st.mode}\0${st.isDirectory() ? 0 : st.size}\0`);
      if (st.isFile()) h.update(readFileSync(p));
      else if (st.isDirectory()) walk(p, r);
    }
  };
  walk(root, '');
  return h.digest('hex');
}

describe('every flag of every command, fed malformed values', () => {
  // On tmpfs when there is one: ~1,600 cases of fsync'd writes and store restores.
  const tmp = process.env.TMPDIR;
  if (statSync('/dev/shm', { throwIfNoEntry: false })?.isDirectory()) process.env.TMPDIR = '/dev/shm';
  const sb = new Sandbox('tbah-fuzz-');
  if (tmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = tmp;
  // The dir driver: a store is then plain files, copied back after every case that changed it
  // (overlay containers are live mounts). `--storage-driver` itself is fuzzed like every flag.
  const driver = process.env.TBAH_STORAGE_DRIVER;
  process.env.TBAH_STORAGE_DRIVER = 'dir';
  const template = sb.path('template');
  const cwd = sb.path('cwd', 'a', 'b');
  VALUES = VALUES.map(([k, v]) => [k, k === 'abs-traversal' ? `${sb.path('cwd')}/../../${path.basename(sb.dir)}/cwd/abs-x` : v]);
  // Nothing of the machine's own: auth files and the working directory are the sandbox's.
  const savedEnv: Record<string, string | undefined> = {};
  const privateEnv: Record<string, string> = {
    REGISTRY_AUTH_FILE: sb.path('auth.json'), XDG_RUNTIME_DIR: sb.path('run'), HOME: sb.path('home'), DOCKER_CONFIG: sb.path('docker'),
  };
  let reg: TestRegistry | undefined;
  let pristine = '';
  const stats = { commands: 0, options: 0, cases: 0, accepted: 0, refused: 0, ms: 0 };
  const perCommand: Record<string, number> = {};

  before(async () => {
    mkdirSync(cwd, { recursive: true });
    for (const d of ['run', 'home', 'docker']) mkdirSync(sb.path(d));
    reg = await startRegistry({ user: { name: 'u', password: 'right' } }); // login answers at once
    writeFileSync(sb.path('f'), 'fuzz\n');
    const ctr = sb.ok(['from', 'scratch']);
    sb.ok(['copy', ctr, 'f', '/f']);
    sb.ok(['commit', ctr, 'fz:1']);
    sb.ok(['tag', 'fz:1', 'fz:spare']);
    sb.ok(['from', '--name', 'fzc', 'fz:1']);
    sb.ok(['from', '--name', 'fzc2', 'fz:1']);
    sb.ok(['rm', ctr]);
    sb.ok(['push', 'fz:1', `oci:${sb.path('layout')}:fz`]);
    cpSync(sb.store, template, { recursive: true });
    pristine = storePrint(sb.store);
    process.env.TBAH_ROOT = sb.store; // the CLI opens its store once per process
  });
  after(async () => {
    await reg?.stop();
    delete process.env.TBAH_ROOT;
    if (driver === undefined) delete process.env.TBAH_STORAGE_DRIVER;
    else process.env.TBAH_STORAGE_DRIVER = driver;
    sb.cleanup();
    process.stdout.write(`# flag fuzz time per command (ms): ${JSON.stringify(perCommand)}\n`);
    process.stdout.write(`# flag fuzz: ${stats.commands} commands, ${stats.options} options, ${stats.cases} cases (${stats.refused} refused, ${stats.accepted} accepted) in ${(stats.ms / 1000).toFixed(1)} s\n`);
  });

  const restore = (): void => {
    rmSync(sb.store, { recursive: true, force: true });
    cpSync(template, sb.store, { recursive: true });
  };

  test('in process: no internal error, exit 125 or 0, store unchanged on failure and valid on success', async () => {
    const t0 = Date.now();
    const src = sb.path('f');
    // Valid positionals for each command, so that the flag is what is wrong.
    const base: Record<string, string[]> = {
      from: ['fz:1'], containers: [], images: [], inspect: ['fzc'], mount: ['fzc'], umount: ['fzc'],
      copy: ['fzc', src, '/dst'], add: ['fzc', src, '/dst'], config: ['fzc'], run: ['fzc', '/no-such-binary'],
      commit: ['fzc', 'fzout:1'], pull: [`oci:${sb.path('layout')}:fz`], push: ['fz:1', `oci:${sb.path('pushout')}:x`],
      tag: ['fz:1', 'fz:2'], rm: ['fzc2'], rmi: ['fz:spare'], login: [reg!.host], logout: [reg!.host],
      version: [], info: [], rename: ['fzc2', 'fzc3'], unshare: ['true'], check: [], prune: [], completion: ['bash'],
    };
    const failures: string[] = [];
    const home = process.cwd();
    for (const [k, v] of Object.entries(privateEnv)) {
      savedEnv[k] = process.env[k];
      process.env[k] = v;
    }
    process.chdir(cwd);
    try {
      const probe = new Command('tbah').enablePositionalOptions();
      await registerCommands(probe);
      for (const cmd of probe.commands) {
        const name = cmd.name();
        assert.ok(name in base, `no base arguments for the command ${name}: add it to the table`);
        stats.commands++;
        const tc = Date.now();
        for (const opt of cmd.options) {
          const flag = opt.long ?? opt.short!;
          if (flag === '--root') continue; // fuzzed through the binary below
          stats.options++;
          // login must never wait for a password: give both unless the fuzzed flag is one of them.
          const extra = name === 'login' ? [...(flag === '--username' ? [] : ['-u', 'u']), ...(flag === '--password' || flag === '--password-stdin' ? [] : ['-p', 'p'])] : [];
          const lines: string[][] = opt.required || opt.optional
            ? VALUES.map(([, v]) => [flag, v])
            : [[`${flag}=junk`], [`${flag}=`]];
          if (flag === '--password-stdin') extra.push('-u', 'u');
          for (const [i, fl] of lines.entries()) {
            const argv = [name, ...fl, ...extra, ...base[name]!];
            const what = `tbah ${name} ${fl[0]} ${fl[1] === undefined ? '' : JSON.stringify(fl[1].length > 40 ? `${fl[1].slice(0, 20)}…(${fl[1].length})` : fl[1])} [${VALUES[i]?.[0] ?? 'bool'}]`;
            stats.cases++;
            const r = await runInProcess(argv);
            if (r.internal !== undefined) {
              failures.push(`${what}: internal error\n${r.internal}`);
            } else if (/internal error|\n\s+at /.test(r.stderr)) {
              failures.push(`${what}: stack trace on stderr\n${r.stderr}`);
            } else if (r.code !== 0 && r.code !== 125 && !(name === 'run' && (r.code === 126 || r.code === 127))) {
              failures.push(`${what}: exit ${r.code}`);
            }
            const changed = storePrint(sb.store) !== pristine;
            // `run` prepares the rootfs (mount points, /etc/hostname, the working directory) before
            // the command starts, as Buildah does: what it leaves is checked for validity, not
            // identity. Every other command that fails must leave the store as it was.
            if (changed && (r.code === 0 || name === 'run')) {
              const h = await checkStore(sb.store);
              if (h.problems.length > 0) failures.push(`${what}: exit ${r.code}, and the store is broken: ${h.problems.join('; ')}`);
            }
            if (r.code === 0) stats.accepted++;
            else {
              stats.refused++;
              if (changed && name !== 'run') failures.push(`${what}: failed (exit ${r.code}: ${r.stderr.trim().split('\n').pop()}) and changed the store`);
            }
            if (changed) restore();
          }
        }
        perCommand[name] = Date.now() - tc;
      }
    } finally {
      process.chdir(home);
      for (const [k, v] of Object.entries(savedEnv)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    stats.ms = Date.now() - t0;
    // The output flags wrote where their values pointed, inside the sandbox.
    assert.ok(existsSync(sb.path('cwd', 'x')), '../../x landed in the sandbox');
    assert.ok(existsSync(sb.path('cwd', 'abs-x')), 'the absolute traversal landed in the sandbox');
    assert.deepEqual(failures.map((f) => f.replace(/x{40,}/g, 'x…').slice(0, 600)), []);
  });

  test('through the binary: --root values and one refused flag per command render as one line, exit 125', () => {
    for (const [kind, v] of VALUES) {
      if (kind === 'huge') continue; // longer than a path may be: ENAMETOOLONG is checked below with a real length
      const r = sb.run(['images', '--root', v === '' ? '' : sb.path('roots', v.replace(/\//g, '_'))]);
      assert.ok(r.status === 0 || r.status === 125, `--root ${kind}: exit ${r.status}`);
      assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, `--root ${kind}: ${r.stderr}`);
    }
    const long = sb.run(['images', '--root', sb.path('x'.repeat(300))]);
    assert.equal(long.status, 125);
    assert.match(long.stderr, /^tbah: file name too long (reading|writing) /);
    const missing = sb.run(['images', '--root', '/proc/version/x']);
    assert.equal(missing.status, 125, missing.stderr);
    assert.doesNotMatch(missing.stderr, /internal error|\n\s+at /);
    for (const [args, re] of [
      [['from', '--pull', 'sometimes', 'fz:1'], /^tbah: /],
      [['commit', '--timestamp', 'abc', 'fzc'], /^tbah: /],
      [['copy', '--chmod', '99999', 'fzc', sb.path('f'), '/x'], /^tbah: --chmod 99999: not an octal mode\nhint: /],
      [['config', '--healthcheck-retries', '-1', 'fzc'], /^tbah: /],
      [['run', '--network', 'bogus', 'fzc', 'true'], /^tbah: --network bogus: must be host or none/],
      [['push', '--compression-format', 'lz4', 'fz:1', `oci:${sb.path('o')}`], /^tbah: /],
      [['images', '--format', '{{.Nope}}'], /^tbah: template: .*can't evaluate field Nope/],
      [['inspect', '--type', 'bogus', 'fzc'], /^tbah: /],
    ] as Array<[string[], RegExp]>) {
      const before = storePrint(sb.store);
      const r = sb.run(args);
      assert.equal(r.status, 125, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
      assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
      assert.ok(r.stderr.trim().split('\n').length <= 2, r.stderr);
      assert.equal(storePrint(sb.store), before, `${args.join(' ')} changed the store`);
    }
  });
});
