/**
 * Registry credentials as containers-auth.json(5) finds them: an explicit auth
 * file (`--authfile` or `REGISTRY_AUTH_FILE`) is the only file consulted;
 * otherwise `${XDG_RUNTIME_DIR}/containers/auth.json`,
 * `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json` and
 * `~/.docker/config.json`, first match wins. Within a file: `credHelpers[host]`,
 * then `auths` (most specific `host/ns/repo` key first), then `credsStore`.
 *
 * Secrets never appear in errors: messages name the file and key only.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { TbahError, isErrno } from '../errors.js';

export type Credentials =
  | { kind: 'basic'; username: string; password: string }
  /** An OAuth2 refresh token, exchanged at the token realm (Docker's `identitytoken`). */
  | { kind: 'identity-token'; token: string };

export interface CredentialSources {
  env: Readonly<Record<string, string | undefined>>;
  home: string;
  /** `--authfile`; overrides `REGISTRY_AUTH_FILE`. */
  authFile?: string;
  /** File contents, or undefined when the file does not exist. */
  readFile: (path: string) => Promise<string | undefined>;
  /** Runs `docker-credential-<helper> get` for a server. */
  runHelper: (helper: string, server: string) => Promise<Credentials | undefined>;
}

/** Docker Hub's historical key in `auths` and the server name credential helpers know it by. */
export const DOCKER_HUB_LEGACY_KEY = 'https://index.docker.io/v1/';

/** The sources for this process: real env, home, files and helpers. */
export function defaultSources(authFile?: string): CredentialSources {
  const env = process.env;
  return {
    env,
    home: homedir(),
    ...(authFile === undefined ? {} : { authFile }),
    readFile: readOptionalFile,
    runHelper: (helper, server) => runCredentialHelper(helper, server, env),
  };
}

/** The auth files to consult, in order. An explicit file is the only one. */
export function authFilePaths(src: Pick<CredentialSources, 'env' | 'home' | 'authFile'>): string[] {
  const explicit = src.authFile ?? nonEmpty(src.env['REGISTRY_AUTH_FILE']);
  if (explicit !== undefined) return [explicit];
  const out: string[] = [];
  const runtime = nonEmpty(src.env['XDG_RUNTIME_DIR']);
  if (runtime !== undefined) out.push(join(runtime, 'containers', 'auth.json'));
  out.push(join(nonEmpty(src.env['XDG_CONFIG_HOME']) ?? join(src.home, '.config'), 'containers', 'auth.json'));
  out.push(join(src.home, '.docker', 'config.json'));
  return out;
}

/**
 * `auths` keys that may hold credentials for `registry/repository`, most
 * specific first: `host/ns/repo`, `host/ns`, `host`.
 */
export function lookupKeys(registry: string, repository: string): string[] {
  const keys: string[] = [];
  const parts = repository === '' ? [] : repository.split('/');
  for (let n = parts.length; n > 0; n--) keys.push(`${registry}/${parts.slice(0, n).join('/')}`);
  keys.push(registry);
  return keys;
}

/**
 * Normalise an `auths` key: Docker writes `https://host/v1/` style keys; they
 * only ever name a whole registry. `index.docker.io` is `docker.io`.
 */
