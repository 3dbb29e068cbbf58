import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { goDuration, goFloat, goQuote, goTime, marshal, sprintf, val } from '../../src/cli/go-fmt.js';
import { BUILDER_INFO, CONTAINER_HEADERS, CONTAINER_ROW, IMAGE_HEADERS, IMAGE_ROW, VERSION_INFO } from '../../src/cli/go-schemas.js';
import { renderRows } from '../../src/cli/list-format.js';
import { goTabwrite } from '../../src/cli/output.js';
import { renderTemplate } from '../../src/cli/template.js';
import { TbahError } from '../../src/core/errors.js';

const fails = (fn: () => unknown, message: RegExp, hint?: RegExp): void => {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TbahError, String(e));
    assert.match(e.message, message);
    if (hint) assert.match(e.hint ?? '', hint);
    return true;
  });
};

describe('zero values of fields absent from the JSON (Go types from go-schemas)', () => {
  // A container as tbah shows it: no Docker config, no runtime fields.
  const ctr = { Type: 'tbah 0.0.1', FromImage: '', OCIv1: { architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] } } };
  const cases: [string, string][] = [
    ['{{.OCIv1.Config.Env}}', '[]'],
    ['{{.OCIv1.Config.Labels}}', 'map[]'],
    ['{{.OCIv1.Config.Labels.missing}}', '<no value>'],
    ['{{index .OCIv1.Config.Labels "missing"}}', ''],
    ['{{.OCIv1.Config}}', '{ map[] [] [] [] map[]  map[]  false}'],
    ['{{.OCIv1.Created}}', '<nil>'],
    ['{{.Docker.Config}}', '<nil>'],
    ['{{.Docker.Created}}', '0001-01-01 00:00:00 +0000 UTC'],
    ['{{.IDMappingOptions}}', '{false false [] [] false {0 0   [] []}}'],
    ['{{.NamespaceOptions}}|{{.Capabilities}}|{{.Devices}}|{{.ImageAnnotations}}|{{.MountPoint}}', '[]|[]|[]|map[]|'],
    ['{{len .History}}', '0'],
    ['{{json .OCIv1.Config.Volumes}}|{{json .OCIv1.Config.User}}|{{json .History}}', 'null|""|null'],
    // omitempty never drops a struct in Go: config stays as {}.
    ['{{json .OCIv1}}', '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}'],
    ['{{.OCIv1.config.Env}}|{{.OCIv1.RootFS.diff_ids}}', '[]|[]'], // tbah also takes JSON keys
  ];
  for (const [t, want] of cases) it(t, () => assert.equal(renderTemplate(t, ctr, BUILDER_INFO), want));

  it('keys tbah adds beyond Buildah\'s struct are reachable', () => {
    assert.equal(renderTemplate('{{.Format}} {{len .Layers}} {{(index .Layers 0).size}}', { Format: 'oci', Layers: [{ size: 1024 }] }, BUILDER_INFO), 'oci 1 1024');
  });
});

