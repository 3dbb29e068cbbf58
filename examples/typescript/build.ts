/**
 * Example 1's application image (base → runtime → app), built with tbah's
 * library instead of a Makefile and shell scripts: typed calls, no shell, no
 * tbah processes. It reads the same files as example 1 (../makefile) and makes
 * the same changes, so with the same SOURCE_DATE_EPOCH it produces the same
 * image IDs.
 *
 *   npx tsc -p examples/typescript && node examples/typescript/out/build.js [MAKEFILE_EXAMPLE_DIR]
 *
 * Environment: TBAH_ROOT (the store), SOURCE_DATE_EPOCH, NAMESPACE, VERSION,
 * VENDOR (as in the Makefile), BUSYBOX (default /bin/busybox), and REGISTRY
 * (host[:port]: push the three images there; TLS_VERIFY=false for plain http).
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Store, TbahError, type ConfigChanges, commitContainer, configureContainer, copyIntoContainer, createContainer,
  mountContainer, pushImage, removeContainer, umountContainer,
} from 'tbah';

const env = process.env;
const NAMESPACE = env['NAMESPACE'] ?? 'example';
const VERSION = env['VERSION'] ?? '1.0.0';
const VENDOR = env['VENDOR'] ?? 'Example Org';
const BUSYBOX = env['BUSYBOX'] ?? '/bin/busybox';
const sourceDateEpoch = env['SOURCE_DATE_EPOCH'] ? Number(env['SOURCE_DATE_EPOCH']) : undefined;
// out/build.js → examples/typescript → examples/makefile
const example1 = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'makefile'));

/** What one image of the hierarchy is: its parent, what it changes, its config. */
interface ImageStep {
  name: string;
  /** 'scratch' or the parent image's ID. */
  from: string;
  /** Changes made through the container's mounted root filesystem and `copy`. */
  build(ctr: string, rootfs: string): Promise<void>;
  config: ConfigChanges;
}

/** from → build → config → commit --rm; the container is removed if any step fails. Returns the image ID. */
async function buildImage(store: Store, step: ImageStep): Promise<string> {
  const ctr = await createContainer(store, { image: step.from });
  try {
    const { mountPoint } = await mountContainer(store, ctr.name);
    await step.build(ctr.name, mountPoint);
    await umountContainer(store, ctr.name);
    const { warnings } = await configureContainer(store, ctr.name, step.config, {});
    for (const w of warnings) console.error(`warning: ${w}`);
    const img = await commitContainer(store, {
      container: ctr.name, image: step.name, rm: true, ...(sourceDateEpoch !== undefined ? { sourceDateEpoch } : {}),
    });
    console.error(`${step.name}: ${img.id}`);
    return img.id;
  } catch (err) {
    await removeContainer(store, ctr.name).catch(() => undefined);
    throw err;
  }
}

/** busybox's own output (it exits 1 when it only prints its usage). */
function busybox(...args: string[]): string {
  return spawnSync(BUSYBOX, args, { encoding: 'utf8' }).stdout;
}

