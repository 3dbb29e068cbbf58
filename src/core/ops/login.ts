/**
 * `tbah login` / `tbah logout`: containers/common's auth.Login and
 * auth.Logout. Credentials are proven against the registry before anything
 * is written; they go to the primary auth file (containers-auth.json(5)) or
 * to that file's credential helper. Prompting is the caller's: the core asks
 * through callbacks and never sees a terminal.
 */
import { access } from 'node:fs/promises';
import { TbahError } from '../errors.js';
import { parseDockerReference } from '../refs.js';
import { RegistryClient } from '../registry/client.js';
import {
  type Credentials,
  type CredentialSources,
  DOCKER_HUB_LEGACY_KEY,
  defaultSources,
  locateCredentials,
  normaliseAuthKey,
  primaryAuthFile,
  removeAllCredentials,
  removeCredentials,
  storeCredentials,
} from '../registry/credentials.js';

/** Where credentials are filed (`auths` key) and the registry they are checked against. */
export interface LoginTarget {
  /** `host[:port]` or `host[:port]/ns/repo` (a per-repository entry). */
  key: string;
  /** `host[:port]` */
  registry: string;
}

/**
 * The registry argument as Buildah takes it: `https://host[:port]/anything`
 * is cut to `host[:port]`; `host/ns/repo` is a per-repository key and must be
 * a repository name without tag or digest.
 */
export function parseLoginTarget(arg: string): LoginTarget {
  let key = arg;
  if (/^https?:\/\//.test(arg)) {
    try {
      key = new URL(arg).host;
    } catch {
      throw new TbahError('invalid-argument', `${arg}: not a valid URL`, { hint: 'give the registry as HOST[:PORT]' });
    }
  }
  if (key === '' || /\s/.test(key)) {
    throw new TbahError('invalid-argument', `${JSON.stringify(arg)}: not a registry`, { hint: 'give the registry as HOST[:PORT], e.g. quay.io or 127.0.0.1:5000' });
  }
  const registry = key.split('/')[0]!;
  if (registry === key) return { key, registry };
  const rest = key.slice(registry.length + 1);
  if (rest.includes(':') || rest.includes('@')) {
    throw new TbahError('invalid-argument', `${key}: a login key cannot contain a tag or digest`, { hint: `log in to ${key.split(/[:@]/, 1)[0]} or to ${registry}` });
  }
  // The grammar check only; the key is kept as typed (docker.io/x must not become docker.io/library/x).
  const ref = parseDockerReference(key);
  if (ref.domain !== normaliseAuthKey(registry)) {
    throw new TbahError('invalid-argument', `${key}: ${registry} is not a registry host`, {
      hint: 'a per-repository key starts with the registry: HOST[:PORT]/NAMESPACE/REPO',
    });
  }
  return { key, registry };
}

/** What login needs to reach the registry. `certDir` is passed on to the registry client. */
export interface RegistryAccess {
  tlsVerify?: boolean;
  certDir?: string;
}

export interface AuthFileOptions {
  /** `--authfile`; else `REGISTRY_AUTH_FILE`, else the primary file. */
  authFile?: string;
  /**
   * `--compat-auth-file`: a Docker `config.json` to read and write instead
   * (the only file consulted; Docker Hub filed under `https://index.docker.io/v1/`;
   * no per-repository keys, which Docker does not know). Exclusive with `authFile`.
   */
  compatAuthFile?: string;
  /** Defaults to the process's; tests and library users may give their own. */
  sources?: CredentialSources;
}

export interface LoginOptions extends RegistryAccess, AuthFileOptions {
  /** The registry argument (`host[:port]`, `https://host/…`, `host/ns/repo`). */
  target: string;
  username?: string;
  /** Empty means not given, as in Buildah. */
  password?: string;
  /** Ask for what was not given; without it, a missing username or password is an error. */
  prompt?: {
    /** `current`: the username already on file, used when the answer is empty. */
    username(current: string | undefined): Promise<string>;
    password(): Promise<string>;
  };
  /** Progress messages (which credentials are tried). */
  onNote?: (message: string) => void;
}

