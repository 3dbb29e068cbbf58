/**
 * A throwaway Docker registry (Debian's /usr/bin/docker-registry, CNCF
 * Distribution 2.8) on a free 127.0.0.1 port with its own storage.
 *
 *   const reg = await startRegistry();                         // plain http
 *   const reg = await startRegistry({ users: { alice: 'pw' } }); // + htpasswd Basic auth
 *   ... `${reg.host}/team/app:1` ...
 *   await reg.stop();                                         // kills it, removes its files
 *
 * Options combine: `tls` (server certificate, optionally requiring client
 * certificates), `users` (htpasswd) or `token` (Bearer auth against a token
 * issuer). The ready-made combinations live beside this file:
 * `startTlsRegistry()` in tls.ts, `startTokenRegistry()` in token-auth.ts,
 * and `startFaultProxy()` in fault-proxy.ts to put faults in front of any of them.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface TestRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  /** `http://127.0.0.1:PORT` or `https://…` */
  url: string;
  /** Its temp directory: config.yml, storage/ (blobs under storage/docker/registry/v2/), htpasswd. */
  dir: string;
  stop(): Promise<void>;
}

export interface TestRegistryOptions {
  /** Require Basic auth with this user (bcrypt hash made with python3's crypt). */
  user?: { name: string; password: string };
  /** Require Basic auth; user name → password (joins `user`). */
  users?: Record<string, string>;
  /** Serve https with this certificate (PEM file paths); `clientCas` makes client certificates mandatory. */
  tls?: { cert: string; key: string; clientCas?: string[] };
  /** Bearer token auth (Distribution's `auth: token:`); exclusive with users. */
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
}

/** A port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A bcrypt htpasswd hash (python3's crypt; Distribution accepts only bcrypt). */
export async function bcrypt(password: string): Promise<string> {
  const { stdout } = await promisify(execFile)('python3', [
    '-W',
    'ignore',
    '-c',
    'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))',
    password,
  ]);
  const hash = stdout.trim();
  if (!hash.startsWith('$2')) throw new Error(`python3 crypt produced no bcrypt hash: ${hash}`);
  return hash;
}

/** YAML double-quoted string. */
const q = (s: string): string => JSON.stringify(s);

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function startRegistry(opts: TestRegistryOptions = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'tbah-registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const users: Record<string, string> = { ...opts.users };
  if (opts.user !== undefined) users[opts.user.name] = opts.user.password;
  let auth = '';
  if (Object.keys(users).length > 0) {
    if (opts.token !== undefined) throw new Error('startRegistry: users and token auth are exclusive');
    const lines = await Promise.all(Object.entries(users).map(async ([n, p]) => `${n}:${await bcrypt(p)}\n`));
    await writeFile(join(dir, 'htpasswd'), lines.join(''));
    auth = `auth:\n  htpasswd:\n    realm: tbah-test\n    path: ${q(join(dir, 'htpasswd'))}\n`;
  } else if (opts.token !== undefined) {
    const t = opts.token;
    auth = `auth:\n  token:\n    realm: ${q(t.realm)}\n    service: ${q(t.service)}\n    issuer: ${q(t.issuer)}\n    rootcertbundle: ${q(t.rootCertBundle)}\n`;
  }
  let tls = '';
  if (opts.tls !== undefined) {
    tls = `  tls:\n    certificate: ${q(opts.tls.cert)}\n    key: ${q(opts.tls.key)}\n`;
    if (opts.tls.clientCas !== undefined && opts.tls.clientCas.length > 0) tls += `    clientcas:\n${opts.tls.clientCas.map((c) => `      - ${q(c)}\n`).join('')}`;
  }
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${q(join(dir, 'storage'))}\n  delete:\n    enabled: true\nhttp:\n  addr: ${host}\n  secret: tbah-test-secret\n${tls}${auth}`,
  );
  const child: ChildProcess = spawn(REGISTRY_BINARY, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // A test process that ends without stop() (a crash, a forgotten after()) must not leave a registry behind.
  const onExit = (): void => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  const stop = async (): Promise<void> => {
    process.removeListener('exit', onExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  // Listening means serving: docker-registry opens the port after reading its config.
  const deadline = Date.now() + 15_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`docker-registry exited early: ${stderr}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not listen on ${host}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { host, url: `${opts.tls === undefined ? 'http' : 'https'}://${host}`, dir, stop };
}
