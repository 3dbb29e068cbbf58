/**
 * Resolve `--user` for `tbah run` from the container's own /etc/passwd and /etc/group,
 * including the supplementary groups the user is listed in (as Buildah does).
 */
import { readDbFile, resolveOwner } from '../ops/users.js';

export interface RunUser {
  uid: number;
  gid: number;
  /** Supplementary gids from /etc/group, sorted, without the primary gid. */
  additionalGids: number[];
  /** The user's name when it is known from /etc/passwd. */
  name?: string;
  /** Home directory from /etc/passwd, for HOME. */
  home?: string;
}

const NUM = /^\d+$/;

/** `spec` is `name`, `uid`, `uid:gid`, `name:group` (empty/undefined means root). */
export async function resolveRunUser(rootfs: string, spec: string | undefined): Promise<RunUser> {
  const s = spec === undefined || spec === '' ? '0' : spec;
  const { uid, gid } = await resolveOwner(rootfs, s, '--user');
  const passwd = await readDbFile(rootfs, '/etc/passwd');
  const userPart = s.split(':', 1)[0] as string;
  const pw = NUM.test(userPart) ? passwd.find((f) => f[2] === userPart) : passwd.find((f) => f[0] === userPart);
  const name = pw?.[0];
  const additional = new Set<number>();
  if (name !== undefined) {
    for (const gr of await readDbFile(rootfs, '/etc/group')) {
      const members = (gr[3] ?? '').split(',').map((m) => m.trim());
      if (NUM.test(gr[2] ?? '') && members.includes(name)) additional.add(Number(gr[2]));
    }
  }
  additional.delete(gid);
  const out: RunUser = { uid, gid, additionalGids: [...additional].sort((a, b) => a - b) };
  if (name !== undefined) out.name = name;
  if (pw?.[5]) out.home = pw[5];
  return out;
}
