/**
 * A store health check for tests, written against the on-disk format only
 * (docs/architecture.md "The store"), independent of tbah's own code, so it
 * can judge what tbah left behind after a crash, a full disk or a hostile
 * input. When `tbah check` exists, `checkStore` can be swapped for it: same
 * question, "is every thing the store shows whole?".
 *
 * Problems (the store is broken):
 *  - a blob that does not hash to its name;
 *  - index.json that does not parse, or names a manifest that is missing,
 *    unparsable, or whose config/layers are missing or of another size, or
 *    whose config lists another number of diff IDs than it has layers;
 *  - layer metadata that does not parse;
 *  - a container whose state.json does not parse, or names layer blobs that
 *    are missing, or a snapshot file that is missing.
 * Leftovers (allowed after a kill, swept by the next rm/rmi): files in tmp/,
 * `.new-*` / `.tmp-*` entries under containers/, `.tmp-*` files anywhere.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Sandbox } from './cli.js';

export interface StoreHealth {
  problems: string[];
  leftovers: string[];
  blobs: number;
  images: number;
  containers: number;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

async function hashFile(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function readJson(file: string): Promise<unknown> {
  return JSON.parse(await fsp.readFile(file, 'utf8')) as unknown;
}

const asObj = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

async function names(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch {
    return [];
  }
}

export async function checkStore(root: string): Promise<StoreHealth> {
  const problems: string[] = [];
  const leftovers: string[] = [];
  const blobDir = path.join(root, 'blobs', 'sha256');
  const blobSizes = new Map<string, number>();

  // Every blob hashes to its name.
  for (const n of await names(blobDir)) {
    const p = path.join(blobDir, n);
    if (n.startsWith('.tmp-')) {
      leftovers.push(p);
      continue;
    }
    if (!/^[0-9a-f]{64}$/.test(n)) {
      problems.push(`unexpected file in blobs/sha256: ${n}`);
      continue;
    }
    const st = await fsp.stat(p);
    blobSizes.set(`sha256:${n}`, st.size);
    if ((await hashFile(p)) !== n) problems.push(`blob sha256:${n} does not hash to its name`);
  }
  const blob = (d: unknown): string | undefined => (typeof d === 'string' && DIGEST.test(d) ? d : undefined);
  const readBlobJson = async (d: string, what: string): Promise<Record<string, unknown> | undefined> => {
    if (!blobSizes.has(d)) {
      problems.push(`${what} ${d} is missing`);
      return undefined;
    }
    try {
      const o = asObj(await readJson(path.join(blobDir, d.slice(7))));
      if (!o) problems.push(`${what} ${d} is not a JSON object`);
      return o;
    } catch {
      problems.push(`${what} ${d} does not parse`);
      return undefined;
    }
  };
  const checkDesc = (v: unknown, what: string): string | undefined => {
    const o = asObj(v);
    const d = blob(o?.['digest']);
    if (!o || !d) {
      problems.push(`${what}: not a descriptor`);
      return undefined;
    }
    if (!blobSizes.has(d)) problems.push(`${what} ${d} is missing`);
    else if (blobSizes.get(d) !== o['size']) problems.push(`${what} ${d} has size ${blobSizes.get(d)}, its descriptor says ${String(o['size'])}`);
    return d;
  };
  const checkManifest = async (d: string, where: string, depth = 0): Promise<void> => {
    const m = await readBlobJson(d, `${where}: manifest`);
    if (!m) return;
    if (Array.isArray(m['manifests'])) {
      if (depth > 2) {
        problems.push(`${where}: index nesting too deep`);
        return;
      }
      for (const [i, c] of (m['manifests'] as unknown[]).entries()) {
        const cd = checkDesc(c, `${where}: index ${d} entry ${i}`);
        if (cd && blobSizes.has(cd)) await checkManifest(cd, where, depth + 1);
      }
      return;
    }
    const cfgD = checkDesc(m['config'], `${where}: config of ${d}`);
    const layers = Array.isArray(m['layers']) ? (m['layers'] as unknown[]) : undefined;
    if (!layers) {
      problems.push(`${where}: manifest ${d} has no layers list`);
      return;
    }
    layers.forEach((l, i) => checkDesc(l, `${where}: layer ${i} of ${d}`));
    if (cfgD && blobSizes.has(cfgD)) {
      const cfg = await readBlobJson(cfgD, `${where}: config`);
      const diffIds = asObj(cfg?.['rootfs'])?.['diff_ids'];
      if (cfg && (!Array.isArray(diffIds) || diffIds.length !== layers.length)) {
        problems.push(`${where}: config ${cfgD} lists ${Array.isArray(diffIds) ? diffIds.length : 'no'} diff IDs for ${layers.length} layers`);
      }
    }
  };

  // index.json and everything reachable from it.
  let images = 0;
  if (!existsSync(path.join(root, 'oci-layout'))) problems.push('oci-layout is missing');
  try {
    const index = asObj(await readJson(path.join(root, 'index.json')));
    const manifests = index?.['manifests'];
    if (!Array.isArray(manifests)) problems.push('index.json has no manifests list');
    else {
      for (const [i, m] of manifests.entries()) {
        const d = checkDesc(m, `index.json entry ${i}`);
        images++;
        if (d && blobSizes.has(d)) await checkManifest(d, `index.json entry ${i}`);
      }
    }
  } catch {
    problems.push('index.json is missing or does not parse');
  }

  // Layer metadata.
  for (const n of await names(path.join(root, 'layer-meta'))) {
    const p = path.join(root, 'layer-meta', n);
    if (n.startsWith('.tmp-')) {
      leftovers.push(p);
      continue;
    }
    try {
      const o = asObj(await readJson(p));
      if (!o || !blob(o['diffId'])) problems.push(`layer-meta/${n} has no diffId`);
    } catch {
      problems.push(`layer-meta/${n} does not parse`);
    }
  }

  // Containers.
  let containers = 0;
  for (const n of await names(path.join(root, 'containers'))) {
    const dir = path.join(root, 'containers', n);
    if (n.startsWith('.')) {
      leftovers.push(dir);
      continue;
    }
    containers++;
    let state: Record<string, unknown> | undefined;
    try {
      state = asObj(await readJson(path.join(dir, 'state.json')));
    } catch {
      problems.push(`container ${n}: state.json is missing or does not parse`);
      continue;
    }
    if (!state || state['id'] !== n) {
      problems.push(`container ${n}: state.json is not this container's`);
      continue;
    }
    const layers = state['layers'];
    if (!Array.isArray(layers)) problems.push(`container ${n}: no layers list`);
    else {
      for (const [i, l] of layers.entries()) {
        const d = blob(asObj(asObj(l)?.['descriptor'])?.['digest']);
        if (!d) problems.push(`container ${n}: layer ${i} is not a layer reference`);
        else if (!blobSizes.has(d)) problems.push(`container ${n}: layer ${i} blob ${d} is missing`);
      }
    }
    const snap = state['snapshot'];
    if (typeof snap === 'string' && !existsSync(path.join(dir, snap))) problems.push(`container ${n}: snapshot ${snap} is missing`);
    for (const f of await names(dir)) if (f.startsWith('.tmp-')) leftovers.push(path.join(dir, f));
  }
  for (const n of await names(path.join(root, 'tmp'))) leftovers.push(path.join(root, 'tmp', n));
  for (const n of await names(root)) if (n.startsWith('.tmp-')) leftovers.push(path.join(root, n));
  return { problems, leftovers, blobs: blobSizes.size, images, containers };
}

/**
 * The store still works, through the library (no process start-up): a
 * container from scratch, a commit of it, both removed again. Returns the
 * problems (empty when it works).
 */
