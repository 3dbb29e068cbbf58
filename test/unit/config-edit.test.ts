import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TbahError } from '../../src/core/errors.js';
import type { ContainerConfig, Digest } from '../../src/core/oci.js';
import { type ConfigChanges, type EditableImage, applyConfigChanges, configHistory, expandVars } from '../../src/core/config-edit.js';

const S = 1_000_000_000;
const DIFF = `sha256:${'a'.repeat(64)}` as Digest;

/** `null` = an image config without a container `config` object. */
function base(cfg: ContainerConfig | null = { Env: ['PATH=/usr/bin:/bin', 'HOME=/root'], Cmd: ['sh'] }): EditableImage {
  const img: EditableImage = {
    config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [DIFF] } },
    annotations: { 'org.example.keep': 'yes' },
  };
  if (cfg !== null) img.config.config = cfg;
  return img;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

/** Apply to a frozen copy: any attempt to mutate the input throws. */
function apply(ch: ConfigChanges, img: EditableImage = base(), env: Record<string, string | undefined> = {}) {
  const input = deepFreeze(structuredClone(img));
  const r = applyConfigChanges(input, ch, env);
  assert.deepEqual(input, img, 'input unchanged');
  assert.notEqual(r.image, input);
  return r;
}
const cfgOf = (ch: ConfigChanges, img?: EditableImage, env?: Record<string, string | undefined>): ContainerConfig =>
  apply(ch, img, env).image.config.config ?? {};

/** Every error is a one-line TbahError that starts with the flag and the bad value, and has a hint. */
function rejects(ch: ConfigChanges, flag: string, value: string, why?: RegExp, img: EditableImage = base(), env: Record<string, string | undefined> = {}): void {
  const input = deepFreeze(structuredClone(img));
  assert.throws(() => applyConfigChanges(input, ch, env), (err: unknown) => {
    assert.ok(err instanceof TbahError, `expected TbahError, got ${String(err)}`);
    assert.equal(err.code, 'invalid-argument');
    assert.ok(err.message.startsWith(`${flag} ${JSON.stringify(value)}: `), `message names flag and value: ${err.message}`);
    if (why) assert.match(err.message, why);
    assert.ok(!err.message.includes('\n'), 'one line');
    assert.ok(err.hint && err.hint.length > 0, 'has a hint');
    return true;
  });
}

describe('applyConfigChanges: value semantics', () => {
  it('no changes gives an equal copy and no warnings', () => {
    const r = apply({});
    assert.deepEqual(r.image, base());
    assert.deepEqual(r.warnings, []);
  });
  it('does not add a container config that was not there for image-level flags', () => {
    const r = apply({ author: 'me', arch: 'arm64' }, base(null));
    assert.equal(r.image.config.config, undefined);
    assert.equal(r.image.config.author, 'me');
    assert.equal(r.image.config.architecture, 'arm64');
  });
  it('creates the container config when a container-level flag is given', () => {
    assert.deepEqual(apply({ user: '1000' }, base(null)).image.config.config, { User: '1000' });
  });
  it('a bad flag among good ones throws and leaves the input as it was', () => {
    rejects({ user: 'nobody', env: ['A=1'], port: ['99999'] }, '--port', '99999');
  });
});

