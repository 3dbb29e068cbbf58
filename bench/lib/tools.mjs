// The tools under test, each with a private store on the benchmark file system. A tool is
// { name, argv(args) → command line, env, reset() }: the steps in run.mjs speak only this.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { readMounts, unmountReferencing } from './scratch-fs.mjs';

/** The environment every tool gets: the caller's, minus store overrides, with TMPDIR on the bench fs. */
export function baseEnv(tmpDir, extra = {}) {
  const env = { ...process.env };
  for (const k of ['TBAH_ROOT', 'CONTAINERS_STORAGE_CONF', 'STORAGE_DRIVER', 'STORAGE_OPTS', 'BUILDAH_LAYERS', 'BUILDAH_FORMAT']) delete env[k];
  return { ...env, TMPDIR: tmpDir, ...extra };
}

/**
 * tbah with one storage driver and its own store. The driver is chosen through
 * TBAH_STORAGE_DRIVER for every command (a `from` records it in the container); whether the build
 * really honours it is checked by `probeTbahDriver`, never assumed.
 */
export function tbahTool({ node, cli, root, tmpDir, driver, cpuProfDir }) {
  const env = baseEnv(tmpDir, { TBAH_ROOT: root, TBAH_STORAGE_DRIVER: driver });
  let profSeq = 0;
  return {
    name: `tbah-${driver}`,
    kind: 'tbah',
    driver,
    root,
    env,
    /** Set by the probe when only `from --storage-driver` (not the environment) selects the driver. */
    useFromFlag: false,
    argv(args) {
      if (this.useFromFlag && args[0] === 'from') args = ['from', '--storage-driver', driver, ...args.slice(1)];
      if (!cpuProfDir) return [node, cli, ...args];
      const tag = `${String(++profSeq).padStart(3, '0')}-${driver}-${args[0]}`;
      return [node, '--cpu-prof', `--cpu-prof-dir=${path.join(cpuProfDir, tag)}`, cli, ...args];
    },
    reset() {
      // Let tbah undo its own mounts (an overlay driver may mount outside its root), then any
      // mount left that points into the store, then the files.
      if (existsSync(path.join(root, 'oci-layout'))) spawnSync(node, [cli, 'rm', '--all'], { env, stdio: 'ignore' });
      const errs = unmountReferencing(root);
      if (errs.length) throw new Error(errs.join('\n'));
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

/** File system type of the mount whose mount point is exactly `dir`, or null when `dir` is no mount point. */
export function mountTypeAt(dir) {
  const want = realpathSync(dir);
  let type = null;
  for (const m of readMounts()) if (m.mountPoint === want) type = m.fsType; // the last one is on top
  return type;
}

/**
 * Does this tbah build really use `driver`? A container from an image with one layer is mounted:
 * the overlay driver must show a real overlay mount at the printed path, the dir driver a plain
 * directory; both must show the layer's file. Also records whether `from --storage-driver` is
 * accepted. Returns { ok, reason?, fromFlag, mountType }. Runs in a throw-away store.
 */
export async function probeTbahDriver(t, oneFile, run) {
  const x = async (args) => (await run(t, args)).stdout.trim();
  const out = { driver: t.driver, ok: false, fromFlag: null, selectedBy: null, mountType: null };
  t.reset();
  try {
    try {
      const c = await x(['from', '--storage-driver', t.driver, 'scratch']);
      out.fromFlag = 'accepted';
      await x(['rm', c]);
    } catch (err) {
      out.fromFlag = `refused: ${firstErrorLine(err)}`;
    }
    try {
      const c0 = await x(['from', 'scratch']);
      await x(['copy', c0, oneFile, '/probe.txt']);
      await x(['commit', c0, 'bench-probe']);
    } catch (err) {
      out.reason = `tbah does not work here: ${firstErrorLine(err)}`;
      return out;
    }
    // TBAH_STORAGE_DRIVER first; when the build ignores it but takes the flag, `from` gets the flag.
    const check = async (useFromFlag) => {
      t.useFromFlag = useFromFlag;
      const how = useFromFlag ? `from --storage-driver ${t.driver}` : `TBAH_STORAGE_DRIVER=${t.driver}`;
      let c1;
      try {
        c1 = await x(['from', 'bench-probe']);
      } catch (err) {
        return `from with ${how} failed: ${firstErrorLine(err)}`;
      }
      const mp = await x(['mount', c1]);
      out.mountType = mountTypeAt(mp);
      const sees = existsSync(path.join(mp, 'probe.txt'));
      await x(['umount', c1]);
      await x(['rm', c1]);
      if (!sees) return `the mounted rootfs ${mp} lacks the image's file`;
      if (t.driver === 'overlay' && out.mountType !== 'overlay') {
        return `${how} was accepted but the container's rootfs is ${out.mountType ? `a ${out.mountType} mount` : 'a plain directory'}, not an overlay mount (this build ignores the setting)`;
      }
      if (t.driver === 'dir' && out.mountType === 'overlay') return `${how} gave an overlay mount`;
      out.selectedBy = how;
      return null;
    };
    let reason = await check(false);
    if (reason && out.fromFlag === 'accepted') reason = (await check(true)) && reason;
    if (reason) {
      t.useFromFlag = false;
      out.reason = reason;
    } else out.ok = true;
    return out;
  } finally {
    t.reset();
  }
}

function firstErrorLine(err) {
  const lines = String(err.message).split('\n').map((l) => l.trim()).filter(Boolean);
  return (lines.find((l) => /error|unknown|invalid|not /i.test(l) && !l.startsWith('/')) ?? lines.at(-1) ?? '').slice(0, 300);
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
      const errs = unmountReferencing(dir);
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
