/** Runs the built CLI (bin/tbah.js) against a private store, as a user's script would. */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, lstatSync, readlinkSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const tbahBin = path.join(repoRoot, 'bin', 'tbah.js');

export interface RunResult { status: number; stdout: string; stderr: string }

export class Sandbox {
  readonly dir: string;
  readonly store: string;
  constructor(prefix = 'tbah-it-') {
    this.dir = mkdtempSync(path.join(os.tmpdir(), prefix));
    this.store = path.join(this.dir, 'store');
  }

  run(args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string; input?: string } = {}): RunResult {
    const env: Record<string, string | undefined> = { ...process.env, TBAH_ROOT: this.store, NO_COLOR: '1', ...opts.env };
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    const r = spawnSync(process.execPath, [tbahBin, ...args], {
      cwd: opts.cwd ?? this.dir, env: env as NodeJS.ProcessEnv, encoding: 'utf8', input: opts.input ?? '', maxBuffer: 64 << 20,
    });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** Like run, without blocking the event loop (for tests that serve HTTP in-process). */
  runAsync(args: string[], opts: { env?: Record<string, string | undefined>; input?: string } = {}): Promise<RunResult> {
    const env: Record<string, string | undefined> = { ...process.env, TBAH_ROOT: this.store, NO_COLOR: '1', ...opts.env };
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [tbahBin, ...args], { cwd: this.dir, env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
      child.stdin.end(opts.input ?? '');
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
    });
  }

  /** runAsync, demanding success; returns trimmed stdout. */
  async okAsync(args: string[], opts: Parameters<Sandbox['runAsync']>[1] = {}): Promise<string> {
    const r = await this.runAsync(args, opts);
    if (r.status !== 0) throw new Error(`tbah ${args.join(' ')} exited ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r.stdout.trim();
  }

  /** Run and demand success; returns trimmed stdout. */
  ok(args: string[], opts: Parameters<Sandbox['run']>[1] = {}): string {
    const r = this.run(args, opts);
    if (r.status !== 0) throw new Error(`tbah ${args.join(' ')} exited ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r.stdout.trim();
  }

  path(...p: string[]): string {
    return path.join(this.dir, ...p);
  }

  cleanup(): void {
    removeTestDir(this.dir);
  }
}

/**
 * Remove a test directory holding a store: overlay containers left mounted by a
 * test are detached first (rm -rf must never walk into a live mount).
 */
export function removeTestDir(dir: string): void {
  let info = '';
  try { info = readFileSync('/proc/self/mountinfo', 'utf8'); } catch { /* no mounts to mind */ }
  const points = info.split('\n').map((l) => l.split(' ')[4]).filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === dir || p.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
  for (const p of points) spawnSync('umount', ['-l', p]);
  rmSync(dir, { recursive: true, force: true });
}

/** A fingerprint of a directory tree (names, types, sizes, modes, contents) to prove "unchanged". */
export function treeFingerprint(root: string): string {
  const h = createHash('sha256');
  const walk = (dir: string, rel: string): void => {
    let names: string[];
    try { names = readdirSync(dir).sort(); } catch { return; }
    for (const n of names) {
      const p = path.join(dir, n);
      const r = rel ? `${rel}/${n}` : n;
      if (r.startsWith('locks')) continue; // lock files are created on demand and hold nothing
      const st = lstatSync(p);
      h.update(`${r}\0${st.mode}\0${st.size}\0`);
      if (st.isFile()) h.update(readFileSync(p));
      else if (st.isSymbolicLink()) h.update(readlinkSync(p));
      else if (st.isDirectory()) walk(p, r);
    }
  };
  walk(root, '');
  return h.digest('hex');
}

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export function sh(cmd: string, opts: { cwd?: string } = {}): string {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8', cwd: opts.cwd, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}
