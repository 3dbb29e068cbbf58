import { TbahError } from '../../core/errors.js';
import type { ImageFormat } from '../../core/oci.js';

export function formatOption(v: string): ImageFormat {
  if (v === 'oci') return 'oci';
  if (v === 'docker' || v === 'v2s2') return 'docker';
  throw new TbahError('invalid-argument', `--format ${v}: unknown image format`, { hint: 'use oci or docker' });
}
