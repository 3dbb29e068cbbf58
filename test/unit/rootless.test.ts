/**
 * The rootless pieces that need no second user: the metadata record written by
 * the applier's 'record' mode and read back into layer headers, the record
 * applied to the disk and read back (run), subordinate id parsing, the spec.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, lstatSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { computeChanges } from '../../src/core/driver/changes.js';
import { layerEntries } from '../../src/core/driver/entries.js';
import { applyMaterialize, dematerialize, planMaterialize } from '../../src/core/driver/materialize.js';
import { MetadataRecord, diskMode, entryFor } from '../../src/core/driver/record.js';
import { applyLayer } from '../../src/core/layer/apply.js';
import { packTar } from '../../src/core/layer/tar.js';
import type { TarEntry } from '../../src/core/layer/tar.js';
import type { TarHeader } from '../../src/core/layer/tar-types.js';
import { buildSpec } from '../../src/core/runtime/spec.js';
import { insideId, mappingFor, parseIdMap, parseSubordinate, planNamespace } from '../../src/core/runtime/userns.js';

const fsx = createRequire(import.meta.url)('fs-native-extensions') as {
  listAttrsSync(fd: number): string[]; getAttrSync(fd: number, n: string): Buffer | null; setAttrSync(fd: number, n: string, v: Buffer): void;
};
const isRoot = process.geteuid?.() === 0;
const T = 1_700_000_000;
const CAP = Buffer.from('0100000200200000000000000000000000000000', 'hex');
const me = { uid: process.getuid!(), gid: process.getgid!() };

let base: string;
let n = 0;
before(async () => { base = await mkdtemp(path.join(tmpdir(), 'tbah-rootless-')); });
after(async () => { await rm(base, { recursive: true, force: true }); });

function newRoot(): string {
  const r = path.join(base, `r${n++}`);
  mkdirSync(r);
  return r;
}

const h = (x: Partial<TarHeader> & Pick<TarHeader, 'name' | 'type'>): TarHeader => ({
  mode: x.type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, size: 0, mtime: T, ...x,
});
const file = (name: string, content: string, more: Partial<TarHeader> = {}): TarEntry => ({ header: h({ name, type: 'file', size: Buffer.byteLength(content), ...more }), source: Buffer.from(content) });
const dir = (name: string, more: Partial<TarHeader> = {}): TarEntry => ({ header: h({ name, type: 'dir', ...more }) });

/** An image layer with what an unprivileged user cannot put on disk. */
const LAYER: TarEntry[] = [
  dir('bin'),
  file('bin/ping', 'p', { mode: 0o755, xattrs: new Map([['security.capability', CAP], ['user.note', Buffer.from('hi')]]) }),
  file('bin/sgid', 'g', { mode: 0o2755, gid: 50 }),
  file('bin/suid', 's', { mode: 0o4755 }),
  dir('dev'),
  { header: h({ name: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 }) },
  { header: h({ name: 'dev/sda', type: 'block', mode: 0o660, gid: 6, devmajor: 8, devminor: 0 }) },
  dir('etc'),
  file('etc/shadow', 'root:*:1::::::\n', { mode: 0o640, gid: 42 }),
  dir('home'),
  dir('home/app', { uid: 1000, gid: 1000, mode: 0o700 }),
  file('home/app/x', 'secret', { uid: 1000, gid: 1000, mode: 0 }),
  dir('ro', { mode: 0o555 }),
  file('ro/f', 'r', { mode: 0o444 }),
  dir('srv', { xattrs: new Map([['user.dir', Buffer.from('d')]]) }),
  file('srv/big', 'b', { uid: 70000, gid: 70001 }),
  { header: h({ name: 'srv/fifo', type: 'fifo', uid: 7, gid: 8 }) },
  { header: h({ name: 'srv/hard', type: 'hardlink', linkname: 'home/app/x', uid: 1000, gid: 1000, mode: 0 }) },
  { header: h({ name: 'srv/link', type: 'symlink', mode: 0o777, uid: 5, gid: 5, linkname: '/home/app' }) },
  dir('tmp', { mode: 0o1777 }),
];

async function unpack(root: string, entries: TarEntry[], record: MetadataRecord): Promise<void> {
  await applyLayer(root, packTar(entries), { ownership: 'record', record });
  record.flush();
}

/** The layer a commit writes from the tree and its record (what `layerEntries` emits). */
async function commit(root: string, record: MetadataRecord): Promise<TarHeader[]> {
  const out: TarHeader[] = [];
  for await (const e of layerEntries(root, computeChanges(root, undefined), { time: {}, ids: { uid: (u) => (u === me.uid ? 0 : u), gid: (g) => (g === me.gid ? 0 : g) }, meta: record.source(me) })) {
    out.push(e.header);
  }
  return out;
}

