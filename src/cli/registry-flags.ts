/**
 * The flags every registry-touching command shares (`--tls-verify`,
 * `--cert-dir`, `--creds`, `--authfile`, the platform flags, `--pull`), in
 * Buildah's spelling, turned into the core's RegistryOptions.
 */
import type { Command } from 'commander';
import { TbahError } from '../core/errors.js';
import type { Platform } from '../core/oci.js';
import type { PullPolicy } from '../core/ops/import.js';
import type { RegistryOptions } from '../core/transports/registry.js';

/**
 * Go's flag package lets booleans take `=value` and gives `--pull` a value
 * only after `=`; commander does neither, so those spellings are rewritten
 * before parsing (flags only: never past `--`, never in `run`'s command).
 */
export function normaliseArgv(argv: string[]): string[] {
  const out = argv.slice(0, 2);
  let i = 2;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--' || a === 'run') break;
    const tls = /^--tls-verify=(.*)$/.exec(a);
    if (tls) out.push(goBool('--tls-verify', tls[1]!) ? '--tls-verify' : '--no-tls-verify');
    else if (a === '--pull' || a === '--pull-always') out.push('--pull=always');
    else if (a === '--pull-never') out.push('--pull=never');
    else out.push(a);
  }
  return out.concat(argv.slice(i));
}

function goBool(flag: string, v: string): boolean {
  if (/^(1|t|true)$/i.test(v)) return true;
  if (/^(0|f|false)$/i.test(v)) return false;
  throw new TbahError('invalid-argument', `${flag}=${v}: not a boolean`, { hint: `write ${flag}=true or ${flag}=false` });
}

export interface RegistryFlags {
  tlsVerify?: boolean;
  certDir?: string;
  creds?: string;
  authfile?: string;
}

export interface PlatformFlags {
  platform?: string;
  arch?: string;
  os?: string;
  variant?: string;
}

export function addRegistryFlags(cmd: Command): Command {
  return cmd
    .option('--tls-verify', 'require HTTPS and verified certificates (default; --tls-verify=false allows http and unverified TLS)')
    .option('--no-tls-verify', 'same as --tls-verify=false')
    .option('--cert-dir <dir>', 'directory with ca.crt (extra CAs) and client.cert/client.key')
    .option('--creds <user:password>', 'credentials for the registry (instead of the auth file)')
    .option('--authfile <file>', 'auth file to read (default: $REGISTRY_AUTH_FILE, then containers and Docker auth files)');
}

export function addPlatformFlags(cmd: Command): Command {
  return cmd
    .option('--platform <os/arch[/variant]>', 'platform to choose from a multi-platform image (default: this host)')
    .option('--arch <arch>', 'architecture to choose (e.g. arm64)')
    .option('--os <os>', 'operating system to choose (e.g. linux)')
    .option('--variant <variant>', 'architecture variant to choose (e.g. v7)');
}

export function addPullFlag(cmd: Command, dflt: PullPolicy): Command {
  return cmd.option('--pull <policy>', `when to pull: always, missing, never or newer (default ${dflt}; bare --pull means always)`, pullPolicy);
}

export function pullPolicy(v: string): PullPolicy {
  const p = ({ always: 'always', true: 'always', missing: 'missing', never: 'never', false: 'never', newer: 'newer', ifnewer: 'newer' } as Record<string, PullPolicy>)[v.toLowerCase()];
  if (p === undefined) throw new TbahError('invalid-argument', `--pull ${v}: unknown pull policy`, { hint: 'use always, missing, never or newer' });
  return p;
}

/**
 * RegistryOptions for the core from parsed flags: a bad --creds and a missing
 * --authfile fail here, before any work, whatever the command then does (Buildah checks the file first too).
 */
export async function registryOptions(o: RegistryFlags): Promise<RegistryOptions> {
  const { checkAuthFile, parseCreds } = await import('../core/transports/registry.js');
  await checkAuthFile(o.authfile);
  return {
    ...(o.tlsVerify !== undefined ? { tlsVerify: o.tlsVerify } : {}),
    ...(o.certDir !== undefined ? { certDir: o.certDir } : {}),
    ...(o.creds !== undefined ? { credentials: parseCreds(o.creds) } : {}),
    ...(o.authfile !== undefined ? { authFile: o.authfile } : {}),
  };
}

/** `--platform linux/arm64/v8` and `--os/--arch/--variant` (the latter win), as Buildah. */
export function platformOption(o: PlatformFlags): Partial<Platform> | undefined {
  const p: Partial<Platform> = {};
  if (o.platform !== undefined) {
    const parts = o.platform.split('/');
    if (parts.length < 2 || parts.length > 3 || parts.some((x) => x === '')) {
      throw new TbahError('invalid-argument', `--platform ${o.platform}: expected OS/ARCH[/VARIANT]`, { hint: 'e.g. --platform linux/arm64' });
    }
    p.os = parts[0]!;
    p.architecture = parts[1]!;
    if (parts[2] !== undefined) p.variant = parts[2];
  }
  if (o.os !== undefined) p.os = o.os;
  if (o.arch !== undefined) p.architecture = o.arch;
  if (o.variant !== undefined) p.variant = o.variant;
  return Object.keys(p).length > 0 ? p : undefined;
}
