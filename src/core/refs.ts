/**
 * Image references: Docker-style names (the grammar of distribution/reference
 * as vendored by containers/image) and the transport prefixes Buildah accepts.
 * Pure functions, no I/O.
 */
import { TbahError } from './errors.js';
import { type Digest, isDigest } from './oci.js';

/** A normalised Docker-style reference: docker.io/library/alpine:latest */
export interface DockerReference {
  domain: string;
  path: string;
  tag?: string;
  digest?: Digest;
}

/**
 * Where a containers/storage store (Buildah's and Podman's) lives, as the
 * `[driver@graphroot+runroot:options]` prefix of a `containers-storage:`
 * reference writes it; absent parts mean that store's configured defaults.
 */
export interface StorageSpec {
  /** The text between the brackets, exactly as given (passed on to skopeo). */
  spec: string;
  driver?: string;
  root?: string;
  runRoot?: string;
}

export type ImageRef =
  | { transport: 'docker'; ref: DockerReference }
  | { transport: 'oci'; path: string; ref?: string }
  | { transport: 'dir'; path: string }
  | { transport: 'containers-storage'; name: string; store?: StorageSpec }
  | { transport: 'oci-archive'; path: string; ref?: string }
  | { transport: 'docker-archive'; path: string; ref?: DockerReference; index?: number }
  | { transport: 'store'; name: string };

const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';
const NAME_TOTAL_MAX = 255;

// distribution/reference/regexp.go, piece by piece.
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const PATH_RE = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const TAG_RE = /^\w[\w.-]{0,127}$/;
const ID_RE = /^[a-f0-9]{64}$/;
const ID_PREFIX_RE = /^(?:sha256:)?[a-f0-9]{3,64}$/;
// containers/image oci/internal: the ref.name annotation grammar (looser than Docker's: capitals, ':' '@' '+').
const OCI_REF_COMPONENT = '[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*';
const OCI_REF_RE = new RegExp(`^${OCI_REF_COMPONENT}(?:/${OCI_REF_COMPONENT})*$`);
/** What a `transport:` prefix looks like, to tell `foo:/path` (bad transport) from `foo:tag`. */
const TRANSPORT_TOKEN_RE = /^[a-z][a-z0-9-]*$/;

const REFERENCE_FORMAT = 'expected [HOST[:PORT]/]NAME[:TAG][@sha256:DIGEST], e.g. docker.io/library/alpine:3.19';
const SUPPORTED_TRANSPORTS = 'docker://, oci:, oci-archive:, docker-archive:, dir:, containers-storage:, or a local image name';
/** containers/image transports tbah does not implement; naming them gives a clearer error than "invalid reference". */
const UNSUPPORTED_TRANSPORTS = new Set(['docker-daemon', 'ostree', 'sif', 'tarball']);

function invalidRef(input: string, why: string, hint = REFERENCE_FORMAT): TbahError {
  return new TbahError('invalid-reference', `invalid image reference ${JSON.stringify(input)}: ${why}`, { hint });
}

/** Docker's rule: the first component names a registry only if it has '.' or ':' or is `localhost`. */
function splitDomain(s: string): [domain: string | undefined, rest: string] {
  const slash = s.indexOf('/');
  if (slash < 0) return [undefined, s];
  const first = s.slice(0, slash);
  if (first.includes('.') || first.includes(':') || first === 'localhost') return [first, s.slice(slash + 1)];
  return [undefined, s];
}