describe('errors', () => {
  it('an unknown field names the type and lists the valid fields', () => {
    // Buildah 1.28: "template: image:1:2: executing "image" at <.Repository>: can't evaluate field Repository in type main.imageOutputParams"
    fails(() => renderTemplate('{{.Repository}}', {}, IMAGE_ROW, { name: 'image' }),
      /^template: image:1:2: executing "image" at <\.Repository>: can't evaluate field Repository in type main\.imageOutputParams$/,
      /\.Tag \.ID \.Name \.Digest \.Created \.CreatedAt \.Size \.CreatedAtRaw \.ReadOnly \.History/);
    // A chained field sits at its second name, as Go reports it.
    fails(() => renderTemplate('{{.OCIv1.Config.Foo}}', {}, BUILDER_INFO), /^template: format:1:8: executing "format" at <\.OCIv1\.Config\.Foo>: can't evaluate field Foo in type v1\.ImageConfig$/);
  });
  it('function errors quote the whole command', () => {
    fails(() => renderTemplate('{{index .OCIv1.Config.Env 9}}', { OCIv1: { config: { Env: ['A=1'] } } }, BUILDER_INFO),
      /at <index \.OCIv1\.Config\.Env 9>: error calling index: index out of range: 9$/);
    fails(() => renderTemplate('{{len 3}}', {}), /at <len 3>: error calling len: len of type int$/);
  });
  it('parse errors: unknown functions, unclosed actions, missing values', () => {
    fails(() => renderTemplate('{{nosuch 1}}', {}), /^template: format:1: function "nosuch" not defined$/);
    fails(() => renderTemplate('{{.A', {}), /unclosed action/);
    fails(() => renderTemplate('{{if}}x{{end}}', {}), /missing value for if/);
    fails(() => renderTemplate('{{if .A}}x', {}), /has no \{\{end\}\}/);
    fails(() => renderTemplate('{{end}}', {}), /unexpected \{\{end\}\}/);
    fails(() => renderTemplate('{{$x}}', {}), /undefined variable "\$x"/);
  });
  it('what tbah does not do is refused by name, never skipped', () => {
    fails(() => renderTemplate('{{define "x"}}a{{end}}', {}), /\{\{define\}\} is not supported by tbah/);
    fails(() => renderTemplate('{{template "x"}}', {}), /\{\{template\}\} is not supported by tbah/);
    fails(() => renderTemplate('{{call .F}}', { F: 1 }), /call is not supported by tbah/);
    fails(() => renderTemplate('{{printf "%#v" .}}', {}), /%#v \(Go syntax\) is not supported by tbah/);
    fails(() => renderTemplate('{{printf "%*d" 3 4}}', {}), /"\*" widths are not supported by tbah/);
    fails(() => renderTemplate('{{.OCIv1.Created.Round 5}}', { OCIv1: { created: '2020-01-01T00:00:00Z' } }, BUILDER_INFO), /method Round of time\.Time is not supported by tbah/);
  });
  it('a nil pointer and ranging over a struct fail as in Go', () => {
    fails(() => renderTemplate('{{.Docker.Config.Healthcheck.Interval}}', { Docker: { config: {} } }, BUILDER_INFO),
      /nil pointer evaluating \*docker\.HealthConfig\.Interval$/);
    fails(() => renderTemplate('{{range .OCIv1}}x{{end}}', { OCIv1: {} }, BUILDER_INFO), /at <\.OCIv1>: range can't iterate over \{/);
  });
});

describe('language', () => {
  const data = { A: [3, 1, 2], M: { b: 2, a: 1 }, S: 'str', E: [], N: null, T: true };
  const cases: [string, string][] = [
    ['{{range $i, $v := .A}}{{$i}}:{{$v}} {{end}}', '0:3 1:1 2:2 '],
    ['{{range $k, $v := .M}}{{$k}}={{$v}};{{end}}', 'a=1;b=2;'],
    ['{{range .E}}x{{else}}none{{end}}', 'none'],
    ['{{range .A}}{{if eq . 1}}{{break}}{{end}}{{.}}{{end}}', '3'],
    ['{{range .A}}{{if eq . 1}}{{continue}}{{end}}{{.}}{{end}}', '32'],
    ['{{with .N}}x{{else with .S}}{{.}}{{end}}', 'str'],
    ['{{if .N}}a{{else if .T}}b{{else}}c{{end}}', 'b'],
    ['{{.M.a}} {{.M.zz}} {{index .M "zz"}}', '1 <no value> <no value>'],
    ['{{index .A 0}}{{index (index . "A") 2}}', '32'],
    ['{{(index .A 1) | printf "%03d"}}', '001'],
    ['a  {{- .S -}}  b', 'astrb'],
    ['{{- /* c */ -}} x', 'x'],
    ['{{$v := .S}}{{with .A}}{{$v}}{{$}}{{end}}', 'strmap[A:[3 1 2] E:[] M:map[a:1 b:2] N:<nil> S:str T:true]'],
    ['{{and 1 0 2}}|{{or 0 "" "x"}}|{{not .T}}', '0|x|false'],
    ['{{printf "%v|%q|%5s|%-4d|%x" .A .S .S 7 "hi"}}', '[3 1 2]|"str"|  str|7   |6869'],
    ['{{len .S}}{{len .A}}{{len .M}}', '332'],
    ['{{json .}}', '{"A":[3,1,2],"E":[],"M":{"a":1,"b":2},"N":null,"S":"str","T":true}'],
    ['{{split "a,b" ","}}|{{join (split "a,b" ",") "+"}}|{{upper "x"}}{{lower "Y"}}|{{title "hello world"}}|{{truncate "abcdef" 3}}|{{pad "x" 1 2}}.', '[a b]|a+b|Xy|Hello World|abc| x  .'],
    ['{{"\\u00e9\\x41\\101"}}', 'éAA'],
    ['{{ .S }}', 'str'],
  ];
  for (const [t, want] of cases) it(t, () => assert.equal(renderTemplate(t, data), want));

  it('info is a map: a missing key is <no value>', () => {
    assert.equal(renderTemplate('{{.store.RunRoot}}|{{.store.nope}}|{{.host}}', { store: { RunRoot: '/run/tbah' }, host: { cpus: 2, os: 'linux' } }), '/run/tbah|<no value>|map[cpus:2 os:linux]');
  });
  it('version has its own struct', () => {
    assert.equal(renderTemplate('{{.Version}} {{.Platform}}', { version: '0.1.0', platform: 'linux/amd64' }, VERSION_INFO), '0.1.0 linux/amd64');
  });
});

describe('Go fmt', () => {
  it('durations as time.Duration.String', () => {
    const cases: [number, string][] = [[0, '0s'], [5e9, '5s'], [1.5e9, '1.5s'], [90e9, '1m30s'], [3600e9, '1h0m0s'], [3723.5e9, '1h2m3.5s'], [1500, '1.5µs'], [2e6, '2ms'], [999, '999ns'], [-5e9, '-5s']];
    for (const [ns, s] of cases) assert.equal(goDuration(ns), s);
  });
  it('floats as %v', () => {
    const cases: [number, string][] = [[1.5, '1.5'], [1e6, '1e+06'], [123456, '123456'], [1234567, '1.234567e+06'], [0.0001, '0.0001'], [0.00001, '1e-05'], [-2.5, '-2.5'], [0, '0']];
    for (const [f, s] of cases) assert.equal(goFloat(f), s);
  });
  it('times as time.Time.String', () => {
    assert.equal(goTime('2026-12-08T00:19:33.731788119Z'), '2026-12-08 00:19:33.731788119 +0000 UTC');
    assert.equal(goTime('2026-12-08T00:19:33.700Z'), '2026-12-08 00:19:33.7 +0000 UTC');
    assert.equal(goTime('2026-12-08T00:19:33+02:00'), '2026-12-08 00:19:33 +0200 +0200');
    assert.equal(goTime(undefined), '0001-01-01 00:00:00 +0000 UTC');
  });
  it('strconv.Quote', () => {
    assert.equal(goQuote('a"b\\c\n\t\x01é☺\x7f'), '"a\\"b\\\\c\\n\\t\\x01é☺\\x7f"');
  });
  it('Sprintf mistakes print as Go prints them', () => {
    assert.equal(sprintf('%d|%s|%d %d|%d', [val({ k: 'string' }, 'x'), val({ k: 'int' }, 5), val({ k: 'int' }, 1)]), '%!d(string=x)|%!s(int=5)|1 %!d(MISSING)|%!d(MISSING)');
    assert.equal(sprintf('%d', [val({ k: 'int' }, 1), val({ k: 'int' }, 2)]), '1%!(EXTRA int=2)');
  });
  it('json marshals maps sorted and does not escape HTML', () => {
    assert.equal(marshal(val({ k: 'map', elem: { k: 'string' } }, { b: '<&>', a: 'x' })), '{"a":"x","b":"<&>"}');
  });
});

describe('lists (images, containers) as Buildah\'s formats package writes them', () => {
  it('tabwriter aligns tab-terminated cells with 3 spaces of padding', () => {
    assert.equal(goTabwrite('a\tbb\tc\nccc\td\te\n'), 'a     bb   c\nccc   d    e\n');
    // A line without the column ends its block (Go's column blocks).
    assert.equal(goTabwrite('a\tb\nlonger line\nxxxxx\ty\n'), 'a   b\nlonger line\nxxxxx   y\n');
  });
  const rows = [
    { Tag: '1', ID: 'aa2a0fb7b73e', Name: 'localhost/bbd', Digest: 'sha256:23e3', Created: 1796689173, CreatedAt: '18 minutes ago', Size: '1.99 MB', CreatedAtRaw: '2026-12-08T00:19:33.731788119Z', ReadOnly: false, History: '<none>' },
    { Tag: '1', ID: '26a00ee4d517', Name: 'localhost/bb', Digest: 'sha256:7cad', Created: 1796689172, CreatedAt: '18 minutes ago', Size: '1.99 MB', CreatedAtRaw: '2026-12-08T00:19:32.337375005Z', ReadOnly: false, History: '<none>' },
  ];
  const images = { name: 'image', type: IMAGE_ROW, headers: IMAGE_HEADERS, expandTabs: true };
  it('spaces become columns; `table` adds the header (as buildah images --format)', () => {
    // buildah images --format '{{.ID}} {{.Name}}' and 'table {{.ID}} {{.Name}}' on the same two images.
    assert.equal(renderRows('{{.ID}} {{.Name}}', rows, images), 'aa2a0fb7b73e   localhost/bbd\n26a00ee4d517   localhost/bb\n');
    assert.equal(renderRows('table {{.ID}} {{.Name}}', rows, images), 'IMAGE ID       REPOSITORY\naa2a0fb7b73e   localhost/bbd\n26a00ee4d517   localhost/bb\n');
    // A column without a title prints <no value> (Buildah's Fields map has no Digest or Created).
    assert.equal(renderRows('table {{.Created}}', rows.slice(0, 1), images), '<no value>\n1796689173\n');
    assert.equal(renderRows('{{.CreatedAtRaw}}|{{.ReadOnly}}', rows.slice(0, 1), images), '2026-12-08 00:19:33.731788119 +0000 UTC|false\n');
    assert.equal(renderRows('{{.ID}}\\t{{.Tag}}', rows.slice(0, 1), images), 'aa2a0fb7b73e   1\n');
  });
  it('containers: no \\t expansion (buildah containers --format prints it as is)', () => {
    const c = [{ ContainerID: 'c2d0', Builder: '   *', ImageID: '', ImageName: 'scratch', ContainerName: 'working-container' }];
    assert.equal(renderRows('{{.ContainerName}}\\t{{.ImageName}}', c, { name: 'image', type: CONTAINER_ROW, headers: CONTAINER_HEADERS }), 'working-container\\tscratch\n');
    assert.equal(renderRows('{{.ContainerID}} {{.Builder}}', c, { name: 'image', type: CONTAINER_ROW, headers: CONTAINER_HEADERS }), 'c2d0      *\n');
  });
});
