/** Resolve `user[:group]` through the container's own /etc/passwd and /etc/group (as Buildah does). */
import { promises as fsp } from 'node:fs';
import { TbahError, isErrno } from '../errors.js';
import { resolveInRoot } from '../layer/secure-path.js';

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

export async function resolveOwner(rootfs: string, spec: string, flag = '--chown'): Promise<Owner> {
  const [user, group] = spec.split(':', 2) as [string, string | undefined];
  if (user === '' || group === '') throw new TbahError('invalid-argument', `${flag} ${spec}: empty user or group`, { hint: 'use USER[:GROUP], names or numbers' });
  let uid: number;
  let gid: number | undefined;
  if (NUM.test(user)) {
    uid = Number(user);
    const pw = (await readDbFile(rootfs, '/etc/passwd')).find((f) => f[2] === user);
    if (pw && pw[3] !== undefined && NUM.test(pw[3])) gid = Number(pw[3]);
  } else {
    const pw = (await readDbFile(rootfs, '/etc/passwd')).find((f) => f[0] === user);
    if (!pw || !NUM.test(pw[2] ?? '')) {
      throw new TbahError('invalid-argument', `${flag} ${spec}: unknown user "${user}" in the container's /etc/passwd`, { hint: 'create the user first, or give a numeric uid' });
    }
    uid = Number(pw[2]);
    gid = NUM.test(pw[3] ?? '') ? Number(pw[3]) : undefined;
  }
  if (group !== undefined) {
    if (NUM.test(group)) gid = Number(group);
    else {
      const gr = (await readDbFile(rootfs, '/etc/group')).find((f) => f[0] === group);
      if (!gr || !NUM.test(gr[2] ?? '')) {
        throw new TbahError('invalid-argument', `${flag} ${spec}: unknown group "${group}" in the container's /etc/group`, { hint: 'create the group first, or give a numeric gid' });
      }
      gid = Number(gr[2]);
    }
  }
  return { uid, gid: gid ?? uid };
}