describe('--cmd', () => {
  const cases: [string, string[] | undefined][] = [
    ['echo hi there', ['echo', 'hi', 'there']],
    ['["echo","hi there"]', ['echo', 'hi there']],
    ['  ["a", "b"]  ', ['a', 'b']],
    ["sh -c 'echo $HOME'", ['sh', '-c', 'echo $HOME']],
    ['"/usr/bin/my app" --x', ['/usr/bin/my app', '--x']],
    ['/bin/true', ['/bin/true']],
    ['', undefined],
    ['   ', undefined],
    ['[]', undefined],
    ['null', undefined], // Buildah: json.Unmarshal("null") succeeds with a nil slice
  ];
  for (const [input, want] of cases) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(want)}`, () => {
      const c = cfgOf({ cmd: input });
      assert.deepEqual(c.Cmd, want);
      if (want === undefined) assert.ok(!('Cmd' in c), 'cleared means absent');
    });
  }
  const errors: [string, RegExp][] = [
    ['["a",', /not a valid JSON array/],
    ['[1,2]', /JSON array of strings/],
    ['["a", null]', /JSON array of strings/],
    ['[ "a" ] x', /not a valid JSON array/],
    ["echo 'hi", /unterminated single quote/],
    ['echo "hi', /unterminated double quote/],
    ['echo hi; rm -rf x', /shell operator ";"/],
  ];
  for (const [input, why] of errors) it(`rejects ${JSON.stringify(input)}`, () => rejects({ cmd: input }, '--cmd', input, why));
});

describe('--entrypoint', () => {
  const cases: [string, string[] | undefined][] = [
    ['x y', ['/bin/sh', '-c', 'x y']],
    ['/entrypoint.sh', ['/bin/sh', '-c', '/entrypoint.sh']],
    ['echo "a; b" && exit 1', ['/bin/sh', '-c', 'echo "a; b" && exit 1']],
    ['["/entrypoint.sh","dev"]', ['/entrypoint.sh', 'dev']],
    ['[ "/entrypoint.sh", "dev" ]', ['/entrypoint.sh', 'dev']],
    ['', undefined],
    [' ', undefined],
    ['[]', undefined],
  ];
  for (const [input, want] of cases) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(want)}`, () => {
      const c = cfgOf({ entrypoint: input }, base({ Entrypoint: ['old'] }));
      assert.deepEqual(c.Entrypoint, want);
    });
  }
  for (const [input, why] of [['["a",', /not a valid JSON array/], ['[true]', /JSON array of strings/]] as const) {
    it(`rejects ${JSON.stringify(input)}`, () => rejects({ entrypoint: input }, '--entrypoint', input, why));
  }

  describe('Buildah warnings about an existing cmd', () => {
    const img = base({ Cmd: ['echo', 'hi'] });
    it('shell form ignores the cmd', () => {
      assert.deepEqual(apply({ entrypoint: 'run me' }, img).warnings,
        ['cmd "echo hi" exists but will be ignored because of entrypoint settings']);
    });
    it('exec form receives an inherited cmd as parameters', () => {
      assert.deepEqual(apply({ entrypoint: '["/app"]' }, img).warnings,
        ['cmd "echo hi" exists and will be passed to entrypoint as a parameter']);
    });
    it('exec form with a cmd in the same call: the usual idiom, no warning', () => {
      const r = apply({ entrypoint: '["/app"]', cmd: '["--help"]' }, img);
      assert.deepEqual(r.warnings, []);
      assert.deepEqual(r.image.config.config?.Entrypoint, ['/app']);
      assert.deepEqual(r.image.config.config?.Cmd, ['--help']);
    });
    it('shell form with a new cmd in the same call still warns about that cmd', () => {
      assert.deepEqual(apply({ entrypoint: 'x', cmd: 'y z' }, img).warnings,
        ['cmd "y z" exists but will be ignored because of entrypoint settings']);
    });
    it('shell form with the cmd cleared in the same call: no warning', () => {
      assert.deepEqual(apply({ entrypoint: 'x', cmd: '' }, img).warnings, []);
    });
    it('no cmd, no warning; clearing the entrypoint, no warning', () => {
      assert.deepEqual(apply({ entrypoint: 'x' }, base({})).warnings, []);
      assert.deepEqual(apply({ entrypoint: '' }, img).warnings, []);
    });
  });
});

