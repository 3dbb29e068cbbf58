/**
 * The pure part of `tbah config`: apply Buildah-style `config` flags to a
 * working container's pending image config. Returns a new value; the input is
 * never touched, so a bad flag anywhere leaves the container as it was.
 *
 * Buildah (cmd/buildah/config.go + config.go) is the contract, including the
 * order in which flags are applied. Where tbah differs, on purpose:
 * - an unset `$VAR` in `--env K=…` expands to "" with a warning (Buildah keeps
 *   the variable's name); an unterminated `${` is dropped with a warning;
 * - replacing an existing env var keeps its position (Buildah moves it last);
 * - `--cmd`/`--entrypoint`/`--shell`/`--healthcheck` values starting with `[`
 *   must be a JSON array of strings (Buildah falls back to word splitting and
 *   stores garbage such as `["[a,"]`);
 * - `--cmd` and friends refuse unquoted `;&|<>` (Buildah silently drops the
 *   rest of the line) — see shell-words.ts;
 * - `--shell` also takes a JSON array, as Dockerfile SHELL does (Buildah only
 *   splits words, so `["/bin/bash","-c"]` became one word);
 * - `--healthcheck 'CMD-SHELL …'` keeps the rest as one string, as Docker
 *   requires (Buildah splits it into words); keywords are case-insensitive;
 * - ports, volumes, stop signals, retries and durations are validated; `80`
 *   and `80/tcp` count as the same port for removal and de-duplication;
 * - `--healthcheck-start-interval` alone also creates a healthcheck (Buildah
 *   forgets that flag in its "any healthcheck flag set" test).
 */
import path from 'node:path';
import { TbahError } from './errors.js';
import type { ContainerConfig, HealthConfig, HistoryEntry, ImageConfig } from './oci.js';
import { parseDuration } from './duration.js';
import { splitShellWords } from './shell-words.js';

/** What a working container keeps besides the image config. */
export interface EditableImage {
  /** Superset: Docker-only fields (Healthcheck, OnBuild, Shell, Hostname, Domainname, top-level comment) are kept here; the committer drops them for OCI output. */
  config: ImageConfig;
  /** OCI manifest annotations. */
  annotations: Record<string, string>;
  /** `--created-by`: history created_by of the next commit. */
  createdBy?: string;
  /** `--history-comment`: history comment of the next commit. */
  historyComment?: string;
  /** `--add-history` entries of copy, add, run and config since the last commit (empty layers), in order. */
  pendingHistory?: HistoryEntry[];
  /** `copy --link` copies waiting for the next commit, where each becomes a layer of its own. */
  linked?: LinkedCopy[];
  /** Keys `config --unsetannotation` removed: a commit does not generate them again (`org.opencontainers.image.base.*`). */
  unsetAnnotations?: string[];
  /** Committed at least once: Buildah's `FROM <base>` history comment goes on the first commit only. */
  committed?: boolean;
}

/** A `copy --link`: its content staged in a directory of the container, not in the rootfs. */
export interface LinkedCopy {
  /** Directory name inside the container's directory. */
  dir: string;
  /** The history entry its layer gets (Buildah: `/bin/sh -c #(nop) COPY --link file:HEX in DEST `). */
  history: HistoryEntry;
}

/** One field per `buildah config` flag; list flags may repeat. `undefined` = flag not given. */
export interface ConfigChanges {
  cmd?: string; entrypoint?: string; env?: string[]; label?: string[]; annotation?: string[];
  port?: string[]; volume?: string[]; user?: string; workingdir?: string; stopSignal?: string;
  author?: string; createdBy?: string; comment?: string; historyComment?: string;
  arch?: string; os?: string; variant?: string; osVersion?: string; osFeature?: string[];
  shell?: string; healthcheck?: string; healthcheckInterval?: string; healthcheckRetries?: number | string;
  healthcheckStartPeriod?: string; healthcheckStartInterval?: string; healthcheckTimeout?: string;
  onbuild?: string[]; hostname?: string; domainname?: string;
  unsetLabel?: string[]; unsetAnnotation?: string[];
}

