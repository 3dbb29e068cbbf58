// The tools under test, each with a private store on the benchmark file system. A tool is
// { name, argv(args) → command line, env, reset() }: the steps in run.mjs speak only this.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { unmountBelow } from './scratch-fs.mjs';

/** The environment every tool gets: the caller's, minus store overrides, with TMPDIR on the bench fs. */
export function baseEnv(tmpDir, extra = {}) {
  const env = { ...process.env };
  for (const k of ['TBAH_ROOT', 'CONTAINERS_STORAGE_CONF', 'STORAGE_DRIVER', 'STORAGE_OPTS', 'BUILDAH_LAYERS', 'BUILDAH_FORMAT']) delete env[k];
  return { ...env, TMPDIR: tmpDir, ...extra };
}

export function tbahTool({ node, cli, root, tmpDir, cpuProfDir }) {
  const env = baseEnv(tmpDir, { TBAH_ROOT: root });
  let profSeq = 0;
  return {
    name: 'tbah',
    kind: 'tbah',
    root,
    env,
    argv(args) {
      if (!cpuProfDir) return [node, cli, ...args];
      const tag = `${String(++profSeq).padStart(3, '0')}-${args[0]}`;
      return [node, '--cpu-prof', `--cpu-prof-dir=${path.join(cpuProfDir, tag)}`, cli, ...args];
    },
    reset() {
      rmSync(root, { recursive: true, force: true });
      mkdirSync(root, { recursive: true });
    },
    /** Layer descriptors of a stored image (tbah's store is an OCI layout). */
    storedLayers(name) {
      const index = JSON.parse(readFileSync(path.join(root, 'index.json'), 'utf8'));
      const want = name.includes('/') ? name : `localhost/${name}:latest`;
      const d = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === want);
      if (!d) return null;
      return readManifest(root, d.digest).layers;
    },
  };
}

export function buildahTool({ driver, dir, tmpDir }) {
  const root = path.join(dir, 'root');
  const runroot = path.join(dir, 'run');
  const conf = path.join(dir, 'storage.conf');
  // A private storage.conf, so nothing from the host's containers config leaks into the numbers.
  const writeConf = () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(conf, `[storage]\ndriver = "${driver}"\ngraphroot = "${root}"\nrunroot = "${runroot}"\n`);
  };
  writeConf();
  const env = baseEnv(tmpDir, { BUILDAH_RUNTIME: 'runc', CONTAINERS_STORAGE_CONF: conf });
  const global = ['--root', root, '--runroot', runroot, '--storage-driver', driver];
  const tool = {
    name: `buildah-${driver}`,
    kind: 'buildah',
    driver,
    root,
    env,
    argv: (args) => ['buildah', ...global, ...args],
    reset() {
      // Containers first (unmounts overlay rootfs), then any mount storage left, then the files.
      spawnSync('buildah', [...global, 'rm', '--all'], { env, stdio: 'ignore' });
      const errs = unmountBelow(dir);
      if (errs.length) throw new Error(errs.join('\n'));
      rmSync(dir, { recursive: true, force: true });
      writeConf();
    },
    /** Layer descriptors of the manifest containers-storage keeps for an image. */
    storedLayers(name) {
      const r = spawnSync('buildah', [...global, 'inspect', '--type', 'image', name], { env, encoding: 'utf8' });
      if (r.status !== 0) return null;
      const info = JSON.parse(r.stdout);
      return JSON.parse(info.Manifest).layers;
    },
    /** `buildah info` store section: driver status (native overlay diff etc.). */
    info() {
      const r = spawnSync('buildah', [...global, 'info'], { env, encoding: 'utf8' });
      if (r.status !== 0) return { error: (r.stderr || '').trim() };
      try {
        const j = JSON.parse(r.stdout);
        return { GraphDriverName: j.store?.GraphDriverName, GraphStatus: j.store?.GraphStatus };
      } catch { return { raw: r.stdout.slice(0, 2000) }; }
    },
  };
  return tool;
}

export function readManifest(layoutDir, digest) {
  const [alg, hex] = digest.split(':');
  return JSON.parse(readFileSync(path.join(layoutDir, 'blobs', alg, hex), 'utf8'));
}

/** Layers of the (single) image in an OCI layout directory. */
export function layoutLayers(layoutDir) {
  const index = JSON.parse(readFileSync(path.join(layoutDir, 'index.json'), 'utf8'));
  return readManifest(layoutDir, index.manifests[0].digest).layers;
}

/** Compact description of layers: media type, size, digest prefix. */
export function describeLayers(layers) {
  if (!layers) return null;
  return layers.map((l) => ({ mediaType: l.mediaType, size: l.size, digest: l.digest }));
}
