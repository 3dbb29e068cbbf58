/**
 * TLS settings for a registry, as containers-certs.d(5) defines them: a
 * directory per `host[:port]` where `*.crt` files are extra CA certificates
 * and `NAME.cert` + `NAME.key` a client certificate pair, turned into the
 * settings of the client's https Agent (no undici needed).
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { TbahError, isErrno } from '../errors.js';
import type { TlsSettings } from './http.js';
import { rootCertificates } from 'node:tls';

export interface TlsMaterial {
  /** The directory the files came from. */
  dir: string;
  /** PEM text of each `*.crt` file (added to the default roots). */
  ca: string[];
  /** A client certificate pair (`*.cert` + `*.key`), the first by name. */
  client?: { cert: string; key: string; name: string };
}

/**
 * The directories searched for `host[:port]` when no `--cert-dir` is given,
 * in order, as containers/image does: the per-user one (rootless only),
 * then /etc/containers/certs.d, then /etc/docker/certs.d.
 */
export function defaultCertDirs(
  host: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
  uid: number = process.getuid?.() ?? 0,
): string[] {
  const dirs: string[] = [];
  if (uid !== 0) {
    const config = env['XDG_CONFIG_HOME'] || join(env['HOME'] || homedir(), '.config');
    dirs.push(join(config, 'containers/certs.d', host));
  }
  dirs.push(join('/etc/containers/certs.d', host), join('/etc/docker/certs.d', host));
  return dirs;
}

/** The first of `candidates` that is a directory. */
export async function firstExistingDir(candidates: string[]): Promise<string | undefined> {
  for (const d of candidates) {
    try {
      if ((await stat(d)).isDirectory()) return d;
    } catch (e) {
      if (!isErrno(e, 'ENOENT') && !isErrno(e, 'ENOTDIR') && !isErrno(e, 'EACCES')) throw e;
    }
  }
  return undefined;
}

/**
 * Read a certs.d-style directory. `explicit` (the user named it with
 * --cert-dir) makes a missing directory an error; a default one that is
 * missing just means "no extra TLS material". Returns undefined when the
 * directory holds nothing that changes TLS.
 */
export async function loadCertDir(dir: string, explicit: boolean): Promise<TlsMaterial | undefined> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (e) {
    if (!explicit && (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR'))) return undefined;
    if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) {
      throw new TbahError('not-found', `certificate directory ${dir} does not exist`, {
        hint: 'pass --cert-dir a directory holding ca.crt (and client.cert/client.key for client authentication)',
      });
    }
    throw new TbahError('io', `cannot read certificate directory ${dir}: ${(e as Error).message}`, { cause: e });
  }
  const read = async (name: string): Promise<string> => {
    try {
      return await readFile(join(dir, name), 'utf8');
    } catch (e) {
      throw new TbahError('io', `cannot read ${join(dir, name)}: ${(e as Error).message}`, { cause: e });
    }
  };
  const material: TlsMaterial = { dir, ca: [] };
  for (const name of names) {
    if (name.endsWith('.crt')) material.ca.push(await read(name));
    else if (name.endsWith('.cert')) {
      const keyName = `${name.slice(0, -'.cert'.length)}.key`;
      if (!names.includes(keyName)) {
        throw new TbahError('invalid-argument', `client certificate ${join(dir, name)} has no key ${keyName} beside it`, {
          hint: 'CA certificates must end in .crt; a client certificate needs NAME.cert and NAME.key',
        });
      }
      material.client ??= { cert: await read(name), key: await read(keyName), name };
    } else if (name.endsWith('.key')) {
      const certName = `${name.slice(0, -'.key'.length)}.cert`;
      if (!names.includes(certName)) {
        throw new TbahError('invalid-argument', `client key ${join(dir, name)} has no certificate ${certName} beside it`, {
          hint: 'a client certificate needs NAME.cert and NAME.key',
        });
      }
    }
  }
  return material.ca.length === 0 && material.client === undefined ? undefined : material;
}

/**
 * The TLS settings for the HTTP client. Verifying: Node's defaults unless the
 * cert dir adds CAs; Node replaces its roots with a given CA set, so the
 * roots (and NODE_EXTRA_CA_CERTS) are kept beside the extra ones. Not
 * verifying: no trust anchors at all (an empty CA set), which spares
 * parsing Node's ~140 root certificates (15–40 ms) for checks that are off.
 */
export async function tlsSettings(material: TlsMaterial | undefined, tlsVerify: boolean): Promise<TlsSettings> {
  const settings: TlsSettings = { verify: tlsVerify };
  if (!tlsVerify) settings.ca = material?.ca ?? [];
  else if (material !== undefined && material.ca.length > 0) {
    const extra = process.env['NODE_EXTRA_CA_CERTS'];
    const extraPem = extra ? await readFile(extra, 'utf8').catch(() => undefined) : undefined;
    settings.ca = [...rootCertificates, ...(extraPem === undefined ? [] : [extraPem]), ...material.ca];
  }
  if (material?.client !== undefined) {
    settings.cert = material.client.cert;
    settings.key = material.client.key;
  }
  return settings;
}