describe('--env', () => {
  const img = base({ Env: ['PATH=/usr/bin:/bin', 'HOME=/root', 'LANG=C'] });
  const cases: [string, string[], string[] | undefined][] = [
    ['append', ['A=1'], ['PATH=/usr/bin:/bin', 'HOME=/root', 'LANG=C', 'A=1']],
    ['replace keeps the position', ['HOME=/home/x'], ['PATH=/usr/bin:/bin', 'HOME=/home/x', 'LANG=C']],
    ['value may hold =', ['A=b=c'], ['PATH=/usr/bin:/bin', 'HOME=/root', 'LANG=C', 'A=b=c']],
    ['empty value', ['A='], ['PATH=/usr/bin:/bin', 'HOME=/root', 'LANG=C', 'A=']],
    ['expands $X from the container', ['PATH=$PATH:/opt/bin'], ['PATH=/usr/bin:/bin:/opt/bin', 'HOME=/root', 'LANG=C']],
    ['expands ${X}', ['CFG=${HOME}/.cfg'], ['PATH=/usr/bin:/bin', 'HOME=/root', 'LANG=C', 'CFG=/root/.cfg']],
    ['sees earlier flags of the same call', ['A=1', 'B=$A$A'], ['PATH=/usr/bin:/bin', 'HOME=/root', 'LANG=C', 'A=1', 'B=11']],
    ['a lone $ stays', ['P=cost $ 5/$'], ['PATH=/usr/bin:/bin', 'HOME=/root', 'LANG=C', 'P=cost $ 5/$']],
    ['K- removes', ['HOME-'], ['PATH=/usr/bin:/bin', 'LANG=C']],
    ['K- of an unset variable is a no-op', ['NOPE-'], ['PATH=/usr/bin:/bin', 'HOME=/root', 'LANG=C']],
    ['- removes all', ['-'], undefined],
    ['- then set', ['-', 'A=1'], ['A=1']],
    ['K-=V sets a variable named K- (Buildah checks = first)', ['K-=v'], ['PATH=/usr/bin:/bin', 'HOME=/root', 'LANG=C', 'K-=v']],
  ];
  for (const [name, specs, want] of cases) {
    it(name, () => {
      const r = apply({ env: specs }, img);
      assert.deepEqual(r.image.config.config?.Env, want);
      assert.deepEqual(r.warnings, []);
    });
  }
  it('replacing drops later duplicates', () => {
    assert.deepEqual(cfgOf({ env: ['A=9'] }, base({ Env: ['A=1', 'B=2', 'A=3'] })).Env, ['A=9', 'B=2']);
  });
  it('K- removes every duplicate', () => {
    assert.deepEqual(cfgOf({ env: ['A-'] }, base({ Env: ['A=1', 'B=2', 'A=3'] })).Env, ['B=2']);
  });
  it('an unset $VAR expands to "" with a warning naming it (tbah departs from Buildah)', () => {
    const r = apply({ env: ['X=a${NOPE}b$ALSO_NOT'] }, img, { NOPE: 'from-host', ALSO_NOT: 'host' });
    assert.deepEqual(r.image.config.config?.Env?.at(-1), 'X=ab');
    assert.equal(r.warnings.length, 2);
    assert.match(r.warnings[0]!, /^--env "X=a\$\{NOPE\}b\$ALSO_NOT": \$NOPE is not set in the container's environment/);
    assert.match(r.warnings[1]!, /\$ALSO_NOT is not set/);
  });
  it('the caller\'s environment is never used for expansion', () => {
    const r = apply({ env: ['Y=$HOSTVAR'] }, img, { HOSTVAR: 'secret' });
    assert.equal(r.image.config.config?.Env?.at(-1), 'Y=');
  });
  it('a malformed ${ is dropped with a warning', () => {
    const r = apply({ env: ['X=a${b'] }, img);
    assert.equal(r.image.config.config?.Env?.at(-1), 'X=ab');
    assert.deepEqual(r.warnings, ['--env "X=a${b": malformed variable reference "${" dropped']);
  });
  it('K alone takes the caller\'s value', () => {
    assert.deepEqual(cfgOf({ env: ['TOKEN', 'HOME'] }, img, { TOKEN: 't0k', HOME: '/home/me' }).Env,
      ['PATH=/usr/bin:/bin', 'HOME=/home/me', 'LANG=C', 'TOKEN=t0k']);
  });
  it('K alone, unset or empty in the caller → error', () => {
    for (const env of [{}, { K: '' }]) {
      rejects({ env: ['K'] }, '--env', 'K', /: no value given for environment variable K$/, img, env);
    }
  });
  it('empty names are refused', () => {
    rejects({ env: ['=v'] }, '--env', '=v', /variable name is empty/);
    rejects({ env: [''] }, '--env', '', /variable name is empty/);
  });
});

describe('expandVars (Go os.Expand, values checked against Go)', () => {
  const env: Record<string, string> = { A: '1', B_2: 'two', $: 'dollar', 1: 'one', 'a b': 'sp' };
  const cases: [string, string][] = [
    ['', ''], ['plain', 'plain'], ['$A', '1'], ['${A}', '1'], ['x$A-y', 'x1-y'], ['$A$B_2', '1two'],
    ['${B_2}x', 'twox'], ['$B_2x', '<B_2x?>'], ['$NOPE', '<NOPE?>'], ['$', '$'], ['a$', 'a$'], ['$ a', '$ a'],
    ['$/x', '$/x'], ['$$', 'dollar'], ['$$5', 'dollar5'], ['$1x', 'onex'], ['${12}', '<12?>'], ['$12', 'one2'],
    ['${', ''], ['${A', 'A'], ['${}', ''], ['${}x', 'x'], ['${a b}', 'sp'], ['$-x', '<-?>x'], ['${$}', 'dollar'],
    ['$é', '$é'], ['${A}}', '1}'], ['$_', '<_?>'],
  ];
  for (const [input, want] of cases) {
    it(JSON.stringify(input), () => assert.equal(expandVars(input, (n) => env[n] ?? `<${n}?>`), want));
  }
});

describe('--label, --unsetlabel', () => {
  const img = base({ Labels: { a: '1', b: '2' } });
  const cases: [string[], Record<string, string> | undefined][] = [
    [['c=3'], { a: '1', b: '2', c: '3' }],
    [['a=9'], { a: '9', b: '2' }],
    [['url=http://x/?q=1'], { a: '1', b: '2', url: 'http://x/?q=1' }],
    [['flag'], { a: '1', b: '2', flag: '' }],
    [['a-'], { b: '2' }],
    [['a-', 'b-'], undefined],
    [['-'], undefined],
    [['-', 'z=1'], { z: '1' }],
  ];
  for (const [specs, want] of cases) {
    it(JSON.stringify(specs), () => assert.deepEqual(cfgOf({ label: specs }, img).Labels, want));
  }
  it('--unsetlabel removes after --label is applied', () => {
    assert.deepEqual(cfgOf({ label: ['c=3'], unsetLabel: ['a', 'c', 'missing'] }, img).Labels, { b: '2' });
  });
  it('--unsetlabel on an image without labels is a no-op', () => {
    assert.ok(!('Labels' in cfgOf({ unsetLabel: ['a'] })));
  });
  it('rejects an empty key', () => rejects({ label: ['=x'] }, '--label', '=x', /key is empty/));
});

describe('--annotation, --unsetannotation', () => {
  const cases: [string[], Record<string, string>][] = [
    [['a=1'], { 'org.example.keep': 'yes', a: '1' }],
    [['org.example.keep=no'], { 'org.example.keep': 'no' }],
    [['org.example.keep-'], {}],
    [['-'], {}],
    [['-', 'b=2'], { b: '2' }],
    [['k'], { 'org.example.keep': 'yes', k: '' }],
  ];
  for (const [specs, want] of cases) {
    it(JSON.stringify(specs), () => assert.deepEqual(apply({ annotation: specs }).image.annotations, want));
  }
  it('--unsetannotation removes', () => {
    assert.deepEqual(apply({ unsetAnnotation: ['org.example.keep'] }).image.annotations, {});
  });
  it('Buildah applies --annotation after --unsetannotation', () => {
    assert.deepEqual(apply({ annotation: ['a=1'], unsetAnnotation: ['a'] }).image.annotations, { 'org.example.keep': 'yes', a: '1' });
  });
  it('annotations never touch the image config', () => {
    assert.deepEqual(apply({ annotation: ['a=1'] }).image.config, base().config);
  });
  it('rejects an empty key', () => rejects({ annotation: ['=x'] }, '--annotation', '=x', /key is empty/));
});

describe('--port', () => {
  const img = base({ ExposedPorts: { '80/tcp': {}, '53/udp': {} } });
  const cases: [string[], string[] | undefined][] = [
    [['8080'], ['80/tcp', '53/udp', '8080']], // stored as typed: no /tcp added
    [['514/udp', '514/tcp'], ['80/tcp', '53/udp', '514/udp', '514/tcp']],
    [['9000/SCTP'], ['80/tcp', '53/udp', '9000/sctp']],
    [['08080'], ['80/tcp', '53/udp', '8080']],
    [['80'], ['80/tcp', '53/udp']], // 80 is 80/tcp: no duplicate
    [['80-'], ['53/udp']],
    [['80/tcp-'], ['53/udp']],
    [['53-'], ['80/tcp', '53/udp']], // 53 means 53/tcp
    [['53/udp-'], ['80/tcp']],
    [['-'], undefined],
    [['-', '1'], ['1']],
    [['65535'], ['80/tcp', '53/udp', '65535']],
  ];
  for (const [specs, want] of cases) {
    it(JSON.stringify(specs), () => {
      // Compared as sets: JS puts integer-like keys such as "8080" first.
      const p = cfgOf({ port: specs }, img).ExposedPorts;
      assert.deepEqual(p === undefined ? undefined : Object.keys(p).sort(), want?.sort());
      if (p) for (const v of Object.values(p)) assert.deepEqual(v, {});
    });
  }
  it('removes a bare port with N/tcp-', () => {
    assert.equal(cfgOf({ port: ['8080/tcp-'] }, base({ ExposedPorts: { 8080: {} } })).ExposedPorts, undefined);
  });
  const errors: [string, RegExp][] = [
    ['0', /out of range/], ['65536', /out of range/], ['99999/tcp', /out of range/],
    ['http', /not a port/], ['80/xyz', /unknown protocol "xyz"/], ['8000-8010', /not a port/],
    ['-80', /not a port/], ['80/', /not a port/], [' 80', /not a port/], ['', /must not be empty/],
  ];
  for (const [spec, why] of errors) it(`rejects ${JSON.stringify(spec)}`, () => rejects({ port: [spec] }, '--port', spec, why));
});

describe('--volume', () => {
  const img = base({ Volumes: { '/data': {} } });
  const cases: [string[], string[] | undefined][] = [
    [['/logs'], ['/data', '/logs']],
    [['/data'], ['/data']],
    [['/data/'], ['/data']], // same path
    [['/data-'], undefined],
    [['/data/-'], undefined],
    [['/other-'], ['/data']],
    [['-'], undefined],
    [['-', '/x'], ['/x']],
  ];
  for (const [specs, want] of cases) {
    it(JSON.stringify(specs), () => {
      const v = cfgOf({ volume: specs }, img).Volumes;
      assert.deepEqual(v === undefined ? undefined : Object.keys(v), want);
    });
  }
  for (const spec of ['data', './data', '']) {
    it(`rejects ${JSON.stringify(spec)}`, () => rejects({ volume: [spec] }, '--volume', spec, spec === '' ? /must not be empty/ : /absolute path/));
  }
});

describe('string fields', () => {
  const img = base({ User: 'root', WorkingDir: '/w', StopSignal: 'SIGTERM', Hostname: 'h', Domainname: 'd' });
  const cases: [ConfigChanges, keyof ContainerConfig, string | undefined][] = [
    [{ user: '1000:1000' }, 'User', '1000:1000'],
    [{ user: '' }, 'User', undefined],
    [{ workingdir: '/app' }, 'WorkingDir', '/app'],
    [{ workingdir: '' }, 'WorkingDir', undefined],
    [{ stopSignal: 'SIGQUIT' }, 'StopSignal', 'SIGQUIT'],
    [{ stopSignal: '' }, 'StopSignal', undefined],
    [{ hostname: 'box' }, 'Hostname', 'box'],
    [{ hostname: '' }, 'Hostname', undefined],
    [{ domainname: 'example.org' }, 'Domainname', 'example.org'],
    [{ domainname: '' }, 'Domainname', undefined],
  ];
  for (const [ch, key, want] of cases) {
    it(JSON.stringify(ch), () => {
      const c = cfgOf(ch, img);
      assert.equal(c[key], want);
      if (want === undefined) assert.ok(!(key in c));
    });
  }
  it('image-level fields', () => {
    const r = apply({ author: 'Jane', comment: 'hello', createdBy: 'make image', historyComment: 'step 1', arch: 'arm64', os: 'linux', variant: 'v8', osVersion: '10.0' });
    const ic = r.image.config;
    assert.equal(ic.author, 'Jane');
    assert.equal(ic.comment, 'hello');
    assert.equal(ic.architecture, 'arm64');
    assert.equal(ic.os, 'linux');
    assert.equal(ic.variant, 'v8');
    assert.equal(ic['os.version'], '10.0');
    assert.equal(r.image.createdBy, 'make image');
    assert.equal(r.image.historyComment, 'step 1');
    assert.deepEqual(ic.config, base().config.config, 'container config untouched');
  });
  it('"" unsets image-level optional fields', () => {
    const img2 = base();
    Object.assign(img2.config, { author: 'a', comment: 'c', variant: 'v8', 'os.version': '1' });
    Object.assign(img2, { createdBy: 'x', historyComment: 'y' });
    const r = apply({ author: '', comment: '', variant: '', osVersion: '', createdBy: '', historyComment: '' }, img2);
    for (const k of ['author', 'comment', 'variant', 'os.version']) assert.ok(!(k in r.image.config), k);
    assert.ok(!('createdBy' in r.image) && !('historyComment' in r.image));
  });
  it('--arch and --os cannot be empty', () => {
    rejects({ arch: '' }, '--arch', '', /must not be empty/);
    rejects({ os: '' }, '--os', '', /must not be empty/);
  });
});

describe('--stop-signal validation (stored as given)', () => {
  for (const sig of ['SIGTERM', 'TERM', 'term', 'sigkill', 'SIGRTMIN', 'SIGRTMIN+3', 'RTMAX-2', 'SIGRTMAX', 'SIGWINCH', '9', '1', '64']) {
    it(`accepts ${sig}`, () => assert.equal(cfgOf({ stopSignal: sig }).StopSignal, sig));
  }
  for (const sig of ['0', '65', '-9', 'BOGUS', 'SIG', 'SIGRTMIN+16', 'RTMAX-15', ' TERM', '9x']) {
    it(`rejects ${JSON.stringify(sig)}`, () => rejects({ stopSignal: sig }, '--stop-signal', sig, /not a signal/));
  }
});

describe('--os-feature', () => {
  const img = base();
  img.config['os.features'] = ['win32k'];
  const cases: [string[], string[] | undefined][] = [
    [['f2'], ['win32k', 'f2']],
    [['win32k'], ['win32k']],
    [['win32k-'], undefined],
    [['-'], undefined],
    [['-', 'a', 'b', 'a'], ['a', 'b']],
  ];
  for (const [specs, want] of cases) {
    it(JSON.stringify(specs), () => {
      const ic = apply({ osFeature: specs }, img).image.config;
      assert.deepEqual(ic['os.features'], want);
      if (want === undefined) assert.ok(!('os.features' in ic));
    });
  }
});

describe('--shell', () => {
  const cases: [string, string[] | undefined][] = [
    ['["/bin/bash","-c"]', ['/bin/bash', '-c']],
    ['/bin/bash -c', ['/bin/bash', '-c']], // Buildah's form: words
    ['"/bin/my shell" -c', ['/bin/my shell', '-c']],
    ['', undefined],
    ['[]', undefined],
  ];
  for (const [input, want] of cases) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(want)}`, () => {
      const c = cfgOf({ shell: input }, base({ Shell: ['/bin/ash', '-c'] }));
      assert.deepEqual(c.Shell, want);
    });
  }
  for (const [input, why] of [['["/bin/bash",', /not a valid JSON array/], ["'/bin/bash -c", /unterminated/]] as const) {
    it(`rejects ${JSON.stringify(input)}`, () => rejects({ shell: input }, '--shell', input, why));
  }
});

describe('--healthcheck and its timings', () => {
  const DEFAULTS = { Interval: 30 * S, Timeout: 30 * S, Retries: 3 };
  const tests: [string, string[]][] = [
    ['CMD curl -f http://localhost/', ['CMD', 'curl', '-f', 'http://localhost/']],
    ["CMD /bin/check 'a b'", ['CMD', '/bin/check', 'a b']],
    ['cmd /bin/check', ['CMD', '/bin/check']],
    ['CMD-SHELL curl -f http://localhost/ || exit 1', ['CMD-SHELL', 'curl -f http://localhost/ || exit 1']],
    ['  CMD-SHELL   echo "a  b"  ', ['CMD-SHELL', 'echo "a  b"']],
    ['NONE', ['NONE']],
    ['none', ['NONE']],
    ['["CMD","/bin/check","--fast"]', ['CMD', '/bin/check', '--fast']],
    ['["CMD-SHELL","check || exit 1"]', ['CMD-SHELL', 'check || exit 1']],
    ['["NONE"]', ['NONE']],
  ];
  for (const [input, test] of tests) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(test)}`, () => {
      assert.deepEqual(cfgOf({ healthcheck: input }).Healthcheck, { Test: test, ...DEFAULTS });
    });
  }
  const existing = base({ Healthcheck: { Test: ['CMD', 'old'], Interval: 10 * S, Timeout: 5 * S, Retries: 2, StartPeriod: S } });
  it('timings alone change only those timings of an existing healthcheck', () => {
    assert.deepEqual(cfgOf({ healthcheckInterval: '1m30s', healthcheckRetries: '7' }, existing).Healthcheck,
      { Test: ['CMD', 'old'], Interval: 90 * S, Timeout: 5 * S, Retries: 7, StartPeriod: S });
  });
  it('all timings, retries as a number', () => {
    assert.deepEqual(cfgOf({
      healthcheck: 'CMD /c', healthcheckInterval: '500ms', healthcheckTimeout: '2s', healthcheckStartPeriod: '1h',
      healthcheckStartInterval: '1.5s', healthcheckRetries: 5,
    }).Healthcheck, { Test: ['CMD', '/c'], Interval: 500_000_000, Timeout: 2 * S, StartPeriod: 3600 * S, StartInterval: 1.5 * S, Retries: 5 });
  });
  it('a timing alone on an image without a healthcheck starts from Buildah\'s NONE defaults', () => {
    assert.deepEqual(cfgOf({ healthcheckTimeout: '3s' }).Healthcheck, { Test: ['NONE'], Interval: 30 * S, Timeout: 3 * S, Retries: 3 });
  });
  it('--healthcheck-start-interval alone also works (Buildah forgets it)', () => {
    assert.deepEqual(cfgOf({ healthcheckStartInterval: '2s' }).Healthcheck, { Test: ['NONE'], ...DEFAULTS, StartInterval: 2 * S });
  });
  it('zero timings are omitted (Docker: 0 = default)', () => {
    assert.deepEqual(cfgOf({ healthcheck: 'CMD x', healthcheckInterval: '0', healthcheckRetries: '0' }).Healthcheck,
      { Test: ['CMD', 'x'], Timeout: 30 * S });
  });
  it('"" removes the healthcheck, whatever else is given', () => {
    for (const ch of [{ healthcheck: '' }, { healthcheck: '  ', healthcheckInterval: '5s' }, { healthcheck: '[]' }]) {
      assert.ok(!('Healthcheck' in cfgOf(ch, existing)), JSON.stringify(ch));
    }
  });
  it('no healthcheck flag, healthcheck untouched', () => {
    assert.deepEqual(cfgOf({ user: 'x' }, existing).Healthcheck, existing.config.config?.Healthcheck);
  });
  const bad: [string, RegExp][] = [
    ['curl -f http://x', /must start with NONE, CMD or CMD-SHELL/],
    ['NONE now', /NONE takes no command/],
    ['CMD', /CMD needs a command/],
    ['CMD-SHELL', /CMD-SHELL needs a command/],
    ['["curl"]', /must be \["NONE"\]/],
    ['["CMD"]', /must be \["NONE"\]/],
    ['[1]', /JSON array of strings/],
    ['["CMD",', /not a valid JSON array/],
    ["CMD check 'x", /unterminated single quote/],
    ['CMD check || exit 1', /shell operator "\|"/],
  ];
  for (const [input, why] of bad) {
    it(`rejects ${JSON.stringify(input)}`, () => rejects({ healthcheck: input }, '--healthcheck', input, why));
  }
  const badTimes: [keyof ConfigChanges, string, string, RegExp][] = [
    ['healthcheckInterval', '--healthcheck-interval', '10', /missing unit/],
    ['healthcheckInterval', '--healthcheck-interval', '-1s', /must not be negative/],
    ['healthcheckTimeout', '--healthcheck-timeout', '500us', /at least 1ms/],
    ['healthcheckStartPeriod', '--healthcheck-start-period', '1d', /unknown unit "d"/],
    ['healthcheckStartInterval', '--healthcheck-start-interval', 'soon', /invalid duration/],
  ];
  for (const [key, flag, value, why] of badTimes) {
    it(`rejects ${flag} ${value}`, () => rejects({ [key]: value }, flag, value, why));
  }
  for (const value of ['-1', 'x', '1.5', '', ' 3', '0x10'] as const) {
    it(`rejects --healthcheck-retries ${JSON.stringify(value)}`, () => rejects({ healthcheckRetries: value }, '--healthcheck-retries', value, /whole number/));
  }
  for (const value of [-1, 1.5, Number.NaN]) {
    it(`rejects --healthcheck-retries ${value}`, () => rejects({ healthcheckRetries: value }, '--healthcheck-retries', String(value), /whole number/));
  }
});

