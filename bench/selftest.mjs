#!/usr/bin/env node
// Checks of the bench's pure parts (no root, no tools): node --test bench/selftest.mjs
// The bench as a whole is checked by running it: sudo node bench/run.mjs --quick.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BEGIN, END, renderMarkdown, replaceSection } from './lib/markdown.mjs';
import { summariseTraffic } from './lib/registry.mjs';
import { summarise } from './lib/report.mjs';
import { ROWS, judge } from './lib/targets.mjs';

const sample = (secs, rssKiB = 50 * 1024) => ({ run: 1, rep: 1, secs, userS: secs / 2, sysS: 0, cpuS: secs / 2, rssKiB });

/** A results object as run.mjs writes it, with `tbah-overlay` not available. */
function results(steps) {
  const out = {};
  for (const [name, { b, t }] of Object.entries(steps)) {
    const tools = { 'buildah-overlay': { ...summarise(b.map((x) => sample(x))), failedRuns: [] },
      'tbah-dir': { ...summarise(t.map((x) => sample(x, 120 * 1024))), failedRuns: [] } };
    out[name] = { tools, ratio: { 'tbah-dir': tools['tbah-dir'].median / tools['buildah-overlay'].median } };
  }
  return {
    schema: 2, date: '2026-12-08T00:00:00.000Z', durationS: 60,
    options: { runs: 1, quick: true, withExtraCa: false },
    machine: { nproc: 2, cpuModel: 'x', memGiB: 1, kernel: 'k', virtualization: 'none', node: 'v20', backingStore: {} },
    load: { before: 1, during: { min: 1, median: 1, max: 1, samples: 1 }, after: 1 },
    fs: { kind: 'ext4', size: '4g', journal: true, mountOptions: 'rw' },
    tbah: { commit: 'abcdef0' }, buildah: { version: '1.28.2' },
    tools: { 'buildah-overlay': { available: true }, 'tbah-dir': { available: true },
      'tbah-overlay': { available: false, reason: 'refused' } },
    columns: ['buildah-overlay', 'tbah-dir', 'tbah-overlay'],
    registry: { images: {} },
    workload: { tree: { entries: 3, files: 2, fileSize: 1, bigFiles: 0, bigMiB: 0, bytes: 2 },
      fat: { layers: [1], files: 1, bytes: 1 }, big: { layers: [1, 2], files: 2, bytes: 2 }, randomShare: 0.5 },
    floors: {}, steps: out, startup: null, failures: [], notes: [],
  };
}

test('judge: a ratio target, and the 1 GiB row also against the fat-base figure', () => {
  const res = results({ 'commit-1file': { b: [0.1], t: [0.1] }, 'commit-1file-1g': { b: [0.2], t: [0.2] }, config: { b: [0.05], t: [0.2] } });
  const row = (s) => ROWS.find((r) => r.step === s);
  assert.deepEqual(judge(row('commit-1file'), res, 'tbah-dir'), { met: true, why: '' });
  const big = judge(row('commit-1file-1g'), res, 'tbah-dir');
  assert.equal(big.met, false); // 1.0× Buildah, but 2× its own fat-base time
  assert.match(big.why, /2\.00× its fat-base time/);
  assert.equal(judge(row('config'), res, 'tbah-dir').met, false);
  assert.equal(judge(row('config'), res, 'tbah-overlay').met, null);
  assert.equal(judge(row('copy'), res, 'tbah-dir').met, null); // no target of its own
});

test('markdown: an unavailable driver is n/a, never a number; misses and RSS above 100 MiB are bold', () => {
  const md = renderMarkdown(results({ 'from-warm': { b: [0.05], t: [1.5] }, run: { b: [0.5], t: [0.25] } }));
  const line = md.split('\n').find((l) => l.startsWith('| `from` warm'));
  assert.match(line, /n\/a \(driver not available\)/);
  assert.match(line, /\*\*30\.0×\*\*/);
  assert.match(line, /\*\*120 MiB\*\*/);
  assert.match(md.split('\n').find((l) => l.startsWith('| `run`')), /\| yes \/ n\/a \|/);
  assert.match(md, /tbah overlay: n\/a \(driver not available\)\*\* — refused/);
});

test('replaceSection rewrites only between the markers', () => {
  const doc = `head\n${BEGIN}\nold\n${END}\ntail\n`;
  assert.equal(replaceSection(doc, 'new\n'), `head\n${BEGIN}\nnew\n${END}\ntail\n`);
  assert.throws(() => replaceSection('no markers', 'x'), /markers/);
});

test('summariseTraffic counts uploads, mounts, blobs found and fetched from an access log', () => {
  const line = (m, uri, status, bytes = '0') => `127.0.0.1 - - [08/Dec/2026:00:00:00 +0000] "${m} ${uri} HTTP/1.1" ${status} ${bytes} "" "x"`;
  const log = [
    line('HEAD', '/v2/r/blobs/sha256:aa', 200),
    line('POST', '/v2/r/blobs/uploads/?mount=sha256:bb&from=f', 201),
    line('PATCH', '/v2/r/blobs/uploads/u1', 202),
    line('PUT', '/v2/r/blobs/uploads/u1?digest=sha256%3Acc', 201),
    line('GET', '/v2/r/blobs/sha256:dd', 200, '1024'),
    line('PUT', '/v2/r/manifests/latest', 201),
  ].join('\n');
  const t = summariseTraffic(log, () => '/nonexistent');
  assert.deepEqual([t.requests, t.present, t.mounted, t.uploadChunks, t.uploaded, t.fetched, t.fetchedBytes, t.manifestsPut],
    [6, 1, 1, 1, 1, 1, 1024, 1]);
});