const q = (s: string): string => JSON.stringify(s);

function bad(flag: string, value: string, why: string, hint: string): TbahError {
  return new TbahError('invalid-argument', `${flag} ${q(value)}: ${why}`, { hint });
}

export function applyConfigChanges(
  img: EditableImage, ch: ConfigChanges, callerEnv: Record<string, string | undefined>,
): { image: EditableImage; warnings: string[] } {
  const out: EditableImage = structuredClone(img);
  const warnings: string[] = [];
  const ic = out.config;
  const hadContainerConfig = ic.config !== undefined;
  const c: ContainerConfig = ic.config ?? {};

  // Same order as Buildah's updateConfig.
  if (ch.author !== undefined) setOrDelete(ic, 'author', ch.author);
  if (ch.createdBy !== undefined) setOrDelete(out, 'createdBy', ch.createdBy);
  if (ch.arch !== undefined) ic.architecture = nonEmpty('--arch', ch.arch);
  if (ch.variant !== undefined) setOrDelete(ic, 'variant', ch.variant);
  if (ch.os !== undefined) ic.os = nonEmpty('--os', ch.os);
  if (ch.osFeature !== undefined) {
    const features = applyListEdits(ic['os.features'] ?? [], ch.osFeature, '--os-feature', (f) => f, (f) => f);
    if (features.length > 0) ic['os.features'] = features;
    else delete ic['os.features'];
  }
  if (ch.osVersion !== undefined) setOrDelete(ic, 'os.version', ch.osVersion);
  if (ch.user !== undefined) setOrDelete(c, 'User', ch.user);
  if (ch.shell !== undefined) {
    const shell = parseShell(ch.shell);
    if (shell.length > 0) c.Shell = shell;
    else delete c.Shell;
  }
  if (ch.stopSignal !== undefined) {
    if (ch.stopSignal !== '' && !isSignal(ch.stopSignal)) {
      throw bad('--stop-signal', ch.stopSignal, 'not a signal name or number',
        'use a name such as SIGTERM, TERM or SIGRTMIN+3, or a number from 1 to 64');
    }
    setOrDelete(c, 'StopSignal', ch.stopSignal);
  }
  if (ch.port !== undefined) setOrDeleteMap(c, 'ExposedPorts', applyPorts(c.ExposedPorts ?? {}, ch.port));
  if (ch.env !== undefined) {
    const env = applyEnv(c.Env ?? [], ch.env, callerEnv, warnings);
    if (env.length > 0) c.Env = env;
    else delete c.Env;
  }

  let entrypointForm: 'exec' | 'shell' | undefined;
  if (ch.entrypoint !== undefined) {
    const ep = parseEntrypoint(ch.entrypoint);
    if (ep === undefined) delete c.Entrypoint;
    else c.Entrypoint = ep.argv;
    entrypointForm = ep?.form;
  }
  if (ch.cmd !== undefined) {
    const cmd = parseCmd(ch.cmd);
    if (cmd === undefined) delete c.Cmd;
    else c.Cmd = cmd;
  }
  // Buildah's warnings. The exec-form one is only about an inherited cmd:
  // `--entrypoint '["x"]' --cmd '["y"]'` together is the normal idiom.
  const cmdNow = c.Cmd ?? [];
  if (entrypointForm === 'shell' && cmdNow.length > 0) {
    warnings.push(`cmd ${q(cmdNow.join(' '))} exists but will be ignored because of entrypoint settings`);
  } else if (entrypointForm === 'exec' && ch.cmd === undefined && cmdNow.length > 0) {
    warnings.push(`cmd ${q(cmdNow.join(' '))} exists and will be passed to entrypoint as a parameter`);
  }

  if (ch.volume !== undefined) setOrDeleteMap(c, 'Volumes', applyVolumes(c.Volumes ?? {}, ch.volume));
  applyHealthcheck(c, ch);
  if (ch.label !== undefined) setOrDeleteMap(c, 'Labels', applyKeyValues('--label', c.Labels ?? {}, ch.label));
  if (ch.unsetLabel !== undefined && c.Labels !== undefined) {
    const labels = { ...c.Labels };
    for (const k of ch.unsetLabel) delete labels[k];
    setOrDeleteMap(c, 'Labels', labels);
  }
  if (ch.unsetAnnotation !== undefined) {
    for (const k of ch.unsetAnnotation) delete out.annotations[k];
    out.unsetAnnotations = [...new Set([...(out.unsetAnnotations ?? []), ...ch.unsetAnnotation])];
  }
  if (ch.workingdir !== undefined) setOrDelete(c, 'WorkingDir', ch.workingdir);
  if (ch.comment !== undefined) setOrDelete(ic, 'comment', ch.comment);
  if (ch.historyComment !== undefined) setOrDelete(out, 'historyComment', ch.historyComment);
  if (ch.domainname !== undefined) setOrDelete(c, 'Domainname', ch.domainname);
  if (ch.hostname !== undefined) setOrDelete(c, 'Hostname', ch.hostname);
  if (ch.onbuild !== undefined) {
    for (const trigger of ch.onbuild) {
      if (trigger.trim() === '') throw bad('--onbuild', trigger, 'empty ONBUILD instruction', 'give an instruction such as "RUN make"');
    }
    c.OnBuild = [...(c.OnBuild ?? []), ...ch.onbuild];
  }
  if (ch.annotation !== undefined) {
    out.annotations = applyKeyValues('--annotation', out.annotations, ch.annotation);
    // Setting a key again takes back an earlier --unsetannotation of it.
    if (out.unsetAnnotations) {
      const left = out.unsetAnnotations.filter((k) => !(k in out.annotations));
      if (left.length > 0) out.unsetAnnotations = left;
      else delete out.unsetAnnotations;
    }
  }

  if (hadContainerConfig || Object.keys(c).length > 0) ic.config = c;
  return { image: out, warnings };
}

