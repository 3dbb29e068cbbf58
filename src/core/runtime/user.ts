/**
 * Resolve `--user` for `tbah run` from the container's own /etc/passwd and /etc/group,
 * as Buildah does: the primary gid is always among the supplementary groups; a
 * `USER` alone adds the groups that list the user, a `USER:GROUP` nothing else;
 * a numeric uid that /etc/passwd does not know gets gid 0.
 */
import { readDbFile, resolveOwner } from '../ops/users.js';

export interface RunUser {
  uid: number;
  gid: number;
  /** Supplementary gids: the primary gid first, then (for a `USER` without group) those of /etc/group, sorted. */
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
  const owner = await resolveOwner(rootfs, s, '--user');
  const passwd = await readDbFile(rootfs, '/etc/passwd');
  const withGroup = s.includes(':');
  const userPart = s.split(':', 1)[0] as string;
  const pw = NUM.test(userPart) ? passwd.find((f) => f[2] === userPart) : passwd.find((f) => f[0] === userPart);
  const { uid } = owner;
  // Buildah: a uid /etc/passwd does not know runs with gid 0 (copy --chown would take the uid).
  const gid = !withGroup && pw === undefined ? 0 : owner.gid;
  const name = pw?.[0];
  const additional = new Set<number>();
  if (name !== undefined && !withGroup) {
    for (const gr of await readDbFile(rootfs, '/etc/group')) {
      const members = (gr[3] ?? '').split(',').map((m) => m.trim());
      if (NUM.test(gr[2] ?? '') && members.includes(name)) additional.add(Number(gr[2]));
    }
  }
  additional.delete(gid);
  const out: RunUser = { uid, gid, additionalGids: [gid, ...[...additional].sort((a, b) => a - b)] };
  if (name !== undefined) out.name = name;
  if (pw?.[5]) out.home = pw[5];
  return out;
}