/** Parse `path[:tag][@digest]` under `domain`; the path cannot contain ':' or '@', so the first of each splits. */
function parseRemainder(input: string, domain: string, remainder: string): DockerReference {
  const at = remainder.indexOf('@');
  const nameTag = at >= 0 ? remainder.slice(0, at) : remainder;
  const digest = at >= 0 ? remainder.slice(at + 1) : undefined;
  const colon = nameTag.indexOf(':');
  const path = colon >= 0 ? nameTag.slice(0, colon) : nameTag;
  const tag = colon >= 0 ? nameTag.slice(colon + 1) : undefined;

  if (path.toLowerCase() !== path) {
    throw invalidRef(input, 'repository name must be lowercase', 'repository names use lowercase letters, digits and the separators . _ -');
  }
  if (!DOMAIN_RE.test(domain)) throw invalidRef(input, `invalid registry host ${JSON.stringify(domain)}`);
  if (!PATH_RE.test(path)) {
    throw invalidRef(input, `invalid repository name ${JSON.stringify(path)}`,
      `path components are lowercase letters and digits joined by . _ __ or -, separated by /; ${REFERENCE_FORMAT}`);
  }
  if (domain.length + 1 + path.length > NAME_TOTAL_MAX) {
    throw invalidRef(input, `repository name must not be more than ${NAME_TOTAL_MAX} characters`, 'use a shorter name');
  }
  if (tag !== undefined && !TAG_RE.test(tag)) {
    throw invalidRef(input, `invalid tag ${JSON.stringify(tag)}`,
      'a tag is 1 to 128 letters, digits, _ . or -, and does not start with . or -');
  }
  if (digest !== undefined && !isDigest(digest)) {
    throw invalidRef(input, `invalid digest ${JSON.stringify(digest)}`, 'a digest is sha256: followed by 64 lowercase hex digits');
  }
  const r: DockerReference = { domain, path };
  if (tag !== undefined) r.tag = tag;
  if (digest !== undefined) r.digest = digest as Digest;
  if (tag === undefined && digest === undefined) r.tag = 'latest';
  return r;
}

/**
 * Parse and normalise as `docker pull` does (containers/image ParseNormalizedNamed + TagNameOnly):
 * no domain → docker.io, a single docker.io component → library/, neither tag nor digest → :latest.
 * A reference with both a tag and a digest keeps both; the digest is what identifies the image.
 */
export function parseDockerReference(s: string): DockerReference {
  if (s === '') throw invalidRef(s, 'empty name');
  if (ID_RE.test(s)) {
    throw invalidRef(s, 'cannot specify 64-byte hexadecimal strings', 'that is an image ID; give it without a transport to use a local image');
  }
  const [given, rest] = splitDomain(s);
  let domain = given ?? DEFAULT_DOMAIN;
  let remainder = rest;
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_PREFIX + remainder;
  return parseRemainder(s, domain, remainder);
}

/** Full form: domain/path[:tag][@digest]. */
export function formatDockerReference(r: DockerReference): string {
  return `${r.domain}/${r.path}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest !== undefined ? `@${r.digest}` : ''}`;
}

/** For display, as Docker shows names: docker.io/library/alpine:latest → alpine:latest. */
export function familiarName(r: DockerReference): string {
  let name = `${r.domain}/${r.path}`;
  if (r.domain === DEFAULT_DOMAIN) {
    name = r.path;
    const parts = r.path.split('/');
    if (parts.length === 2 && parts[0] === 'library') name = parts[1]!;
  }
  return `${name}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest !== undefined ? `@${r.digest}` : ''}`;
}

/** domain/path, without tag or digest. */
export function repositoryOf(r: DockerReference): string {
  return `${r.domain}/${r.path}`;
}

/**
 * A name for the local store (commit and tag targets). Buildah puts names
 * without a registry under localhost/: 'busybox:1' → localhost/busybox:1,
 * 'a/b' → localhost/a/b:latest; 'quay.io/x/y' and 'docker.io/x' keep their registry.
 */
export function parseLocalName(s: string): DockerReference {
  if (s === '') throw invalidRef(s, 'empty name');
  if (ID_RE.test(s)) {
    throw invalidRef(s, 'cannot specify 64-byte hexadecimal strings', 'an image ID cannot be used as a name');
  }
  const [domain] = splitDomain(s);
  if (domain !== undefined) return parseDockerReference(s);
  return parseRemainder(s, 'localhost', s);
}