/**
 * The `created_by` of each history entry `config --add-history` records, in
 * Buildah's order and wording (`/bin/sh -c #(nop) ENV A=1`, one VOLUME or
 * ONBUILD entry per value), values as the user typed them. Buildah also adds
 * an `ENV` entry with nothing after it when no `--env` was given; tbah does not.
 */
export function configHistory(ch: ConfigChanges): string[] {
  const nop = (s: string): string => `/bin/sh -c #(nop) ${s}`;
  const out: string[] = [];
  if (ch.user !== undefined) out.push(nop(`USER ${ch.user}`));
  if (ch.shell !== undefined) out.push(nop(`SHELL ${ch.shell}`));
  if (ch.stopSignal !== undefined) out.push(nop(`STOPSIGNAL ${ch.stopSignal}`));
  if (ch.port !== undefined) out.push(nop(`EXPOSE ${ch.port.join(' ')}`));
  if (ch.env !== undefined) out.push(nop(`ENV ${ch.env.join(' ')}`));
  if (ch.entrypoint !== undefined) out.push(nop(`ENTRYPOINT ${ch.entrypoint}`));
  if (ch.cmd !== undefined) out.push(nop(`CMD ${ch.cmd}`));
  for (const v of ch.volume ?? []) out.push(nop(`VOLUME ${v}`));
  const hcFlags: [keyof ConfigChanges, string][] = [['healthcheckInterval', 'interval'], ['healthcheckRetries', 'retries'],
    ['healthcheckStartPeriod', 'start-period'], ['healthcheckStartInterval', 'start-interval'], ['healthcheckTimeout', 'timeout']];
  if (ch.healthcheck !== undefined || hcFlags.some(([k]) => ch[k] !== undefined)) {
    if (ch.healthcheck !== undefined && ch.healthcheck.trim() === '') out.push(nop('HEALTHCHECK NONE'));
    else out.push(nop(`HEALTHCHECK ${hcFlags.filter(([k]) => ch[k] !== undefined).map(([k, f]) => `--${f}=${String(ch[k])} `).join('')}${ch.healthcheck ?? ''}`));
  }
  if (ch.label !== undefined) out.push(nop(`LABEL ${ch.label.join(' ')}`));
  if (ch.workingdir !== undefined) out.push(nop(`WORKDIR ${ch.workingdir}`));
  for (const o of ch.onbuild ?? []) out.push(nop(`ONBUILD ${o}`));
  return out;
}