async function main(): Promise<void> {
  const store = await Store.open({});   // TBAH_ROOT, else the default store
  const copy = (ctr: string, src: string, dest: string): Promise<string> =>
    copyIntoContainer(store, { container: ctr, sources: [src], dest });
  // The CLI sets this umask so new directories are 0755; so do we.
  process.umask(0o022);

  const base = await buildImage(store, {
    name: `${NAMESPACE}/base:${VERSION}`,
    from: 'scratch',
    async build(ctr, root) {
      await copy(ctr, BUSYBOX, '/bin/busybox');
      await copy(ctr, path.join(example1, 'base', 'rootfs') + '/', '/');
      for (const applet of busybox('--list-full').split('\n').filter((a) => a !== '' && a !== 'bin/busybox')) {
        await fs.mkdir(path.join(root, path.dirname(applet)), { recursive: true });
        await fs.symlink('/bin/busybox', path.join(root, applet));
      }
      for (const d of ['root', 'var', 'home']) await fs.mkdir(path.join(root, d), { recursive: true, mode: 0o755 });
      await fs.chmod(path.join(root, 'root'), 0o700);
      await fs.mkdir(path.join(root, 'tmp'));
      await fs.chmod(path.join(root, 'tmp'), 0o1777);
    },
    config: {
      createdBy: `base: busybox ${busybox().split('\n')[0]!.split(' ')[1]}, applet links, accounts`,
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      cmd: '["/bin/sh"]',
      label: ['org.opencontainers.image.title=base', `org.opencontainers.image.vendor=${VENDOR}`, `org.opencontainers.image.version=${VERSION}`],
    },
  });

  const runtime = await buildImage(store, {
    name: `${NAMESPACE}/runtime:${VERSION}`,
    from: base,
    async build(ctr, root) {
      // Example 1 does this with `tbah run` and the image's shell; here it is plain file I/O on the mount.
      await fs.appendFile(path.join(root, 'etc/passwd'), 'app:x:10001:10001:web application:/srv/www:/bin/false\n');
      await fs.appendFile(path.join(root, 'etc/group'), 'app:x:10001:\n');
      await fs.mkdir(path.join(root, 'srv/www'), { recursive: true });
      await copy(ctr, path.join(example1, 'runtime', 'rootfs') + '/', '/');
    },
    config: {
      createdBy: 'runtime: busybox httpd, user app',
      user: '10001:10001',
      workingdir: '/srv/www',
      port: ['8080/tcp'],
      entrypoint: '["/usr/sbin/httpd", "-f", "-v", "-c", "/etc/httpd.conf"]',
      cmd: '["-p", "8080", "-h", "/srv/www"]',
      stopSignal: 'SIGTERM',
      label: ['org.opencontainers.image.title=runtime'],
    },
  });

  const app = await buildImage(store, {
    name: `${NAMESPACE}/app:${VERSION}`,
    from: runtime,
    async build(ctr) {
      await copy(ctr, path.join(example1, 'app', 'src') + '/', '/srv/www');
    },
    config: {
      createdBy: 'app: site and cgi-bin',
      label: [
        'org.opencontainers.image.title=hello-web',
        'org.opencontainers.image.description=Says hello over HTTP',
        `org.opencontainers.image.version=${VERSION}`,
        `org.opencontainers.image.vendor=${VENDOR}`,
        'org.opencontainers.image.licenses=Apache-2.0',
        'org.opencontainers.image.source=https://example.org/hello-web',
      ],
      env: ['GREETING=Hello from hello-web'],
      user: '10001:10001',
      workingdir: '/srv/www',
      port: ['8080/tcp'],
      entrypoint: '["/usr/sbin/httpd", "-f", "-v", "-c", "/etc/httpd.conf"]',
      cmd: '["-p", "8080", "-h", "/srv/www"]',
    },
  });

  const pushed: Record<string, string> = {};
  const registry = env['REGISTRY'];
  if (registry) {
    // In order, so runtime and app mount base's layers from its repository instead of uploading them.
    for (const name of ['base', 'runtime', 'app']) {
      const ref = `${NAMESPACE}/${name}:${VERSION}`;
      const r = await pushImage(store, { image: ref, dest: `docker://${registry}/${ref}`, tlsVerify: env['TLS_VERIFY'] !== 'false' });
      pushed[name] = r.manifestDigest;
    }
  }
  // stdout carries only the result, as the CLI's does.
  console.log(JSON.stringify({ base, runtime, app, pushed }));
}

main().catch((err: unknown) => {
  if (err instanceof TbahError) {
    console.error(`build: ${err.message}${err.hint ? `\nhint: ${err.hint}` : ''}`);
    process.exitCode = err.exitCode;
  } else {
    throw err;
  }
});
