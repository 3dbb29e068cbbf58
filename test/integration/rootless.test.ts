/**
 * Rootless (issue #13): two unprivileged users made by the test — one with
 * subordinate ids, one without — run the whole loop `pull → from → copy
 * --chown → mount → run → config → commit → push` against a local registry
 * with the default store (~/.local/share/tbah) and no XDG variables (as under
 * runuser or cron); skopeo and umoci read the result back. An image with many
 * owners, devices, setuid/setgid files, a FIFO, a hard link, locked-out modes
 * and xattrs goes pull → from → commit --squash → push for each user and is
 * compared with the original header by header.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Sandbox, removeTestDir } from '../helpers/cli.js';
import { type TestRegistry, startRegistry } from '../helpers/registry.js';
import { type Run, type TestUser, asUser, ensureUser, hasTools, installCli, userEnv } from '../helpers/users.js';

const BUSYBOX = '/bin/busybox';
const missing = hasTools('useradd', 'usermod', 'setpriv', 'newuidmap', 'newgidmap', 'unshare', 'runc', 'skopeo', 'umoci', 'python3', 'setcap');
const skip = process.getuid?.() !== 0 ? 'makes users: needs root' : missing !== undefined ? `needs ${missing}` : !existsSync(BUSYBOX) ? 'needs busybox-static' : false;

/** Subordinate ids of the first user (a block nobody else is likely to hand out). */
const RANGE = { start: 1_200_000, count: 65536 };
const APPLETS = ['sh', 'ls', 'id', 'cat', 'chown', 'chmod', 'mkdir', 'stat', 'touch', 'rm', 'mv', 'ln', 'echo', 'true', 'grep', 'test', 'su', 'mknod'];

/** Every tar header of a layer blob, read by Python's tarfile (no tbah code): names, types, modes, owners, times, devices, links, xattrs, content digests. */
const HEADERS_PY = String.raw`
import hashlib, json, sys, tarfile
out = []
with tarfile.open(sys.argv[1], 'r:*') as t:
    for m in t:
        d = dict(name=m.name, type=m.type.decode(), mode=oct(m.mode), uid=m.uid, gid=m.gid, size=m.size, mtime=m.mtime, linkname=m.linkname,
                 dev='%d,%d' % (m.devmajor, m.devminor) if m.ischr() or m.isblk() else '',
                 xattrs={k[13:]: v.encode('utf-8', 'surrogateescape').hex() for k, v in m.pax_headers.items() if k.startswith('SCHILY.xattr.')})
        if m.isfile():
            d['sha256'] = hashlib.sha256(t.extractfile(m).read()).hexdigest()
        out.append(d)
print(json.dumps(out))
`;

interface Header { name: string; type: string; mode: string; uid: number; gid: number; size: number; mtime: number; linkname: string; dev: string; xattrs: Record<string, string>; sha256?: string }

function sh(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return r.stdout;
}

/** The layer blobs of an image in an OCI layout directory, bottom first. */
function layoutLayers(dir: string): string[] {
  const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const blob = (d: string): string => path.join(dir, 'blobs', 'sha256', d.slice(7));
  const m = JSON.parse(readFileSync(blob(index.manifests[0]!.digest), 'utf8')) as { layers: { digest: string }[] };
  return m.layers.map((l) => blob(l.digest));
}

const headers = (blob: string): Header[] => JSON.parse(sh('python3', ['-c', HEADERS_PY, blob])) as Header[];
const listing = (blob: string): string[] => sh('tar', ['--numeric-owner', '-tvzf', blob]).trim().split('\n');