/** True for what a local lookup should treat only as an ID: a full 64-hex ID or `sha256:…`. */
function isIdOnly(s: string): boolean {
  return ID_RE.test(s) || (s.startsWith('sha256:') && ID_PREFIX_RE.test(s));
}

/**
 * Local-store lookup candidates for a user-typed name, in Buildah's order:
 * 'busybox:1' → ['localhost/busybox:1', 'docker.io/library/busybox:1']; a name
 * with a registry → just itself, normalised. A full ID or `sha256:…` gives []
 * (those are IDs, not names). Throws TbahError for an invalid name.
 */
export function localCandidates(s: string): string[] {
  if (isIdOnly(s)) return [];
  const [domain] = splitDomain(s);
  if (domain !== undefined) return [formatDockerReference(parseDockerReference(s))];
  return [formatDockerReference(parseLocalName(s)), formatDockerReference(parseDockerReference(s))];
}

/** 3..64 lowercase hex digits, optionally prefixed by `sha256:`. */
export function isImageIdPrefix(s: string): boolean {
  return ID_PREFIX_RE.test(s);
}

function requirePath(input: string, transport: string, path: string): void {
  if (path === '') {
    const tail = transport === 'docker-archive' ? '[:NAME:TAG]' : transport === 'dir' ? '' : '[:REF]';
    throw invalidRef(input, `${transport}: needs a path`, `write ${transport}:PATH${tail}`);
  }
}

/** oci:DIR[:ref] and oci-archive:FILE[:ref]; containers/image splits at the first ':' (a path cannot contain one). */
function parseOciLike(input: string, transport: 'oci' | 'oci-archive', within: string): ImageRef {
  const colon = within.indexOf(':');
  const path = colon >= 0 ? within.slice(0, colon) : within;
  const ref = colon >= 0 ? within.slice(colon + 1) : '';
  requirePath(input, transport, path);
  if (ref.startsWith('@')) {
    throw new TbahError('unsupported', `${JSON.stringify(input)}: selecting an image by index (${ref}) is not supported for ${transport}:`, {
      hint: `name the image by its ref, ${transport}:${path}:REF, or leave the ref out when the layout holds one image`,
    });
  }
  if (ref !== '' && !OCI_REF_RE.test(ref)) {
    throw invalidRef(input, `invalid ${transport} ref ${JSON.stringify(ref)}`,
      'a ref is letters and digits joined by - . _ : @ + or --, in /-separated parts, e.g. v1.0 or example.com/app:1');
  }
  return ref === '' ? { transport, path } : { transport, path, ref };
}

/** docker-archive:FILE[:name:tag] or docker-archive:FILE:@N (containers/image docker/archive ParseReference). */
function parseDockerArchive(input: string, within: string): ImageRef {
  const colon = within.indexOf(':');
  const path = colon >= 0 ? within.slice(0, colon) : within;
  requirePath(input, 'docker-archive', path);
  if (colon < 0) return { transport: 'docker-archive', path };
  const rest = within.slice(colon + 1);
  if (rest.startsWith('@')) {
    const n = rest.slice(1);
    if (!/^[0-9]+$/.test(n) || !Number.isSafeInteger(Number(n))) {
      throw invalidRef(input, `invalid source index ${JSON.stringify(rest)}`, 'an index is @ followed by a non-negative number, e.g. docker-archive:FILE:@0');
    }
    return { transport: 'docker-archive', path, index: Number(n) };
  }
  const ref = parseDockerReference(rest);
  if (ref.digest !== undefined) {
    throw invalidRef(input, 'docker-archive does not support digest references', 'give NAME:TAG, as in `docker save`');
  }
  return { transport: 'docker-archive', path, ref };
}

/**
 * `containers-storage:[driver@root+runroot:options]NAME`: an image in a
 * containers/storage store (Buildah's, Podman's), parsed as containers/image
 * does; the bracketed store is optional. NAME is an image name or a full ID.
 */
