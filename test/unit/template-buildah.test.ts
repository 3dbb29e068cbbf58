import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BUILDER_INFO } from '../../src/cli/go-schemas.js';
import { renderTemplate } from '../../src/cli/template.js';

/**
 * A Docker-format image committed by tbah, as `buildah inspect --type image`
 * (Buildah 1.28.2, Debian 12) shows it after pulling it from `tbah push …
 * docker-archive:` (the image fields of its JSON), and what `buildah inspect
 * --type image --format T` printed for it. Pointers nested in structs print
 * as addresses in Go; those are compared as 0xc…
 */
const IMAGE = {
  "FromImage": "localhost/bbd:1",
  "FromImageID": "bf6b0e5eec19ecb4dfe0538a9391f7bc97279963c4dde760e4ebd2022eed0b90",
  "OCIv1": {
    "created": "2026-12-08T00:37:39.285Z",
    "architecture": "amd64",
    "os": "linux",
    "config": {
      "Env": [
        "PATH=/bin"
      ],
      "Cmd": [
        "/bin/sh"
      ],
      "Labels": {
        "a": "b",
        "org.x": "1"
      }
    },
    "rootfs": {
      "type": "layers",
      "diff_ids": [
        "sha256:99cca49287d9712fb363c036c9a70e8db3d7e640450276f5005894ef9380e5ff"
      ]
    },
    "history": [
      {
        "created": "2026-12-08T00:37:39.285Z",
        "created_by": "/bin/sh"
      }
    ]
  },
  "Docker": {
    "created": "2026-12-08T00:37:39.285Z",
    "container_config": {
      "Hostname": "",
      "Domainname": "",
      "User": "",
      "AttachStdin": false,
      "AttachStdout": false,
      "AttachStderr": false,
      "Tty": false,
      "OpenStdin": false,
      "StdinOnce": false,
      "Env": [
        "PATH=/bin"
      ],
      "Cmd": [
        "/bin/sh"
      ],
      "Healthcheck": {
        "Test": [
          "CMD",
          "true"
        ],
        "Interval": 5000000000,
        "Timeout": 30000000000,
        "Retries": 3
      },
      "Image": "",
      "Volumes": null,
      "WorkingDir": "",
      "Entrypoint": null,
      "OnBuild": null,
      "Labels": {
        "a": "b",
        "org.x": "1"
      }
    },
    "config": {
      "Hostname": "",
      "Domainname": "",
      "User": "",
      "AttachStdin": false,
      "AttachStdout": false,
      "AttachStderr": false,
      "Tty": false,
      "OpenStdin": false,
      "StdinOnce": false,
      "Env": [
        "PATH=/bin"
      ],
      "Cmd": [
        "/bin/sh"
      ],
      "Healthcheck": {
        "Test": [
          "CMD",
          "true"
        ],
        "Interval": 5000000000,
        "Timeout": 30000000000,
        "Retries": 3
      },
      "Image": "",
      "Volumes": null,
      "WorkingDir": "",
      "Entrypoint": null,
      "OnBuild": null,
      "Labels": {
        "a": "b",
        "org.x": "1"
      }
    },
    "architecture": "amd64",
    "os": "linux",
    "rootfs": {
      "type": "layers",
      "diff_ids": [
        "sha256:99cca49287d9712fb363c036c9a70e8db3d7e640450276f5005894ef9380e5ff"
      ]
    },
    "history": [
      {
        "created": "2026-12-08T00:37:39.285Z",
        "created_by": "/bin/sh"
      }
    ]
  },
  "History": [
    {
      "created": "2026-12-08T00:37:39.285Z",
      "created_by": "/bin/sh"
    }
  ],
  "ImageAnnotations": {}
};

