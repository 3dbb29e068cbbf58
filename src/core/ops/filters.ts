/**
 * `images --filter` and `containers --filter`, as Buildah 1.28 reads them
 * (containers/common libimage for images, cmd/buildah/containers.go for
 * containers). Pure: the caller gives the images, containers and a lookup.
 *
 * Image filters: `KEY=VALUE` or `KEY!=VALUE` (negated); filters with the same
 * key are ORed, different keys ANDed. Keys: dangling, intermediate, readonly,
 * manifest, containers (true|false), id (the full ID), label (KEY or
 * KEY=VALUE, `*` matches), reference (a path.Match pattern against the name
 * and its shorter forms), before, since/after (IMAGE), until (a time or a
 * duration ago).
 */
import { parseDuration } from '../duration.js';
import { TbahError } from '../errors.js';
import { matchPattern } from '../match/pattern.js';
import type { HistoryEntry } from '../oci.js';
import { parseDockerReference } from '../refs.js';

/** What the filters look at in an image. */
export interface FilterImage {
  /** `sha256:…` */
  id: string;
  names: string[];
  created: string | undefined;
  labels: Record<string, string>;
  diffIds: string[];
  history: HistoryEntry[];
  /** Whether a working container uses it. */
  inUse: boolean;
}

type Predicate = (img: FilterImage, all: readonly FilterImage[]) => boolean;

export interface ImageFilters {
  /** Predicates grouped by key: every group must have one that holds. */
  groups: Map<string, Predicate[]>;
}

const bad = (msg: string): TbahError => new TbahError('invalid-argument', msg, {
  hint: 'filters are KEY=VALUE (or KEY!=VALUE): dangling, intermediate, readonly, containers, id, label, reference, before, since, after, until',
});

/** strconv.ParseBool. */
function goBool(key: string, value: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  // Buildah's own text (with its swapped arguments).
  throw bad(`non-boolean value ${JSON.stringify(key)} for ${value} filter: strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`);
}

const time = (t: string | undefined): number => (t ? Date.parse(t) : Number.NEGATIVE_INFINITY);

/** Go time comparison at nanosecond precision for RFC 3339 strings of the same image set. */
function nanos(t: string | undefined): bigint {
  if (!t) return -(2n ** 62n);
  const m = /\.(\d+)/.exec(t);
  const frac = m ? BigInt(m[1]!.padEnd(9, '0').slice(0, 9)) : 0n;
  return BigInt(Math.floor(time(t.replace(/\.\d+/, '')) / 1000)) * 1_000_000_000n + frac;
}

function historiesMatch(a: HistoryEntry[], b: HistoryEntry[]): number {
  let i = 0;
  for (; i < a.length && i < b.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if ((x.created === undefined) !== (y.created === undefined)) return i;
    if (x.created !== undefined && nanos(x.created) !== nanos(y.created)) return i;
    if ((x.created_by ?? '') !== (y.created_by ?? '') || (x.author ?? '') !== (y.author ?? '') || (x.comment ?? '') !== (y.comment ?? '')) return i;
    if ((x.empty_layer ?? false) !== (y.empty_layer ?? false)) return i;
  }
  return i;
}

/**
 * libimage's parent/child test: the child has all of the parent's layers and
 * at most one more, and the parent's history plus exactly one entry.
 */
export function isChildOf(child: FilterImage, parent: FilterImage): boolean {
  if (child.id === parent.id) return false;
  const p = parent.diffIds;
  const c = child.diffIds;
  if (p.length > c.length || c.length - p.length > 1) return false;
  if ((p.length === 0) !== (c.length === 0)) return false; // empty images only relate to empty images
  if (p.some((d, i) => c[i] !== d)) return false;
  if (parent.history.length + 1 !== child.history.length) return false;
  return historiesMatch(parent.history, child.history) === parent.history.length;
}