describe('rootless: two unprivileged users, with and without subordinate ids', { skip }, () => {
  let base: string;
  let reg: TestRegistry;
  let pathDir: string;
  let builder: Sandbox;
  let sub: TestUser;
  let nosub: TestUser;
  const started = Date.now();

  /** tbah as the user (a fresh HOME, no XDG variables: the defaults a cron job gets). */
  const tbah = (u: TestUser, args: string[], env: Record<string, string | undefined> = {}): Run => asUser(u, ['tbah', ...args], pathDir, { env });
  const ok = (u: TestUser, args: string[], env: Record<string, string | undefined> = {}): string => {
    const r = tbah(u, args, env);
    if (r.status !== 0) throw new Error(`[${u.name}] tbah ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
    return r.stdout.trim();
  };
  const shAs = (u: TestUser, script: string): Run => asUser(u, ['/bin/sh', '-c', script], pathDir);

  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'tbah-rootless-'));
    chmodSync(base, 0o755);
    pathDir = installCli(path.join(base, 'app')).pathDir;
    mkdirSync(path.join(base, 'homes'), { mode: 0o755 });
    sub = ensureUser('tbah-rl-sub', RANGE, path.join(base, 'homes'));
    nosub = ensureUser('tbah-rl-nosub', undefined, path.join(base, 'homes'));
    reg = await startRegistry();

    // Base images, built by root with tbah itself.
    builder = new Sandbox('tbah-rootless-root-');
    const b = (args: string[]): string => builder.ok(args, { env: { TBAH_STORAGE_DRIVER: 'dir' } });
    const c = b(['from', 'scratch']);
    const mnt = b(['mount', c]);
    for (const d of ['bin', 'etc', 'tmp', 'ro', 'usr/bin', 'usr/local/bin', 'home']) mkdirSync(path.join(mnt, d), { recursive: true });
    sh('cp', [BUSYBOX, path.join(mnt, 'bin/busybox')]);
    for (const a of APPLETS) sh('ln', ['-s', 'busybox', path.join(mnt, 'bin', a)]);
    writeFileSync(path.join(mnt, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    writeFileSync(path.join(mnt, 'etc/group'), 'root:x:0:\n');
    chmodSync(path.join(mnt, 'tmp'), 0o1777);
    chmodSync(path.join(mnt, 'ro'), 0o555); // a lower directory that denies writing
    b(['config', '--env', 'PATH=/usr/local/bin:/usr/bin:/bin', c]);
    b(['commit', '--rm', c, 'rl/busybox:1']);
    b(['push', '--tls-verify=false', 'rl/busybox:1', `${reg.host}/rl/busybox:1`]);

    // The round-trip image: everything an unprivileged user cannot put on disk, squashed into one layer.
    const o = b(['from', 'rl/busybox:1']);
    const m = b(['mount', o]);
    const p = (x: string): string => path.join(m, x);
    mkdirSync(p('home/app')); chownSync(p('home/app'), 1000, 1000); chmodSync(p('home/app'), 0o700);
    writeFileSync(p('home/app/.profile'), 'secret\n'); chownSync(p('home/app/.profile'), 1000, 1000); chmodSync(p('home/app/.profile'), 0o600);
    sh('ln', [p('home/app/.profile'), p('home/hardlink')]);
    mkdirSync(p('srv/locked'), { recursive: true }); writeFileSync(p('srv/locked/f'), 'x'); chmodSync(p('srv/locked/f'), 0); chownSync(p('srv/locked'), 33, 33); chmodSync(p('srv/locked'), 0o500);
    mkdirSync(p('dev'));
    sh('mknod', ['-m', '666', p('dev/null'), 'c', '1', '3']);
    sh('mknod', ['-m', '660', p('dev/sda'), 'b', '8', '0']); chownSync(p('dev/sda'), 0, 6);
    sh('mkfifo', [p('srv/fifo')]); chownSync(p('srv/fifo'), 7, 8);
    sh('cp', [BUSYBOX, p('bin/suid')]); chmodSync(p('bin/suid'), 0o4755);
    writeFileSync(p('bin/sgid'), 'g'); chownSync(p('bin/sgid'), 0, 50); chmodSync(p('bin/sgid'), 0o2755);
    writeFileSync(p('bin/ping'), 'ping'); chmodSync(p('bin/ping'), 0o755);
    sh('setcap', ['cap_net_raw+ep', p('bin/ping')]);
    sh('setfattr', ['-n', 'user.note', '-v', 'hello', p('bin/ping')]);
    sh('setfattr', ['-n', 'user.dir', '-v', 'd', p('srv')]);
    sh('ln', ['-s', '/home/app', p('srv/applink')]); sh('chown', ['-h', '5:5', p('srv/applink')]);
    writeFileSync(p('srv/big'), 'big'); chownSync(p('srv/big'), 70000, 70001); // beyond any 65536 range
    writeFileSync(p('srv/nobody'), 'n'); chownSync(p('srv/nobody'), 65534, 65534);
    b(['commit', '--rm', '--squash', o, 'rl/owners:1']);
    b(['push', '--tls-verify=false', 'rl/owners:1', `${reg.host}/rl/owners:1`]);
  });

  after(async () => {
    await reg?.stop();
    builder?.cleanup();
    // The users' stores hold files of their subordinate ids (overlay layers): removed as root.
    if (base) removeTestDir(base);
    for (const u of [sub, nosub]) if (u) spawnSync('rm', ['-rf', path.join(os.tmpdir(), `tbah-run-${u.uid}`)]);
    process.stderr.write(`# rootless suite: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  });

  /** What each user does, in the issue's words; `expect` says what differs without subordinate ids. */
  for (const which of ['sub', 'nosub'] as const) {
    describe(which === 'sub' ? 'a user with subordinate ids' : 'a user without subordinate ids', () => {
      const u = (): TestUser => (which === 'sub' ? sub : nosub);
      let ctr: string;
      let appImage: string;

      test('pull and from need no privilege; the store is ~/.local/share/tbah, the run-time directory private under /tmp', () => {
        ok(u(), ['pull', '--tls-verify=false', `${reg.host}/rl/busybox:1`]);
        ctr = ok(u(), ['from', '--tls-verify=false', `${reg.host}/rl/busybox:1`]);
        assert.equal(ctr, 'busybox-working-container');
        const store = path.join(u().home, '.local/share/tbah');
        assert.ok(statSync(path.join(store, 'oci-layout')).isFile());
        assert.equal(statSync(store).uid, u().uid);
      });

      test('copy --chown and --chmod record the owner and mode asked for; a 0555 lower directory is still writable', () => {
        const ctx = path.join(u().home, 'ctx');
        shAs(u(), `mkdir -p ${ctx}/app/sub && echo one > ${ctx}/app/f && echo two > ${ctx}/app/sub/g && echo tool > ${ctx}/tool && echo r > ${ctx}/r`);
        ok(u(), ['copy', '--chown', '1000:1000', ctr, `${ctx}/app`, '/app']);
        ok(u(), ['copy', '--chown', '1234:5678', '--chmod', '0700', ctr, `${ctx}/tool`, '/usr/local/bin/tool']);
        ok(u(), ['copy', ctr, `${ctx}/r`, '/ro/r']);
      });

      test('mount is a real path; files added there are 0:0 in the layer', () => {
        const r = shAs(u(), `mnt=$(tbah mount ${ctr}) && echo x > "$mnt/usr/bin/added" && mkdir "$mnt/made" && tbah umount ${ctr} >/dev/null && echo "$mnt"`);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout.trim(), /\/\.local\/share\/tbah\/containers\/[0-9a-f]{64}\/rootfs$/);
      });

      test('run: root inside, the user outside; chown and users made inside reach the layer', () => {
        if (which === 'sub') {
          const r = tbah(u(), ['run', ctr, '--', 'sh', '-c', [
            'id -u', 'stat -c %u:%g:%a /app/f /usr/local/bin/tool',
            'echo app:x:1000:1000::/home/app:/bin/sh >> /etc/passwd', 'echo app:x:1000: >> /etc/group',
            'mkdir -p /home/app', 'chown app:app /home/app', 'chmod 0750 /home/app', 'touch /home/app/.rc', 'chown 1000 /home/app/.rc',
          ].join(' && ')]);
          assert.equal(r.status, 0, r.stderr);
          // The record's owners are on the files while the command runs.
          assert.deepEqual(r.stdout.trim().split('\n'), ['0', '1000:1000:644', '1234:5678:700']);
          assert.doesNotMatch(r.stderr, /warning: no subordinate/);
          const asApp = tbah(u(), ['run', '--user', 'app', ctr, '--', 'sh', '-c', 'touch /home/app/own && id -u']);
          assert.equal(asApp.status, 0, asApp.stderr);
          assert.equal(asApp.stdout.trim(), '1000');
        } else {
          const r = tbah(u(), ['run', ctr, '--', 'sh', '-c', 'id -u && stat -c %u:%g /app/f && touch /made-in-run']);
          assert.equal(r.status, 0, r.stderr);
          // Only the caller is mapped: recorded owners cannot be shown inside (the record keeps them).
          assert.deepEqual(r.stdout.trim().split('\n'), ['0', '0:0']);
          assert.match(r.stderr, /^tbah: warning: no subordinate ids for tbah-rl-nosub in \/etc\/subuid: only your own uid is mapped \(to root\) in tbah's user namespace, so nothing there can be given another owner \(chown, adduser fail\); an administrator can add a range with `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 tbah-rl-nosub`$/m);
          const chown = tbah(u(), ['run', ctr, '--', 'chown', '1000', '/made-in-run']);
          assert.equal(chown.status, 1);
          assert.match(chown.stderr, /Invalid argument/);
          const asOther = tbah(u(), ['run', '--user', '1000', ctr, '--', 'id']);
          assert.equal(asOther.status, 125);
          // No passwd entry for 1000 here: Buildah's rule gives it gid 0.
          assert.match(asOther.stderr, /run --user 1000: 1000:0 does not exist in tbah's user namespace \(only root is mapped\)\nhint: an administrator can give you subordinate ids/);
        }
        const isolated = tbah(u(), ['run', '--isolation', 'chroot', '--network', 'none', '--hostname', 'rl', ctr, '--', 'sh', '-c', 'cat /etc/hostname; ls /sys/class/net']);
        assert.equal(isolated.status, 0, isolated.stderr);
        assert.deepEqual(isolated.stdout.trim().split('\n'), ['rl', 'lo']);
        const noRuntime = tbah(u(), ['run', '--runtime', 'nosuch-runtime', ctr, '--', 'true']);
        assert.equal(noRuntime.status, 125);
        assert.match(noRuntime.stderr, /OCI runtime "nosuch-runtime" not found\nhint: install runc/);
      });

      test('config, commit and push need no privilege; skopeo and umoci read the owners back', () => {
        ok(u(), ['config', '--env', 'A=1', ...(which === 'sub' ? ['--user', 'app'] : []), ctr]);
        ok(u(), ['commit', ctr, 'app:1']);
        appImage = `${reg.host}/rl/app-${which}:1`;
        ok(u(), ['push', '--tls-verify=false', 'app:1', appImage]);
        ok(u(), ['push', 'app:1', `oci-archive:${path.join(u().home, 'app.tar')}`]);
        const info = JSON.parse(sh('skopeo', ['inspect', '--tls-verify=false', `docker://${appImage}`])) as { Layers: string[]; Env: string[] };
        assert.equal(info.Layers.length, 2);
        assert.ok(info.Env.includes('A=1'));
        const cfg = JSON.parse(sh('skopeo', ['inspect', '--config', '--tls-verify=false', `docker://${appImage}`])) as { config: { User?: string } };
        assert.equal(cfg.config.User ?? '', which === 'sub' ? 'app' : '');
        // umoci unpacks (as root) with the owners of the layers.
        const layout = path.join(base, `layout-${which}`);
        sh('skopeo', ['copy', '--src-tls-verify=false', `docker://${appImage}`, `oci:${layout}:app`]);
        const bundle = path.join(base, `bundle-${which}`);
        sh('umoci', ['unpack', '--image', `${layout}:app`, bundle]);
        const owner = (p: string): string => { const st = lstatSync(path.join(bundle, 'rootfs', p)); return `${st.uid}:${st.gid}:${(st.mode & 0o7777).toString(8)}`; };
        assert.equal(owner('app'), '1000:1000:755');
        assert.equal(owner('app/f'), '1000:1000:644');
        assert.equal(owner('app/sub/g'), '1000:1000:644');
        assert.equal(owner('usr/local/bin/tool'), '1234:5678:700');
        assert.equal(owner('usr/bin/added'), '0:0:644');
        assert.equal(owner('made'), '0:0:755');
        assert.equal(owner('ro'), '0:0:555');
        assert.equal(owner('ro/r'), '0:0:644');
        if (which === 'sub') {
          assert.equal(owner('home/app'), '1000:1000:750');
          assert.equal(owner('home/app/.rc'), '1000:0:644');
          assert.equal(owner('home/app/own'), '1000:1000:644');
        } else {
          assert.equal(owner('made-in-run'), '0:0:644');
        }
        // The new layer holds what changed and nothing the run only looked at.
        const layer = listing(layoutLayers(layout)[1]!).map((l) => l.split(/\s+/).slice(-1)[0]!);
        assert.ok(!layer.includes('bin/busybox'));
      });

      test('unshare: a shell in tbah\'s user namespace, where mount works', () => {
        const r = asUser(u(), ['tbah', 'unshare', '--', 'sh', '-c', `id -u; cat /proc/self/uid_map | wc -l; mnt=$(tbah mount ${ctr}) && ls "$mnt/app"`], pathDir);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(r.stdout.trim().split(/\s+/), ['0', which === 'sub' ? '2' : '1', 'f', 'sub']);
        // The overlay driver: only inside the namespace, with the markers in user.overlay.* xattrs.
        const outside = tbah(u(), ['from', '--storage-driver', 'overlay', `${reg.host}/rl/busybox:1`]);
        assert.equal(outside.status, 125);
        assert.match(outside.stderr, /the overlay storage driver without root works only inside tbah's user namespace\nhint: use it inside `tbah unshare`/);
        const chown = which === 'sub' ? 'chown 1000:1000 "$mnt/od" && ' : '';
        const ov = asUser(u(), ['tbah', 'unshare', '--', 'sh', '-c',
          `c=$(tbah from --storage-driver overlay ${reg.host}/rl/busybox:1) && mnt=$(tbah mount $c) && grep -q " $mnt .*userxattr" /proc/self/mountinfo && mkdir "$mnt/od" && ${chown}rm "$mnt/etc/group" && tbah run $c -- touch /od/x && tbah commit --rm $c ov:1`], pathDir);
        assert.equal(ov.status, 0, ov.stderr);
        ok(u(), ['push', 'ov:1', `oci:${path.join(u().home, 'ov')}:ov`]);
        const top = listing(layoutLayers(path.join(u().home, 'ov')).at(-1)!);
        const line = (n: string): string => top.find((l) => l.endsWith(` ${n}`)) ?? '';
        assert.match(line('od/'), which === 'sub' ? /^drwxr-xr-x 1000\/1000 / : /^drwxr-xr-x 0\/0 /);
        assert.match(line('od/x'), /^-rw-r--r-- 0\/0 /);
        assert.match(line('etc/.wh.group'), /^---------- 0\/0 /);
      });

      test('the image with many owners, devices, setuid and xattrs survives pull → from → commit → push header by header', () => {
        ok(u(), ['pull', '--tls-verify=false', `${reg.host}/rl/owners:1`]);
        const c = ok(u(), ['from', `${reg.host}/rl/owners:1`]);
        ok(u(), ['commit', '--squash', c, 'rt:1']);
        ok(u(), ['push', '--tls-verify=false', 'rt:1', `${reg.host}/rl/owners-rt-${which}:1`]);
        const orig = path.join(base, `orig-${which}`);
        const back = path.join(base, `back-${which}`);
        sh('skopeo', ['copy', '--src-tls-verify=false', `docker://${reg.host}/rl/owners:1`, `oci:${orig}:x`]);
        sh('skopeo', ['copy', '--src-tls-verify=false', `docker://${reg.host}/rl/owners-rt-${which}:1`, `oci:${back}:x`]);
        const [a] = layoutLayers(orig);
        const [b2] = layoutLayers(back);
        const ha = headers(a!);
        const hb = headers(b2!);
        assert.deepEqual(hb, ha);
        assert.deepEqual(listing(b2!), listing(a!));
        // It is the image it claims to be: the interesting entries are there.
        const by = new Map(ha.map((x) => [x.name, x]));
        assert.equal(by.get('dev/null')?.dev, '1,3');
        assert.equal(by.get('dev/sda')?.gid, 6);
        assert.equal(by.get('bin/suid')?.mode, '0o4755');
        assert.equal(by.get('srv/big')?.uid, 70000);
        assert.equal(by.get('home/hardlink')?.type, '1');
        assert.ok(by.get('bin/ping')?.xattrs['security.capability']);
        assert.equal(by.get('srv/locked')?.mode, '0o500');
        process.stderr.write(`# ${which}: ${ha.length} entries compared, all equal\n`);
      });

      test('a run killed while the image owners are on the files: other commands say how to finish, unshare + mount gives them back', { skip: which === 'nosub' ? 'the same with one id' : false }, async () => {
        ok(u(), ['from', '--name', 'killed', `${reg.host}/rl/owners:1`]);
        const child = spawn('setpriv', ['--reuid', String(u().uid), '--regid', String(u().gid), '--init-groups', '--', 'tbah', 'run', 'killed', '--', '/bin/busybox', 'sleep', '3'],
          { env: userEnv(u(), pathDir), cwd: u().home, stdio: 'ignore' });
        const containers = path.join(u().home, '.local/share/tbah/containers');
        const journal = (): boolean => readdirSync(containers).some((d) => existsSync(path.join(containers, d, 'materialized.json')));
        for (let i = 0; i < 200 && !journal(); i++) await new Promise((r) => setTimeout(r, 100));
        assert.ok(journal(), 'the run applied the record');
        // tbah and the tbah it re-executed in the namespace die; the command runs on to its end.
        const inner = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
          try { return readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(child.pid); } catch { return false; }
        });
        for (const pid of [...inner, String(child.pid)]) process.kill(Number(pid), 'SIGKILL');
        await new Promise((r) => setTimeout(r, 4000));
        const refused = tbah(u(), ['commit', 'killed', 'killed:1']);
        assert.equal(refused.status, 125);
        assert.match(refused.stderr, /killed: a `tbah run` was killed while the container's files had their image owners\nhint: `tbah unshare -- tbah mount killed` gives them back/);
        const back = asUser(u(), ['tbah', 'unshare', '--', 'tbah', 'mount', 'killed'], pathDir);
        assert.equal(back.status, 0, back.stderr);
        assert.ok(!journal());
        ok(u(), ['commit', 'killed', 'killed:1']);
        assert.equal(ok(u(), ['inspect', '--format', '{{len .OCIv1.RootFS.DiffIDs}}', 'killed:1']), '1'); // nothing changed: no layer
        ok(u(), ['rm', 'killed']);
      });

      test('nothing in the store, nor in the run-time directory, belongs to root', () => {
        const bad: string[] = [];
        const walk = (d: string): void => {
          for (const n of readdirSync(d)) {
            const p = path.join(d, n);
            const st = lstatSync(p);
            if (st.uid === 0 || st.gid === 0) bad.push(p);
            if (st.isDirectory()) walk(p);
          }
        };
        walk(path.join(u().home, '.local/share/tbah'));
        const run = path.join(os.tmpdir(), `tbah-run-${u().uid}`);
        const st = statSync(run);
        assert.deepEqual([st.uid, st.mode & 0o777], [u().uid, 0o700]);
        walk(run);
        assert.deepEqual(bad, []);
      });
    });
  }

  test('a HOME that is not the user\'s (setpriv keeps root\'s): the store goes to the passwd home, not /root', () => {
    const home = `/home/${nosub.name}`;
    const made = !existsSync(home);
    mkdirSync(home, { recursive: true, mode: 0o700 });
    chownSync(home, nosub.uid, nosub.gid);
    try {
      const r = tbah(nosub, ['images'], { HOME: '/root' });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(existsSync(path.join(home, '.local/share/tbah/oci-layout')));
    } finally {
      if (made) spawnSync('rm', ['-rf', home]);
      else spawnSync('rm', ['-rf', path.join(home, '.local/share/tbah')]);
    }
  });
});
