/**
 * Image assembly, pure: the config as written for a format, and the manifest
 * over a list of layers. Used by commit, push and inspect alike.
 */
import {
  type Descriptor, type ImageConfig, type ImageFormat, type ImageManifest,
  configMediaType, layerCompression, layerMediaType, manifestMediaType,
} from './oci.js';
import type { LayerRef } from './store/containers.js';

/** RFC 3339 as Go's RFC3339Nano writes it: trailing zeros of the fraction dropped, no fraction when it is zero. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.?0*Z$/, 'Z');
}

/** OCI configs do not carry Docker-only fields; Docker ones keep them. */
export function configForFormat(cfg: ImageConfig, format: ImageFormat): ImageConfig {
  const out = structuredClone(cfg);
  if (format === 'oci') {
    delete out.comment;
    delete out.docker_version;
    if (out.config) {
      delete out.config.Healthcheck;
      delete out.config.OnBuild;
      delete out.config.Shell;
      delete out.config.Hostname;
      delete out.config.Domainname;
    }
  }
  return out;
}

/** Build the manifest for `layers` in `format`; layer blobs are the same bytes either way. */
export function buildManifest(format: ImageFormat, config: Descriptor, layers: LayerRef[], annotations: Record<string, string>): ImageManifest {
  const m: ImageManifest = {
    schemaVersion: 2,
    mediaType: manifestMediaType(format),
    config: { mediaType: configMediaType(format), digest: config.digest, size: config.size },
    layers: layers.map((l) => ({
      mediaType: layerMediaType(format, layerCompression(l.descriptor.mediaType)),
      digest: l.descriptor.digest,
      size: l.descriptor.size,
    })),
  };
  if (format === 'oci' && Object.keys(annotations).length > 0) m.annotations = annotations;
  return m;
}
