#!/usr/bin/env node
// Micro-benchmark: what Node's fetch (undici) costs a registry command against node:http.
//   1. start-up: a fresh process making one GET /v2/ (plain http, and an https try first as
//      --tls-verify=false does), fetch vs node:http/https, against `node -e 0`;
//   2. upload: one monolithic blob PUT of SIZE MiB from a file, fetch with Readable.toWeb (as
//      src/core/registry/client.ts does) vs node:http with pipe: wall, CPU, peak RSS.
// Usage: node bench/fetch-cost.mjs [runs=7] [sizeMiB=193]   (needs /usr/bin/docker-registry)
// Scratch files go to /dev/shm (tmpfs); every child is measured like the bench's (lib/exec.mjs).
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measure } from './lib/exec.mjs';
import { startRegistry } from './lib/registry.mjs';
import { median } from './lib/report.mjs';

const self = fileURLToPath(import.meta.url);

// Child mode: `node fetch-cost.mjs --child KIND HOST [FILE DIGEST REPO]`.
if (process.argv[2] === '--child') {
  const [kind, host, file, digest, repo] = process.argv.slice(3);
  const http = await import('node:http');
  const get = (mod, url, opts = {}) => new Promise((resolve) => {
    mod.get(url, opts, (r) => { r.resume(); r.on('end', resolve); }).on('error', resolve);
  });
  if (kind === 'fetch-get') await (await fetch(`http://${host}/v2/`)).body?.cancel();
  else if (kind === 'fetch-https-then-http') {
    try { await (await fetch(`https://${host}/v2/`)).body?.cancel(); } catch { /* plain http registry */ }
    await (await fetch(`http://${host}/v2/`)).body?.cancel();
  } else if (kind === 'http-get') await get(http, `http://${host}/v2/`);
  else if (kind === 'https-then-http') {
    await get(await import('node:https'), `https://${host}/v2/`, { rejectUnauthorized: false });
    await get(http, `http://${host}/v2/`);
  } else if (kind === 'fetch-put' || kind === 'http-put') {
    const { createReadStream, statSync } = await import('node:fs');
    const { Readable } = await import('node:stream');
    // The upload session is opened with the same client as the PUT, so each row loads one HTTP stack.
    const location = kind === 'fetch-put'
      ? await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' }).then(async (r) => { await r.body?.cancel(); return r.headers.get('location'); })
      : await new Promise((resolve, reject) => {
        http.request(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' }, (r) => { r.resume(); r.on('end', () => resolve(r.headers.location)); })
          .on('error', reject).end();
      });
    const url = new URL(location, `http://${host}`);
    url.searchParams.set('digest', digest);
    const headers = { 'content-type': 'application/octet-stream', 'content-length': String(statSync(file).size) };
    const body = () => createReadStream(file, { highWaterMark: 1 << 20 });
    let status;
    if (kind === 'fetch-put') {
      const res = await fetch(url, { method: 'PUT', headers, body: Readable.toWeb(body()), duplex: 'half' });
      await res.body?.cancel();
      status = res.status;
    } else {
      status = await new Promise((resolve, reject) => {
        const req = http.request(url, { method: 'PUT', headers }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
        req.on('error', reject);
        body().pipe(req);
      });
    }
    if (status !== 201) throw new Error(`PUT answered ${status}`);
  }
  process.exit(0);
}

const runs = Number(process.argv[2] ?? 7);
const sizeMiB = Number(process.argv[3] ?? 193);
const dir = mkdtempSync(path.join(existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'tbah-fetch-cost-'));
const reg = await startRegistry(path.join(dir, 'registry'));
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS; // as the bench's work cases
try {
  const file = path.join(dir, 'blob');
  const bytes = randomBytes(sizeMiB * 2 ** 20);
  writeFileSync(file, bytes);
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const child = (kind, ...rest) => [process.execPath, self, '--child', kind, reg.host, ...rest];
  let n = 0;
  const rows = {
    'node -e 0': () => [process.execPath, '-e', '0'],
    'GET /v2/ with node:http': () => child('http-get'),
    'GET /v2/ with fetch': () => child('fetch-get'),
    'https try + http, node:https/http': () => child('https-then-http'),
    'https try + http, fetch': () => child('fetch-https-then-http'),
    [`PUT ${sizeMiB} MiB, node:http pipe`]: () => child('http-put', file, digest, `cost/r${n++}`),
    [`PUT ${sizeMiB} MiB, fetch + toWeb`]: () => child('fetch-put', file, digest, `cost/r${n++}`),
  };
  const names = Object.keys(rows);
  const samples = Object.fromEntries(names.map((k) => [k, []]));
  for (let r = 0; r < runs; r++) {
    for (let i = 0; i < names.length; i++) {
      const k = names[(i + r) % names.length]; // rotate the order from run to run
      samples[k].push(await measure(rows[k](), { env, tmpDir: dir }));
    }
  }
  console.log(`${runs} runs, medians, Node ${process.version}, load ${os.loadavg()[0].toFixed(2)}`);
  for (const k of names) {
    const s = samples[k];
    console.log(`${k.padEnd(36)} wall ${(median(s.map((x) => x.secs)) * 1000).toFixed(0).padStart(5)} ms` +
      `  cpu ${(median(s.map((x) => x.cpuS)) * 1000).toFixed(0).padStart(5)} ms  peak RSS ${Math.round(Math.max(...s.map((x) => x.rssKiB)) / 1024)} MiB`);
  }
} finally {
  reg.stopSync();
  rmSync(dir, { recursive: true, force: true });
}