describe('--onbuild', () => {
  it('appends, keeping existing triggers and duplicates', () => {
    assert.deepEqual(cfgOf({ onbuild: ['RUN make', 'COPY . /src', 'RUN make'] }, base({ OnBuild: ['RUN a'] })).OnBuild,
      ['RUN a', 'RUN make', 'COPY . /src', 'RUN make']);
  });
  it('rejects an empty trigger', () => rejects({ onbuild: ['RUN x', ' '] }, '--onbuild', ' ', /empty ONBUILD/));
});

describe('everything at once', () => {
  it('gives the config Buildah would (modulo the documented departures)', () => {
    const r = apply({
      env: ['GOPATH=/go', 'PATH=$GOPATH/bin:$PATH'], label: ['maintainer=me'], port: ['8080'], volume: ['/data'],
      user: 'app', workingdir: '/srv', entrypoint: '["/srv/app"]', cmd: '--serve', stopSignal: 'SIGINT',
      annotation: ['org.opencontainers.image.source=https://example.org/x'],
    });
    assert.deepEqual(r.image.config.config, {
      Env: ['PATH=/go/bin:/usr/bin:/bin', 'HOME=/root', 'GOPATH=/go'],
      Cmd: ['--serve'], Entrypoint: ['/srv/app'], Labels: { maintainer: 'me' }, ExposedPorts: { 8080: {} },
      Volumes: { '/data': {} }, User: 'app', WorkingDir: '/srv', StopSignal: 'SIGINT',
    });
    assert.deepEqual(r.image.annotations, { 'org.example.keep': 'yes', 'org.opencontainers.image.source': 'https://example.org/x' });
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(JSON.parse(JSON.stringify(r.image)), r.image, 'plain JSON data');
  });
});