const hasChildren = (img: FilterImage, all: readonly FilterImage[]): boolean => all.some((o) => isChildOf(o, img));

/** The forms of a name `reference=` patterns are matched against (libimage filterReferences). */
export function referenceCandidates(name: string): string[] {
  let r;
  try {
    r = parseDockerReference(name);
  } catch {
    return [name];
  }
  const full = `${r.domain}/${r.path}`;
  const suffix = `${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest !== undefined ? `@${r.digest}` : ''}`;
  const refString = full + suffix;
  const out = [refString, r.path, refString.slice(refString.lastIndexOf('/') + 1)];
  if (suffix !== '') out.push(full, r.path + suffix, full.slice(full.lastIndexOf('/') + 1));
  return out;
}

function matches(pattern: string, candidate: string): boolean {
  try {
    return matchPattern(pattern, candidate);
  } catch {
    return false; // libimage ignores path.Match's ErrBadPattern: no match
  }
}

/** containers/common filters.MatchLabelFilters for one filter value. */
export function matchLabel(filter: string, labels: Record<string, string>): boolean {
  const eq = filter.indexOf('=');
  const key = eq < 0 ? filter : filter.slice(0, eq);
  const want = eq < 0 ? '' : filter.slice(eq + 1);
  return Object.entries(labels).some(([k, v]) => (want === '' || v === want)
    && (k === key || (key.includes('*') && matches(`*${key}*`.replace(/\//g, '|'), k.replace(/\//g, '|')))));
}

/** containers/common timetype.GetTimestamp, for `until`: a duration ago, Unix seconds, or an RFC 3339 time. */
function untilTime(value: string, now: number): number {
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const parsed = Date.parse(value);
  if (!Number.isNaN(parsed) && /^\d{4}-\d\d-\d\d/.test(value)) return parsed;
  try {
    return now - parseDuration(value) / 1e6;
  } catch {
    throw bad(`invalid time reference ${JSON.stringify(value)} for the until filter`);
  }
}

/**
 * Parse `--filter` values (errors in Buildah's words). `lookup` finds the
 * image a `before`/`since` filter names (undefined: not known).
 */
export function parseImageFilters(specs: readonly string[], lookup: (ref: string) => FilterImage | undefined, now = Date.now()): ImageFilters {
  const groups = new Map<string, Predicate[]>();
  const seen = new Map<string, string>();
  const once = (key: string, value: string): void => {
    const prev = seen.get(key);
    if (prev !== undefined && prev !== value) throw bad(`specifying ${JSON.stringify(key)} filter more than once with different values is not supported`);
    seen.set(key, value);
  };
  for (const spec of specs) {
    let negate = false;
    let [key, value] = [spec, ''];
    const ne = spec.indexOf('!=');
    if (ne >= 0) {
      negate = true;
      [key, value] = [spec.slice(0, ne), spec.slice(ne + 2)];
    } else {
      const eq = spec.indexOf('=');
      if (eq < 0) throw bad(`invalid image filter ${JSON.stringify(spec)}: must be in the format "filter=value or filter!=value"`);
      [key, value] = [spec.slice(0, eq), spec.slice(eq + 1)];
    }
    let p: Predicate;
    const relative = (k: string): FilterImage => {
      const img = lookup(value);
      if (img === undefined) throw new TbahError('not-found', `could not find local image for filter filter ${JSON.stringify(k)}=${JSON.stringify(value)}: ${value}: image not known`, { hint: 'see `tbah images`' });
      return img;
    };
    switch (key) {
      case 'after': case 'since': {
        const ref = nanos(relative(key).created);
        key = 'since';
        p = (img) => nanos(img.created) > ref;
        break;
      }
      case 'before': {
        const ref = nanos(relative(key).created);
        p = (img) => nanos(img.created) < ref;
        break;
      }
      case 'until': {
        const t = untilTime(value, now);
        p = (img) => time(img.created) < t;
        break;
      }
      case 'dangling': {
        once(key, value);
        const want = goBool(key, value);
        p = (img, all) => (img.names.length === 0 && !hasChildren(img, all)) === want;
        break;
      }
      case 'intermediate': {
        once(key, value);
        const want = goBool(key, value);
        p = (img, all) => (img.names.length === 0 && hasChildren(img, all)) === want;
        break;
      }
      case 'readonly': {
        once(key, value);
        const want = goBool(key, value);
        p = () => want === false; // tbah has no read-only (additional) stores
        break;
      }
      case 'manifest': {
        once(key, value);
        const want = goBool(key, value);
        p = () => want === false; // tbah stores no manifest lists
        break;
      }
      case 'containers': {
        once(key, value);
        if (value !== 'true' && value !== 'false') throw bad(`unsupported value ${JSON.stringify(value)} for containers filter`);
        p = (img) => img.inUse === (value === 'true');
        break;
      }
      case 'id':
        p = (img) => img.id.replace(/^sha256:/, '') === value;
        break;
      case 'label':
        p = (img) => matchLabel(value, img.labels);
        break;
      case 'reference':
        p = (img) => img.names.some((n) => referenceCandidates(n).some((c) => matches(value, c)));
        break;
      default:
        throw bad(`unsupported image filter ${JSON.stringify(key)}`);
    }
    const pred = negate ? ((img: FilterImage, all: readonly FilterImage[]) => !p(img, all)) : p;
    groups.set(key, [...(groups.get(key) ?? []), pred]);
  }
  return { groups };
}

export function applyImageFilters<T extends FilterImage>(images: readonly T[], filters: ImageFilters): T[] {
  if (filters.groups.size === 0) return [...images];
  return images.filter((img) => [...filters.groups.values()].every((preds) => preds.some((p) => p(img, images))));
}

// ---- containers ----

export interface ContainerFilters { id?: string; name?: string; ancestor?: string }

/** What container filters look at. */
export interface FilterContainer {
  id: string;
  name: string;
  /** The base image's ID (64 hex, no prefix), '' for scratch. */
  imageId: string;
  /** The base image's name as listed. */
  imageName: string;
}

/** `--filter id=…,name=…,ancestor=…` (one value, comma-separated; the last of each key wins). */
export function parseContainerFilter(spec: string): ContainerFilters {
  const out: ContainerFilters = {};
  for (const param of spec.split(',')) {
    const eq = param.indexOf('=');
    if (eq < 0) {
      throw new TbahError('invalid-argument', `parsing filter: incorrect filter value ${JSON.stringify(param)}, should be of form filter=value`, { hint: 'container filters are id=PREFIX, name=TEXT, ancestor=IMAGE' });
    }
    const key = param.slice(0, eq).trim();
    const value = param.slice(eq + 1);
    if (key === 'id' || key === 'name' || key === 'ancestor') out[key] = value;
    else throw new TbahError('invalid-argument', `parsing filter: invalid filter ${JSON.stringify(param.slice(0, eq))}`, { hint: 'container filters are id=PREFIX, name=TEXT, ancestor=IMAGE' });
  }
  return out;
}

/** Buildah's matchesReference: the repository ends with the argument (and the tags are equal when one is given). */
function matchesReference(name: string, arg: string): boolean {
  if (arg === '') return true;
  const split = name.split(':');
  if (arg.includes(':')) {
    const a = arg.split(':');
    return (split[0] ?? '').endsWith(a[0]!) && split[1] === a[1];
  }
  return (split[0] ?? '').endsWith(arg);
}

export function matchContainer(c: FilterContainer, f: ContainerFilters): boolean {
  if (f.id && !c.id.startsWith(f.id)) return false;
  if (f.name && !c.name.includes(f.name)) return false;
  if (f.ancestor && !(c.imageId.startsWith(f.ancestor) || matchesReference(c.imageName, f.ancestor))) return false;
  return true;
}
