/**
 * Registry credentials as containers-auth.json(5) finds them: an explicit auth
 * file (`--authfile` or `REGISTRY_AUTH_FILE`) is the only file consulted;
 * otherwise the primary file (`${XDG_RUNTIME_DIR}/containers/auth.json`, or
 * `/run/containers/UID/auth.json` without XDG_RUNTIME_DIR), then
 * `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json` and
 * `${DOCKER_CONFIG:-~/.docker}/config.json`, first match wins. Within a file:
 * `credHelpers[host]`, then `auths` (most specific `host/ns/repo` key first),
 * then `credsStore`.
 *
 * `login`/`logout` write only the primary (or explicit) file, as
 * containers/image does, so what they write is what the lookup finds first.
 *
 * Secrets never appear in errors: messages name the file and key only.
 */
import { spawn } from 'node:child_process';
import { lstat, readFile, realpath, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { ensureUserRuntimeDir, isRoot, userHome } from '../store/paths.js';
import { dirname, join } from 'node:path';
import { TbahError, errnoError, isErrno } from '../errors.js';
import { mkdirAll, resolveOutput, writeFileAtomic, writeUserFile } from '../util/fsx.js';

export type Credentials =
  | { kind: 'basic'; username: string; password: string }
  /** An OAuth2 refresh token, exchanged at the token realm (Docker's `identitytoken`). */
  | { kind: 'identity-token'; token: string };

export interface CredentialSources {
  env: Readonly<Record<string, string | undefined>>;
  home: string;
  /** For `/run/containers/UID/auth.json`; default: this process's uid. */
  uid?: number;
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
  const env = withRuntimeDir(process.env);
  return {
    env,
    home: isRoot() ? homedir() : userHome(env),
    ...(authFile === undefined ? {} : { authFile }),
    readFile: readOptionalFile,
    runHelper: (helper, server) => runCredentialHelper(helper, server, env),
  };
}

/**
 * Without root and without a login session's XDG_RUNTIME_DIR (runuser, cron),
 * /run/containers/UID cannot be made; containers/common's tools then set
 * XDG_RUNTIME_DIR to a private directory of their own, and so does tbah
 * (`/run/user/UID` when it exists, else its private directory under /tmp).
 */
function withRuntimeDir(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (isRoot() || nonEmpty(env['XDG_RUNTIME_DIR']) !== undefined) return env;
  return { ...env, XDG_RUNTIME_DIR: ensureUserRuntimeDir(env) };
}

/** Where the primary auth file is and why: the file `login` writes and the lookup reads first. */
export interface PrimaryAuthFile {
  path: string;
  /** `--authfile` or `REGISTRY_AUTH_FILE`: the only file consulted. */
  explicit: boolean;
  /** Set when the path comes from XDG_RUNTIME_DIR (which must exist to be written). */
  runtimeDir?: string;
}

/**
 * The primary auth file, as containers/image's getPathToAuth: the explicit
 * file, else `${XDG_RUNTIME_DIR}/containers/auth.json`, else
 * `/run/containers/UID/auth.json`.
 */
export function primaryAuthFile(src: Pick<CredentialSources, 'env' | 'authFile' | 'uid'>): PrimaryAuthFile {
  const explicit = nonEmpty(src.authFile) ?? nonEmpty(src.env['REGISTRY_AUTH_FILE']);
  if (explicit !== undefined) return { path: explicit, explicit: true };
  const runtime = nonEmpty(src.env['XDG_RUNTIME_DIR']);
  if (runtime !== undefined) return { path: join(runtime, 'containers', 'auth.json'), explicit: false, runtimeDir: runtime };
  const uid = src.uid ?? process.getuid?.() ?? 0;
  return { path: join('/run/containers', String(uid), 'auth.json'), explicit: false };
}

/** The auth files to consult, in order. An explicit file is the only one. */
export function authFilePaths(src: Pick<CredentialSources, 'env' | 'home' | 'authFile' | 'uid'>): string[] {
  const primary = primaryAuthFile(src);
  if (primary.explicit) return [primary.path];
  const dockerDir = nonEmpty(src.env['DOCKER_CONFIG']) ?? join(src.home, '.docker');
  return [
    primary.path,
    join(nonEmpty(src.env['XDG_CONFIG_HOME']) ?? join(src.home, '.config'), 'containers', 'auth.json'),
    join(dockerDir, 'config.json'),
  ];
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
  return (await locateCredentials(registry, repository, src))?.credentials;
}

/** Credentials and the auth file they were found through (a helper named in it counts as that file). */
export async function locateCredentials(
  registry: string,
  repository: string,
  src: CredentialSources,
): Promise<{ credentials: Credentials; file: string } | undefined> {
  const keys = lookupKeys(registry, repository);
  for (const path of authFilePaths(src)) {
    const text = await src.readFile(path);
    // A blank file is an empty one (Docker's view; `login` writes it as such).
    if (text === undefined || text.trim() === '') continue;
    const file = parseAuthFile(path, text);
    const found = (c: Credentials | undefined) => (c === undefined ? undefined : { credentials: c, file: path });
    const helper = file.credHelpers[registry];
    if (helper !== undefined && helper !== '') {
      const c = await src.runHelper(helper, helperServer(registry));
      if (c !== undefined) return found(c);
    }
    for (const key of keys) {
      const entry = file.auths.get(key);
      if (entry !== undefined) {
        const c = decodeEntry(path, key, entry);
        if (c !== undefined) return found(c);
      }
    }
    if (file.credsStore !== undefined && file.credsStore !== '') {
      const c = await src.runHelper(file.credsStore, helperServer(registry));
      if (c !== undefined) return found(c);
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
  const d = parseJsonObject(path, text);
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

/** The file as a JSON object; a message that never quotes its content (it may hold a secret). */
function parseJsonObject(path: string, text: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new TbahError('invalid-argument', `auth file ${path} is not valid JSON`, {
      hint: 'fix or remove the file; `tbah login` rewrites it',
    });
  }
  if (!isObject(doc)) {
    throw new TbahError('invalid-argument', `auth file ${path} is not a JSON object`, { hint: 'fix or remove the file' });
  }
  return doc;
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

/** What a `docker-credential-<helper>` run gave back. */
interface HelperOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `docker-credential-<helper> ACTION` with `input` on stdin (the helper protocol). */
function runHelperProgram(
  helper: string,
  action: 'get' | 'store' | 'erase',
  input: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<HelperOutput> {
  const program = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = spawn(program, [action], { env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
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
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
    child.stdin.end(input);
  });
}

/** The helper protocol says "credentials not found" (on stdout) for a server it does not know. */
function saysNotFound(r: HelperOutput): boolean {
  return (r.stdout + r.stderr).toLowerCase().includes('credentials not found');
}

/**
 * Run `docker-credential-<helper> get` with the server on stdin. Undefined when
 * the helper knows no credentials for it (it exits non-zero saying so).
 */
export async function runCredentialHelper(
  helper: string,
  server: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Credentials | undefined> {
  const program = `docker-credential-${helper}`;
  const r = await runHelperProgram(helper, 'get', server, env);
  if (r.code !== 0) {
    if (saysNotFound(r)) return undefined;
    throw new TbahError('network', `credential helper ${program} failed for ${server} (exit status ${r.code})`, {
      hint: `run \`echo ${server} | ${program} get\` to see its error`,
    });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(r.stdout);
  } catch {
    throw new TbahError('invalid-argument', `credential helper ${program} printed something that is not JSON`);
  }
  if (!isObject(doc) || typeof doc['Username'] !== 'string' || typeof doc['Secret'] !== 'string') {
    throw new TbahError('invalid-argument', `credential helper ${program} returned no Username/Secret`);
  }
  const username = doc['Username'];
  const secret = doc['Secret'];
  if (secret === '') return undefined;
  // Docker's convention: Username "<token>" marks an identity token.
  return username === '<token>' ? { kind: 'identity-token', token: secret } : { kind: 'basic', username, password: secret };
}

/** `docker-credential-<helper> store`: the helper keeps the secret (Docker's login with credHelpers/credsStore). */
export async function storeWithHelper(
  helper: string,
  server: string,
  username: string,
  password: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<void> {
  const r = await runHelperProgram(helper, 'store', JSON.stringify({ ServerURL: server, Username: username, Secret: password }), env);
  // Its output is left out of the message: a broken helper might echo what it was given.
  if (r.code !== 0) {
    throw new TbahError('io', `credential helper docker-credential-${helper} could not store credentials for ${server} (exit status ${r.code})`, {
      hint: `check the helper works (\`docker-credential-${helper} list\`), or remove it from credHelpers/credsStore in the auth file`,
    });
  }
}

/** `docker-credential-<helper> erase`: true when it removed something, false when it knew nothing for the server. */
export async function eraseWithHelper(helper: string, server: string, env: Readonly<Record<string, string | undefined>>): Promise<boolean> {
  const r = await runHelperProgram(helper, 'erase', server, env);
  if (r.code === 0) return true;
  if (saysNotFound(r)) return false;
  throw new TbahError('io', `credential helper docker-credential-${helper} could not erase credentials for ${server} (exit status ${r.code})`, {
    hint: `run \`echo ${server} | docker-credential-${helper} erase\` to see its error`,
  });
}

/** What writing needs: where the primary file is, and the environment helpers run with. */
export type WriteSources = Pick<CredentialSources, 'env' | 'authFile' | 'uid'>;

/** The helper that keeps `registry`'s secrets according to this file: `credHelpers[registry]`, else `credsStore`. */
function helperIn(doc: Record<string, unknown>, registry: string): string | undefined {
  const helpers = doc['credHelpers'];
  if (isObject(helpers)) {
    for (const [k, v] of Object.entries(helpers)) {
      if (normaliseAuthKey(k) === registry && typeof v === 'string' && v !== '') return v;
    }
  }
  const store = doc['credsStore'];
  return typeof store === 'string' && store !== '' ? store : undefined;
}

/**
 * The auth file `login` writes and `logout` edits, links resolved; with
 * `create`, its directory is made (0700) when missing.
 */
async function writablePrimary(src: WriteSources, create: boolean): Promise<string> {
  const primary = primaryAuthFile(src);
  if (primary.runtimeDir !== undefined) {
    try {
      await stat(primary.runtimeDir);
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
      throw new TbahError('not-found', `the directory ${primary.runtimeDir} set by XDG_RUNTIME_DIR does not exist`, {
        hint: 'create it, unset XDG_RUNTIME_DIR, or give --authfile FILE',
      });
    }
  }
  const dir = dirname(primary.path);
  try {
    if (create) await mkdirAll(dir, 0o700); // not mkdir -p of Node: it hangs on /proc/x
  } catch (e) {
    throw new TbahError('io', `cannot create ${dir} for the auth file${isErrno(e, 'EACCES') ? ': permission denied' : ''}`, {
      hint: 'set XDG_RUNTIME_DIR to a directory you own, or give --authfile FILE',
      cause: e,
    });
  }
  // A linked file (dotfiles) is replaced where it really lives, so the link survives the rename.
  try {
    if ((await lstat(primary.path)).isSymbolicLink()) return await realpath(primary.path);
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw e;
  }
  return primary.path;
}

/** The file as an object to edit in place; `{}` when it does not exist (or is blank). */
async function readAuthDoc(path: string): Promise<{ doc: Record<string, unknown>; exists: boolean }> {
  const text = await readOptionalFile(path);
  if (text === undefined) return { doc: {}, exists: false };
  if (text.trim() === '') return { doc: {}, exists: true };
  const doc = parseJsonObject(path, text);
  if (doc['auths'] !== undefined && !isObject(doc['auths'])) {
    throw new TbahError('invalid-argument', `auth file ${path}: "auths" is not a JSON object`, { hint: 'fix or remove the file' });
  }
  return { doc, exists: true };
}

function authsOf(doc: Record<string, unknown>): Record<string, unknown> {
  if (!isObject(doc['auths'])) doc['auths'] = {};
  return doc['auths'] as Record<string, unknown>;
}

/**
 * Every other key and field of the file is written back as it was; tabs, as
 * Docker and containers/image write it. A regular file is replaced atomically
 * where it really lives (a symlinked auth file stays a link, its target gets
 * the content; a crash never leaves half a file); anything else (/dev/null, a
 * FIFO) is written in place, never replaced.
 */
async function writeAuthDoc(file: string, doc: Record<string, unknown>): Promise<void> {
  const text = JSON.stringify(doc, null, '\t') + '\n';
  const target = await resolveOutput(file, 'writing the auth file');
  try {
    if (target.kind === 'other') await writeUserFile(target.path, text, 0o600, 'writing the auth file');
    else await writeFileAtomic(target.path, text, 0o600);
  } catch (e) {
    throw errnoError(e, 'writing the auth file', file);
  }
}

/**
 * Store credentials under `key` (`host[:port]` or `host/ns/repo`) in the
 * primary auth file, atomically and 0600, or through the file's credential
 * helper for a whole-registry key. Returns where they went: the file's path
 * or `credential helper: NAME`.
 */
export async function storeCredentials(key: string, registry: string, username: string, password: string, src: WriteSources): Promise<string> {
  const path = await writablePrimary(src, true);
  const { doc } = await readAuthDoc(path);
  const auths = authsOf(doc);
  // Helpers are keyed by server; a per-repository key has no place there.
  const helper = key === registry ? helperIn(doc, registry) : undefined;
  if (helper !== undefined) {
    await storeWithHelper(helper, helperServer(registry), username, password, src.env);
    // As Docker: an empty entry lists the registry; a stale plain-text secret goes.
    auths[key] = {};
    await writeAuthDoc(path, doc);
    return `credential helper: ${helper}`;
  }
  // The whole entry is replaced: a leftover identitytoken would otherwise win over the new password.
  auths[key] = { auth: Buffer.from(`${username}:${password}`, 'utf8').toString('base64') };
  await writeAuthDoc(path, doc);
  return path;
}

/**
 * Remove the credentials for `key` from the primary auth file (its exact
 * key, else keys that normalise to it, like `https://host/v1/`) and from the
 * file's credential helper. False when there were none.
 */
export async function removeCredentials(key: string, registry: string, src: WriteSources): Promise<boolean> {
  const path = await writablePrimary(src, false);
  const { doc, exists } = await readAuthDoc(path);
  if (!exists) return false;
  let removed = false;
  const helper = key === registry ? helperIn(doc, registry) : undefined;
  if (helper !== undefined) removed = await eraseWithHelper(helper, helperServer(registry), src.env);
  const auths = isObject(doc['auths']) ? doc['auths'] : {};
  const doomed = key in auths ? [key] : Object.keys(auths).filter((k) => normaliseAuthKey(k) === key);
  for (const k of doomed) delete auths[k];
  if (doomed.length > 0) {
    removed = true;
    await writeAuthDoc(path, doc);
  }
  return removed;
}

/**
 * Remove every `auths` entry of the primary auth file, and what its helpers
 * hold for them. The helper configuration (`credHelpers`, `credsStore`) and
 * every other field stay.
 */
export async function removeAllCredentials(src: WriteSources): Promise<void> {
  const path = await writablePrimary(src, false);
  const { doc, exists } = await readAuthDoc(path);
  if (!exists) return;
  const auths = isObject(doc['auths']) ? doc['auths'] : {};
  const servers = new Set(Object.keys(auths).map(normaliseAuthKey).filter((k) => !k.includes('/')));
  // A helper that is not installed holds nothing to erase (a copied Docker config often names one).
  const erase = (h: string, server: string) =>
    eraseWithHelper(h, server, src.env).catch((e: unknown) => {
      if (!(e instanceof TbahError && e.code === 'not-found')) throw e;
    });
  const helpers = doc['credHelpers'];
  if (isObject(helpers)) {
    for (const [k, h] of Object.entries(helpers)) {
      if (typeof h === 'string' && h !== '') await erase(h, helperServer(normaliseAuthKey(k)));
      servers.delete(normaliseAuthKey(k));
    }
  }
  const store = doc['credsStore'];
  if (typeof store === 'string' && store !== '') {
    for (const s of servers) await erase(store, helperServer(s));
  }
  doc['auths'] = {};
  await writeAuthDoc(path, doc);
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