// ---- small helpers ----

/** `""` means "unset" for string fields, as Go's omitempty makes it. */
function setOrDelete<T extends object, K extends keyof T>(o: T, key: K, value: string): void {
  if (value === '') delete o[key];
  else (o as Record<K, string>)[key] = value;
}

function setOrDeleteMap<K extends 'ExposedPorts' | 'Volumes' | 'Labels'>(c: ContainerConfig, key: K, value: NonNullable<ContainerConfig[K]>): void {
  if (Object.keys(value).length > 0) c[key] = value;
  else delete c[key];
}

function nonEmpty(flag: string, value: string): string {
  if (value === '') throw bad(flag, value, 'must not be empty', 'an image config needs an architecture and an OS, e.g. amd64 and linux');
  return value;
}

/**
 * The `-` / `NAME-` / `NAME` convention of list flags: `-` clears, a trailing
 * `-` removes the entries whose identity matches, anything else is added unless
 * an entry with the same identity exists.
 */
function applyListEdits(
  current: string[], specs: string[], flag: string,
  identity: (entry: string) => string, validate: (spec: string) => string,
): string[] {
  let list = [...current];
  for (const spec of specs) {
    if (spec === '') throw bad(flag, spec, 'must not be empty', `give a value, NAME- to remove one, or - to remove all`);
    if (spec === '-') {
      list = [];
    } else if (spec.endsWith('-')) {
      const id = identity(spec.slice(0, -1));
      list = list.filter((e) => identity(e) !== id);
    } else {
      const entry = validate(spec);
      const id = identity(entry);
      if (!list.some((e) => identity(e) === id)) list.push(entry);
    }
  }
  return list;
}

function setOf(keys: string[]): Record<string, object> {
  return Object.fromEntries(keys.map((k) => [k, {}]));
}

// ---- ports and volumes ----

const PORT_RE = /^([0-9]+)(?:\/([A-Za-z]+))?$/;
const PROTOCOLS = new Set(['tcp', 'udp', 'sctp']);

/**
 * Stored as typed (Buildah does not add `/tcp`), except that the number loses
 * leading zeros and the protocol is lower-cased, as Docker's nat.NewPort does.
 */
function parsePort(spec: string): string {
  const m = PORT_RE.exec(spec);
  const hint = 'use PORT or PORT/PROTOCOL with PORT from 1 to 65535 and PROTOCOL tcp, udp or sctp, e.g. 8080 or 53/udp';
  if (!m) throw bad('--port', spec, 'not a port', hint);
  const n = Number(m[1]);
  if (n < 1 || n > 65535) throw bad('--port', spec, 'port number out of range', hint);
  const proto = m[2]?.toLowerCase();
  if (proto !== undefined && !PROTOCOLS.has(proto)) throw bad('--port', spec, `unknown protocol ${q(m[2]!)}`, hint);
  return proto === undefined ? String(n) : `${n}/${proto}`;
}

/** `80`, `080` and `80/tcp` name the same port (the OCI default protocol is tcp). */
function portIdentity(key: string): string {
  const m = PORT_RE.exec(key);
  if (!m) return key;
  return `${Number(m[1])}/${m[2]?.toLowerCase() ?? 'tcp'}`;
}

function applyPorts(current: Record<string, object>, specs: string[]): Record<string, object> {
  return setOf(applyListEdits(Object.keys(current), specs, '--port', portIdentity, parsePort));
}

