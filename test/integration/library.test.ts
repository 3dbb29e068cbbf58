/** tbah as a TypeScript library: the same workflow as the CLI, typed, with no process per step. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  Store, TbahError, type TransferEvent, commitContainer, configureContainer, copyIntoContainer, createContainer, listImages, pullImage, pushImage,
} from '../../src/index.js';
import { removeTestDir } from '../helpers/cli.js';
import { startRegistry } from '../helpers/registry.js';
import { validateOciLayout } from '../helpers/validate.js';

test('Store + createContainer + copy + config + commit + push, from TypeScript', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tbah-lib-'));
  try {
    const store = await Store.open({ root: path.join(dir, 'store') });
    const ctr = await createContainer(store, { image: 'scratch' });
    assert.equal(ctr.name, 'working-container');
    writeFileSync(path.join(dir, 'hello'), 'hello');
    const digest = await copyIntoContainer(store, { container: ctr.name, sources: [path.join(dir, 'hello')], dest: '/hello' });
    assert.match(digest, /^[a-f0-9]{64}$/);
    const { warnings } = await configureContainer(store, ctr.name, { cmd: '["/hello"]', label: ['a=b'] }, {});
    assert.deepEqual(warnings, []);
    const r = await commitContainer(store, { container: ctr.name, image: 'lib:1', timestamp: 0 });
    assert.deepEqual(r.names, ['localhost/lib:1']);
    const imgs = await listImages(store);
    assert.equal(imgs.length, 1);
    assert.equal(imgs[0]!.id, r.id);
    await pushImage(store, { image: 'lib:1', dest: `oci:${path.join(dir, 'out')}:lib` });
    const v = await validateOciLayout(path.join(dir, 'out'), 'lib');
    assert.equal(v.configDigest, r.id);
    await assert.rejects(createContainer(store, { image: 'nope:1', pull: 'never' }), (e: unknown) => e instanceof TbahError && e.code === 'not-found');
  } finally {
    removeTestDir(dir);
  }
});

test('pushImage to a registry and pullImage into another store, with progress events', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tbah-lib-reg-'));
  const reg = await startRegistry();
  try {
    const store = await Store.open({ root: path.join(dir, 'a') });
    const ctr = await createContainer(store, { image: 'scratch' });
    writeFileSync(path.join(dir, 'hello'), 'hello registry');
    await copyIntoContainer(store, { container: ctr.name, sources: [path.join(dir, 'hello')], dest: '/hello' });
    const img = await commitContainer(store, { container: ctr.name, image: 'lib:2', rm: true, timestamp: 0 });
    const pushed: TransferEvent[] = [];
    const r = await pushImage(store, { image: 'lib:2', dest: `docker://${reg.host}/lib/app:2`, tlsVerify: false, onProgress: (e) => pushed.push(e) });
    assert.deepEqual(pushed.filter((e) => e.kind === 'blob-done').map((e) => e.kind === 'blob-done' && e.how).sort(), ['copied', 'copied']);
    assert.equal(pushed.at(-1)?.kind, 'manifest');
    const other = await Store.open({ root: path.join(dir, 'b') });
    const events: TransferEvent[] = [];
    const rec = await pullImage(other, `${reg.host}/lib/app:2`, { tlsVerify: false, onProgress: (e) => events.push(e) });
    assert.equal(rec.id, img.id);
    assert.equal(rec.manifestDescriptor.digest, r.manifestDigest);
    assert.ok(events.some((e) => e.kind === 'blob-bytes'));
    assert.deepEqual(rec.names, [`${reg.host}/lib/app:2`]);
  } finally {
    await reg.stop();
    removeTestDir(dir);
  }
});
