/**
 * Unprivileged users for the rootless suite, made by the test itself (so a
 * fresh CI machine needs nothing set up): `useradd` when missing, subordinate
 * ids added or taken away as asked, and a private copy of the built CLI that
 * any user can read (the checkout may live under /root). Commands run as the
 * user through `setpriv --reuid --regid --init-groups`, with a clean
 * environment: HOME, PATH, USER, LOGNAME and nothing of root's.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from './cli.js';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  /** A fresh home for this test run (XDG variables unset: the store is ~/.local/share/tbah). */
  home: string;
  /** The subordinate range it has (undefined: none). */
  range?: { start: number; count: number };
}

export interface Run { status: number; stdout: string; stderr: string }

function must(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function ranges(file: string, name: string): { start: number; count: number }[] {
  let text = '';
  try { text = readFileSync(file, 'utf8'); } catch { /* none yet */ }
  return text.split('\n').map((l) => l.split(':')).filter((f) => f.length === 3 && f[0] === name).map((f) => ({ start: Number(f[1]), count: Number(f[2]) }));
}

/**
 * The user `name`, made if missing (no automatic subordinate ids), with exactly
 * the range asked for (or none). Idempotent, and safe against a concurrent run
 * making it first.
 */
export function ensureUser(name: string, range: { start: number; count: number } | undefined, homeBase: string): TestUser {
  if (spawnSync('getent', ['passwd', name]).status !== 0) {
    const r = spawnSync('useradd', ['-M', '-U', '-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0', '-K', 'UID_MIN=23100', '-K', 'UID_MAX=23999',
      '-K', 'GID_MIN=23100', '-K', 'GID_MAX=23999', '-s', '/bin/sh', '-d', `/home/${name}`, name], { encoding: 'utf8' });
    if (r.status !== 0 && /group .* exists/.test(r.stderr)) {
      // The group outlived the user (a clobbered /etc/passwd): join it.
      const again = spawnSync('useradd', ['-M', '-g', name, '-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0', '-K', 'UID_MIN=23100', '-K', 'UID_MAX=23999',
        '-s', '/bin/sh', '-d', `/home/${name}`, name], { encoding: 'utf8' });
      if (again.status !== 0 && !/already exists/.test(again.stderr)) throw new Error(`useradd ${name}: ${again.stderr}`);
    } else if (r.status !== 0 && !/already exists/.test(r.stderr)) {
      throw new Error(`useradd ${name}: ${r.stderr}`);
    }
  }
  const uid = Number(must('id', ['-u', name]).trim());
  const gid = Number(must('id', ['-g', name]).trim());
  for (const [file, flag, del] of [['/etc/subuid', '--add-subuids', '--del-subuids'], ['/etc/subgid', '--add-subgids', '--del-subgids']] as const) {
    const have = ranges(file, name);
    const want = range === undefined ? [] : [range];
    for (const h of have) if (!want.some((w) => w.start === h.start && w.count === h.count)) must('usermod', [del, `${h.start}-${h.start + h.count - 1}`, name]);
    for (const w of want) if (!have.some((h) => w.start === h.start && w.count === h.count)) must('usermod', [flag, `${w.start}-${w.start + w.count - 1}`, name]);
  }
  const home = path.join(homeBase, name);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  chownSync(home, uid, gid);
  return { name, uid, gid, home, ...(range ? { range } : {}) };
}

/**
 * A copy of the built CLI (bin, dist, the native addon and what loads it) in
 * `dir`, readable by everyone; `dir/bin-path/tbah` runs it.
 */
export function installCli(dir: string): { bin: string; pathDir: string } {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const p of ['bin', 'dist', 'package.json']) cpSync(path.join(repoRoot, p), path.join(dir, p), { recursive: true, dereference: true });
  const seen = new Set<string>();
  const copyPkg = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const src = path.join(repoRoot, 'node_modules', name);
    cpSync(src, path.join(dir, 'node_modules', name), { recursive: true, dereference: true });
    const deps = (JSON.parse(readFileSync(path.join(src, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {};
    for (const d of Object.keys(deps)) copyPkg(d);
  };
  copyPkg('fs-native-extensions');
  spawnSync('chmod', ['-R', 'a+rX', dir]);
  const pathDir = path.join(dir, 'bin-path');
  mkdirSync(pathDir, { recursive: true, mode: 0o755 });
  const bin = path.join(dir, 'bin', 'tbah.js');
  writeFileSync(path.join(pathDir, 'tbah'), `#!/bin/sh\nexec ${process.execPath} ${bin} "$@"\n`, { mode: 0o755 });
  chmodSync(path.join(pathDir, 'tbah'), 0o755);
  return { bin, pathDir };
}

export interface AsUserOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  input?: string;
}

/** The environment a user's shell would have: its own HOME and PATH, no XDG variables, nothing of root's. */
export function userEnv(u: TestUser, pathDir: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: Record<string, string | undefined> = {
    HOME: u.home, USER: u.name, LOGNAME: u.name, SHELL: '/bin/sh', LANG: 'C.UTF-8', NO_COLOR: '1',
    PATH: `${pathDir}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin`, ...extra,
  };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return env as NodeJS.ProcessEnv;
}

/** Run `argv` as the user. */
export function asUser(u: TestUser, argv: string[], pathDir: string, opts: AsUserOptions = {}): Run {
  const r = spawnSync('setpriv', ['--reuid', String(u.uid), '--regid', String(u.gid), '--init-groups', '--', ...argv], {
    env: userEnv(u, pathDir, opts.env), cwd: opts.cwd ?? u.home, encoding: 'utf8', input: opts.input ?? '', maxBuffer: 64 << 20,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function hasTools(...names: string[]): string | undefined {
  for (const n of names) if (spawnSync('sh', ['-c', `command -v ${n}`], { stdio: 'ignore' }).status !== 0) return n;
  return undefined;
}

export { existsSync };