function volumeIdentity(p: string): string {
  const n = path.posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

function applyVolumes(current: Record<string, object>, specs: string[]): Record<string, object> {
  return setOf(applyListEdits(Object.keys(current), specs, '--volume', volumeIdentity, (spec) => {
    if (!spec.startsWith('/')) throw bad('--volume', spec, 'must be an absolute path', 'e.g. --volume /data; PATH- removes one, - removes all');
    return spec;
  }));
}

// ---- labels and annotations ----

/** `K=V` sets, `K` sets "" (Buildah), `K-` removes, `-` removes all. */
function applyKeyValues(flag: string, current: Record<string, string>, specs: string[]): Record<string, string> {
  let map = { ...current };
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq >= 0) {
      const key = spec.slice(0, eq);
      if (key === '') throw bad(flag, spec, 'the key is empty', `use KEY=VALUE, KEY- to remove one, or - to remove all`);
      map[key] = spec.slice(eq + 1);
    } else if (spec === '-') {
      map = {};
    } else if (spec.endsWith('-')) {
      delete map[spec.slice(0, -1)];
    } else if (spec === '') {
      throw bad(flag, spec, 'the key is empty', `use KEY=VALUE, KEY- to remove one, or - to remove all`);
    } else {
      map[spec] = '';
    }
  }
  return map;
}

// ---- environment ----

function applyEnv(current: string[], specs: string[], callerEnv: Record<string, string | undefined>, warnings: string[]): string[] {
  let env = [...current];
  const lookup = (name: string): string | undefined => {
    const hit = env.find((e) => e.startsWith(`${name}=`));
    return hit === undefined ? undefined : hit.slice(name.length + 1);
  };
  // Replacing keeps the first occurrence's position and drops any duplicates after it.
  const set = (key: string, value: string): void => {
    const has = (e: string): boolean => e.startsWith(`${key}=`);
    const i = env.findIndex(has);
    if (i < 0) {
      env.push(`${key}=${value}`);
      return;
    }
    env = env.filter((e, j) => j <= i || !has(e));
    env[i] = `${key}=${value}`;
  };

  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq >= 0) {
      const key = spec.slice(0, eq);
      if (key === '') throw bad('--env', spec, 'the variable name is empty', 'use NAME=VALUE, NAME, NAME- or -');
      const value = expandVars(spec.slice(eq + 1), (name) => {
        const v = lookup(name);
        if (v === undefined) {
          warnings.push(`--env ${q(spec)}: $${name} is not set in the container's environment and expands to ""`
            + ' (only the container\'s own variables are expanded; let your shell expand host variables)');
        }
        return v ?? '';
      }, (text) => {
        warnings.push(`--env ${q(spec)}: malformed variable reference ${q(text)} dropped`);
      });
      set(key, value);
    } else if (spec === '-') {
      env = [];
    } else if (spec.endsWith('-')) {
      const key = spec.slice(0, -1);
      env = env.filter((e) => !e.startsWith(`${key}=`));
    } else if (spec === '') {
      throw bad('--env', spec, 'the variable name is empty', 'use NAME=VALUE, NAME, NAME- or -');
    } else {
      // Buildah: an empty value counts as no value.
      const value = callerEnv[spec];
      if (value === undefined || value === '') {
        throw new TbahError('invalid-argument', `--env ${q(spec)}: no value given for environment variable ${spec}`, {
          hint: `set ${spec} in the calling environment, or use --env ${spec}=VALUE`,
        });
      }
      set(spec, value);
    }
  }
  return env;
}

/**
 * Go's os.Expand: `$NAME` (letters, digits, `_`), `${ANYTHING}`, and the
 * one-character shell specials `$*`, `$#`, `$$`, `$@`, `$!`, `$?`, `$-`, `$0`-`$9`.
 * A `$` followed by anything else stays; `${` without `}` and `${}` are dropped.
 */
export function expandVars(s: string, mapping: (name: string) => string, onMalformed: (text: string) => void = () => {}): string {
  let buf = '';
  let i = 0;
  for (let j = 0; j < s.length; j++) {
    if (s[j] === '$' && j + 1 < s.length) {
      buf += s.slice(i, j);
      const [name, w] = shellName(s.slice(j + 1));
      if (name === '' && w > 0) onMalformed(s.slice(j, j + 1 + w));
      else if (name === '') buf += '$';
      else buf += mapping(name);
      j += w;
      i = j + 1;
    }
  }
  return buf + s.slice(i);
}

