#!/usr/bin/env node
/**
 * Hostile images for tbah's safety tests, generated at test time (no binary
 * blobs in git). Each fixture is written as an OCI layout (`oci/NAME`, one
 * image tagged `x`), an OCI archive (`oci-archive/NAME.tar`) and, when the
 * format can say it, a docker-archive (`docker-archive/NAME.tar`);
 * `fixtures.json` lists them with what a safe tool must do:
 *   refuse  — exit 125 with a one-line error, nothing imported;
 *   contain — may succeed, but nothing outside the container may change;
 *   either  — refusing and containing are both safe.
 *
 * The tar and gzip bytes are made here, independently of tbah's own codec.
 *
 *   node scripts/gen-hostile-fixtures.mjs OUTDIR CANARYDIR [--bomb-mib N]
 *   import { generate } from './gen-hostile-fixtures.mjs'
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';

const MTIME = 1700000000;
const sha = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const hex = (d) => d.slice(7);

// ---------------------------------------------------------------- tar bytes

function octal(n, len) {
  return n.toString(8).padStart(len - 1, '0') + '\0';
}

/** One 512-byte header. `fields` are raw ustar fields; `size` may lie. */
function header({ name, type = '0', mode = 0o644, uid = 0, gid = 0, size = 0, mtime = MTIME, linkname = '', devmajor = 0, devminor = 0, gnu = false, sizeField }) {
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, 'utf8');
  b.write(octal(mode, 8), 100, 'latin1');
  b.write(octal(Math.min(uid, 0o7777777), 8), 108, 'latin1');
  b.write(octal(Math.min(gid, 0o7777777), 8), 116, 'latin1');
  if (sizeField !== undefined) sizeField.copy(b, 124);
  else b.write(octal(size, 12), 124, 'latin1');
  b.write(octal(mtime, 12), 136, 'latin1');
  b.write(' '.repeat(8), 148, 'latin1');
  b.write(type, 156, 'latin1');
  b.write(linkname, 157, 100, 'utf8');
  b.write(gnu ? 'ustar  \0' : 'ustar\x0000', 257, 'latin1');
  b.write(octal(devmajor, 8), 329, 'latin1');
  b.write(octal(devminor, 8), 337, 'latin1');
  let sum = 0;
  for (const c of b) sum += c;
  b.write(octal(sum, 7) + ' ', 148, 'latin1');
  return b;
}

const pad = (n) => Buffer.alloc((512 - (n % 512)) % 512);

function paxRecords(kv) {
  const parts = [];
  for (const [k, v] of Object.entries(kv)) {
    const body = ` ${k}=${v}\n`;
    let len = Buffer.byteLength(body) + 1;
    while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
    parts.push(Buffer.from(`${len}${body}`));
  }
  return Buffer.concat(parts);
}

/** Build a tar from entries; `end: false` leaves out the end-of-archive marker. */
function tar(entries, { end = true } = {}) {
  const out = [];
  for (const e of entries) {
    if (e.raw) {
      out.push(e.raw);
      continue;
    }
    const body = e.body ?? Buffer.alloc(0);
    if (e.pax) {
      const rec = paxRecords(e.pax);
      out.push(header({ name: 'PaxHeaders/x', type: 'x', size: rec.length }), rec, pad(rec.length));
    }
    if (e.gnuLongName) {
      const n = Buffer.from(e.gnuLongName + '\0');
      out.push(header({ name: '././@LongLink', type: 'L', size: n.length, gnu: true }), n, pad(n.length));
    }
    if (e.gnuLongLink) {
      const n = Buffer.from(e.gnuLongLink + '\0');
      out.push(header({ name: '././@LongLink', type: 'K', size: n.length, gnu: true }), n, pad(n.length));
    }
    out.push(header({ ...e, size: e.size ?? body.length, gnu: e.gnuLongName !== undefined || e.gnuLongLink !== undefined }));
    if (body.length > 0) out.push(body, pad(body.length));
  }
  if (end) out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}

const file = (name, content = 'x\n', extra = {}) => ({ name, type: '0', body: Buffer.from(content), mode: 0o644, ...extra });
const dir = (name, extra = {}) => ({ name, type: '5', mode: 0o755, ...extra });
const symlink = (name, target) => ({ name, type: '2', linkname: target, mode: 0o777 });
const hardlink = (name, target) => ({ name, type: '1', linkname: target });

