/**
 * The examples in examples/, run as a reader runs them: their own scripts and
 * Makefiles, with `tbah` on PATH (a wrapper around this build's bin/tbah.js),
 * each in a copy of its directory and a private store, pushing to a real local
 * registry (Debian's docker-registry on 127.0.0.1). Each test asserts what the
 * example's README claims, reading the images back from the store (`tbah from`
 * + `tbah mount`, as host tools would) and from the registry (manifests).
 *
 * The sizes, layer counts and the no-op `make` time are printed as test
 * diagnostics (`# example …`).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync, chownSync, cpSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Sandbox, hasCommand, repoRoot, tbahBin } from '../helpers/cli.js';
import { type TestRegistry, freePort, startRegistry } from '../helpers/registry.js';

const root = process.getuid?.() === 0;
const examples = path.join(repoRoot, 'examples');
/** Fixed, so builds are reproducible and the TypeScript build can be compared with the Makefile's. */
const SOURCE_DATE_EPOCH = '1700000000';

/** A tool the example needs: in CI (where scripts/install-deps.sh installed it) its absence fails the test. */
function needs(...tools: string[]): string | false {
  if (!root) return 'needs root (tbah run with an OCI runtime)';
  const missing = tools.filter((t) => !hasCommand(t));
  if (missing.length === 0) return false;
  if (process.env['CI']) throw new Error(`examples need ${missing.join(', ')}: scripts/install-deps.sh should have installed them`);
  return `needs ${missing.join(', ')} (bash scripts/install-deps.sh installs them)`;
}

interface Ran { status: number; stdout: string; stderr: string; ms: number }

/** One example's world: a copy of its directory, a store, `tbah` on PATH. */
class ExampleRun {
  readonly sb = new Sandbox('tbah-example-');
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  constructor(example: string, extraEnv: Record<string, string> = {}) {
    this.dir = this.sb.path(example);
    cpSync(path.join(examples, example), this.dir, { recursive: true, verbatimSymlinks: true });
    // What a hand run may have left in the source tree is not part of the example.
    for (const stale of ['build', 'out', 'hello']) rmSync(path.join(this.dir, stale), { recursive: true, force: true });
    const bin = this.sb.path('bin');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'tbah'), `#!/bin/sh\nexec "${process.execPath}" "${tbahBin}" "$@"\n`);
    chmodSync(path.join(bin, 'tbah'), 0o755);
    this.env = {
      ...process.env, PATH: `${bin}:${process.env['PATH'] ?? '/usr/bin:/bin'}`, TBAH_ROOT: this.sb.store, NO_COLOR: '1',
      SOURCE_DATE_EPOCH, ...extraEnv,
    };
  }

  run(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Ran {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { cwd: opts.cwd ?? this.dir, env: { ...this.env, ...opts.env }, encoding: 'utf8', maxBuffer: 64 << 20 });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, ms };
  }

  ok(cmd: string, args: string[], opts: Parameters<ExampleRun['run']>[2] = {}): Ran {
    const r = this.run(cmd, args, opts);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  }

  tbah(...args: string[]): string {
    return this.ok('tbah', args).stdout.trim();
  }

  /** The uncompressed size `tbah images` reports for a name. */
  size(name: string): string {
    const all = JSON.parse(this.tbah('images', '--json')) as Array<{ names: string[] | null; size: string }>;
    return all.find((i) => i.names?.includes(`localhost/${name}`))?.size ?? '?';
  }

  /** The files of an image as host tools see them: a container from it, mounted. Removed after `fn`. */
  withRootfs<T>(image: string, fn: (rootfs: string, ctr: string) => T): T {
    const ctr = this.tbah('from', '--quiet', image);
    try {
      return fn(this.tbah('mount', ctr), ctr);
    } finally {
      this.tbah('umount', ctr);
      this.tbah('rm', ctr);
    }
  }

  cleanup(): void {
    this.sb.cleanup();
  }
}

