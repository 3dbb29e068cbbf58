/**
 * The pure part of `tbah commit` beyond the layer: the history it writes, the
 * config as written (identity label, `--unsetenv`) and the manifest
 * annotations (`--annotation`, `--unsetannotation`, the created and base
 * annotations), following Buildah (image.go's buildHistory and manifest
 * builders, cmd/buildah/commit.go).
 */
import { TbahError } from './errors.js';
import type { HistoryEntry, ImageConfig } from './oci.js';

/** tbah's own name for Buildah's `io.buildah.version` label. */
export const IDENTITY_LABEL = 'io.tbah.version';
export const CREATED_ANNOTATION = 'org.opencontainers.image.created';
export const BASE_NAME_ANNOTATION = 'org.opencontainers.image.base.name';
export const BASE_DIGEST_ANNOTATION = 'org.opencontainers.image.base.digest';

export interface HistoryParts {
  /** The container's history so far (the base image's, then earlier commits'). */
  base: readonly HistoryEntry[];
  /** `--squash`: the image gets only this commit's entries, as Buildah clears the history when squashing. */
  squash: boolean;
  /** `--add-history` entries recorded since the last commit (empty layers, before the commit's own). */
  pending: readonly HistoryEntry[];
  /** The commit's own entry (empty_layer when it added no layer). */
  own: HistoryEntry;
  /** Entries of the layers written after the commit's own (`--add-file`, `copy --link`), in layer order. */
  extra: readonly HistoryEntry[];
  /** With `--timestamp` or a source date epoch every new entry gets the commit's time (reproducible). */
  fixedCreated?: string;
  /** `FROM NAME`, added to the first new entry's comment (Buildah: on a commit over a base image). */
  fromComment?: string;
}

export function commitHistory(p: HistoryParts): HistoryEntry[] {
  const stamp = (h: HistoryEntry): HistoryEntry => (p.fixedCreated !== undefined ? { ...h, created: p.fixedCreated } : { ...h });
  const added = [...p.pending.map((h) => ({ ...stamp(h), empty_layer: true })), { ...p.own }, ...p.extra.map(stamp)];
  if (p.fromComment !== undefined) {
    const first = added[0]!;
    first.comment = first.comment ? `${first.comment} ${p.fromComment}` : p.fromComment;
  }
  return [...(p.squash ? [] : p.base.map((h) => ({ ...h }))), ...added];
}

/** Buildah's default `created_by`: `--created-by`, else the image's shell (Docker format), else `/bin/sh`. */
export function defaultCreatedBy(createdBy: string | undefined, cfg: ImageConfig): string {
  if (createdBy) return createdBy;
  const shell = cfg.config?.Shell ?? [];
  return shell.length > 0 ? shell.join(' ') : '/bin/sh';
}

export interface OutputConfigOptions {
  /** Add the identity label (`io.tbah.version`). */
  identityLabel?: { version: string };
  /** `--unsetenv`: names removed from the written image's Env. */
  unsetEnv?: readonly string[];
}

/** The config as this commit writes it; the container's own pending config is not changed by these. */
export function outputConfig(cfg: ImageConfig, o: OutputConfigOptions): ImageConfig {
  const out = structuredClone(cfg);
  if (o.identityLabel) {
    out.config ??= {};
    out.config.Labels = { ...(out.config.Labels ?? {}), [IDENTITY_LABEL]: o.identityLabel.version };
  }
  if (o.unsetEnv && o.unsetEnv.length > 0 && out.config?.Env) {
    const drop = new Set(o.unsetEnv);
    const env = out.config.Env.filter((e) => !drop.has(e.split('=', 1)[0]!));
    if (env.length > 0) out.config.Env = env;
    else delete out.config.Env;
  }
  return out;
}

/**
 * Whether the identity label is written: `--identity-label` given says so;
 * otherwise yes, unless the commit has a fixed time (`--timestamp`, a source
 * date epoch) — a label naming the tool's version would defeat reproducibility.
 */
export function wantIdentityLabel(flag: boolean | undefined, fixedTime: boolean): boolean {
  return flag ?? !fixedTime;
}

export interface AnnotationParts {
  /** The container's annotations (from `config --annotation`). */
  own: Readonly<Record<string, string>>;
  /** The base image, for `org.opencontainers.image.base.name`/`.base.digest` (left out when squashing). */
  base?: { name: string; digest?: string };
  /** Keys removed by `config --unsetannotation` earlier: never generated again. */
  unsetBefore?: readonly string[];
  /** The created time, for `org.opencontainers.image.created` (`--created-annotation=false`: undefined). */
  created?: string;
  /** `commit --unsetannotation`. */
  unset?: readonly string[];
  /** `commit --annotation K[=V]`. */
  set?: readonly string[];
}

/** The manifest annotations, in Buildah's order: the container's and the base's, created, then unset, then set. */
export function manifestAnnotations(p: AnnotationParts): Record<string, string> {
  const out: Record<string, string> = { ...p.own };
  const suppressed = new Set(p.unsetBefore ?? []);
  if (p.base) {
    if (!suppressed.has(BASE_NAME_ANNOTATION)) out[BASE_NAME_ANNOTATION] ??= p.base.name;
    if (p.base.digest !== undefined && !suppressed.has(BASE_DIGEST_ANNOTATION)) out[BASE_DIGEST_ANNOTATION] ??= p.base.digest;
  }
  if (p.created !== undefined) out[CREATED_ANNOTATION] = p.created;
  for (const k of p.unset ?? []) delete out[k];
  for (const kv of p.set ?? []) {
    const [k, v] = parseAnnotation(kv);
    out[k] = v;
  }
  return out;
}

/** `--annotation KEY[=VALUE]` → [key, value]; checked before a commit changes anything. */
export function parseAnnotation(kv: string): [string, string] {
  const eq = kv.indexOf('=');
  const k = eq < 0 ? kv : kv.slice(0, eq);
  if (k === '') throw new TbahError('invalid-argument', `--annotation ${JSON.stringify(kv)}: the key is empty`, { hint: 'use KEY=VALUE (or KEY for an empty value)' });
  return [k, eq < 0 ? '' : kv.slice(eq + 1)];
}

/** `--add-file SRC[:DEST]` (DEST defaults to SRC), DEST made absolute and clean. */
export function parseAddFile(spec: string): { source: string; dest: string } {
  const colon = spec.indexOf(':');
  const source = colon < 0 ? spec : spec.slice(0, colon);
  const dest = colon < 0 ? spec : spec.slice(colon + 1);
  if (source === '' || dest === '') {
    throw new TbahError('invalid-argument', `--add-file ${JSON.stringify(spec)}: expected SOURCE[:DESTINATION]`, { hint: 'e.g. --add-file ./LICENSE:/usr/share/doc/app/LICENSE' });
  }
  const clean = normalisePath(dest);
  if (clean === '/') throw new TbahError('invalid-argument', `--add-file ${JSON.stringify(spec)}: the destination must name a file, not /`);
  return { source, dest: clean };
}

function normalisePath(p: string): string {
  const parts: string[] = [];
  for (const c of p.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') parts.pop();
    else parts.push(c);
  }
  return `/${parts.join('/')}`;
}
