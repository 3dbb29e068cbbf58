// A real registry for the registry cases: Debian's docker-registry (distribution 2.8) on a free
// 127.0.0.1 port, its storage on the bench file system, plain http. Its access log (one line per
// request, written to a file) tells what each push or pull really did: blobs uploaded, mounted,
// found already there, downloaded; the bench records that beside the times.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A process is over when /proc has no entry for it or it is a zombie (its files are closed either way). */
function gone(pid) {
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/**
 * Start the registry in `dir` (config, storage, logs). Returns { host, dir, mark(), traffic(mark),
 * blobSize(digest), stopSync() }. stopSync is synchronous and idempotent (SIGTERM, SIGKILL after
 * 5 s, waits until the process is over), so it can run from an 'exit' handler before the bench file
 * system is unmounted.
 */
export async function startRegistry(dir, binary = REGISTRY_BINARY) {
  if (!existsSync(binary)) throw new Error(`${binary} not found: install the docker-registry package (scripts/install-deps.sh)`);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const storage = path.join(dir, 'storage');
  const accessLog = path.join(dir, 'access.log');
  const errLog = path.join(dir, 'registry.err');
  const config = path.join(dir, 'config.yml');
  // Application log at error level only; the access log (stdout) is the record of requests.
  writeFileSync(config, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${storage}\n` +
    `  delete:\n    enabled: true\nhttp:\n  addr: ${host}\n  secret: tbah-bench\n`);
  const out = openSync(accessLog, 'a');
  const err = openSync(errLog, 'a');
  // Own process group: a Ctrl-C at the terminal must not take the registry away before the bench
  // has stopped the running command; the bench stops it itself.
  const child = spawn(binary, ['serve', config], { stdio: ['ignore', out, err], detached: true });
  closeSync(out);
  closeSync(err);
  let stopped = false;
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    if (gone(child.pid)) return;
    try { process.kill(child.pid, 'SIGTERM'); } catch { return; }
    const until = Date.now() + 5000;
    while (!gone(child.pid) && Date.now() < until) spawnSync('sleep', ['0.05']);
    if (!gone(child.pid)) {
      try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
      while (!gone(child.pid)) spawnSync('sleep', ['0.05']);
    }
  };
  const errTail = () => (existsSync(errLog) ? readFileSync(errLog, 'utf8').slice(-2000).trim() : '');
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || gone(child.pid)) {
      stopSync();
      throw new Error(`docker-registry exited at start: ${errTail()}`);
    }
    try {
      const res = await fetch(`http://${host}/v2/`);
      await res.body?.cancel();
      if (res.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      stopSync();
      throw new Error(`docker-registry did not answer on ${host}: ${errTail()}`);
    }
    await sleep(50);
  }

  const blobData = (digest) => {
    const [alg, hex] = digest.split(':');
    return path.join(storage, 'docker', 'registry', 'v2', 'blobs', alg, hex.slice(0, 2), hex, 'data');
  };
  return {
    host,
    dir,
    stopSync,
    /** Position in the access log: requests after it belong to the next command. */
    mark: () => (existsSync(accessLog) ? statSync(accessLog).size : 0),
    /**
     * What the requests since `mark` did. The registry logs a request after answering it, so the
     * client can exit a moment before its last line is written: wait until the log stops growing.
     */
    async traffic(mark) {
      let size = -1;
      for (let i = 0; i < 20; i++) {
        await sleep(50);
        const s = statSync(accessLog).size;
        if (s === size) break;
        size = s;
      }
      const fd = openSync(accessLog, 'r');
      const buf = Buffer.alloc(size - mark);
      readSync(fd, buf, 0, buf.length, mark);
      closeSync(fd);
      return summariseTraffic(buf.toString('utf8'), blobData);
    },
  };
}

/**
 * Count blob operations in access-log lines (combined log format):
 *   uploaded  PUT …/blobs/uploads/<id>?digest=D → 201 (bytes: the stored blob's size)
 *   mounted   POST …/blobs/uploads/?mount=D&from=R → 201
 *   present   HEAD …/blobs/D → 200 (the client found it there and skipped it)
 *   fetched   GET …/blobs/D → 200 (bytes: as sent)
 * plus the number of requests and of PATCH requests (upload chunks).
 */
export function summariseTraffic(text, blobData) {
  const t = { requests: 0, uploaded: 0, uploadedBytes: 0, uploadChunks: 0, mounted: 0, present: 0, fetched: 0, fetchedBytes: 0,
    manifestsPut: 0, manifestsGot: 0 };
  const re = /"(\w+) (\S+) HTTP\/[\d.]+" (\d{3}) (\d+|-)/;
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    const [, method, uri, statusText, written] = m;
    const status = Number(statusText);
    t.requests++;
    if (method === 'PUT' && status === 201 && /\/blobs\/uploads\/[^?]+\?(.*&)?digest=/.test(uri)) {
      t.uploaded++;
      const d = decodeURIComponent(/[?&]digest=([^&]+)/.exec(uri)[1]);
      try { t.uploadedBytes += statSync(blobData(d)).size; } catch { /* deleted since */ }
    } else if (method === 'PATCH' && /\/blobs\/uploads\//.test(uri)) t.uploadChunks++;
    else if (method === 'POST' && status === 201 && /[?&]mount=/.test(uri)) t.mounted++;
    else if (method === 'HEAD' && status === 200 && /\/blobs\/sha256:/.test(uri)) t.present++;
    else if (method === 'GET' && status === 200 && /\/blobs\/sha256:/.test(uri)) {
      t.fetched++;
      t.fetchedBytes += written === '-' ? 0 : Number(written);
    } else if (method === 'PUT' && status === 201 && /\/manifests\//.test(uri)) t.manifestsPut++;
    else if (method === 'GET' && status === 200 && /\/manifests\//.test(uri)) t.manifestsGot++;
  }
  return t;
}

/** The image manifest a tag names, as the registry holds it (OCI or Docker schema 2). */
export async function remoteManifest(host, repo, tag) {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
  });
  if (res.status !== 200) throw new Error(`GET ${repo}:${tag} manifest: HTTP ${res.status}`);
  return { digest: res.headers.get('docker-content-digest'), mediaType: res.headers.get('content-type'), manifest: await res.json() };
}