export interface LoginResult {
  key: string;
  registry: string;
  /** True when the credentials on file were already valid and nothing was written. */
  alreadyLoggedIn: boolean;
  /** Where the credentials went: the auth file's path or `credential helper: NAME`. */
  storedIn?: string;
}

function sourcesOf(o: AuthFileOptions): CredentialSources {
  if (o.authFile !== undefined && o.compatAuthFile !== undefined) {
    throw new TbahError('usage', '--authfile and --compat-auth-file cannot be used simultaneously', { hint: 'give one of them' });
  }
  const src = o.sources ?? defaultSources();
  const file = o.authFile ?? o.compatAuthFile;
  return file === undefined ? src : { ...src, authFile: file };
}

/**
 * The key credentials are filed under in a Docker config.json: Docker Hub's
 * legacy URL for docker.io; a per-repository key is refused (Docker has none),
 * as containers/image refuses it.
 */
function compatKey(t: LoginTarget): string {
  if (t.key !== t.registry) {
    throw new TbahError('invalid-argument', `credentials cannot be recorded in Docker-compatible format with namespaced key ${JSON.stringify(t.key)}`, {
      hint: `log in to ${t.registry}, or use --authfile for a per-repository entry`,
    });
  }
  return t.registry === 'docker.io' ? DOCKER_HUB_LEGACY_KEY : t.registry;
}

function repositoryOf(t: LoginTarget): string {
  return t.key === t.registry ? '' : t.key.slice(t.registry.length + 1);
}

async function checkAgainstRegistry(t: LoginTarget, credentials: Credentials, o: RegistryAccess): Promise<void> {
  // certDir is spread in, so this compiles whether or not the client knows the option yet.
  const tls = o.certDir === undefined ? {} : { certDir: o.certDir };
  const client = new RegistryClient({
    registry: t.registry,
    credentials,
    ...(o.tlsVerify === undefined ? {} : { tlsVerify: o.tlsVerify }),
    ...tls,
  });
  await client.checkCredentials();
}

/** The registry refused the credentials (401/403); everything else (unreachable, TLS) passes through. */
function isUnauthorized(e: unknown): boolean {
  return e instanceof TbahError && (e.code === 'unauthorized' || e.code === 'denied');
}

/**
 * Log in: with no username and password given and valid credentials on
 * file, nothing changes. Otherwise the username and password (asked for when
 * missing) are checked with the registry and only then stored.
 */
export async function login(o: LoginOptions): Promise<LoginResult> {
  const t = parseLoginTarget(o.target);
  const src = sourcesOf(o);
  if (o.compatAuthFile !== undefined) compatKey(t); // refuse a namespaced key before asking for anything
  const reach: RegistryAccess = { ...(o.tlsVerify === undefined ? {} : { tlsVerify: o.tlsVerify }), ...(o.certDir === undefined ? {} : { certDir: o.certDir }) };
  let username = o.username ?? '';
  let password = o.password ?? '';
  // What is on file matters only when something must be asked for (or is already valid).
  const current = username !== '' && password !== '' ? undefined : (await locateCredentials(t.registry, repositoryOf(t), src))?.credentials;
  const currentUser = current?.kind === 'basic' ? current.username : undefined;

  if (username === '' && password === '' && current?.kind === 'basic') {
    o.onNote?.(`Authenticating with existing credentials for ${t.key}`);
    try {
      await checkAgainstRegistry(t, current, reach);
      return { key: t.key, registry: t.registry, alreadyLoggedIn: true };
    } catch (e) {
      if (!isUnauthorized(e)) throw e;
      o.onNote?.('Existing credentials are invalid, please enter valid username and password');
    }
  }

  if (username === '') {
    if (o.prompt === undefined) {
      throw new TbahError('usage', `login ${t.key}: no username given and stdin is not a terminal to ask for one`, {
        hint: 'give --username NAME (with --password-stdin for the password)',
      });
    }
    username = (await o.prompt.username(currentUser)).trim();
    if (username === '' && currentUser !== undefined) username = currentUser;
  }
  if (username === '') throw new TbahError('usage', `login ${t.key}: the username is empty`, { hint: 'give --username NAME' });
  if (password === '') {
    if (o.prompt === undefined) {
      throw new TbahError('usage', `login ${t.key}: no password given and stdin is not a terminal to ask for one`, {
        hint: 'pipe it in with --password-stdin (or give --password)',
      });
    }
    password = await o.prompt.password();
    if (password === '') throw new TbahError('usage', `login ${t.key}: the password is empty`, { hint: 'type the password, or give --password-stdin' });
  }

  const where = primaryAuthFile(src).path;
  try {
    await checkAgainstRegistry(t, { kind: 'basic', username, password }, reach);
  } catch (e) {
    if (!isUnauthorized(e)) throw e;
    throw new TbahError('unauthorized', `logging into ${t.key}: invalid username/password (unauthorized by ${t.registry})`, {
      hint: `check the username and password; nothing was written to ${where}`,
    });
  }
  const key = o.compatAuthFile !== undefined ? compatKey(t) : t.key;
  const storedIn = await storeCredentials(key, t.registry, username, password, src);
  return { key: t.key, registry: t.registry, alreadyLoggedIn: false, storedIn };
}