function norm(x: TarHeader): Record<string, unknown> {
  return {
    name: x.name, type: x.type, mode: x.mode, uid: x.uid, gid: x.gid, size: x.size, mtime: x.mtime,
    linkname: x.linkname ?? '', dev: x.type === 'char' || x.type === 'block' ? `${x.devmajor},${x.devminor}` : '',
    xattrs: [...(x.xattrs ?? new Map())].map(([k, v]) => `${k}=${v.toString('hex')}`).sort().join(' '),
  };
}

function xattrNames(p: string): string[] {
  const fd = openSync(p, 'r');
  try {
    return fsx.listAttrsSync(fd).sort();
  } finally {
    closeSync(fd);
  }
}

describe('record mode', () => {
  it('keeps every file the caller\'s and usable, and the layer headers exact', async () => {
    const root = newRoot();
    const record = new MetadataRecord(root);
    await unpack(root, LAYER, record);
    // On disk: the caller's, usable (directories u+rwx, files u+rw), devices as empty files, no root-only xattrs.
    for (const e of LAYER) {
      const st = lstatSync(path.join(root, e.header.name));
      assert.equal(st.uid, me.uid, e.header.name);
      if (st.isDirectory()) assert.equal(st.mode & 0o700, 0o700, e.header.name);
      else if (st.isFile()) assert.equal(st.mode & 0o600, 0o600, e.header.name);
    }
    assert.ok(lstatSync(path.join(root, 'dev/null')).isFile());
    assert.ok(lstatSync(path.join(root, 'srv/fifo')).isFIFO());
    assert.deepEqual(xattrNames(path.join(root, 'bin/ping')), ['user.note']);
    assert.equal(readFileSync(path.join(root, 'home/app/x'), 'utf8'), 'secret');
    // Only what "0:0 with the mode on disk" does not say is recorded.
    assert.deepEqual(record.paths().sort(), ['bin/ping', 'bin/sgid', 'dev/null', 'dev/sda', 'etc/shadow', 'home/app', 'home/app/x', 'ro', 'ro/f', 'srv/big', 'srv/fifo', 'srv/hard', 'srv/link']);

    const got = await commit(root, record);
    const want = LAYER.map((e) => e.header);
    assert.deepEqual(got.map(norm), want.map((x) => norm(x.type === 'hardlink' ? { ...x, size: 0 } : x)));
  });

  it('a mode changed on disk wins for that field; a replaced file is a new one (0:0)', async () => {
    const root = newRoot();
    const record = new MetadataRecord(root);
    await unpack(root, LAYER, record);
    chmodSync(path.join(root, 'etc/shadow'), 0o600); // chmod through `mount`
    unlinkSync(path.join(root, 'srv/big'));
    writeFileSync(path.join(root, 'srv/big.new'), 'n');
    const got = new Map((await commit(root, record)).map((x) => [x.name, x]));
    assert.equal(got.get('etc/shadow')!.mode, 0o600);
    assert.equal(got.get('etc/shadow')!.gid, 42);
    assert.equal(got.get('srv/big.new')!.uid, 0);
    assert.equal(got.get('srv/big'), undefined);
  });

  it('a whiteout or a replacing entry forgets what was recorded below', async () => {
    const root = newRoot();
    const record = new MetadataRecord(root);
    await unpack(root, LAYER, record);
    await unpack(root, [file('home/.wh.app', ''), file('dev/null', 'now a file')], record);
    assert.deepEqual(record.paths().filter((p) => p.startsWith('home/') || p === 'dev/null'), []);
    assert.equal(record.get('srv/hard')?.uid, 1000); // the other name of the inode keeps it
  });

  it('changedPaths sees owner-only changes (which move neither mtime nor size)', () => {
    const a = { version: 1 as const, entries: { x: { ino: 1, type: 'd' as const, uid: 1, gid: 1, mode: 0o755 } } };
    const b = { version: 1 as const, entries: { x: { ino: 9, type: 'd' as const, uid: 2, gid: 1, mode: 0o755 }, y: { ino: 2, type: 'f' as const, uid: 0, gid: 0, mode: 0 } } };
    assert.deepEqual(MetadataRecord.changedPaths(a, b), ['x', 'y']);
    assert.deepEqual(MetadataRecord.changedPaths(a, { version: 1, entries: { x: { ...a.entries.x, ino: 5 } } }), []);
  });

  it('entryFor records nothing for 0:0 with a usable mode, and diskMode never locks the caller out', () => {
    assert.equal(entryFor({ type: 'file', uid: 0, gid: 0, mode: 0o644 }), undefined);
    assert.equal(entryFor({ type: 'symlink', uid: 0, gid: 0, mode: 0o777 }), undefined);
    assert.deepEqual(entryFor({ type: 'file', uid: 0, gid: 0, mode: 0o444 }), { type: 'f', uid: 0, gid: 0, mode: 0o444 });
    assert.equal(diskMode(0o555, 'd'), 0o755);
    assert.equal(diskMode(0, 'f'), 0o600);
    assert.equal(diskMode(0o4711, 'f'), 0o4711);
  });
});

