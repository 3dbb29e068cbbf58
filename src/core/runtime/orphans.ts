/**
 * What a tbah killed with SIGKILL leaves behind and cannot clean up itself:
 * its bundle (with copies of /etc files), secret copies in /dev/shm, overlay
 * scratch, and under the oci isolation the runtime container, which runs on to
 * its end and then stays in the runtime's state. Every such directory carries
 * an `owner` tag (pid and start time of the tbah that made it); each run
 * removes the ones whose owner is gone. (Mount points in the rootfs are the
 * run journal's business: mount-points.ts.)
 */
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isErrno } from '../errors.js';
import { runtimeStateDir } from './select.js';
import type { RuntimeChoice } from './select.js';

export const OWNER_FILE = '.tbah-owner';

let selfTag: Promise<string> | undefined;

async function startTime(pid: number | string): Promise<string | undefined> {
  try {
    const stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8');
    // Field 22, counted after the command name (which may contain spaces and parentheses).
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** `pid:starttime` of this process: a pid alone could be reused by then. */
export function ownerTag(): Promise<string> {
  selfTag ??= startTime('self').then((t) => `${process.pid}:${t ?? '0'}`);
  return selfTag;
}

/** Mark `dir` as ours (mode as the dir's other private files). */
export async function markOwned(dir: string): Promise<void> {
  await fsp.writeFile(path.join(dir, OWNER_FILE), await ownerTag(), { mode: 0o600 });
}

async function ownerGone(dir: string): Promise<boolean> {
  let tag: string;
  try {
    tag = await fsp.readFile(path.join(dir, OWNER_FILE), 'utf8');
  } catch (err) {
    // Still being made, not ours, or another user's (a shared /tmp): never touched.
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR') || isErrno(err, 'EACCES') || isErrno(err, 'EPERM')) return false;
    throw err;
  }
  const [pid, start] = tag.split(':');
  if (!pid || !/^\d+$/.test(pid)) return false;
  return (await startTime(pid)) !== start;
}

async function sweepDir(parent: string, prefixes: string[]): Promise<void> {
  let names: string[];
  try {
    names = await fsp.readdir(parent);
  } catch {
    return;
  }
  for (const n of names) {
    if (!prefixes.some((p) => n.startsWith(p))) continue;
    const dir = path.join(parent, n);
    if (await ownerGone(dir)) await fsp.rm(dir, { recursive: true, force: true });
  }
}

/** Delete stopped runtime containers of killed tbah runs. */
function sweepRuntime(rt: RuntimeChoice): void {
  const r = spawnSync(rt.path, ['--root', runtimeStateDir(rt), 'list', '--format', 'json'], { encoding: 'utf8' });
  if (r.status !== 0) return;
  let list: { id?: string; status?: string }[];
  try {
    list = (JSON.parse(r.stdout) as typeof list | null) ?? [];
  } catch {
    return;
  }
  for (const c of list) {
    // Ids are tbah-[NAME-]PID-RANDOM; a container still running goes on to its end first.
    const pid = /^tbah-(?:[0-9a-f]+-)?(\d+)-[0-9a-f]+$/.exec(c.id ?? '')?.[1];
    if (pid === undefined || c.status !== 'stopped') continue;
    if (spawnSync('test', ['-e', `/proc/${pid}`]).status === 0) continue; // its tbah will clean up
    spawnSync(rt.path, ['--root', runtimeStateDir(rt), 'delete', '--force', c.id as string], { stdio: 'ignore' });
  }
}

export async function sweepOrphans(rt: RuntimeChoice | undefined): Promise<void> {
  if (rt !== undefined) sweepRuntime(rt);
  await sweepDir(os.tmpdir(), ['tbah-run-']);
  await sweepDir('/dev/shm', ['tbah-secrets-', 'tbah-overlay-']);
}