/** `login --get-login`: the username logged in for the target, from any auth file in the lookup order. */
export async function getLogin(target: string, o: AuthFileOptions = {}): Promise<string> {
  const t = parseLoginTarget(target);
  const found = await locateCredentials(t.registry, repositoryOf(t), sourcesOf(o));
  if (found?.credentials.kind !== 'basic') {
    throw new TbahError('not-found', `not logged into ${t.key}`, {
      hint: found === undefined ? `log in with \`tbah login ${t.key}\`` : `${found.file} holds an identity token for ${t.key}, which names no user`,
    });
  }
  return found.credentials.username;
}

/** An explicit auth file must exist for logout (Buildah's CheckAuthFile). */
async function checkExplicitFile(src: CredentialSources): Promise<void> {
  // sourcesOf put --authfile or --compat-auth-file there.
  const p = primaryAuthFile(src);
  if (!p.explicit) return;
  try {
    await access(p.path);
  } catch {
    throw new TbahError('not-found', `credential file ${p.path} is not accessible`, { hint: 'give an existing auth file with --authfile (or REGISTRY_AUTH_FILE)' });
  }
}

export interface LogoutOptions extends AuthFileOptions {
  /** The registry argument; omitted with `all`. */
  target?: string;
  all?: boolean;
}

/** Log out: remove the target's credentials (or all of them) from the primary auth file and its helpers. Returns the key removed. */
export async function logout(o: LogoutOptions): Promise<string | undefined> {
  const src = sourcesOf(o);
  await checkExplicitFile(src);
  if (o.all === true) {
    if (o.target !== undefined) throw new TbahError('usage', '--all takes no registry argument', { hint: 'tbah logout --all' });
    await removeAllCredentials(src);
    return undefined;
  }
  if (o.target === undefined) throw new TbahError('usage', 'logout needs a registry', { hint: 'tbah logout HOST[:PORT], or --all' });
  const t = parseLoginTarget(o.target);
  if (o.compatAuthFile !== undefined) compatKey(t);
  if (await removeCredentials(t.key, t.registry, src)) return t.key;
  // Credentials from another file of the lookup are not ours to remove; say where they are.
  const primary = primaryAuthFile(src).path;
  const elsewhere = await locateCredentials(t.registry, repositoryOf(t), src).catch(() => undefined);
  let hint = `${primary} has no entry for ${t.key}`;
  if (elsewhere?.file === primary) hint = `${primary} has credentials covering ${t.key} under a shorter key; log out of that (e.g. ${t.registry})`;
  else if (elsewhere !== undefined) hint = `the credentials in use come from ${elsewhere.file}, which logout edits only when given as --authfile`;
  throw new TbahError('not-found', `not logged into ${t.key}`, { hint });
}