const isShellSpecial = (c: string | undefined): boolean => c !== undefined && c.length === 1 && '*#$@!?-0123456789'.includes(c);
const isAlnum = (c: string | undefined): boolean => c !== undefined && /^[A-Za-z0-9_]$/.test(c);

/** Go's getShellName: the name after a `$` and how many characters it took. */
function shellName(s: string): [string, number] {
  if (s[0] === '{') {
    if (s.length > 2 && isShellSpecial(s[1]) && s[2] === '}') return [s[1]!, 3];
    for (let i = 1; i < s.length; i++) {
      if (s[i] === '}') return i === 1 ? ['', 2] : [s.slice(1, i), i + 1];
    }
    return ['', 1];
  }
  if (isShellSpecial(s[0])) return [s[0]!, 1];
  let i = 0;
  while (i < s.length && isAlnum(s[i])) i++;
  return [s.slice(0, i), i];
}

// ---- commands ----

/** A value starting with `[` must be a JSON array of strings. */
function parseJsonArgv(flag: string, value: string): string[] {
  const hint = 'give a JSON array of strings such as \'["/bin/app","--flag"]\', or a plain string';
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch (err) {
    throw bad(flag, value, `not a valid JSON array (${(err as Error).message})`, hint);
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw bad(flag, value, 'must be a JSON array of strings', hint);
  }
  return v as string[];
}

/** `undefined` = clear. Buildah clears on blank input and on JSON `null`. */
function parseCmd(value: string): string[] | undefined {
  const t = value.trim();
  if (t === '' || t === 'null') return undefined;
  const argv = t.startsWith('[') ? parseJsonArgv('--cmd', value) : splitShellWords(value, '--cmd');
  return argv.length > 0 ? argv : undefined;
}

function parseEntrypoint(value: string): { argv: string[]; form: 'exec' | 'shell' } | undefined {
  const t = value.trim();
  if (t === '' || t === 'null') return undefined;
  if (t.startsWith('[')) {
    const argv = parseJsonArgv('--entrypoint', value);
    return argv.length > 0 ? { argv, form: 'exec' } : undefined;
  }
  return { argv: ['/bin/sh', '-c', value], form: 'shell' };
}

/** `[]` = clear. JSON array (as Dockerfile SHELL) or words (as Buildah). */
function parseShell(value: string): string[] {
  const t = value.trim();
  if (t === '') return [];
  return t.startsWith('[') ? parseJsonArgv('--shell', value) : splitShellWords(value, '--shell');
}

// ---- healthcheck ----

const SECOND = 1_000_000_000;
const MIN_DURATION = 1_000_000; // 1ms: Docker refuses shorter non-zero healthcheck durations

/**
 * The Test of a healthcheck; `[]` clears the whole healthcheck (Buildah).
 * `NONE` disables; `CMD a b` runs a b directly (words, as Buildah documents);
 * `CMD-SHELL text` runs text with the image's shell; a JSON array is stored as is.
 */
function parseHealthTest(value: string): string[] {
  const flag = '--healthcheck';
  const hint = 'use NONE, "CMD prog arg…", "CMD-SHELL shell command", a JSON array such as \'["CMD","prog"]\', or "" to remove';
  const t = value.trim();
  if (t === '') return [];
  if (t.startsWith('[')) {
    const argv = parseJsonArgv(flag, value);
    if (argv.length === 0) return [];
    const kind = argv[0]!;
    if (kind === 'NONE') return argv;
    if ((kind === 'CMD' || kind === 'CMD-SHELL') && argv.length > 1) return argv;
    throw bad(flag, value, 'must be ["NONE"], ["CMD", prog, args…] or ["CMD-SHELL", command]', hint);
  }
  const m = /^(\S+)\s*([\s\S]*)$/.exec(t)!;
  const keyword = m[1]!.toUpperCase();
  const rest = m[2]!;
  if (keyword === 'NONE') {
    if (rest !== '') throw bad(flag, value, 'NONE takes no command', hint);
    return ['NONE'];
  }
  if (keyword === 'CMD-SHELL') {
    if (rest === '') throw bad(flag, value, 'CMD-SHELL needs a command', hint);
    return ['CMD-SHELL', rest];
  }
  if (keyword === 'CMD') {
    const words = splitShellWords(t, flag).slice(1);
    if (words.length === 0) throw bad(flag, value, 'CMD needs a command', hint);
    return ['CMD', ...words];
  }
  throw bad(flag, value, 'must start with NONE, CMD or CMD-SHELL', hint);
}

