/**
 * Output files the user names (--iidfile, --cidfile, --digestfile) are written
 * the way Buildah writes them — open, truncate, write — never renamed over:
 * /dev/null stays a character device, a FIFO's reader gets the bytes, a
 * symlink stays a symlink and its target gets the content. The same for the
 * other paths a user names for output: `login --authfile` (the auth file is
 * shared config: a regular file is replaced atomically where the link points),
 * `push` archive destinations (streamed into a device or FIFO) and `oci:DIR`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Sandbox, sh } from '../helpers/cli.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

/** Start a reader on a FIFO; resolves with everything it read. */
function readFifo(fifo: string): Promise<string> {
  return readFifoBytes(fifo).then((b) => b.toString());
}

function readFifoBytes(fifo: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const cat = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'inherit'] });
    const got: Buffer[] = [];
    cat.stdout.on('data', (d: Buffer) => { got.push(d); });
    cat.on('error', reject);
    cat.on('close', () => resolve(Buffer.concat(got)));
  });
}

function assertDevNullIntact(): void {
  const st = statSync('/dev/null');
  assert.ok(st.isCharacterDevice(), '/dev/null must still be a character device');
  assert.equal(st.rdev, 259, '/dev/null must still be device 1:3');
}

interface Case { flag: string; args: (file: string) => string[]; expect: (stdout: string) => RegExp }

