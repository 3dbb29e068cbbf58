/**
 * Test TLS: a CA with a server and a client certificate made by the openssl
 * CLI in a temp dir, and a docker-registry behind TLS with that CA.
 *
 *   const ca = await makeTestCa();
 *   // ca.certDir: a containers-certs.d-style dir with ca.crt (for --cert-dir)
 *   // ca.clientCertDir: ca.crt + client.cert + client.key
 *   await ca.cleanup();
 *
 *   const reg = await startTlsRegistry({ users: { alice: 'pw' } });   // https + htpasswd
 *   const reg = await startTlsRegistry({ requireClientCert: true });  // https + mutual TLS
 *   // reg.host, reg.url (https://…), reg.ca (as above)
 *   await reg.stop();                                                // also removes the CA
 *
 * Certificates are EC P-256, valid two days, for IP 127.0.0.1 and localhost.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type TestRegistry, startRegistry } from './registry.js';

const run = promisify(execFile);

export interface TestCa {
  dir: string;
  /** PEM paths. */
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A directory with only ca.crt: trusts the server. */
  certDir: string;
  /** ca.crt + client.cert + client.key: trusts the server and authenticates the client. */
  clientCertDir: string;
  cleanup(): Promise<void>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (e) {
    throw new Error(`openssl ${args.join(' ')} failed: ${(e as { stderr?: string }).stderr ?? String(e)}`);
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A leaf certificate signed by the CA in `dir` with the given extensions. */
async function leaf(dir: string, name: string, cn: string, ext: string): Promise<void> {
  await openssl(['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
  await writeFile(join(dir, `${name}.ext`), ext);
  await openssl(
    ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.crt`],
    dir,
  );
}

export async function makeTestCa(): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'tbah-ca-'));
  try {
    await openssl(
      ['req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-sha256', '-subj', '/CN=tbah test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
      dir,
    );
    await leaf(dir, 'server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
    await leaf(dir, 'client', 'tbah-test-client', 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
    const certDir = join(dir, 'certs.d');
    const clientCertDir = join(dir, 'certs.d-client');
    await mkdir(certDir);
    await mkdir(clientCertDir);
    await copyFile(join(dir, 'ca.crt'), join(certDir, 'ca.crt'));
    await copyFile(join(dir, 'ca.crt'), join(clientCertDir, 'ca.crt'));
    await copyFile(join(dir, 'client.crt'), join(clientCertDir, 'client.cert'));
    await copyFile(join(dir, 'client.key'), join(clientCertDir, 'client.key'));
    const onExit = (): void => rmSync(dir, { recursive: true, force: true });
    process.once('exit', onExit);
    return {
      dir,
      caCert: join(dir, 'ca.crt'),
      caKey: join(dir, 'ca.key'),
      serverCert: join(dir, 'server.crt'),
      serverKey: join(dir, 'server.key'),
      clientCert: join(dir, 'client.crt'),
      clientKey: join(dir, 'client.key'),
      certDir,
      clientCertDir,
      cleanup: async () => {
        process.removeListener('exit', onExit);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

export interface TlsRegistryOptions {
  /** htpasswd Basic auth; user name → password. */
  users?: Record<string, string>;
  /** Refuse clients without a certificate signed by the test CA. */
  requireClientCert?: boolean;
}

export interface TlsRegistry extends TestRegistry {
  ca: TestCa;
}

/** docker-registry over https with a fresh test CA (and optionally Basic auth or mutual TLS). */
export async function startTlsRegistry(opts: TlsRegistryOptions = {}): Promise<TlsRegistry> {
  const ca = await makeTestCa();
  let reg: TestRegistry;
  try {
    reg = await startRegistry({
      ...(opts.users === undefined ? {} : { users: opts.users }),
      tls: { cert: ca.serverCert, key: ca.serverKey, ...(opts.requireClientCert === true ? { clientCas: [ca.caCert] } : {}) },
    });
  } catch (e) {
    await ca.cleanup();
    throw e;
  }
  return {
    ...reg,
    ca,
    stop: async () => {
      await reg.stop();
      await ca.cleanup();
    },
  };
}
