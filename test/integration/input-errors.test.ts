/**
 * Inputs that fail end in one line and exit 125, and leave nothing behind:
 * bad --chown values are refused before anything is written; a copy or add
 * that fails half-way puts the container back as it was; write errors name
 * the user's path, never a temp name.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Sandbox, sh, treeFingerprint } from '../helpers/cli.js';

/** Names, types, modes, sizes, contents, owners and mtimes of a tree: what a commit would see. */
function rootfsState(root: string): string {
  const lines: string[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const n of readdirSync(dir).sort()) {
      const p = path.join(dir, n);
      const st = lstatSync(p);
      lines.push(`${rel}/${n} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.size} ${Math.floor(st.mtimeMs / 1000)}`);
      if (st.isFile()) lines.push(readFileSync(p).toString('base64').slice(0, 64));
      if (st.isDirectory()) walk(p, `${rel}/${n}`);
    }
  };
  walk(root, '');
  const st = statSync(root);
  lines.push(`/ ${st.mode.toString(8)} ${Math.floor(st.mtimeMs / 1000)}`);
  return lines.join('\n');
}

function assertOneLine(stderr: string, re: RegExp): void {
  assert.match(stderr, re);
  assert.doesNotMatch(stderr, /internal error|\n\s+at |RangeError|\.tmp-/, stderr);
  const lines = stderr.trim().split('\n');
  assert.ok(lines.length <= 2 && (lines.length === 1 || lines[1]!.startsWith('hint: ')), stderr);
}

