import { TbahError } from '../../core/errors.js';
import type { ImageFormat } from '../../core/oci.js';

export function formatOption(v: string): ImageFormat {
  if (v === 'oci') return 'oci';
  if (v === 'docker' || v === 'v2s2') return 'docker';
  throw new TbahError('invalid-argument', `--format ${v}: unknown image format`, { hint: 'use oci or docker' });
}

/** A repeatable flag Buildah declares as a string slice: every use adds its comma-separated values (`--unsetenv A,B`). */
export function collectList(value: string, prev: string[] = []): string[] {
  return [...prev, ...value.split(',')];
}

/** Buildah's BUILDAH_HISTORY: the default of `--add-history` ("true" or "1"). */
export function addHistoryDefault(flag: boolean | undefined): boolean {
  if (flag !== undefined) return flag;
  const v = process.env.BUILDAH_HISTORY ?? '';
  return v.toLowerCase() === 'true' || v === '1';
}