describe('the record applied to the disk for a run, and read back', { skip: isRoot ? false : 'stands in for root of a user namespace: needs root' }, () => {
  it('owners and modes go on the files; what the command changed becomes the record; the rest stays as it was', async () => {
    const root = newRoot();
    const record = new MetadataRecord(root);
    await unpack(root, LAYER, record);
    const ids = { uids: [{ inside: 0, outside: 0, count: 65536 }], gids: [{ inside: 0, outside: 0, count: 65536 }] };
    const j = planMaterialize(record, ids);
    applyMaterialize(root, j);
    let st = lstatSync(path.join(root, 'home/app'));
    assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [1000, 1000, 0o700]);
    st = lstatSync(path.join(root, 'home/app/x'));
    assert.deepEqual([st.uid, st.mode & 0o7777], [1000, 0]);
    assert.equal(lstatSync(path.join(root, 'srv/big')).uid, 0); // 70000 is outside the mapped range: left to the record
    // The command: chown, a new user's home, a removal, a capability.
    chownSync(path.join(root, 'etc/shadow'), 0, 43);
    mkdirSync(path.join(root, 'home/bob'), 0o750);
    chownSync(path.join(root, 'home/bob'), 1001, 1001);
    rmSync(path.join(root, 'srv/fifo'));
    writeFileSync(path.join(root, 'bin/tool'), 't', { mode: 0o755 });
    const fd = openSync(path.join(root, 'bin/tool'), 'r');
    fsx.setAttrSync(fd, 'security.capability', CAP);
    closeSync(fd);
    const { untouched } = dematerialize(record, j);
    assert.ok(untouched.some((u) => u.rel === 'home/app/x') && untouched.some((u) => u.rel === 'srv/hard'));
    // Everything is the caller's again, usable, and without the capability on disk.
    for (const rel of ['home/app', 'home/app/x', 'home/bob', 'etc/shadow', 'bin/tool']) assert.equal(lstatSync(path.join(root, rel)).uid, 0, rel);
    assert.deepEqual(xattrNames(path.join(root, 'bin/tool')), []);
    assert.equal(record.get('etc/shadow')!.gid, 43);
    assert.deepEqual([record.get('home/bob')!.uid, record.get('home/bob')!.mode], [1001, 0o750]);
    assert.equal(record.get('srv/fifo'), undefined);
    assert.equal(record.get('srv/big')!.uid, 70000);
    assert.equal(record.get('dev/null')!.dev!.type, 'char');
    assert.equal(record.get('bin/tool')!.xattrs!['security.capability'], CAP.toString('base64'));
    assert.equal(record.get('srv/hard')!.uid, 1000);
  });
});

describe('user namespace plan', () => {
  it('subordinate ranges by name or uid, in file order, mapped after the caller', () => {
    const text = 'alice:100000:65536\n# x\nbob:200000:10\n1001:300000:5\nalice:400000:7\nbad:line\n';
    const r = parseSubordinate(text, 'alice', 1000);
    assert.deepEqual(r, [{ start: 100000, count: 65536 }, { start: 400000, count: 7 }]);
    assert.deepEqual(parseSubordinate(text, undefined, 1001), [{ start: 300000, count: 5 }]);
    const m = mappingFor(1000, r);
    assert.deepEqual(m, [{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 100000, count: 65536 }, { inside: 65537, outside: 400000, count: 7 }]);
    assert.equal(insideId(m, 100999), 1000);
    assert.equal(insideId(m, 400001), 65538);
    assert.equal(insideId(m, 5), undefined);
    assert.deepEqual(parseIdMap('         0       1000          1\n         1     100000      65536\n'), m.slice(0, 2));
  });

  it('no range (or no uidmap tools) means one id, with a warning that says what breaks and how to fix it', () => {
    const p = planNamespace({ subuid: '', subgid: '' });
    assert.equal(p.kind, 'single');
    assert.equal(p.mapping.uids.length, 1);
    assert.match(p.limitation!, /no subordinate ids for .* in \/etc\/subuid: only your own uid is mapped \(to root\).*chown, adduser fail.*usermod --add-subuids/);
    assert.doesNotMatch(p.limitation!, /\n/);
  });
});

describe('spec', () => {
  it('rootless with the host network binds /sys (sysfs needs a network namespace of the user namespace)', () => {
    const sys = (o: Parameters<typeof buildSpec>[0]) => buildSpec(o).mounts.find((m) => m.destination === '/sys')!;
    assert.equal(sys({ args: ['true'], rootfs: '/r' }).type, 'sysfs');
    assert.deepEqual(sys({ args: ['true'], rootfs: '/r', rootless: true }), { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
    assert.equal(sys({ args: ['true'], rootfs: '/r', rootless: true, network: 'private' }).type, 'sysfs');
  });
});