describe('inputs that fail leave nothing behind', () => {
  const sb = new Sandbox('tbah-inerr-');
  let ctr = '';
  let rootfs = '';
  before(() => {
    writeFileSync(sb.path('a'), 'new a\n');
    writeFileSync(sb.path('b'), 'new b\n');
    ctr = sb.ok(['from', 'scratch']);
    rootfs = sb.ok(['mount', ctr]);
    mkdirSync(path.join(rootfs, 'dest'));
    writeFileSync(path.join(rootfs, 'dest', 'a'), 'old a\n');
    sh(`touch -d @1600000000 ${rootfs}/dest/a ${rootfs}/dest ${rootfs}`);
  });
  after(() => sb.cleanup());

  test('--chown out of range or malformed: refused before anything is written', () => {
    const before = rootfsState(rootfs);
    const store = treeFingerprint(sb.store);
    const cases: Array<[string, RegExp]> = [
      ['99999999999:1', /^tbah: --chown 99999999999:1: uid 99999999999 is out of range\nhint: a uid is a number from 0 to 4294967294\n$/],
      ['4294967295', /^tbah: --chown 4294967295: uid 4294967295 is out of range\n/],
      ['1:4294967295', /^tbah: --chown 1:4294967295: gid 4294967295 is out of range\n/],
      ['1000:1000:1000', /^tbah: --chown 1000:1000:1000: too many ':'\n/],
      ['', /^tbah: --chown : empty user or group\n/],
      [':1', /^tbah: --chown :1: empty user or group\n/],
      ['1:', /^tbah: --chown 1:: empty user or group\n/],
      ['nobody', /^tbah: --chown nobody: unknown user "nobody" in the container's \/etc\/passwd\n/],
      ['-1', /^tbah: --chown -1: unknown user "-1"/],
    ];
    for (const [spec, re] of cases) {
      const r = sb.run(['copy', '--chown', spec, ctr, 'a', '/dest/new']);
      assert.equal(r.status, 125, `${spec}: ${r.stderr}`);
      assertOneLine(r.stderr, re);
      assert.equal(rootfsState(rootfs), before, `--chown ${spec} changed the container`);
    }
    assert.equal(treeFingerprint(sb.store), store);
    // The largest real ids are accepted.
    sb.ok(['copy', '--chown', '4294967294:4294967294', ctr, 'a', '/big-ids']);
    const st = lstatSync(path.join(rootfs, 'big-ids'));
    assert.deepEqual([st.uid, st.gid], [4294967294, 4294967294]);
  });

  test('a copy that fails half-way puts back what it replaced and removes what it made', () => {
    const before = rootfsState(rootfs);
    // a and b are copied, then reading /proc/self/mem fails (EIO): everything must be undone.
    const r = sb.run(['copy', ctr, 'a', 'b', '/proc/self/mem', '/dest/']);
    assert.equal(r.status, 125, r.stderr);
    assertOneLine(r.stderr, /^tbah: input\/output error reading \/proc\/self\/mem\nhint: /);
    assert.equal(rootfsState(rootfs), before);
    assert.equal(readFileSync(path.join(rootfs, 'dest', 'a'), 'utf8'), 'old a\n');
    // And into a directory the copy itself creates.
    const r2 = sb.run(['copy', ctr, 'a', 'b', '/proc/self/mem', '/made/by/copy/']);
    assert.equal(r2.status, 125);
    assert.equal(rootfsState(rootfs), before);
    // The next commit carries none of it.
    const img = sb.ok(['commit', ctr, 'inerr:1']);
    const tree = sb.ok(['inspect', '--format', '{{len .OCIv1.RootFS.DiffIDs}}', img]);
    assert.equal(tree, '1');
  });

  test('add of a truncated archive over existing files: rolled back, the old files are back', () => {
    const src = sb.path('arc');
    mkdirSync(path.join(src, 'dest'), { recursive: true });
    writeFileSync(path.join(src, 'dest', 'a'), 'from the archive\n');
    for (let i = 0; i < 40; i++) writeFileSync(path.join(src, 'dest', `f${i}`), randomBytes(20000));
    sh(`tar -C ${src} -czf ${sb.path('good.tgz')} dest && head -c 30000 ${sb.path('good.tgz')} > ${sb.path('bad.tgz')}`);
    const before = rootfsState(rootfs);
    const r = sb.run(['add', ctr, 'bad.tgz', '/']);
    assert.equal(r.status, 125, r.stderr);
    assertOneLine(r.stderr, /^tbah: /);
    assert.equal(rootfsState(rootfs), before);
    assert.equal(readFileSync(path.join(rootfs, 'dest', 'a'), 'utf8'), 'old a\n');
    // The whole archive works, and replaces the file.
    sb.ok(['add', ctr, 'good.tgz', '/']);
    assert.equal(readFileSync(path.join(rootfs, 'dest', 'a'), 'utf8'), 'from the archive\n');
  });

  test('write errors name the user\'s path and what to do', () => {
    sb.ok(['commit', ctr, 'inerr:2']);
    const cases: Array<[string[], RegExp]> = [
      [['push', 'inerr:2', 'oci-archive:/nonexistent-dir/x.tar'], /^tbah: no such file or directory writing the archive \/nonexistent-dir\/x\.tar\nhint: /],
      [['push', 'inerr:2', 'docker-archive:/nonexistent-dir/x.tar'], /^tbah: no such file or directory writing the archive \/nonexistent-dir\/x\.tar\nhint: /],
      [['push', 'inerr:2', 'oci:/proc/nonexistent'], /^tbah: no such file or directory writing the OCI layout \/proc\/nonexistent\nhint: /],
      [['push', 'inerr:2', `oci:${sb.path('a')}/sub`], /^tbah: a path component is not a directory writing the OCI layout /],
      [['push', 'inerr:2', 'oci-archive:/proc/version'], /^tbah: (permission denied|operation not permitted|no such file or directory) writing the archive \/proc\/version\nhint: /],
      [['commit', '--iidfile', '/proc/nope/iid', ctr], /^tbah: no such file or directory writing --iidfile \/proc\/nope\/iid\nhint: /],
    ];
    for (const [args, re] of cases) {
      const r = sb.run(args);
      assert.equal(r.status, 125, `${args.join(' ')}: ${r.stderr}`);
      assertOneLine(r.stderr, re);
    }
  });
});