export function normaliseAuthKey(key: string): string {
  let k = key;
  const legacy = /^https?:\/\//.test(k);
  if (legacy) {
    k = k.replace(/^https?:\/\//, '');
    k = k.split('/')[0]!;
  }
  if (k === 'index.docker.io' || k === 'registry-1.docker.io') return 'docker.io';
  if (k.startsWith('index.docker.io/')) return 'docker.io' + k.slice('index.docker.io'.length);
  return k;
}

/** The server name a credential helper is asked about. */
export function helperServer(registry: string): string {
  return registry === 'docker.io' ? DOCKER_HUB_LEGACY_KEY : registry;
}

/** Credentials for `registry/repository`, or undefined for anonymous access. */
export async function findCredentials(
  registry: string,
  repository: string,
  src: CredentialSources,
): Promise<Credentials | undefined> {
  const keys = lookupKeys(registry, repository);
  for (const path of authFilePaths(src)) {
    const text = await src.readFile(path);
    if (text === undefined) continue;
    const file = parseAuthFile(path, text);
    const helper = file.credHelpers[registry];
    if (helper !== undefined && helper !== '') {
      const c = await src.runHelper(helper, helperServer(registry));
      if (c !== undefined) return c;
    }
    for (const key of keys) {
      const entry = file.auths.get(key);
      if (entry !== undefined) {
        const c = decodeEntry(path, key, entry);
        if (c !== undefined) return c;
      }
    }
    if (file.credsStore !== undefined && file.credsStore !== '') {
      const c = await src.runHelper(file.credsStore, helperServer(registry));
      if (c !== undefined) return c;
    }
  }
  return undefined;
}

interface AuthEntry {
  auth?: unknown;
  identitytoken?: unknown;
}

interface AuthFile {
  auths: Map<string, AuthEntry>;
  credHelpers: Record<string, string>;
  credsStore: string | undefined;
}

function parseAuthFile(path: string, text: string): AuthFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // The JSON parser's message may quote file content (a secret): leave it out.
    throw new TbahError('invalid-argument', `auth file ${path} is not valid JSON`, {
      hint: 'fix or remove the file; `tbah login` rewrites it',
    });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new TbahError('invalid-argument', `auth file ${path} is not a JSON object`, { hint: 'fix or remove the file' });
  }
  const d = doc as Record<string, unknown>;
  const auths = new Map<string, AuthEntry>();
  if (isObject(d['auths'])) {
    for (const [key, value] of Object.entries(d['auths'])) {
      if (!isObject(value)) continue;
      const k = normaliseAuthKey(key);
      // A normalised key must not shadow an exact one written in the new style.
      if (!auths.has(k) || k === key) auths.set(k, value as AuthEntry);
    }
  }
  const credHelpers: Record<string, string> = {};
  if (isObject(d['credHelpers'])) {
    for (const [key, value] of Object.entries(d['credHelpers'])) {
      if (typeof value === 'string') credHelpers[normaliseAuthKey(key)] = value;
    }
  }
  const credsStore = typeof d['credsStore'] === 'string' ? d['credsStore'] : undefined;
  return { auths, credHelpers, credsStore };
}

function decodeEntry(path: string, key: string, entry: AuthEntry): Credentials | undefined {
  if (typeof entry.identitytoken === 'string' && entry.identitytoken !== '') {
    return { kind: 'identity-token', token: entry.identitytoken };
  }
  if (typeof entry.auth !== 'string' || entry.auth === '') return undefined;
  const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) {
    throw new TbahError('invalid-argument', `auth file ${path}: the "auth" value for ${key} is not base64 of user:password`, {
      hint: 'log in again with `tbah login`',
    });
  }
  return { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Run `docker-credential-<helper> get` with the server on stdin. Undefined when
 * the helper knows no credentials for it (it exits non-zero saying so).
 */
export function runCredentialHelper(
  helper: string,
  server: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Credentials | undefined> {
  const program = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = spawn(program, ['get'], { env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {}); // a helper that exits without reading stdin: the exit status tells
    child.on('error', (e) => {
      reject(
        new TbahError('not-found', `credential helper ${program} could not be run${isErrno(e, 'ENOENT') ? ': not on PATH' : ''}`, {
          hint: 'install the helper or remove it from credHelpers/credsStore in the auth file',
          cause: e,
        }),
      );
    });
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString('utf8');
      if (code !== 0) {
        // The helper protocol says "credentials not found" on stdout for an unknown server.
        const text = (stdout + Buffer.concat(err).toString('utf8')).toLowerCase();
        if (text.includes('credentials not found')) return resolve(undefined);
        return reject(
          new TbahError('network', `credential helper ${program} failed for ${server} (exit status ${code})`, {
            hint: `run \`echo ${server} | ${program} get\` to see its error`,
          }),
        );
      }
      let doc: unknown;
      try {
        doc = JSON.parse(stdout);
      } catch {
        return reject(new TbahError('invalid-argument', `credential helper ${program} printed something that is not JSON`));
      }
      if (!isObject(doc) || typeof doc['Username'] !== 'string' || typeof doc['Secret'] !== 'string') {
        return reject(new TbahError('invalid-argument', `credential helper ${program} returned no Username/Secret`));
      }
      const username = doc['Username'];
      const secret = doc['Secret'];
      if (secret === '') return resolve(undefined);
      // Docker's convention: Username "<token>" marks an identity token.
      resolve(username === '<token>' ? { kind: 'identity-token', token: secret } : { kind: 'basic', username, password: secret });
    });
    child.stdin.end(server);
  });
}

async function readOptionalFile(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) return undefined;
    throw new TbahError('io', `cannot read auth file ${path}`, { cause: e });
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}
