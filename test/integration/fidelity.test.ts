/**
 * What a commit captures from a mounted rootfs survives into a new container:
 * modes (setuid, sticky, 0000), owners, hardlinks, symlinks, FIFOs, empty
 * directories, binary xattrs, mtimes. Checked on disk and, independently, with
 * Python's tarfile reading the layer.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, linkSync, lstatSync, mkdirSync, readlinkSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { Sandbox, sh } from '../helpers/cli.js';
import { validateOciLayout } from '../helpers/validate.js';

describe('layer fidelity', () => {
  const sb = new Sandbox();
  after(() => sb.cleanup());

  test('commit then from round-trips every kind of entry', async () => {
    const c = sb.ok(['from', 'scratch']);
    const m = sb.ok(['mount', c]);
    mkdirSync(path.join(m, 'bin'));
    writeFileSync(path.join(m, 'bin', 'su'), 'setuid');
    chmodSync(path.join(m, 'bin', 'su'), 0o4755);
    mkdirSync(path.join(m, 'tmp'));
    chmodSync(path.join(m, 'tmp'), 0o1777);
    writeFileSync(path.join(m, 'shadow'), 'secret');
    chmodSync(path.join(m, 'shadow'), 0o000);
    writeFileSync(path.join(m, 'owned'), 'o');
    chownSync(path.join(m, 'owned'), 300000, 1000000);
    writeFileSync(path.join(m, 'a'), 'linked');
    linkSync(path.join(m, 'a'), path.join(m, 'b'));
    symlinkSync('/bin/su', path.join(m, 'abs-link'));
    mkdirSync(path.join(m, 'empty'));
    sh(`mkfifo ${path.join(m, 'fifo')}`);
    sh(`setfattr -n user.note -v 0x01ff8000c3 ${path.join(m, 'a')}`);
    utimesSync(path.join(m, 'owned'), 1234567890, 1234567890);
    sb.ok(['commit', c, 'fid:1']);

    sb.ok(['push', 'fid:1', `oci:${sb.path('o')}:f`]);
    const v = await validateOciLayout(sb.path('o'), 'f');
    const blob = path.join(sb.path('o'), 'blobs', 'sha256', v.layers[0]!.digest.slice(7));
    const listing = sh(`python3 -c '
import tarfile, sys
t = tarfile.open(sys.argv[1], "r:gz")
for i in t.getmembers():
    x = i.pax_headers.get("SCHILY.xattr.user.note")
    print(i.name, oct(i.mode), i.uid, i.gid, i.type.decode() if isinstance(i.type, bytes) else i.type, i.linkname or "-", int(i.mtime), (x.encode("utf-8", "surrogateescape").hex() if x else "-"), i.uname or "-", i.gname or "-")
' ${blob}`);
    const rows = new Map(listing.trim().split('\n').map((l) => [l.split(' ')[0]!.replace(/\/$/, ''), l.split(' ')]));
    assert.equal(rows.get('bin/su')![1], '0o4755');
    assert.equal(rows.get('tmp')![1], '0o1777');
    assert.equal(rows.get('shadow')![1], '0o0');
    assert.deepEqual(rows.get('owned')!.slice(2, 4), ['300000', '1000000']);
    assert.equal(rows.get('owned')![6], '1234567890');
    assert.equal(rows.get('b')![4], '1'); // hardlink to the first name
    assert.equal(rows.get('b')![5], 'a');
    assert.equal(rows.get('abs-link')![5], '/bin/su');
    assert.equal(rows.get('fifo')![4], '6');
    assert.ok(rows.has('empty'));
    assert.equal(rows.get('a')![7], '01ff8000c3');
    for (const r of rows.values()) assert.deepEqual(r.slice(8), ['-', '-'], 'no user or group names in a layer');

    const c2 = sb.ok(['from', 'fid:1']);
    const m2 = sb.ok(['mount', c2]);
    assert.equal(lstatSync(path.join(m2, 'bin', 'su')).mode & 0o7777, 0o4755);
    assert.equal(lstatSync(path.join(m2, 'tmp')).mode & 0o7777, 0o1777);
    assert.equal(lstatSync(path.join(m2, 'shadow')).mode & 0o7777, 0);
    const o = lstatSync(path.join(m2, 'owned'));
    assert.deepEqual([o.uid, o.gid, o.mtimeMs], [300000, 1000000, 1234567890000]);
    assert.equal(lstatSync(path.join(m2, 'a')).ino, lstatSync(path.join(m2, 'b')).ino);
    assert.equal(readlinkSync(path.join(m2, 'abs-link')), '/bin/su');
    assert.ok(lstatSync(path.join(m2, 'fifo')).isFIFO());
    assert.match(sh(`getfattr -e hex -n user.note ${path.join(m2, 'a')}`), /user\.note=0x01ff8000c3/);
  });
});
