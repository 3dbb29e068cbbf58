/**
 * The CLI next to Buildah 1.28 (installed as `buildah`): the same images are
 * put in both stores (tbah writes them, Buildah pulls them from tbah's
 * archives, so IDs, configs and times are equal), then the same commands run
 * with both and their output is compared. Plus what Buildah cannot judge:
 * help text, unknown commands, shell completion.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Sandbox, hasCommand, tbahBin } from '../helpers/cli.js';

interface Result { status: number; stdout: string; stderr: string }

/** The CREATED column ("3 seconds ago") may tick between two runs. */
const age = (s: string): string => s.replace(/(Less than a second|\d+ seconds?|About a minute|\d+ minutes?) ago/g, 'N ago');

/** One error line without the tool's prefix (`Error: `, `tbah: `, Buildah's "Template parsing error: "). */
const errText = (r: Result): string => r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('hint: '))
  .map((l) => l.replace(/^(Error: |tbah: )/, '').replace(/^Template parsing error: /, '')).join('\n');

describe('tbah and Buildah 1.28 on the same images', { skip: !hasCommand('buildah') && 'buildah not installed' }, () => {
  const sb = new Sandbox('tbah-parity-');
  const bh = (args: string[]): Result => {
    const r = spawnSync('buildah', ['--root', sb.path('b', 'root'), '--runroot', sb.path('b', 'run'), '--storage-driver', 'vfs', ...args], { encoding: 'utf8' });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const bok = (args: string[]): string => {
    const r = bh(args);
    assert.equal(r.status, 0, `buildah ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  /** The same command with both; stdout compared (trimmed: Buildah's inspect adds no newline off a terminal). */
  /**
   * Sizes as `images` prints them, to within 1%: containers/storage counts the
   * manifest's bytes, and tbah's manifest names its stored layers `…tar`
   * where Buildah's copy (pulled from an archive that has them gzipped) says
   * `…tar+gzip`: a few bytes per layer.
   */
  const SIZE = /\b(\d+(?:\.\d+)?) (B|KB|MB|GB)\b/g;
  const sizes = (s: string): number[] => [...s.matchAll(SIZE)].map((m) => Number(m[1]) * 1000 ** ['B', 'KB', 'MB', 'GB'].indexOf(m[2]!));
  const same = (args: string[], mask: (s: string) => string = (s) => s): string => {
    const t = sb.run(args);
    const b = bh(args);
    assert.equal(t.status, b.status, `${args.join(' ')}: exit ${t.status} (tbah) vs ${b.status} (buildah)\n${t.stderr}\n${b.stderr}`);
    const ts = sizes(t.stdout);
    const bs = sizes(b.stdout);
    assert.equal(ts.length, bs.length, `tbah ${args.join(' ')}: sizes`);
    ts.forEach((v, i) => assert.ok(Math.abs(v - bs[i]!) <= bs[i]! * 0.01, `tbah ${args.join(' ')}: size ${v} vs ${bs[i]}`));
    const noSize = (x: string): string => mask(x).replace(SIZE, 'SIZE');
    assert.equal(noSize(t.stdout.trimEnd()), noSize(b.stdout.trimEnd()), `tbah ${args.join(' ')}`);
    return t.stdout;
  };
  /** Both fail with exit 125 and the same message. */
  const sameError = (args: string[]): void => {
    const t = sb.run(args);
    const b = bh(args);
    assert.equal(b.status, 125, `buildah ${args.join(' ')} should fail: ${b.stdout}`);
    assert.equal(t.status, 125, `tbah ${args.join(' ')} should fail: ${t.stdout}`);
    assert.equal(errText(t), errText(b), `tbah ${args.join(' ')}`);
  };
  let appId = '';
  let appdId = '';

  before(() => {
    mkdirSync(sb.path('b'));
    writeFileSync(sb.path('small.txt'), 'hello\n');
    const c = sb.ok(['from', 'scratch']);
    sb.ok(['copy', c, 'small.txt', '/small.txt']);
    sb.ok(['config', '--label', 'a=b', '--label', 'org.x=1', '--env', 'A=1', '--cmd', '["/bin/sh"]', c]);
    appId = sb.ok(['commit', '-q', c, 'app:1']);
    sb.ok(['config', '--healthcheck', 'CMD true', '--healthcheck-interval', '5s', '--label', 'stage=prod', c]);
    appdId = sb.ok(['commit', '-q', '--format', 'docker', '--rm', c, 'appd:1']);
    sb.ok(['push', 'app:1', `oci-archive:${sb.path('app.tar')}:app:1`]);
    sb.ok(['push', 'appd:1', `docker-archive:${sb.path('appd.tar')}:appd:1`]);
    assert.equal(bok(['pull', '-q', `oci-archive:${sb.path('app.tar')}`]), appId);
    assert.equal(bok(['pull', '-q', `docker-archive:${sb.path('appd.tar')}`]), appdId);
    sb.ok(['from', 'app:1']);
    bok(['from', 'localhost/app:1']);
  });
  after(() => {
    bh(['rm', '-a']);
    sb.cleanup();
  });

  test('inspect --format: the same text for the same image', () => {
    const templates = [
      '{{.FromImageID}}', '{{.OCIv1}}', '{{.OCIv1.Config}}', '{{.OCIv1.Config.Env}}|{{.OCIv1.Config.Entrypoint}}|{{.OCIv1.Config.Volumes}}',
      '{{.OCIv1.Config.Labels}}|{{index .OCIv1.Config.Labels "a"}}|{{index .OCIv1.Config.Labels "nope"}}|{{.OCIv1.Config.Labels.nope}}',
      '{{.OCIv1.Created}}|{{.OCIv1.Created.Unix}}|{{.OCIv1.Created.Format "2006-01-02 15:04"}}', '{{.OCIv1.RootFS}}', '{{.History}}',
      '{{range $i, $e := .OCIv1.Config.Env}}{{$i}}:{{$e}} {{end}}', '{{- range .OCIv1.History -}} [{{.CreatedBy}}] {{- end}}',
      '{{(index .History 0).Created}}', '{{printf "%q %s %d %v" .OCIv1.OS .OCIv1.Architecture 7 .OCIv1.Config.Cmd}}', '{{len .OCIv1.RootFS.DiffIDs}}',
      '{{if eq .OCIv1.OS "linux"}}linux{{else}}other{{end}}', '{{with .OCIv1.Config.WorkingDir}}{{.}}{{else}}no workdir{{end}}',
      '{{range $k, $v := .OCIv1.Config.Labels}}{{$k}}={{$v}};{{end}}', '{{.ImageAnnotations}}|{{.Devices}}|{{.Capabilities}}',
    ];
    for (const t of templates) for (const img of [appId, appdId]) same(['inspect', '--type', 'image', '--format', t, img]);
    // The Docker config of the Docker-format image: healthcheck durations and a positional struct.
    for (const t of ['{{.Docker.Config.Healthcheck}}', '{{.Docker.Config.Healthcheck.Interval}}', '{{.Docker.Config.Env}}', '{{.Docker.Config.Labels}}', '{{.Docker.RootFS}}', '{{.Docker.History}}']) {
      same(['inspect', '--type', 'image', '--format', t, appdId], (s) => s.replace(/0xc[0-9a-f]+/g, '0xc…'));
    }
    for (const t of ['{{.Foo}}', '{{.OCIv1.Config.Foo}}', '{{index .OCIv1.Config.Env 5}}', '{{range .OCIv1}}x{{end}}', '{{.Docker.Config.Healthcheck.Interval}}']) {
      sameError(['inspect', '--type', 'image', '--format', t, t.includes('Healthcheck') ? appId : appdId]);
    }
  });

  test('images: table, --format, -q, --no-trunc, --digests-free columns', () => {
    same(['images', '--format', '{{.ID}} {{.Name}} {{.Tag}} {{.Size}} {{.Created}} {{.CreatedAtRaw}} {{.ReadOnly}}']);
    same(['images', '--format', 'table {{.ID}} {{.Name}} {{.Tag}} {{.Size}}']);
    same(['images', '--format', '{{.ID}}\\t{{.Name}}']);
    same(['images', '-q']);
    same(['images', '-q', '--no-trunc']);
    same(['images', '--noheading', '--format', '{{printf "%-20s|" .Name}}']);
    // The table (CREATED may differ by the second the two ran: masked).
    same(['images'], age);
    sameError(['images', '--format', '{{.Repository}}']);
    sameError(['images', 'app:1', '-q']);
    sameError(['images', '-q', '--format', '{{.ID}}']);
  });

  test('images --filter: the same images, the same errors', () => {
    const list = (...f: string[]): string[] => ['images', '--format', '{{.Name}}:{{.Tag}}', ...f.flatMap((x) => ['--filter', x])];
    for (const f of [
      ['reference=app'], ['reference=app*'], ['reference=localhost/app:*'], ['reference=*'], ['label=a'], ['label=a=b'], ['label=stage=prod'],
      ['label=a=b', 'label=stage=prod'], ['label=a', 'reference=appd'], ['before=appd:1'], ['since=app:1'], ['after=app:1'], ['dangling=false'],
      ['dangling=true'], [`id=${appId}`], ['label!=stage=prod'], ['readonly=false'], ['reference=app,label=stage'],
    ]) same(list(...f));
    for (const f of [['nofilter'], ['bogus=1'], ['dangling=maybe'], ['dangling=true', 'dangling=false'], ['before=nosuch:1']]) sameError(list(...f));
  });

  test('containers: table layout, --format, --filter, --json keys', () => {
    const hex = (s: string): string => s.replace(/\b[0-9a-f]{12}([0-9a-f]{52})?\b/g, 'ID');
    same(['containers'], hex);
    same(['containers', '--notruncate'], hex);
    same(['containers', '--noheading'], hex);
    same(['containers', '--format', '{{.ContainerName}} {{.ImageName}} {{.Builder}}|']);
    same(['containers', '--format', 'table {{.ContainerName}} {{.ImageName}}']);
    same(['containers', '--format', '{{.ContainerName}}\\t{{.ImageID}}']);
    for (const f of ['name=working', 'name=nope', 'ancestor=app', 'ancestor=app:1', `ancestor=${appId.slice(0, 6)}`, 'ancestor=app:2', 'name=app,ancestor=app']) {
      same(['containers', '--filter', f, '--format', '{{.ContainerName}}']);
    }
    for (const f of ['bogus', 'foo=1']) sameError(['containers', '--filter', f]);
    sameError(['containers', '-q', '--format', '{{.ContainerID}}']);
    const keys = (s: string): string[] => Object.keys((JSON.parse(s) as Record<string, unknown>[])[0]!).sort();
    assert.deepEqual(keys(sb.ok(['containers', '--json'])), keys(bok(['containers', '--json'])));
  });

  test('boolean flags take pflag\'s =VALUE; a bad value is the same error', () => {
    same(['images', '--noheading=true', '--format', 'table {{.Name}}']);
    same(['images', '-n=1'], age);
    same(['images', '--quiet=false', '--noheading=T', '--format', '{{.Name}}']);
    same(['images', '--no-trunc=true', '-q']);
    same(['images', '--no-trunc=false', '-q=true']);
    sameError(['images', '--noheading=maybe']);
    sameError(['images', '-n=yes']);
    sameError(['images', '--no-trunc=']);
    // Commands with more flags take them too (a commit that is then removed).
    const c = sb.ok(['from', 'scratch']);
    sb.ok(['copy', c, 'small.txt', '/x']);
    const id = sb.ok(['commit', '--squash=true', '--quiet=true', '--rm=false', c]);
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.match(sb.ok(['containers', '--format', '{{.ContainerName}}']), /^working-container$/m);
    sb.ok(['rm', c]);
    sb.ok(['rmi', id]);
    const r = sb.run(['commit', '--squash=nope', 'x']);
    assert.equal(r.status, 125);
    assert.match(r.stderr, /^tbah: invalid argument "nope" for "--squash" flag: strconv\.ParseBool: parsing "nope": invalid syntax$/m);
  });

  test('a bad --log-level is the same error; debug lines go to stderr only', () => {
    sameError(['--log-level=bogus', 'images']);
    sameError(['--log-level', 'loud', 'images']);
    const r = sb.run(['--log-level=debug', 'images', '-q']);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, sb.ok(['images', '-q']) + '\n');
    assert.match(r.stderr, /^tbah: debug: store root /m);
    assert.equal(sb.run(['images', '--log-level', 'error', '-q']).status, 0);
  });

  test('rm and rmi with unknown names: go on, one line per failure, exit 125', () => {
    const tc = sb.ok(['from', '--name', 'victim', 'scratch']);
    bok(['from', '--name', 'victim', 'scratch']);
    const t = sb.run(['rm', 'nope1', tc, 'nope2']);
    const b = bh(['rm', 'nope1', 'victim', 'nope2']);
    assert.equal(t.status, 125);
    assert.equal(b.status, 125);
    assert.equal(t.stdout.trim().split('\n').length, b.stdout.trim().split('\n').length);
    assert.equal(t.stderr.trim().split('\n').filter((l) => l.startsWith('tbah: ')).length, 2);
    assert.match(t.stderr, /nope1: container not known[\s\S]*nope2: container not known/);
    assert.doesNotMatch(sb.ok(['containers', '--format', '{{.ContainerName}}']), /victim/);
    sb.ok(['tag', 'app:1', 'app:2', 'app:3']);
    bok(['tag', 'localhost/app:1', 'localhost/app:2', 'localhost/app:3']);
    const ti = sb.run(['rmi', 'nope', 'app:2', 'nope2', 'app:3']);
    const bi = bh(['rmi', 'nope', 'app:2', 'nope2', 'app:3']);
    assert.equal(ti.status, 125);
    assert.equal(bi.status, 125);
    assert.equal(ti.stdout, bi.stdout); // untagged: localhost/app:2, untagged: localhost/app:3
    assert.equal(ti.stderr.split('\n').filter((l) => l.startsWith('tbah: ')).length, 2);
    same(['images', '--format', '{{.Name}}:{{.Tag}}']);
  });

  test('rmi --prune removes dangling images only; -a -p and -p NAME are refused as in Buildah', () => {
    sameError(['rmi', '-a', '-p']);
    sameError(['rmi', '-p', 'app:1']);
    sameError(['rmi']);
    const c = sb.ok(['from', 'scratch']);
    sb.ok(['copy', c, 'small.txt', '/d']);
    const dangling = sb.ok(['commit', '--rm', c]);
    assert.match(sb.ok(['images', '--filter', 'dangling=true', '-q', '--no-trunc']), new RegExp(dangling));
    const before = sb.ok(['images', '--format', '{{.Name}}:{{.Tag}}', '--filter', 'dangling=false']);
    assert.equal(sb.ok(['rmi', '--prune']), dangling);
    assert.equal(sb.ok(['images', '--filter', 'dangling=true', '-q']), '');
    assert.equal(sb.ok(['images', '--format', '{{.Name}}:{{.Tag}}']), before);
    assert.equal(sb.ok(['rmi', '-p=true']), '');
  });

  test('rename: a new name; the same name and a taken name are refused as in Buildah', () => {
    sb.ok(['from', '--name', 'one', 'scratch']);
    sb.ok(['from', '--name', 'two', 'scratch']);
    bok(['from', '--name', 'one', 'scratch']);
    bok(['from', '--name', 'two', 'scratch']);
    same(['rename', 'one', 'uno']);
    same(['containers', '--format', '{{.ContainerName}}', '--filter', 'name=uno']);
    sameError(['rename', 'uno', 'uno']);
    const t = sb.run(['rename', 'uno', 'two']);
    const b = bh(['rename', 'uno', 'two']);
    assert.equal(t.status, 125);
    assert.equal(b.status, 125);
    assert.match(t.stderr, /the container name "two" is already in use by container "[0-9a-f]{64}"/i);
    assert.match(b.stderr, /The container name "two" is already in use by container "[0-9a-f]{64}"/);
    const r = sb.run(['rename', 'nosuch', 'x']);
    assert.equal(r.status, 125);
    assert.match(r.stderr, /nosuch: container not known/);
    for (const n of ['uno', 'two']) { sb.ok(['rm', n]); bok(['rm', n]); }
  });

  test('info: Buildah\'s keys (no OCIRuntime) and --format over them', () => {
    const t = JSON.parse(sb.ok(['info'])) as { host: Record<string, unknown>; store: Record<string, unknown> };
    const b = JSON.parse(bok(['info'])) as { host: Record<string, unknown>; store: Record<string, unknown> };
    assert.deepEqual(Object.keys(t.store).sort(), Object.keys(b.store).sort());
    assert.deepEqual(Object.keys(b.host).filter((k) => !(k in t.host)), ['OCIRuntime']);
    for (const k of ['CgroupVersion', 'Distribution', 'MemTotal', 'SwapTotal', 'arch', 'cpus', 'hostname', 'kernel', 'os', 'rootless', 'variant']) {
      assert.deepEqual(t.host[k], b.host[k], k);
    }
    same(['info', '--format', '{{.host.Distribution}}|{{.host.nope}}|{{.store.GraphOptions}}|{{.store.GraphStatus}}|{{.store.ImageStore.number}}|{{.store.ContainerStore}}|{{.host.arch}}']);
    assert.match(sb.ok(['info', '--format', '{{.store.RunRoot}}']), /^\/.+/);
  });
});

describe('help, unknown commands and the flag-order check', () => {
  const sb = new Sandbox('tbah-help-');
  after(() => sb.cleanup());

  test('no help shows the flag-order catch-all; every command has examples', () => {
    const top = sb.ok(['--help']);
    assert.doesNotMatch(top, /rest/);
    assert.match(top, /Examples:/);
    const section = top.slice(top.indexOf('Commands:'), top.indexOf('Examples:'));
    const commands = [...section.matchAll(/^ {2}([a-z]+)(?:\|[a-z]+)? /gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    assert.ok(commands.length >= 20, commands.join(' '));
    for (const c of commands) {
      const h = sb.ok([c, '--help']);
      assert.doesNotMatch(h, /\brest\b/, `${c} --help`);
      assert.match(h, /\nExamples:\n {2}(tbah|source|ctr=|mnt=|make|printf|id=)/, `${c} --help has no example`);
    }
  });

  test('an unknown command is an error, even with --help (Buildah\'s text)', () => {
    for (const args of [['nosuchcommand', '--help'], ['nosuchcommand'], ['--root', sb.path('s'), 'nosuchcommand', '-h']]) {
      const r = sb.run(args);
      assert.equal(r.status, 125, args.join(' '));
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^tbah: unknown command "nosuchcommand" for "tbah"$/m);
    }
    assert.match(sb.run(['imagse']).stderr, /did you mean images\?/);
    assert.equal(sb.run(['images', '--help']).status, 0);
  });

  test('flags after the image name are refused on images too', () => {
    const r = sb.run(['images', 'busybox', '-q']);
    assert.equal(r.status, 125);
    assert.match(r.stderr, /no options \(-q\) can be specified after the image or container name/);
  });
});

describe('shell completion', () => {
  const sb = new Sandbox('tbah-compl-');
  // `tbah` on PATH, as a user who installed it has it.
  const bin = sb.path('bin');
  const env = (): Record<string, string> => ({ PATH: `${bin}:${process.env.PATH ?? ''}`, TBAH_ROOT: sb.store, NO_COLOR: '1' });
  before(() => {
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'tbah'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(tbahBin)} "$@"\n`);
    chmodSync(path.join(bin, 'tbah'), 0o755);
    writeFileSync(sb.path('bash'), sb.ok(['completion', 'bash']));
    writeFileSync(sb.path('zsh'), sb.ok(['completion', 'zsh']));
    const c = sb.ok(['from', '--name', 'builder', 'scratch']);
    sb.ok(['commit', c, 'app:1']);
    sb.ok(['commit', c, 'registry.example.com/team/tool:2']);
  });
  after(() => sb.cleanup());

  /** What bash offers for the line typed so far (the completion function run as bash runs it). */
  const bash = (line: string): string[] => {
    const r = spawnSync('bash', ['-c', `source ${JSON.stringify(sb.path('bash'))}; COMP_LINE="$1"; COMP_POINT=\${#1}; _tbah; printf '%s\\n' "\${COMPREPLY[@]}"`, '_', line],
      { encoding: 'utf8', env: env(), cwd: sb.dir });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean);
  };

  test('bash: commands, flags, flag values, containers and images from the store', () => {
    assert.deepEqual(bash('tbah im'), ['images']);
    assert.ok(bash('tbah ').includes('rename') && bash('tbah ').includes('completion'));
    assert.deepEqual(bash('tbah re'), ['rename']);
    assert.deepEqual(bash('tbah commit --sq'), ['--squash']);
    assert.deepEqual(bash('tbah commit --format '), ['oci', 'docker']);
    assert.deepEqual(bash('tbah commit --format=d'), ['docker']);
    assert.deepEqual(bash('tbah --log-level '), ['error', 'warn', 'info', 'debug']);
    assert.deepEqual(bash('tbah run '), ['builder']);
    assert.deepEqual(bash('tbah commit -f docker b'), ['builder']);
    assert.deepEqual(bash('tbah commit builder '), []); // the image name is new: nothing to offer
    assert.deepEqual(bash('tbah from ').sort(), ['app:1', 'localhost/app:1', 'registry.example.com/team/tool:2', 'scratch']);
    assert.deepEqual(bash('tbah rmi reg'), ['registry.example.com/team/tool:2']);
    assert.deepEqual(bash('tbah push app:'), ['1']); // after bash's ':' word break
    assert.deepEqual(bash('tbah inspect b'), ['builder']);
    assert.deepEqual(bash('tbah completion '), ['bash', 'zsh']);
    assert.deepEqual(bash('tbah copy builder b').sort(), ['bash', 'bin']);
    assert.deepEqual(bash(`tbah --root ${sb.path('empty')} run `), []); // the line's --root is the store asked
  });

  test('bash: the script is what `complete` registers', () => {
    const r = spawnSync('bash', ['-c', `source ${JSON.stringify(sb.path('bash'))}; complete -p tbah`], { encoding: 'utf8', env: env() });
    assert.equal(r.stdout.trim(), 'complete -F _tbah tbah');
  });

  test('zsh: the same candidates through compadd/_describe', { skip: !hasCommand('zsh') && 'zsh not installed' }, () => {
    // compadd, _describe and _files exist only inside zsh's completion system; these stand-ins print what they are given.
    const zsh = (line: string): string[] => {
      const script = `compdef() { :; }
compadd() { while [[ $1 == -* ]]; do [[ $1 == -- ]] && { shift; break }; shift; done; print -l -- "$@" }
_describe() { local arr=\${@[-1]}; print -l -- \${\${(P)arr}%%:*} }
_files() { print -- '<files>' }
source ${JSON.stringify(sb.path('zsh'))}
words=(\${(z)1}); [[ $1 == *' ' ]] && words+=('')
CURRENT=\${#words}; PREFIX=\${words[CURRENT]}
_tbah`;
      const r = spawnSync('zsh', ['-c', script, '_', line], { encoding: 'utf8', env: env(), cwd: sb.dir });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.split('\n').filter(Boolean);
    };
    assert.ok(zsh('tbah ').includes('rename'));
    assert.deepEqual(zsh('tbah commit --format '), ['oci', 'docker']);
    assert.deepEqual(zsh('tbah run '), ['builder']);
    assert.deepEqual(zsh('tbah commit -f docker '), ['builder']);
    assert.deepEqual(zsh('tbah rmi ').sort(), ['app:1', 'localhost/app:1', 'registry.example.com/team/tool:2']);
    assert.deepEqual(zsh('tbah copy builder '), ['<files>']);
    assert.ok(zsh('tbah images --').includes('--filter'));
  });
});