function parseContainersStorage(input: string, within: string): ImageRef {
  let rest = within;
  let store: StorageSpec | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw invalidRef(input, 'the store specification has no closing ]', 'write containers-storage:[DRIVER@ROOT+RUNROOT]NAME');
    const spec = rest.slice(1, close);
    rest = rest.slice(close + 1);
    store = parseStorageSpec(input, spec);
  }
  if (rest === '') throw invalidRef(input, 'containers-storage: needs an image name', 'write containers-storage:NAME');
  if (!ID_RE.test(rest.replace(/^sha256:/, ''))) localCandidates(rest); // validates the name
  return store === undefined ? { transport: 'containers-storage', name: rest } : { transport: 'containers-storage', name: rest, store };
}

/** containers/image's storage store specifier: `[driver@]root[+runroot][:options]`, paths absolute. */
function parseStorageSpec(input: string, spec: string): StorageSpec {
  const bad = (why: string): TbahError => invalidRef(input, why, 'write containers-storage:[DRIVER@/GRAPH/ROOT+/RUN/ROOT]NAME');
  if (spec === '') throw bad('empty store specification');
  let rest = spec;
  const out: StorageSpec = { spec };
  const at = rest.indexOf('@');
  if (at >= 0) {
    out.driver = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (out.driver === '' || rest === '') throw bad('a store specification with @ needs a driver and a root');
  }
  const colon = rest.indexOf(':');
  if (colon >= 0) rest = rest.slice(0, colon); // options: passed on untouched
  const plus = rest.indexOf('+');
  const root = plus >= 0 ? rest.slice(0, plus) : rest;
  const runRoot = plus >= 0 ? rest.slice(plus + 1) : '';
  for (const p of [root, runRoot]) if (p !== '' && !p.startsWith('/')) throw bad(`store path ${JSON.stringify(p)} is not absolute`);
  if (root !== '') out.root = root;
  if (runRoot !== '') out.runRoot = runRoot;
  return out;
}

/** `dir:PATH`: skopeo's directory format; the whole rest is the path (it may contain ':'). */
function parseDir(input: string, within: string): ImageRef {
  requirePath(input, 'dir', within);
  return { transport: 'dir', path: within };
}

function parseStoreName(input: string, name: string): ImageRef {
  if (name === '') throw invalidRef(input, 'empty name');
  // An ID prefix is valid as is; anything else must be a valid name (its normalised forms are looked up later).
  if (!isImageIdPrefix(name)) localCandidates(name);
  return { transport: 'store', name };
}

/**
 * Parse `[transport:]reference`. Without a transport prefix, a name means the
 * local store (`defaultTransport` 'store': from, commit, copy --from) or a
 * registry ('docker': push destinations, pull). `docker:` without `//` and
 * `HOST:PORT/…` are names, as in Buildah (so `docker:dind` is an image).
 */