function healthDuration(flag: string, value: string): number {
  const hint = 'use a Go duration such as 30s, 1m30s or 500ms; 0 means the default';
  const d = parseDuration(value, flag);
  if (d < 0) throw bad(flag, value, 'must not be negative', hint);
  if (d > 0 && d < MIN_DURATION) throw bad(flag, value, 'must be 0 or at least 1ms', hint);
  return d;
}

function parseRetries(value: number | string): number {
  const ok = typeof value === 'number' ? Number.isSafeInteger(value) && value >= 0 : /^[0-9]+$/.test(value);
  const n = Number(value);
  if (!ok || !Number.isSafeInteger(n)) {
    throw bad('--healthcheck-retries', String(value), 'not a whole number ≥ 0', 'e.g. --healthcheck-retries 3; 0 means the default');
  }
  return n;
}

function applyHealthcheck(c: ContainerConfig, ch: ConfigChanges): void {
  const touched = ch.healthcheck !== undefined || ch.healthcheckInterval !== undefined || ch.healthcheckRetries !== undefined
    || ch.healthcheckStartPeriod !== undefined || ch.healthcheckStartInterval !== undefined || ch.healthcheckTimeout !== undefined;
  if (!touched) return;
  // Buildah's starting point when the image has none.
  const hc: HealthConfig = c.Healthcheck // already a deep copy of the input
    ? { ...c.Healthcheck }
    : { Test: ['NONE'], Interval: 30 * SECOND, Timeout: 30 * SECOND, StartPeriod: 0, Retries: 3 };
  if (ch.healthcheck !== undefined) hc.Test = parseHealthTest(ch.healthcheck);
  if (ch.healthcheckInterval !== undefined) hc.Interval = healthDuration('--healthcheck-interval', ch.healthcheckInterval);
  if (ch.healthcheckRetries !== undefined) hc.Retries = parseRetries(ch.healthcheckRetries);
  if (ch.healthcheckStartPeriod !== undefined) hc.StartPeriod = healthDuration('--healthcheck-start-period', ch.healthcheckStartPeriod);
  if (ch.healthcheckStartInterval !== undefined) hc.StartInterval = healthDuration('--healthcheck-start-interval', ch.healthcheckStartInterval);
  if (ch.healthcheckTimeout !== undefined) hc.Timeout = healthDuration('--healthcheck-timeout', ch.healthcheckTimeout);
  if (hc.Test === undefined || hc.Test.length === 0) {
    delete c.Healthcheck;
    return;
  }
  // Docker's HealthConfig fields are omitempty: a zero is "use the default".
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const) {
    if (hc[k] === 0) delete hc[k];
  }
  c.Healthcheck = hc;
}

// ---- stop signal ----

const SIGNALS = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL',
  'PROF', 'PWR', 'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1',
  'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ', 'RTMIN', 'RTMAX',
]);

/** The Linux signals moby's signal.ParseSignal knows: a number 1–64 or a name, `SIG` optional, any case. */
function isSignal(s: string): boolean {
  if (/^[0-9]+$/.test(s)) {
    const n = Number(s);
    return n >= 1 && n <= 64;
  }
  let name = s.toUpperCase();
  if (name.startsWith('SIG')) name = name.slice(3);
  if (SIGNALS.has(name)) return true;
  const rt = /^RTMIN\+([0-9]+)$/.exec(name) ?? /^RTMAX-([0-9]+)$/.exec(name);
  if (!rt) return false;
  const n = Number(rt[1]);
  return name.startsWith('RTMIN') ? n >= 1 && n <= 15 : n >= 1 && n <= 14;
}
