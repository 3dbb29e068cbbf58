/** Resolve `user[:group]` through the container's own /etc/passwd and /etc/group (as Buildah does). */
import { promises as fsp } from 'node:fs';
import { TbahError, isErrno } from '../errors.js';
import { resolveInRoot } from '../layer/secure-path.js';
import { MAX_ID } from '../layer/tar-types.js';

export interface Owner { uid: number; gid: number }

/** The colon-separated records of a passwd/group-style file inside the rootfs (none if it is missing). */
export async function readDbFile(rootfs: string, file: string): Promise<string[][]> {
  try {
    const text = await fsp.readFile(await resolveInRoot(rootfs, file), 'utf8');
    return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return [];
    throw err;
  }
}

const NUM = /^\d+$/;

/** A numeric uid/gid in 0..MAX_ID, or undefined when `s` is not one. */
export function parseId(s: string | undefined): number | undefined {
  if (s === undefined || !NUM.test(s) || s.length > 10) return undefined;
  const n = Number(s);
  return n <= MAX_ID ? n : undefined;
}

function checkId(spec: string, flag: string, what: 'uid' | 'gid', s: string): number {
  const n = parseId(s);
  if (n === undefined) {
    throw new TbahError('invalid-argument', `${flag} ${spec}: ${what} ${s} is out of range`, { hint: `a ${what} is a number from 0 to ${MAX_ID}` });
  }
  return n;
}

/**
 * `USER[:GROUP]`, names or numbers, resolved in the container. Checked in
 * full before the caller writes anything: shape, ranges, names.
 */
export async function resolveOwner(rootfs: string, spec: string, flag = '--chown'): Promise<Owner> {
  const parts = spec.split(':');
  if (parts.length > 2) throw new TbahError('invalid-argument', `${flag} ${spec}: too many ':'`, { hint: 'use USER[:GROUP], names or numbers' });
  const [user, group] = parts as [string, string | undefined];
  if (user === '' || group === '') throw new TbahError('invalid-argument', `${flag} ${spec}: empty user or group`, { hint: 'use USER[:GROUP], names or numbers' });
  let uid: number;
  let gid: number | undefined;
  if (NUM.test(user)) {
    uid = checkId(spec, flag, 'uid', user);
    const pw = (await readDbFile(rootfs, '/etc/passwd')).find((f) => f[2] === user);
    if (pw) gid = parseId(pw[3]);
  } else {
    const pw = (await readDbFile(rootfs, '/etc/passwd')).find((f) => f[0] === user);
    const found = parseId(pw?.[2]);
    if (found === undefined) {
      throw new TbahError('invalid-argument', `${flag} ${spec}: unknown user "${user}" in the container's /etc/passwd`, { hint: 'create the user first, or give a numeric uid' });
    }
    uid = found;
    gid = parseId(pw?.[3]);
  }
  if (group !== undefined) {
    if (NUM.test(group)) gid = checkId(spec, flag, 'gid', group);
    else {
      const gr = (await readDbFile(rootfs, '/etc/group')).find((f) => f[0] === group);
      const found = parseId(gr?.[2]);
      if (found === undefined) {
        throw new TbahError('invalid-argument', `${flag} ${spec}: unknown group "${group}" in the container's /etc/group`, { hint: 'create the group first, or give a numeric gid' });
      }
      gid = found;
    }
  }
  return { uid, gid: gid ?? uid };
}