describe('config --add-history entries (Buildah 1.28, measured)', () => {
  it('one entry per instruction, in Buildah\'s order and wording', () => {
    const ch: ConfigChanges = {
      workingdir: '/w', label: ['l=1', 'm=2'], user: '1', env: ['A=1', 'B=2'], port: ['80', '53/udp'], cmd: 'echo hi', entrypoint: '["/bin/sh"]',
      volume: ['/v', '/w'], stopSignal: 'TERM', healthcheck: 'CMD true', healthcheckInterval: '5s', healthcheckRetries: 2, onbuild: ['RUN x'], shell: '/bin/sh -c',
    };
    assert.deepEqual(configHistory(ch).map((s) => s.replace('/bin/sh -c #(nop) ', '')), [
      'USER 1', 'SHELL /bin/sh -c', 'STOPSIGNAL TERM', 'EXPOSE 80 53/udp', 'ENV A=1 B=2', 'ENTRYPOINT ["/bin/sh"]', 'CMD echo hi',
      'VOLUME /v', 'VOLUME /w', 'HEALTHCHECK --interval=5s --retries=2 CMD true', 'LABEL l=1 m=2', 'WORKDIR /w', 'ONBUILD RUN x',
    ]);
    assert.deepEqual(configHistory({ healthcheck: '' }), ['/bin/sh -c #(nop) HEALTHCHECK NONE']);
    assert.deepEqual(configHistory({ author: 'me', comment: 'c' }), [], 'no ENV entry without --env (Buildah adds an empty one)');
  });

  it('--unsetannotation is remembered until the key is set again', () => {
    const a = applyConfigChanges(base(), { unsetAnnotation: ['org.opencontainers.image.base.name', 'org.example.keep'] }, {}).image;
    assert.deepEqual(a.unsetAnnotations, ['org.opencontainers.image.base.name', 'org.example.keep']);
    assert.deepEqual(a.annotations, {});
    const b = applyConfigChanges(a, { annotation: ['org.example.keep=again'] }, {}).image;
    assert.deepEqual(b.unsetAnnotations, ['org.opencontainers.image.base.name']);
  });
});