const FROM_BUILDAH: [string, string][] = [
  ["{{.OCIv1}}", "{2026-12-08 00:37:39.285 +0000 UTC  amd64  linux  [] { map[] [PATH=/bin] [] [/bin/sh] map[]  map[a:b org.x:1]  false} {layers [sha256:99cca49287d9712fb363c036c9a70e8db3d7e640450276f5005894ef9380e5ff]} [{2026-12-08 00:37:39.285 +0000 UTC /bin/sh   false}]}"],
  ["{{.OCIv1.Config}}", "{ map[] [PATH=/bin] [] [/bin/sh] map[]  map[a:b org.x:1]  false}"],
  ["{{.OCIv1.Created}}", "2026-12-08 00:37:39.285 +0000 UTC"],
  ["{{.OCIv1.Config.Volumes}}|{{.OCIv1.Config.Entrypoint}}|{{.OCIv1.Config.Labels}}|{{.OCIv1.Config.User}}|{{.OCIv1.Config.ExposedPorts}}", "map[]|[]|map[a:b org.x:1]||map[]"],
  ["{{index .OCIv1.Config.Labels \"nope\"}}|{{.OCIv1.Config.Labels.nope}}|{{index .OCIv1.Config.Labels \"a\"}}|{{.OCIv1.Config.Labels.a}}", "|<no value>|b|b"],
  ["{{.Docker.Config.Healthcheck}}|{{.Docker.Config.Healthcheck.Interval}}|{{.Docker.Config.Healthcheck.Timeout}}|{{.Docker.Config.Healthcheck.StartPeriod}}", "{[CMD true] 5s 30s 0s 3}|5s|30s|0s"],
  ["{{.Docker.Config}}", "{   false false false map[] false false false [PATH=/bin] [/bin/sh] 0xc00029cf80 false  map[]  [] false  [] map[a:b org.x:1]  <nil> []}"],
  ["{{.Docker}}", "{{   2026-12-08 00:37:39.285 +0000 UTC  {   false false false map[] false false false [PATH=/bin] [/bin/sh] 0xc000318580 false  map[]  [] false  [] map[a:b org.x:1]  <nil> []}   0xc0001dc9a8 amd64  linux 0}  0xc0001d6ed0 [{2026-12-08 00:37:39.285 +0000 UTC  /bin/sh  false}]  []}"],
  ["{{.History}}|{{.Devices}}|{{.ImageAnnotations}}|{{.Capabilities}}", "[{2026-12-08 00:37:39.285 +0000 UTC /bin/sh   false}]|[]|map[]|[]"],
  ["{{printf \"%q\" .FromImageID}}|{{printf \"%v %s %d\" .OCIv1.Config.Env .OCIv1.OS 7}}|{{printf \"%q\" .OCIv1.Config.Env}}|{{printf \"%x\" \"hi\"}}|{{printf \"%5.1f|%e|%g\" 3.14159 1234.5 0.000012}}", "\"bf6b0e5eec19ecb4dfe0538a9391f7bc97279963c4dde760e4ebd2022eed0b90\"|[PATH=/bin] linux 7|[\"PATH=/bin\"]|6869|  3.1|1.234500e+03|1.2e-05"],
  ["{{range $i, $e := .OCIv1.Config.Env}}{{$i}}={{$e}};{{end}}", "0=PATH=/bin;"],
  ["{{- range .OCIv1.History -}} [{{.CreatedBy}}] {{- end}}", "[/bin/sh]"],
  ["{{(index .OCIv1.History 0).CreatedBy}}|{{(index .OCIv1.History 0).Created}}|{{len .OCIv1.RootFS.DiffIDs}}|{{len .OCIv1.Config.Labels}}|{{len .FromImageID}}", "/bin/sh|2026-12-08 00:37:39.285 +0000 UTC|1|2|64"],
  ["{{if eq .OCIv1.OS \"linux\"}}L{{else if eq .OCIv1.OS \"x\"}}X{{else}}O{{end}}|{{if and .OCIv1.Config.Env (not .OCIv1.Config.Entrypoint)}}yes{{end}}|{{or .OCIv1.Config.WorkingDir \"none\"}}", "L|yes|none"],
  ["{{with .OCIv1.Config.WorkingDir}}wd={{.}}{{else}}nowd{{end}}|{{with $x := .OCIv1.Config.Cmd}}{{$x}}{{end}}", "nowd|[/bin/sh]"],
  ["{{range $k, $v := .OCIv1.Config.Labels}}{{$k}}->{{$v}} {{end}}|{{range .OCIv1.Config.Entrypoint}}x{{else}}empty{{end}}", "a->b org.x->1 |empty"],
  ["{{print .OCIv1.Config.Env 1 2 \"x\" \"y\" 3}}|{{println 1 \"a\"}}|{{print nil}}", "[PATH=/bin] 1 2xy3|1 a\n|<nil>"],
  ["{{.OCIv1.RootFS}}|{{.OCIv1.RootFS.Type}}|{{index .OCIv1.RootFS.DiffIDs 0}}", "{layers [sha256:99cca49287d9712fb363c036c9a70e8db3d7e640450276f5005894ef9380e5ff]}|layers|sha256:99cca49287d9712fb363c036c9a70e8db3d7e640450276f5005894ef9380e5ff"],
  ["{{printf \"%+v\" .OCIv1.RootFS}}|{{printf \"%v\" .OCIv1.Config.Labels}}|{{printf \"%s\" 5}}|{{printf \"%d\" \"x\"}}|{{printf \"%d %d\" 1}}|{{printf \"%d\" 1 2}}", "{Type:layers DiffIDs:[sha256:99cca49287d9712fb363c036c9a70e8db3d7e640450276f5005894ef9380e5ff]}|map[a:b org.x:1]|%!s(int=5)|%!d(string=x)|1 %!d(MISSING)|1%!(EXTRA int=2)"],
  ["{{\"a\\tb\"}}|{{`raw\\n`}}|{{'a'}}|{{1.5}}|{{1e6}}|{{0x10}}|{{-3}}|{{true}}|{{1234567.0}}|{{0.00001}}", "a\tb|raw\\n|97|1.5|1e+06|16|-3|true|1.234567e+06|1e-05"],
  ["{{$x := 5}}{{$x}}{{$x = 6}}{{$x}}|{{$.OCIv1.OS}}", "56|linux"],
  ["{{range .OCIv1.Config.Env}}{{if eq . \"PATH=/bin\"}}{{continue}}{{end}}{{.}}{{end}}|{{range .OCIv1.Config.Env}}{{break}}{{end}}done", "|done"],
  ["{{.OCIv1.Config.Env | len}}|{{.OCIv1.OS | printf \"%s-%s\" \"x\"}}|{{html \"<a&b>\"}}|{{js \"it's\"}}|{{urlquery \"a b&c\"}}", "1|x-linux|&lt;a&amp;b&gt;|it\\'s|a+b%26c"],
  ["{{slice .FromImageID 0 5}}|{{index .FromImageID 0}}|{{lt 1 2}}|{{ge \"b\" \"a\"}}|{{ne 1 2}}|{{eq 1 2 1}}", "bf6b0|98|true|true|true|true"],
  ["{{.Docker.RootFS}}|{{.Docker.History}}|{{.Docker.OSFeatures}}|{{.Docker.Size}}|{{.Docker.Parent}}|{{.Docker.ID}}", "{layers [sha256:99cca49287d9712fb363c036c9a70e8db3d7e640450276f5005894ef9380e5ff]}|[{2026-12-08 00:37:39.285 +0000 UTC  /bin/sh  false}]|[]|0||"],
  ["{{.OCIv1.Created.Format \"2006-01-02T15:04:05.000Z07:00 Mon Jan _2 3PM\"}}|{{.OCIv1.Created.Year}}|{{.OCIv1.Created.Month}}|{{.OCIv1.Created.Weekday}}|{{printf \"%d\" .OCIv1.Created.Month}}", "2026-12-08T00:37:39.285Z Tue Dec  8 12AM|2026|December|Tuesday|12"],
  ["{{(index .History 0).Created.Unix}}|{{.OCIv1.Created.UnixNano}}|{{.OCIv1.Created.String}}|{{.OCIv1.Created.IsZero}}|{{.OCIv1.Created.Format \"2006.999999999\"}}", "1796690259|1796690259285000000|2026-12-08 00:37:39.285 +0000 UTC|false|2026.285"],
  ["{{.Docker.Created.Format \"Monday, 02-Jan-06 15:04:05 MST\"}}|{{.Docker.Created.YearDay}}|{{.Docker.Config.Healthcheck.Interval.Seconds}}|{{.Docker.Config.Healthcheck.Timeout.Minutes}}", "Tuesday, 08-Dec-26 00:37:39 UTC|342|5|0.5"],
  ["{{printf \"%T %T %T %T\" .OCIv1 .OCIv1.Config.Env .FromImage 1}}|{{printf \"%6.2f|%-8d|%08.3f|%+d|%x|%X|%o|%c|%U\" 3.14159 42 2.5 5 255 255 8 65 65}}", "v1.Image []string string int|  3.14|42      |0002.500|+5|ff|FF|10|A|U+0041"],
  ["{{printf \"%v %v\" .OCIv1.Config.ExposedPorts .OCIv1.RootFS.DiffIDs}}|{{printf \"%s\" .OCIv1.Config.Labels}}|{{printf \"%q\" .OCIv1.Config.Labels}}|{{printf \"%t\" true}}|{{printf \"%5t|%-5t|\" true false}}", "map[] [sha256:99cca49287d9712fb363c036c9a70e8db3d7e640450276f5005894ef9380e5ff]|map[a:b org.x:1]|map[\"a\":\"b\" \"org.x\":\"1\"]|true| true|false|"],
  ["{{/* a comment */}}x {{- /* trimmed */ -}} y", "xy"],
  ["a {{- \"b\" -}} c {{\"d\" -}}   e", "abc de"],
  ["{{printf \"%s\" .OCIv1.Config.Env}}|{{printf \"%.2s|%8.3s|\" \"abcdef\" \"xyz123\"}}|{{printf \"%5d|%-5d|%05d\" 3 4 -5}}|{{printf \"%%|%c\" 0x263A}}", "[PATH=/bin]|ab|     xyz||    3|4    |-0005|%|☺"],
  ["{{if .OCIv1.Config.Labels.nope}}t{{else}}f{{end}}|{{if .OCIv1}}struct-true{{end}}|{{if 0}}t{{else}}zero-false{{end}}|{{not \"\"}}", "f|struct-true|zero-false|true"],
  ["{{printf \"%q\" \"tab\\there \\\"q\\\" \\\\ é \\x01\"}}", "\"tab\\there \\\"q\\\" \\\\ é \\x01\""],
  ["{{index .OCIv1.History 0}}", "{2026-12-08 00:37:39.285 +0000 UTC /bin/sh   false}"],
  ["{{printf \"%v\" .Docker.Config.Healthcheck}}|{{print .Docker.Config.Healthcheck}}|{{printf \"%+v\" .Docker.Config.Healthcheck}}", "&{[CMD true] 5s 30s 0s 3}|&{[CMD true] 5s 30s 0s 3}|&{Test:[CMD true] Interval:5s Timeout:30s StartPeriod:0s Retries:3}"],
];

const addr = (s: string): string => s.replace(/0xc[0-9a-f]+/g, '0xc…');

describe('templates over inspect data, as Buildah prints them', () => {
  for (const [tmpl, want] of FROM_BUILDAH) {
    it(tmpl, () => {
      assert.equal(addr(renderTemplate(tmpl, IMAGE, BUILDER_INFO)), addr(want));
    });
  }
});