describe('output files the user names', () => {
  const sb = new Sandbox('tbah-userfiles-');
  let ctr = '';
  const cases: Case[] = [];
  before(() => {
    writeFileSync(sb.path('hello'), 'hello\n');
    ctr = sb.ok(['from', 'scratch']);
    sb.ok(['copy', ctr, 'hello', '/hello']);
    sb.ok(['commit', ctr, 'uf:1']);
    cases.push(
      { flag: '--iidfile', args: (f) => ['commit', '--iidfile', f, ctr], expect: () => /^sha256:[0-9a-f]{64}$/ },
      { flag: '--cidfile', args: (f) => ['from', '--cidfile', f, 'uf:1'], expect: () => /^[0-9a-f]{64}$/ },
      { flag: '--digestfile', args: (f) => ['push', '--digestfile', f, 'uf:1', `oci:${sb.path('layout')}:x`], expect: () => /^sha256:[0-9a-f]{64}$/ },
    );
  });
  after(() => sb.cleanup());

  test('/dev/null stays a character device', () => {
    for (const c of cases) {
      sb.ok(c.args('/dev/null'));
      assertDevNullIntact();
    }
  });

  test('a FIFO: the reader on the other end gets the value', async () => {
    for (const [i, c] of cases.entries()) {
      const fifo = sb.path(`fifo${i}`);
      sh(`mkfifo ${fifo}`);
      const reading = readFifo(fifo);
      const r = await sb.runAsync(c.args(fifo));
      assert.equal(r.status, 0, `${c.flag}: ${r.stderr}`);
      assert.match(await reading, c.expect(r.stdout), c.flag);
      assert.ok(lstatSync(fifo).isFIFO(), `${c.flag}: the FIFO must still be a FIFO`);
    }
  });

  test('a symlink stays a symlink; its target gets the value', () => {
    for (const [i, c] of cases.entries()) {
      const target = sb.path(`target${i}`);
      const link = sb.path(`link${i}`);
      writeFileSync(target, 'old content that is longer than any digest, to prove truncation '.repeat(4));
      symlinkSync(target, link);
      sb.ok(c.args(link));
      assert.ok(lstatSync(link).isSymbolicLink(), `${c.flag}: the link must stay a link`);
      assert.equal(readlinkSync(link), target);
      assert.match(readFileSync(target, 'utf8'), c.expect(''), c.flag);
    }
  });

  test('a dangling symlink creates its target; a new file is created 0644', () => {
    for (const [i, c] of cases.entries()) {
      const target = sb.path(`dangling-target${i}`);
      const link = sb.path(`dangling${i}`);
      symlinkSync(target, link);
      sb.ok(c.args(link));
      assert.ok(lstatSync(link).isSymbolicLink());
      assert.match(readFileSync(target, 'utf8'), c.expect(''));
      const fresh = sb.path(`fresh${i}`);
      sb.ok(c.args(fresh));
      assert.equal(lstatSync(fresh).mode & 0o7777, 0o644, c.flag);
      assert.match(readFileSync(fresh, 'utf8'), c.expect(''));
    }
  });

  test('an unwritable output file is one line naming the path and the flag', () => {
    for (const c of cases) {
      const r = sb.run(c.args('/nonexistent-dir/out'));
      assert.equal(r.status, 125, r.stderr);
      assert.match(r.stderr, new RegExp(`^tbah: no such file or directory writing ${c.flag} /nonexistent-dir/out\\nhint: `), r.stderr);
      assert.doesNotMatch(r.stderr, /\.tmp-|internal error|at /);
    }
  });

  test('push to oci-archive: and docker-archive: streams into /dev/null and a FIFO, writes a symlink\'s target', async () => {
    for (const t of ['oci-archive', 'docker-archive']) {
      sb.ok(['push', 'uf:1', `${t}:/dev/null`]);
      assertDevNullIntact();
      // FIFO: what the reader gets is a whole archive tbah can read back.
      const fifo = sb.path(`${t}.fifo`);
      sh(`mkfifo ${fifo}`);
      const reading = readFifoBytes(fifo);
      const r = await sb.runAsync(['push', 'uf:1', `${t}:${fifo}`]);
      assert.equal(r.status, 0, r.stderr);
      const bytes = await reading;
      assert.ok(lstatSync(fifo).isFIFO());
      writeFileSync(sb.path(`${t}-from-fifo.tar`), bytes);
      const ctr = sb.ok(['from', `${t}:${sb.path(`${t}-from-fifo.tar`)}`]);
      assert.equal(readFileSync(`${sb.ok(['mount', ctr])}/hello`, 'utf8'), 'hello\n');
      sb.ok(['rm', ctr]);
      // Symlink (also a dangling one): the link stays, its target is the archive.
      for (const dangling of [false, true]) {
        const target = sb.path(`${t}-target-${dangling}.tar`);
        const link = sb.path(`${t}-link-${dangling}`);
        if (!dangling) writeFileSync(target, 'old');
        symlinkSync(target, link);
        sb.ok(['push', 'uf:1', `${t}:${link}`]);
        assert.equal(readlinkSync(link), target);
        assert.ok(statSync(target).size > 1024);
        const c2 = sb.ok(['from', `${t}:${target}`]);
        sb.ok(['rm', c2]);
      }
      // A missing directory is named as the user wrote it, never a temp name.
      const bad = sb.run(['push', 'uf:1', `${t}:/nonexistent-dir/x.tar`]);
      assert.equal(bad.status, 125);
      assert.match(bad.stderr, /^tbah: no such file or directory writing the archive \/nonexistent-dir\/x\.tar\nhint: /);
      assert.doesNotMatch(bad.stderr, /\.tmp-/);
    }
  });

  test('push to oci:DIR: a symlinked directory is written through; /dev/null and a FIFO are refused and stay', () => {
    const real = sb.path('real-layout');
    mkdirSync(real);
    symlinkSync(real, sb.path('layout-link'));
    sb.ok(['push', 'uf:1', `oci:${sb.path('layout-link')}:a`]);
    assert.ok(lstatSync(sb.path('layout-link')).isSymbolicLink());
    assert.ok(existsSync(`${real}/index.json`));
    const r = sb.run(['push', 'uf:1', 'oci:/dev/null:a']);
    assert.equal(r.status, 125);
    assert.match(r.stderr, /^tbah: a path component is not a directory writing the OCI layout \/dev\/null\n/);
    assertDevNullIntact();
    const fifo = sb.path('layout.fifo');
    sh(`mkfifo ${fifo}`);
    const f = sb.run(['push', 'uf:1', `oci:${fifo}:a`]);
    assert.equal(f.status, 125);
    assert.doesNotMatch(f.stderr, /internal error|\n {4}at /);
    assert.ok(lstatSync(fifo).isFIFO());
  });

  describe('login --authfile', () => {
    let reg: TestRegistry;
    const PASSWORD = 'pw-userfiles-8e1f';
    before(async () => {
      reg = await startRegistry({ user: { name: 'bob', password: PASSWORD } });
    });
    after(async () => { await reg?.stop(); });
    const login = (file: string) => sb.runAsync(['login', '--tls-verify=false', '-u', 'bob', '--password-stdin', '--authfile', file, reg.host], { input: PASSWORD });

    test('/dev/null stays a character device', async () => {
      const r = await login('/dev/null');
      assert.equal(r.status, 0, r.stderr);
      assertDevNullIntact();
      const out = await sb.runAsync(['logout', '--authfile', '/dev/null', reg.host]);
      assert.doesNotMatch(out.stderr, /internal error/);
      assertDevNullIntact();
    });

    test('a symlinked auth file stays a link; its target gets the credentials, 0600', async () => {
      const target = sb.path('dotfiles', 'auth.json');
      mkdirSync(sb.path('dotfiles'));
      writeFileSync(target, JSON.stringify({ auths: {}, other: 'kept' }));
      symlinkSync(target, sb.path('auth-link.json'));
      const r = await login(sb.path('auth-link.json'));
      assert.equal(r.status, 0, r.stderr);
      assert.ok(lstatSync(sb.path('auth-link.json')).isSymbolicLink());
      const doc = JSON.parse(readFileSync(target, 'utf8')) as { auths: Record<string, unknown>; other: string };
      assert.ok(doc.auths[reg.host], 'the target holds the login');
      assert.equal(doc.other, 'kept');
      assert.equal(statSync(target).mode & 0o777, 0o600);
      const out = await sb.runAsync(['logout', '--authfile', sb.path('auth-link.json'), reg.host]);
      assert.equal(out.status, 0, out.stderr);
      assert.ok(lstatSync(sb.path('auth-link.json')).isSymbolicLink());
      // A dangling link: the target is created, the link stays.
      symlinkSync(sb.path('dotfiles', 'new.json'), sb.path('dangling-auth.json'));
      assert.equal((await login(sb.path('dangling-auth.json'))).status, 0);
      assert.ok(lstatSync(sb.path('dangling-auth.json')).isSymbolicLink());
      assert.ok(JSON.parse(readFileSync(sb.path('dotfiles', 'new.json'), 'utf8')).auths[reg.host]);
    });

    test('a FIFO is read, then written in place, never replaced', async () => {
      const fifo = sb.path('auth.fifo');
      sh(`mkfifo ${fifo}`);
      // login reads the file (gets "{}"), then writes it: a feeder, then a reader.
      const other = spawn('sh', ['-c', `printf '{}' > ${fifo}; cat ${fifo}`], { stdio: ['ignore', 'pipe', 'inherit'] });
      const got: Buffer[] = [];
      other.stdout.on('data', (d: Buffer) => got.push(d));
      const done = new Promise<void>((resolve) => other.on('close', () => resolve()));
      const r = await login(fifo);
      await done;
      assert.equal(r.status, 0, r.stderr);
      assert.ok(lstatSync(fifo).isFIFO());
      const doc = JSON.parse(Buffer.concat(got).toString()) as { auths: Record<string, unknown> };
      assert.ok(doc.auths[reg.host]);
    });
  });
});