export function parseImageRef(s: string, defaultTransport: 'store' | 'docker'): ImageRef {
  if (s === '') throw invalidRef(s, 'empty name');
  const colon = s.indexOf(':');
  const prefix = colon >= 0 ? s.slice(0, colon) : '';
  const within = s.slice(colon + 1);
  switch (prefix) {
    case 'docker':
      if (within.startsWith('//')) return { transport: 'docker', ref: parseDockerReference(within.slice(2)) };
      break; // `docker:TAG` is the image named docker
    case 'oci':
    case 'oci-archive':
      return parseOciLike(s, prefix as 'oci' | 'oci-archive', within);
    case 'docker-archive':
      return parseDockerArchive(s, within);
    case 'containers-storage':
      return parseContainersStorage(s, within);
    case 'dir':
      return parseDir(s, within);
    default:
      if (UNSUPPORTED_TRANSPORTS.has(prefix)) {
        throw new TbahError('unsupported', `${JSON.stringify(s)}: the ${prefix}: transport is not supported`, {
          hint: `use ${SUPPORTED_TRANSPORTS}`,
        });
      }
  }
  try {
    return defaultTransport === 'docker' ? { transport: 'docker', ref: parseDockerReference(s) } : parseStoreName(s, s);
  } catch (err) {
    if (prefix === 'docker') {
      throw invalidRef(s, 'a registry reference starts with docker://', 'write docker://[HOST[:PORT]/]NAME[:TAG]');
    }
    // `foo:/some/path` is not a name; the likeliest mistake is a transport we do not know.
    if (TRANSPORT_TOKEN_RE.test(prefix) && within.includes('/')) {
      throw new TbahError('invalid-reference', `${JSON.stringify(s)}: unknown transport ${JSON.stringify(prefix)}`, {
        hint: `use ${SUPPORTED_TRANSPORTS}`,
        cause: err,
      });
    }
    throw err;
  }
}

/** The inverse of parseImageRef; a store name is printed bare. */
export function formatImageRef(r: ImageRef): string {
  switch (r.transport) {
    case 'docker':
      return `docker://${formatDockerReference(r.ref)}`;
    case 'oci':
    case 'oci-archive':
      return `${r.transport}:${r.path}${r.ref !== undefined ? `:${r.ref}` : ''}`;
    case 'docker-archive':
      if (r.ref !== undefined) return `docker-archive:${r.path}:${formatDockerReference(r.ref)}`;
      if (r.index !== undefined) return `docker-archive:${r.path}:@${r.index}`;
      return `docker-archive:${r.path}`;
    case 'dir':
      return `dir:${r.path}`;
    case 'containers-storage':
      return `containers-storage:${r.store !== undefined ? `[${r.store.spec}]` : ''}${r.name}`;
    case 'store':
      return r.name;
  }
}

/**
 * Buildah's rule on a name (`imageNamePrefix` in new.go) with tbah's departure:
 * split on '/' *before* cutting the tag, so HOST:PORT/busybox:1 gives 'busybox', not 'HOST'.
 */
function prefixOfName(name: string): string {
  const noDigest = name.split('@')[0]!;
  const base = noDigest.slice(noDigest.lastIndexOf('/') + 1);
  const colon = base.indexOf(':');
  return colon >= 0 ? base.slice(0, colon) : base;
}

/**
 * The working-container name prefix for a source image: `<prefix>-working-container`.
 * Pass the image's first stored name when it has one (Buildah does); otherwise
 * the parsed source. Registry and store names give their last path component;
 * a full ID gives its first 12 hex digits; an oci/oci-archive ref gives its
 * last component; a source without a name gives the transport name
 * ('oci-archive-working-container', as Buildah). 'scratch' gives '' — the
 * caller names that container `working-container`.
 */
export function containerNamePrefix(source: ImageRef | string): string {
  let ref: ImageRef;
  if (typeof source === 'string') {
    try {
      ref = parseImageRef(source, 'store');
    } catch {
      return prefixOfName(source);
    }
  } else {
    ref = source;
  }
  switch (ref.transport) {
    case 'docker':
      return prefixOfName(ref.ref.path);
    case 'oci':
    case 'oci-archive':
      return ref.ref !== undefined ? prefixOfName(ref.ref) : ref.transport;
    case 'docker-archive':
      return ref.ref !== undefined ? prefixOfName(ref.ref.path) : 'docker-archive';
    case 'dir':
      return 'dir';
    case 'containers-storage':
      return isIdOnly(ref.name) ? ref.name.replace(/^sha256:/, '').slice(0, 12) : prefixOfName(ref.name);
    case 'store': {
      if (ref.name === 'scratch') return '';
      if (isIdOnly(ref.name)) return ref.name.replace(/^sha256:/, '').slice(0, 12);
      return prefixOfName(ref.name);
    }
  }
}