// ---------------------------------------------------------------- images

/** A layer from tar bytes: gzip-compressed unless `raw` (then stored as given, media type plain tar). */
function layer(tarBytes, { gzip = true } = {}) {
  const blob = gzip ? gzipSync(tarBytes, { level: 1 }) : tarBytes;
  return { blob, diffId: sha(tarBytes), mediaType: gzip ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar', tar: tarBytes };
}

/**
 * Write one image in every format it can be said in.
 * `lie` changes what the manifest or config claims after the blobs are fixed.
 */
function writeImage(out, name, layers, opts = {}) {
  const diffIds = opts.diffIds ?? layers.map((l) => l.diffId);
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', created: '2023-11-14T22:13:20Z',
    config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: diffIds },
  }));
  const descs = layers.map((l) => ({ mediaType: l.mediaType, digest: l.digestClaim ?? sha(l.blob), size: l.sizeClaim ?? l.blob.length }));
  const manifest = Buffer.from(opts.manifestBytes ?? JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: descs,
  }));
  const refName = opts.refName ?? 'x';
  const index = opts.indexBytes ?? JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': refName } }],
  });

  // OCI layout. A lying layer is stored under the digest the manifest claims.
  const root = path.join(out, 'oci', name);
  mkdirSync(path.join(root, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(path.join(root, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(path.join(root, 'index.json'), index);
  const blobs = new Map([[sha(config), config], [sha(manifest), manifest]]);
  layers.forEach((l, i) => blobs.set(descs[i].digest, l.stored ?? l.blob));
  for (const [d, b] of blobs) writeFileSync(path.join(root, 'blobs', 'sha256', hex(d)), b);

  // OCI archive: the same layout as a tar.
  const entries = [file('oci-layout', '{"imageLayoutVersion":"1.0.0"}'), file('index.json', index), dir('blobs'), dir('blobs/sha256')];
  for (const [d, b] of blobs) entries.push({ name: `blobs/sha256/${hex(d)}`, type: '0', body: b, mode: 0o644 });
  mkdirSync(path.join(out, 'oci-archive'), { recursive: true });
  writeFileSync(path.join(out, 'oci-archive', `${name}.tar`), tar([...(opts.archiveExtra ?? []), ...entries]));

  // docker-archive: uncompressed layer tars; digests and sizes are computed by the reader, so lies about them cannot be said.
  if (opts.docker !== false) {
    const dEntries = [];
    const layerNames = [];
    const seen = new Set();
    layers.forEach((l) => {
      const t = l.dockerTar ?? l.tar;
      const n = `${hex(sha(t))}/layer.tar`;
      layerNames.push(n);
      if (!seen.has(n)) {
        seen.add(n);
        dEntries.push(dir(path.posix.dirname(n)), { name: n, type: '0', body: t, mode: 0o644 });
      }
    });
    const cfgName = `${hex(sha(config))}.json`;
    dEntries.push({ name: cfgName, type: '0', body: config, mode: 0o644 });
    const m = opts.dockerManifest?.(cfgName) ?? [{ Config: cfgName, RepoTags: opts.repoTags ?? ['hostile/' + name + ':x'], Layers: layerNames }];
    dEntries.push(file('manifest.json', JSON.stringify(m)));
    mkdirSync(path.join(out, 'docker-archive'), { recursive: true });
    writeFileSync(path.join(out, 'docker-archive', `${name}.tar`), tar(dEntries));
  }
}

/** An empty-ish base layer every content fixture starts from: a directory tree with a file. */
function baseLayer() {
  return layer(tar([dir('etc'), file('etc/hostname', 'hostile\n'), dir('sub'), file('sub/keep', 'keep\n')]));
}

/**
 * The multi-member gzip bomb: `mib` MiB of zeros in one file entry, as
 * concatenated gzip members (all but the first and last identical), so it is
 * made in milliseconds and weighs about 1 KiB per MiB.
 */
function bombLayer(mib) {
  const MiB = 1 << 20;
  const zeros = Buffer.alloc(MiB);
  const head = header({ name: 'bomb', type: '0', size: mib * MiB, mode: 0o644 });
  const tail = Buffer.alloc(1024);
  const h = createHash('sha256').update(head);
  for (let i = 0; i < mib; i++) h.update(zeros);
  h.update(tail);
  const middle = gzipSync(zeros, { level: 9 });
  const parts = [gzipSync(Buffer.concat([head, zeros]), { level: 9 })];
  for (let i = 1; i < mib; i++) parts.push(middle);
  parts.push(gzipSync(tail));
  const blob = Buffer.concat(parts);
  return { blob, diffId: `sha256:${h.digest('hex')}`, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', tar: undefined, dockerTar: Buffer.alloc(0) };
}

/**
 * Every fixture. `canary` is an absolute host directory a naive extractor
 * would write into; the tests check it is untouched. `only` limits the
 * transports when a format cannot say the lie.
 */
export function generate(out, canary, opts = {}) {
  const list = [];
  const add = (name, expect, why, layers, imgOpts = {}, meta = {}) => {
    writeImage(out, name, layers, imgOpts);
    list.push({ name, expect, why, ...meta, transports: meta.transports ?? ['oci', 'oci-archive', ...(imgOpts.docker === false ? [] : ['docker-archive']), 'registry'] });
  };
  const base = baseLayer();
  const up = '../'.repeat(12);
  const c = canary.replace(/^\/+/, '');

  // --- paths that climb out
  add('traversal-dotdot', 'refuse', 'a ../ name climbs above the root', [base, layer(tar([file(`${up}${c}/evil-dotdot`)]))]);
  add('traversal-inner', 'refuse', 'sub/../../ climbs above the root', [base, layer(tar([file(`sub/../../${up}${c}/evil-inner`)]))]);
  add('absolute-path', 'contain', 'an absolute name is re-rooted inside the container', [base, layer(tar([file(`/${c}/evil-abs`)]))], {}, { inside: `${c}/evil-abs` });
  add('symlink-write-same-layer', 'either', 'a symlink to the canary, then a file through it, in one layer',
    [base, layer(tar([symlink('esc', `/${c}`), file('esc/evil-sym1'), symlink('resc', `${up}${c}`), file('resc/evil-sym1r')]))]);
  add('symlink-write-across-layers', 'either', 'a symlink to the canary in one layer, a file through it in the next',
    [base, layer(tar([symlink('esc', `/${c}`), symlink('resc', `${up}${c}`)])), layer(tar([file('esc/evil-sym2'), file('resc/evil-sym2r'), dir('esc/newdir'), file('esc/newdir/f')]))]);
  add('symlink-dir-chain', 'either', 'a directory symlink chain ending at the canary, written through',
    [base, layer(tar([symlink('a', 'b'), symlink('b', `${up}${c}`), file('a/evil-chain')]))]);
  add('hardlink-out-dotdot', 'refuse', 'a hardlink to ../../canary/secret', [base, layer(tar([hardlink('hl', `${up}${c}/secret`)]))]);
  add('hardlink-out-absolute', 'refuse', 'a hardlink to /canary/secret (not inside the root)', [base, layer(tar([hardlink('hl', `/${c}/secret`)]))]);
  add('hardlink-through-symlink', 'refuse', 'a hardlink whose target goes through a symlink to the canary',
    [base, layer(tar([symlink('esc', `/${c}`), hardlink('hl', 'esc/secret')]))]);
  add('whiteout-dotdot', 'refuse', 'a whiteout of ..', [base, layer(tar([file('sub/.wh...', '')]))]);
  add('whiteout-dot', 'refuse', 'a whiteout of .', [base, layer(tar([file('.wh..', '')]))]);
  add('whiteout-through-symlink', 'either', 'a symlink to the canary, then a whiteout of canary/secret through it',
    [base, layer(tar([symlink('esc', `/${c}`)])), layer(tar([file('esc/.wh.secret', '')]))]);
  add('opaque-through-symlink', 'either', 'an opaque whiteout of a symlinked canary directory',
    [base, layer(tar([symlink('esc', `/${c}`)])), layer(tar([file('esc/.wh..wh..opq', '')]))]);
  add('root-replaced', 'refuse', 'an entry that turns the root into a symlink', [base, layer(tar([symlink('.', `/${c}`)]))]);

  // --- special files and metadata
  add('device-nodes', 'contain', 'character and block devices and a FIFO stay inside the container',
    [base, layer(tar([dir('dev'), { name: 'dev/evil-null', type: '3', devmajor: 1, devminor: 3, mode: 0o666 }, { name: 'dev/evil-sda', type: '4', devmajor: 8, devminor: 0, mode: 0o660 }, { name: 'dev/fifo', type: '6', mode: 0o600 }]))], {}, { inside: 'dev/evil-null' });
  add('setuid', 'contain', 'setuid and setgid bits are image content, kept inside the container',
    [base, layer(tar([dir('bin'), file('bin/suid', '#!/bin/sh\n', { mode: 0o4755 }), dir('sgid', { mode: 0o2775 })]))], {}, { inside: 'bin/suid' });
  add('uid-minus-one', 'refuse', 'uid 4294967295 is (uid_t)-1: chown would silently leave root', [base, layer(tar([file('f', 'x', { pax: { uid: '4294967295' } })]))]);
  add('uid-huge', 'refuse', 'uid 2^40 does not fit a Linux uid', [base, layer(tar([file('f', 'x', { pax: { uid: '1099511627776', gid: '1099511627776' } })]))]);
  add('uid-large-valid', 'contain', 'uid 4294967294 is the largest real uid', [base, layer(tar([file('bigid', 'x', { pax: { uid: '4294967294', gid: '4000000000' } })]))], {}, { inside: 'bigid' });
  const longDir = Array.from({ length: 6 }, (_, i) => `d${i}`.padEnd(60, 'x')).join('/');
  add('long-name-pax', 'contain', 'a 370-byte path and link target in PAX records',
    [base, layer(tar([file(`${longDir}/f`, 'long\n', { pax: { path: `${longDir}/f` }, name: 'short' }), { name: 'lnk', type: '2', linkname: 'x', mode: 0o777, pax: { linkpath: `/${longDir}/f` } }]))], {}, { inside: `${longDir}/f` });
  add('long-name-gnu', 'contain', 'a 370-byte path and link target as GNU ././@LongLink entries',
    [base, layer(tar([{ ...file(`${longDir}/g`, 'gnu\n'), name: 'short', gnuLongName: `${longDir}/g` }, { name: 'lnk2', type: '2', linkname: 'x', mode: 0o777, gnuLongLink: `/${longDir}/g` }]))], {}, { inside: `${longDir}/g` });
  add('name-too-long', 'either', 'a path component longer than NAME_MAX (255)', [base, layer(tar([file('y'.repeat(300), 'x', { pax: { path: 'y'.repeat(300) }, name: 'short' })]))]);

  // --- sizes and bytes that lie
  const huge = Buffer.from('\x80' + '\0'.repeat(6) + '\x01' + '\0'.repeat(4), 'latin1'); // base-256: 2^32
  add('huge-size-claim', 'refuse', 'a header claims 4 GiB of content (base-256); the archive ends after a few bytes',
    [base, layer(Buffer.concat([header({ name: 'huge', sizeField: huge }), Buffer.from('only this'), pad(9)]))]);
  add('huge-size-claim-pax', 'refuse', 'a PAX size record claims 2^50 bytes', [base, layer(tar([{ ...file('hugepax', 'tiny'), pax: { size: String(2 ** 50) } }], { end: false }))]);
  // Each lie has its own layer bytes: a registry keeps one blob per digest for all repositories.
  const sized = (tag) => layer(tar([file('a', `content of ${tag}\n`)]));
  const bigger = sized('size-lie-bigger');
  add('size-lie-bigger', 'refuse', 'the manifest says the layer is 100 bytes longer than it is', [base, { ...bigger, sizeClaim: bigger.blob.length + 100 }], { docker: false });
  const smaller = sized('size-lie-smaller');
  add('size-lie-smaller', 'refuse', 'the manifest says the layer is 10 bytes shorter than it is', [base, { ...smaller, sizeClaim: smaller.blob.length - 10 }], { docker: false });
  const lied = sized('digest-lie');
  const flipped = Buffer.from(lied.blob);
  flipped[flipped.length - 12] ^= 0xff;
  add('digest-lie', 'refuse', 'the layer blob does not hash to its digest', [base, { ...lied, stored: flipped }], { docker: false });
  const mism = sized('diffid-mismatch');
  add('diffid-mismatch', 'refuse', 'the config\'s diff_id is not the hash of the uncompressed layer', [base, mism], { diffIds: [base.diffId, sha('something else')] });
  const full = layer(tar(Array.from({ length: 40 }, (_, i) => file(`t${i}`, 'z'.repeat(4000 + i)))));
  add('truncated-layer', 'refuse', 'the gzip stream stops half-way (digest and size match the short blob)',
    [base, { blob: full.blob.subarray(0, full.blob.length >> 1), diffId: full.diffId, mediaType: full.mediaType, tar: full.tar.subarray(0, full.tar.length >> 1) }]);
  const junk = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) & 0xff));
  add('non-tar-layer', 'refuse', 'the layer is not a tar at all', [base, { blob: junk, diffId: sha(junk), mediaType: 'application/vnd.oci.image.layer.v1.tar', tar: junk }]);
  add('non-tar-gzip-layer', 'refuse', 'the layer gunzips to something that is not a tar', [base, { blob: gzipSync(junk), diffId: sha(junk), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', tar: junk }]);
  const plain = sized('not-gzip');
  add('not-gzip-but-says-so', 'refuse', 'the media type says gzip, the bytes are a plain tar', [base, { ...plain, blob: plain.tar, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }], { docker: false });
  const empty = layer(tar([]));
  const many = Array.from({ length: 20000 }, () => empty);
  add('layers-20000', 'refuse', 'a manifest with 20,000 layers', many, {}, {});

  // --- manifests and names
  add('manifest-not-json', 'refuse', 'the manifest blob is not JSON', [base], { manifestBytes: '{"schemaVersion": 2, "layers": [', docker: false }, { transports: ['oci', 'oci-archive'] });
  add('index-not-json', 'refuse', 'index.json is not JSON', [base], { indexBytes: '{{{', docker: false }, { transports: ['oci', 'oci-archive'] });
  add('manifest-wrong-types', 'refuse', 'layers is a string, sizes are negative', [base], { manifestBytes: JSON.stringify({ schemaVersion: 2, config: { mediaType: 'x', digest: 'sha256:' + '0'.repeat(64), size: -1 }, layers: 'nope' }), docker: false }, { transports: ['oci', 'oci-archive'] });
  add('tag-path-chars', 'contain', 'a ref name and a RepoTag full of path characters', [base], { refName: `../../${c}/evil-tag`, repoTags: [`../../${c}/evil:tag`] }, { transports: ['oci', 'oci-archive', 'docker-archive'] });
  add('docker-archive-layer-path', 'refuse', 'manifest.json names a layer file outside the archive', [base], {
    dockerManifest: (cfgName) => [{ Config: cfgName, RepoTags: [], Layers: [`${up}${c}/secret`] }],
  }, { transports: ['docker-archive'] });
  add('docker-archive-config-path', 'refuse', 'manifest.json names a config file outside the archive', [base], {
    dockerManifest: () => [{ Config: `${up}${c}/secret`, RepoTags: [], Layers: [] }],
  }, { transports: ['docker-archive'] });
  add('docker-archive-malformed', 'refuse', 'manifest.json entries of the wrong types', [base], {
    dockerManifest: () => [{ Config: 42, RepoTags: 'x', Layers: null }],
  }, { transports: ['docker-archive'] });
  add('oci-archive-outer-traversal', 'refuse', 'the oci-archive tar itself has a ../ entry', [base], { archiveExtra: [file(`${up}${c}/evil-outer`)] }, { transports: ['oci-archive'] });

  if (opts.bombMiB) {
    add('gzip-bomb', 'refuse', `a ${opts.bombMiB} MiB file of zeros in a ~${opts.bombMiB} KiB multi-member gzip`, [base, bombLayer(opts.bombMiB)], { docker: false }, { transports: ['oci', 'oci-archive', 'registry'] });
  }
  writeFileSync(path.join(out, 'fixtures.json'), JSON.stringify(list, null, 2));
  return list;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [outDir, canary] = process.argv.slice(2);
  if (!outDir || !canary) {
    console.error('usage: gen-hostile-fixtures.mjs OUTDIR CANARYDIR [--bomb-mib N]');
    process.exit(2);
  }
  const i = process.argv.indexOf('--bomb-mib');
  const list = generate(path.resolve(outDir), path.resolve(canary), i > 0 ? { bombMiB: Number(process.argv[i + 1]) } : {});
  console.log(`${list.length} fixtures in ${outDir}`);
}
