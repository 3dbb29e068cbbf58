/**
 * Output files the user names (--iidfile, --cidfile, --digestfile) are written
 * the way Buildah writes them — open, truncate, write — never renamed over:
 * /dev/null stays a character device, a FIFO's reader gets the bytes, a
 * symlink stays a symlink and its target gets the content.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { lstatSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Sandbox, sh } from '../helpers/cli.js';

/** Start a reader on a FIFO; resolves with everything it read. */
function readFifo(fifo: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const cat = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'inherit'] });
    let got = '';
    cat.stdout.on('data', (d: Buffer) => { got += d.toString(); });
    cat.on('error', reject);
    cat.on('close', () => resolve(got));
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
});
