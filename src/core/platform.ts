/**
 * Platform names as containers/image normalises what a user types
 * (libimage's platform.Normalize over containerd's platforms package):
 * `aarch64` → arm64, `x86_64` → amd64, `armhf` → arm/v7, `armel` → arm/v6,
 * `i386` → 386, a bare `arm` is v7, `arm64/v8` stays v8, lower case. Only the
 * parts the user gave are returned; the rest is left to the caller's default.
 */
import type { ImageConfig, Platform } from './oci.js';

/** containerd's normalizeArch. */
function normalizeArch(arch: string, variant: string): [string, string] {
  const a = arch.toLowerCase();
  let v = variant.toLowerCase();
  switch (a) {
    case 'i386':
      return ['386', ''];
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return ['amd64', v === 'v1' ? '' : v];
    case 'aarch64':
    case 'arm64':
      if (v === '8' || v === 'v8' || v === 'v8.0') v = '';
      else if (v === '9' || v === '9.0' || v === 'v9.0') v = 'v9';
      return ['arm64', v];
    case 'armhf':
      return ['arm', 'v7'];
    case 'armel':
      return ['arm', 'v6'];
    case 'arm':
      if (v === '' || v === '7') v = 'v7';
      else if (v === '5' || v === '6' || v === '8') v = `v${v}`;
      return ['arm', v];
    default:
      return [a, v];
  }
}

export function normalizePlatform(p: Partial<Platform>): Partial<Platform> {
  const out: Partial<Platform> = {};
  if (p.os !== undefined) out.os = p.os.toLowerCase() === 'macos' ? 'darwin' : p.os.toLowerCase();
  if (p.architecture !== undefined) {
    const [arch, norm] = normalizeArch(p.architecture, p.variant ?? '');
    // libimage parses the normalised form again: a variant the user gave that normalised away is v8 on arm64 (arm64/v8 stays v8).
    let variant = norm;
    if (variant === '' && arch === 'arm64' && p.variant !== undefined && p.variant !== '') variant = 'v8';
    out.architecture = arch;
    if (variant !== '') out.variant = variant;
  } else if (p.variant !== undefined && p.variant !== '') {
    out.variant = p.variant.toLowerCase();
  }
  return out;
}

/** Whether an image's config is of the platform asked for (parts not asked for match anything). */
export function platformMatches(cfg: Pick<ImageConfig, 'os' | 'architecture' | 'variant'>, want: Partial<Platform>): boolean {
  const w = normalizePlatform(want);
  const have = normalizePlatform({ os: cfg.os, architecture: cfg.architecture, ...(cfg.variant ? { variant: cfg.variant } : {}) });
  if (w.os !== undefined && have.os !== w.os) return false;
  if (w.architecture !== undefined && have.architecture !== w.architecture) return false;
  // An image that names no variant is taken to fit (amd64 and arm64 images rarely name one).
  if (w.variant !== undefined && cfg.variant !== undefined && have.variant !== w.variant) return false;
  return true;
}