export async function storeWorksInProcess(root: string, tag: string): Promise<string[]> {
  const { Store } = await import('../../src/core/store/store.js');
  const { createContainer } = await import('../../src/core/ops/from.js');
  const { commitContainer } = await import('../../src/core/ops/commit.js');
  const { removeImages } = await import('../../src/core/ops/manage.js');
  try {
    const store = await Store.open({ root });
    const c = await createContainer(store, { image: 'scratch' });
    await commitContainer(store, { container: c.id, image: tag, rm: true });
    await removeImages(store, [tag]);
    return [];
  } catch (err) {
    return [`from+commit: ${(err as Error).message}`];
  }
}

/**
 * The store still works: a container from scratch, a file copied in, a commit
 * and its removal. Returns the problems (empty when it works).
 */
export function storeWorks(sb: Sandbox, file: string): string[] {
  const steps: string[][] = [];
  const r1 = sb.run(['from', 'scratch']);
  if (r1.status !== 0) return [`from scratch: ${r1.stderr.trim()}`];
  const ctr = r1.stdout.trim();
  steps.push(['copy', ctr, file, '/health-check'], ['commit', '--rm', ctr, 'localhost/health-check:latest'], ['rmi', 'localhost/health-check:latest']);
  for (const s of steps) {
    const r = sb.run(s);
    if (r.status !== 0) return [`${s[0]}: ${r.stderr.trim()}`];
  }
  return [];
}