/** Every path under `rootfs`, relative, sorted. */
function listTree(rootfs: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const n of readdirSync(path.join(rootfs, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      out.push(r);
      if (lstatSync(path.join(rootfs, r)).isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

interface RegistryImage { layers: number; compressed: number; manifest: { layers: Array<{ size: number; digest: string }>; config: { size: number; digest: string } } }

/** An image's manifest from the registry: layer count and compressed size (config + layers). */
async function fromRegistry(reg: TestRegistry, repo: string, tag: string, basic?: string): Promise<RegistryImage> {
  const r = await fetch(`${reg.url}/v2/${repo}/manifests/${tag}`, {
    headers: {
      accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
      ...(basic !== undefined ? { authorization: `Basic ${Buffer.from(basic).toString('base64')}` } : {}),
    },
  });
  assert.equal(r.status, 200, `${repo}:${tag} is in the registry`);
  const manifest = await r.json() as RegistryImage['manifest'];
  const compressed = manifest.config.size + manifest.layers.reduce((s, l) => s + l.size, 0);
  return { layers: manifest.layers.length, compressed, manifest };
}

/** The digest the registry gives a manifest (Docker-Content-Digest). */
async function manifestDigest(reg: TestRegistry, repo: string, tag: string, basic: string): Promise<string | null> {
  const r = await fetch(`${reg.url}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json', authorization: `Basic ${Buffer.from(basic).toString('base64')}` },
  });
  return r.headers.get('docker-content-digest');
}

function kb(n: number): string {
  return `${(n / 1024).toFixed(1)} KiB`;
}

describe('examples', { concurrency: false }, () => {
  let reg: TestRegistry;
  before(async () => {
    if (root && hasCommand('docker-registry')) reg = await startRegistry();
  });
  after(async () => {
    await reg?.stop();
  });

  describe('1. Makefile image hierarchy', { skip: needs('make', 'runc', 'docker-registry') }, () => {
    let ex!: ExampleRun;
    before(() => { ex = new ExampleRun('makefile'); });
    const stamps = ['base', 'runtime', 'app', 'debug'];
    const stamp = (i: string): string => path.join(ex.dir, 'build', `${i}.iid`);
    const mtimes = (): Record<string, number> => Object.fromEntries(stamps.map((i) => [i, statSync(stamp(i)).mtimeMs]));
    after(() => ex?.cleanup());

    test('make -j4 from an empty store: all four images; runtime and debug built beside each other', (t) => {
      const r = ex.ok('make', ['-j4']);
      const order = r.stdout.split('\n').filter((l) => l.includes('/build.sh')).map((l) => l.split('/')[1]);
      assert.deepEqual([...order].sort(), ['app', 'base', 'debug', 'runtime'], r.stdout);
      assert.equal(order[0], 'base');
      // Serial make would go base, runtime, app, debug; with -j4 debug starts while runtime builds.
      assert.ok(order.indexOf('debug') < order.indexOf('app'), `debug built in parallel with runtime: ${order.join(', ')}`);
      for (const i of stamps) assert.match(readFileSync(stamp(i), 'utf8'), /^sha256:[0-9a-f]{64}$/);
      const names = ex.tbah('images', '--format', '{{.Name}}:{{.Tag}}').split('\n').sort();
      assert.deepEqual(names, stamps.map((i) => `localhost/example/${i}:1.0.0`).sort());
      assert.equal(ex.tbah('containers', '--quiet'), '', 'no working container left behind');
      t.diagnostic(`example 1 make -j4 (empty store): ${(r.ms / 1000).toFixed(1)} s`);
    });

    test('a second make does nothing', (t) => {
      const before = mtimes();
      const images = ex.tbah('images', '--quiet', '--no-trunc');
      const r = ex.ok('make', []);
      assert.match(r.stdout, /Nothing to be done for 'all'/);
      assert.doesNotMatch(r.stdout, /build\.sh/);
      assert.equal(ex.run('make', ['-q']).status, 0, 'make -q: everything is up to date');
      assert.deepEqual(mtimes(), before);
      assert.equal(ex.tbah('images', '--quiet', '--no-trunc'), images);
      const times = [0, 1, 2, 3, 4].map(() => ex.ok('make', []).ms).sort((a, b) => a - b);
      t.diagnostic(`example 1 no-op make: median ${times[2]!.toFixed(0)} ms (5 runs)`);
    });

    test("touching the app's source rebuilds only the app image (to the same ID: reproducible)", () => {
      const before = mtimes();
      const appId = readFileSync(stamp('app'), 'utf8');
      const src = path.join(ex.dir, 'app', 'src', 'index.html');
      writeFileSync(src, readFileSync(src)); // a save without a change: newer mtime, same bytes
      assert.ok(statSync(src).mtimeMs > before['app']!, 'the source is now newer than the app stamp');
      const r = ex.ok('make', []);
      assert.deepEqual(r.stdout.split('\n').filter((l) => l.includes('/build.sh')).map((l) => l.split(' ')[0]), ['./app/build.sh']);
      const after = mtimes();
      for (const i of ['base', 'runtime', 'debug']) assert.equal(after[i], before[i], `${i} not rebuilt`);
      assert.ok(after['app']! > before['app']!, 'app rebuilt');
      assert.equal(readFileSync(stamp('app'), 'utf8'), appId, 'same inputs, same SOURCE_DATE_EPOCH: same image ID');
      assert.match(ex.ok('make', []).stdout, /Nothing to be done/);

      // A real change gives a new app image and leaves the others alone.
      writeFileSync(src, readFileSync(src, 'utf8').replace('<h1>hello-web</h1>', '<h1>hello-web 2</h1>'));
      ex.ok('make', []);
      assert.notEqual(readFileSync(stamp('app'), 'utf8'), appId);
      for (const i of ['base', 'runtime', 'debug']) assert.equal(mtimes()[i], before[i]);
    });

    test('the app image: labels, non-root user, workdir, entrypoint and cmd; it serves HTTP', async () => {
      const cfg = JSON.parse(ex.tbah('inspect', '--type', 'image', 'example/app:1.0.0')) as { OCIv1: { config: Record<string, unknown>; history: Array<{ created_by: string }> } };
      const c = cfg.OCIv1.config;
      assert.equal(c['User'], '10001:10001');
      assert.equal(c['WorkingDir'], '/srv/www');
      assert.deepEqual(c['Entrypoint'], ['/usr/sbin/httpd', '-f', '-v', '-c', '/etc/httpd.conf']);
      assert.deepEqual(c['Cmd'], ['-p', '8080', '-h', '/srv/www']);
      assert.deepEqual(c['ExposedPorts'], { '8080/tcp': {} });
      const labels = c['Labels'] as Record<string, string>;
      assert.equal(labels['org.opencontainers.image.title'], 'hello-web');
      assert.equal(labels['org.opencontainers.image.version'], '1.0.0');
      assert.equal(labels['org.opencontainers.image.vendor'], 'Example Org');
      assert.deepEqual(cfg.OCIv1.history.map((h) => h.created_by.split(':')[0]), ['base', 'runtime', 'app']);

      const ctr = ex.tbah('from', '--quiet', 'example/app:1.0.0');
      try {
        const hello = ex.ok('tbah', ['run', ctr, '--', '/srv/www/cgi-bin/hello']).stdout;
        assert.match(hello, /^Content-Type: text\/plain\r\n\r\nHello from hello-web, served as app from /);
        assert.equal(ex.ok('tbah', ['run', ctr, '--', 'sh', '-c', 'id -u; pwd']).stdout, '10001\n/srv/www\n');
        // The image's own entrypoint, on a free loopback port (run shares the host's network by default).
        const port = await freePort();
        const entrypoint = c['Entrypoint'] as string[];
        const server: ChildProcess = spawn('tbah', ['run', ctr, '--', ...entrypoint, '-p', `127.0.0.1:${port}`, '-h', '/srv/www'], {
          env: ex.env, stdio: ['ignore', 'ignore', 'pipe'],
        });
        let serverErr = '';
        server.stderr?.on('data', (d: Buffer) => { serverErr += d.toString(); });
        const exited = new Promise<number | null>((r) => server.once('exit', (code) => r(code)));
        try {
          let page = '';
          for (let i = 0; i < 100 && page === '' && server.exitCode === null; i++) {
            page = await fetch(`http://127.0.0.1:${port}/cgi-bin/hello`).then((r) => r.text(), () => '');
            if (page === '') await new Promise((r) => setTimeout(r, 100));
          }
          assert.match(page, /^Hello from hello-web, served as app from /, `httpd: ${serverErr}`);
          assert.match(await (await fetch(`http://127.0.0.1:${port}/`)).text(), /<title>hello-web<\/title>/);
        } finally {
          server.kill('SIGTERM');
          await exited;
        }
      } finally {
        ex.tbah('rm', ctr);
      }
    });

    test('make push: to the registry, base layers mounted across repositories; a second push does nothing', async (t) => {
      const flags = [`REGISTRY=${reg.host}`, 'PUSH_FLAGS=--tls-verify=false'];
      const r = ex.ok('make', ['push', ...flags]);
      assert.match(r.stderr, /mounted from another repository/, 'runtime, app and debug mount the base layer instead of uploading it');
      for (const i of stamps) assert.match(readFileSync(path.join(ex.dir, 'build', `${i}.pushed`), 'utf8'), /^sha256:[0-9a-f]{64}/);
      assert.match(ex.ok('make', ['push', ...flags]).stdout, /Nothing to be done for 'push'/);
      for (const i of stamps) {
        const img = await fromRegistry(reg, `example/${i}`, '1.0.0');
        assert.equal(img.manifest.config.digest, readFileSync(stamp(i), 'utf8'));
        assert.equal(img.layers, { base: 1, runtime: 2, debug: 2, app: 3 }[i]);
        t.diagnostic(`example 1 image ${i}: ${img.layers} layers, ${kb(img.compressed)} compressed, ${ex.size(`example/${i}:1.0.0`)}`);
      }
    });

    test('CI recipe (examples/ci/build-and-push.sh): unprivileged, a fresh store, credentials from a secret, base layers mounted', async (t) => {
      // The organisation's registry, with credentials; the runtime image is published there once.
      const password = 'token-from-the-secret-store';
      const secure = await startRegistry({ users: { ci: password } });
      const job = ex.sb.path('ci-job');
      try {
        ex.ok('tbah', ['push', '--tls-verify=false', '--creds', `ci:${password}`, 'example/runtime:1.0.0', `docker://${secure.host}/org/runtime:1.0.0`]);
        mkdirSync(path.join(job, 'site'), { recursive: true });
        writeFileSync(path.join(job, 'site', 'index.html'), '<title>team app</title>\n');
        // A Kubernetes dockerconfigjson Secret, as `kubectl create secret docker-registry` writes it.
        writeFileSync(path.join(job, 'dockerconfig.json'), JSON.stringify({
          auths: { [secure.host]: { username: 'ci', password, auth: Buffer.from(`ci:${password}`).toString('base64') } },
        }));
        chmodSync(ex.sb.dir, 0o755);
        for (const p of [job, path.join(job, 'site'), path.join(job, 'site', 'index.html'), path.join(job, 'dockerconfig.json')]) chownSync(p, 65534, 65534);
        const script = path.join(ex.sb.path('ci'), 'build-and-push.sh');
        cpSync(path.join(examples, 'ci'), ex.sb.path('ci'), { recursive: true });
        const common = {
          PATH: ex.env['PATH']!, HOME: job, NO_COLOR: '1', TLS_VERIFY: 'false', REGISTRY: secure.host, REVISION: 'abc123',
          BASE_IMAGE: `${secure.host}/org/runtime:1.0.0`,
        };
        // As a CI job with no privileges: uid 65534, no capabilities.
        const asJob = (env: Record<string, string>): Ran => {
          const r = spawnSync('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', '--inh-caps=-all', 'sh', script], {
            cwd: job, encoding: 'utf8', env: { ...common, ...env },
          });
          assert.equal(r.status, 0, r.stderr);
          return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, ms: 0 };
        };
        // GitHub Actions / GitLab CI: the password from the secret store, on stdin.
        const a = asJob({ IMAGE: `${secure.host}/team/app:1`, REGISTRY_USER: 'ci', REGISTRY_PASSWORD: password, DIGEST_FILE: 'a.digest' });
        // Kubernetes / Tekton: a fresh store and the Secret's auth file, no login.
        const b = asJob({ IMAGE: `${secure.host}/team-b/app:2`, REGISTRY_AUTH_FILE: path.join(job, 'dockerconfig.json'), DIGEST_FILE: 'b.digest', TBAH_ROOT: path.join(job, 'store-b') });
        for (const [r, repo, tag, digestFile] of [[a, 'team/app', '1', 'a.digest'], [b, 'team-b/app', '2', 'b.digest']] as const) {
          // Both base layers mounted from org/runtime; only the new layer (and the config) uploaded.
          assert.equal((r.stderr.match(/mounted from another repository/g) ?? []).length, 2, r.stderr);
          assert.equal((r.stderr.match(/^Copying blob \S+ done$/gm) ?? []).length, 1, r.stderr);
          const digest = readFileSync(path.join(job, digestFile), 'utf8');
          assert.equal(r.stdout, `pushed ${secure.host}/${repo}:${tag}@${digest}\n`);
          assert.equal(await manifestDigest(secure, repo, tag, `ci:${password}`), digest);
          const img = await fromRegistry(secure, repo, tag, `ci:${password}`);
          assert.equal(img.layers, 3);
        }
        assert.equal(lstatSync(path.join(job, '.tbah', 'auth.json')).mode & 0o077, 0, 'the auth file login wrote is private');
        t.diagnostic('ci recipe: two unprivileged jobs pushed team/app and team-b/app, each mounting the 2 base layers and uploading 1');
      } finally {
        await secure.stop();
      }
    });

    describe('5. TypeScript build script (the same app image through the library)', { skip: needs('make') }, () => {
      test('compiles with the repo tsc, builds base → runtime → app with the same IDs as make, and pushes', async (t) => {
        // Compiled inside the repository (build/ is ignored), where `import 'tbah'` resolves to this package.
        const out = path.join(repoRoot, 'build', 'examples', 'typescript');
        ex.ok(process.execPath, [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(examples, 'typescript'), '--outDir', out]);
        // The same names as make's: a commit's history names its base image (`FROM NAME`), so the
        // image IDs match only for the same names. Pushed to the same repositories: the same images.
        const ts = new ExampleRun('typescript', { NAMESPACE: 'example', REGISTRY: reg.host, TLS_VERIFY: 'false' });
        try {
          // Example 1's files as the Makefile last built them (the test above changed index.html).
          const r = ts.ok(process.execPath, [path.join(out, 'build.js'), ex.dir]);
          const ids = JSON.parse(r.stdout) as { base: string; runtime: string; app: string; pushed: Record<string, string> };
          for (const i of ['base', 'runtime', 'app'] as const) assert.equal(ids[i], readFileSync(stamp(i), 'utf8'), `${i}: same image ID as make's`);
          assert.equal(ts.tbah('containers', '--quiet'), '', 'no container left behind');
          const app = await fromRegistry(reg, 'example/app', '1.0.0');
          assert.equal(app.manifest.config.digest, ids.app);
          assert.equal(app.layers, 3);
          t.diagnostic(`example 5 (TypeScript) app: ${app.layers} layers, ${kb(app.compressed)} compressed, ${ts.size('example/app:1.0.0')}, ${(r.ms / 1000).toFixed(1)} s`);
        } finally {
          ts.cleanup();
        }
      });
    });
  });

  describe('2. Minimal image with host tools', { skip: needs('make', 'cc', 'runc', 'docker-registry') }, () => {
    let ex!: ExampleRun;
    before(() => { ex = new ExampleRun('static-c'); });
    after(() => ex?.cleanup());

    test('a static binary installed with make install DESTDIR=$(tbah mount): one file, one layer, no shell; it runs', async (t) => {
      const r = ex.ok('./build.sh', [], { env: { REGISTRY: reg.host, PUSH_FLAGS: '--tls-verify=false' } });
      assert.match(r.stdout, /^Hello, tbah! \(pid 1, uid 65534, from a one-file image\)$/m, 'the smoke test ran in the container');
      const files = ex.withRootfs('example/hello-static:1', (rootfs, ctr) => {
        assert.equal(ex.ok('tbah', ['run', ctr, '--', '/usr/local/bin/hello']).stdout, 'Hello, world! (pid 1, uid 65534, from a one-file image)\n');
        const sh = ex.run('tbah', ['run', ctr, '--', '/bin/sh', '-c', 'true']);
        assert.equal(sh.status, 127, 'no shell in the image');
        return listTree(rootfs);
      });
      assert.deepEqual(files, ['usr', 'usr/local', 'usr/local/bin', 'usr/local/bin/hello']);
      const img = await fromRegistry(reg, 'example/hello-static', '1');
      assert.equal(img.layers, 1);
      assert.ok(img.compressed < 512 * 1024, `well under 1 MB: ${img.compressed} bytes compressed`);
      const inspect = JSON.parse(ex.tbah('inspect', '--type', 'image', 'example/hello-static:1')) as { OCIv1: { config: Record<string, unknown> } };
      assert.deepEqual(inspect.OCIv1.config['Entrypoint'], ['/usr/local/bin/hello']);
      assert.equal(inspect.OCIv1.config['User'], '65534:65534');
      t.diagnostic(`example 2 hello-static: ${img.layers} layer, ${kb(img.compressed)} compressed, ${ex.size('example/hello-static:1')}, the binary ${kb(statSync(path.join(ex.dir, 'hello')).size)}`);
    });
  });

  describe('3. Multi-stage without a Dockerfile', { skip: needs('runc', 'docker-registry') }, () => {
    let ex!: ExampleRun;
    before(() => { ex = new ExampleRun('multi-stage'); });
    after(() => ex?.cleanup());

    test('the builder makes the site, copy --from takes only the output, the builder is gone', async (t) => {
      const r = ex.ok('./build.sh', [], { env: { REGISTRY: reg.host, PUSH_FLAGS: '--tls-verify=false' } });
      assert.match(r.stdout, /built 5 files into \/out\/www/);
      assert.equal(ex.tbah('containers', '--quiet'), '', 'the builder (and the final container) are removed');
      assert.notEqual(ex.run('tbah', ['inspect', '--type', 'container', 'handbook-builder']).status, 0);
      const files = ex.withRootfs('example/handbook:1', (rootfs, ctr) => {
        const index = readFileSync(path.join(rootfs, 'srv/www/index.html'), 'utf8');
        assert.match(index, /<a href="on-call.html">On call<\/a>/);
        assert.match(index, /<a href="releases.html">Releases<\/a>/);
        assert.match(readFileSync(path.join(rootfs, 'srv/www/releases.html'), 'utf8'), /&lt;never by rebuilding>/);
        // The checksums the builder wrote hold in the final image.
        assert.match(ex.ok('tbah', ['run', '--workingdir', '/srv/www', ctr, '--', '/bin/busybox', 'sha256sum', '-c', 'SHA256SUMS']).stdout, /index.html: OK/);
        return listTree(rootfs);
      });
      assert.deepEqual(files, [
        'bin', 'bin/busybox', 'srv', 'srv/www', 'srv/www/SHA256SUMS', 'srv/www/index.html', 'srv/www/on-call.html', 'srv/www/releases.html', 'srv/www/style.css',
      ], 'only the artifact and busybox: no /src, no build script, no /out, no applet links');
      const img = await fromRegistry(reg, 'example/handbook', '1');
      assert.equal(img.layers, 1);
      t.diagnostic(`example 3 handbook: ${img.layers} layer, ${kb(img.compressed)} compressed, ${ex.size('example/handbook:1')}`);
    });
  });

  describe('4. Bring your own config management (Ansible)', { skip: needs('ansible-playbook', 'python3', 'runc', 'docker-registry') }, () => {
    let ex!: ExampleRun;
    before(() => { ex = new ExampleRun('ansible'); });
    after(() => ex?.cleanup());

    test('a playbook applied through the tbah connection, committed: its users and files are in the image, Ansible and Python are not', async (t) => {
      const tmpBefore = readdirSync('/tmp').filter((f) => f.startsWith('tbah-ansible-'));
      const r = ex.ok('./build.sh', [], { env: { REGISTRY: reg.host, PUSH_FLAGS: '--tls-verify=false' } });
      assert.match(r.stdout, /ok=7 +changed=7 +unreachable=0 +failed=0/);
      assert.doesNotMatch(r.stdout + r.stderr, /\[WARNING\]/);
      assert.equal(ex.tbah('containers', '--quiet'), '');
      assert.deepEqual(readdirSync('/tmp').filter((f) => f.startsWith('tbah-ansible-')), tmpBefore, 'the plugin removed its temp directories');

      ex.withRootfs('example/ledger:1', (rootfs, ctr) => {
        const f = (p: string): string => readFileSync(path.join(rootfs, p), 'utf8');
        const st = (p: string): { mode: string; uid: number; gid: number } => {
          const s = lstatSync(path.join(rootfs, p));
          return { mode: (s.mode & 0o7777).toString(8), uid: s.uid, gid: s.gid };
        };
        assert.match(f('etc/passwd'), /^ledger:[^:]*:20001:20001::\/var\/lib\/ledger:\/bin\/false$/m);
        assert.match(f('etc/group'), /^ledger:x:20001:$/m);
        assert.deepEqual(st('var/lib/ledger'), { mode: '755', uid: 20001, gid: 20001 });
        assert.deepEqual(st('etc/ledger'), { mode: '750', uid: 0, gid: 20001 });
        assert.deepEqual(st('etc/ledger/ledger.conf'), { mode: '640', uid: 0, gid: 20001 });
        assert.match(f('etc/ledger/ledger.conf'), /^listen = 0\.0\.0\.0:9090\nlog_level = info\nstate_dir = \/var\/lib\/ledger$/m);
        assert.deepEqual(st('usr/local/bin/ledger-start'), { mode: '755', uid: 0, gid: 0 });
        assert.equal(f('etc/motd'), 'ledger image, configured by Ansible\n');
        // What the play borrowed or left in temp places never reached the image.
        const tree = listTree(rootfs);
        for (const p of ['run', 'root/.ansible', 'usr/lib', 'usr/share', 'lib', 'lib64']) assert.ok(!tree.includes(p), `no /${p} in the image`);
        assert.ok(!tree.some((p) => /python/.test(p)), 'no Python in the image');
        // The service runs as its user and can read its config (group ledger).
        assert.equal(ex.ok('tbah', ['run', ctr, '--', 'sh', '-c', 'id -un; pwd; grep listen /etc/ledger/ledger.conf']).stdout, 'ledger\n/var/lib/ledger\nlisten = 0.0.0.0:9090\n');
      });
      const img = await fromRegistry(reg, 'example/ledger', '1');
      assert.equal(img.layers, 1);
      assert.deepEqual(JSON.parse(ex.tbah('images', '--json')).map((i: { names: string[] | null }) => i.names), [['localhost/example/ledger:1']], 'no other image left in the store');
      t.diagnostic(`example 4 ledger: ${img.layers} layers, ${kb(img.compressed)} compressed, ${ex.size('example/ledger:1')}, build ${(r.ms / 1000).toFixed(1)} s`);
    });
  });

  describe('Dockerfile translation (docs/dockerfile-to-tbah.md)', { skip: needs('buildah', 'umoci', 'runc') }, () => {
    let ex!: ExampleRun;
    const layouts: string[] = [];
    before(() => { ex = new ExampleRun('dockerfile'); });
    after(() => {
      ex?.cleanup();
      for (const l of layouts) rmSync(l, { recursive: true, force: true });
    });

    test('build.sh and `buildah bud` of the same Dockerfile: the same config, the same files (less Buildah run traces)', () => {
      // A busybox base both builds start from, as an OCI layout (buildah reads it with FROM oci:…).
      const b = ex.tbah('from', 'scratch');
      ex.tbah('copy', '-q', b, '/bin/busybox', '/bin/busybox');
      ex.ok('tbah', ['run', b, '--', '/bin/busybox', 'sh', '-c', '/bin/busybox --install -s /bin && mkdir -p /etc /tmp /usr/sbin && ln -s /bin/busybox /usr/sbin/httpd && echo root:x:0:0:root:/root:/bin/sh > /etc/passwd && echo root:x:0: > /etc/group']);
      ex.tbah('config', '--env', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', b);
      ex.tbah('commit', '--rm', '--quiet', b, 'base:1');
      // Buildah 1.28 names an image read from oci:DIR after DIR, which must then be lower case.
      const layout = path.join(os.tmpdir(), `tbah-example-base-${randomBytes(6).toString('hex')}`);
      layouts.push(layout);
      ex.ok('tbah', ['push', 'base:1', `oci:${layout}:base`]);
      const BASE = `oci:${layout}:base`;

      ex.ok('./build.sh', [], { env: { BASE } });
      const bh = ['--root', ex.sb.path('buildah', 'root'), '--runroot', ex.sb.path('buildah', 'run'), '--storage-driver', 'vfs'];
      ex.ok('buildah', [...bh, 'bud', '-q', '--format', 'docker', '--build-arg', `BASE=${BASE}`, '-t', 'notes:dockerfile', '.'], { env: { BUILDAH_RUNTIME: 'runc' } });

      // Config: what Docker's instructions set, field by field.
      const fields = ['User', 'WorkingDir', 'ExposedPorts', 'Volumes', 'StopSignal', 'Healthcheck', 'Shell', 'OnBuild', 'Entrypoint', 'Cmd'];
      const tb = (JSON.parse(ex.tbah('inspect', '--type', 'image', 'example/notes:1')) as { Docker: { config: Record<string, unknown> } }).Docker.config;
      const bd = (JSON.parse(ex.ok('buildah', [...bh, 'inspect', '--type', 'image', 'notes:dockerfile']).stdout) as { Docker: { config: Record<string, unknown> } }).Docker.config;
      for (const f of fields) assert.deepEqual(tb[f], bd[f], f);
      // ENV replaces PATH in place in tbah, Buildah moves it to the end: the same set.
      assert.deepEqual([...(tb['Env'] as string[])].sort(), [...(bd['Env'] as string[])].sort());
      const { 'io.buildah.version': _, ...bdLabels } = bd['Labels'] as Record<string, string>;
      assert.deepEqual(tb['Labels'], bdLabels);

      // Files: both unpacked by umoci from OCI layouts; path, mode, owner, size.
      const out = ex.sb.path('out');
      ex.ok('tbah', ['push', 'example/notes:1', `oci:${out}:tbah`]);
      ex.ok('buildah', [...bh, 'push', '-q', 'notes:dockerfile', `oci:${out}:buildah`]);
      const tree = (tag: string): string[] => {
        const bundle = ex.sb.path(`bundle-${tag}`);
        ex.ok('umoci', ['unpack', '--image', `${out}:${tag}`, bundle]);
        const rootfs = path.join(bundle, 'rootfs');
        return listTree(rootfs).map((p) => {
          const st = lstatSync(path.join(rootfs, p));
          return `${p} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${st.isFile() ? st.size : ''}`;
        });
      };
      const mine = tree('tbah');
      const theirs = tree('buildah');
      const traces = ['dev', 'proc', 'sys', 'run', 'etc/hostname', 'etc/hosts', 'etc/resolv.conf'];
      assert.deepEqual(mine, theirs.filter((l) => !traces.includes(l.split(' ')[0]!)), 'the same files; Buildah adds only its run traces');
      assert.ok(mine.includes('srv/notes/bin/notes-info 755 10002:10002 42'));
      assert.ok(mine.includes('srv/notes/www/lib/notes.css 644 0:0 34'), 'ADD extracted the archive');
      assert.ok(!mine.some((l) => /^(src|out|cache)[/ ]/.test(l)), 'nothing of the builder stage');
    });
  });
});
