/**
 * The Go types Buildah 1.28 runs its `--format` templates over, field for
 * field and in Go's order (fmt prints structs positionally), with their JSON
 * keys: tbah's JSON is read through them. Checked against the installed
 * Buildah (`buildah inspect --format '{{.OCIv1}}'` and friends).
 */
import type { GoField, GoType } from './go-fmt.js';

const S: GoType = { k: 'string' };
const DIGEST: GoType = { k: 'string', name: 'digest.Digest' };
const I: GoType = { k: 'int' };
const I64: GoType = { k: 'int', name: 'int64' };
const U32: GoType = { k: 'int', name: 'uint32' };
const B: GoType = { k: 'bool' };
const T: GoType = { k: 'time' };
const D: GoType = { k: 'duration' };
const ANY: GoType = { k: 'any' };
const strings = (name?: string): GoType => ({ k: 'slice', elem: S, ...(name ? { name } : {}) });
const set = (name: string): GoType => ({ k: 'map', elem: { k: 'struct', name: 'struct {}', fields: [] }, name });
const ptr = (elem: GoType): GoType => ({ k: 'ptr', elem });
const struct = (name: string, fields: GoField[]): GoType & { k: 'struct' } => ({ k: 'struct', name, fields });
const f = (name: string, type: GoType, json?: string, omitempty = false): GoField => ({ name, type, ...(json !== undefined ? { json } : {}), ...(omitempty ? { omitempty } : {}) });

// ---- github.com/opencontainers/image-spec/specs-go/v1 (1.1.0-rc2, as Debian builds Buildah) ----

const ociHistory = struct('v1.History', [
  f('Created', ptr(T), 'created', true), f('CreatedBy', S, 'created_by', true), f('Author', S, 'author', true),
  f('Comment', S, 'comment', true), f('EmptyLayer', B, 'empty_layer', true),
]);

export const OCI_IMAGE = struct('v1.Image', [
  f('Created', ptr(T), 'created', true), f('Author', S, 'author', true), f('Architecture', S, 'architecture'),
  f('Variant', S, 'variant', true), f('OS', S, 'os'), f('OSVersion', S, 'os.version', true),
  f('OSFeatures', strings(), 'os.features', true),
  f('Config', struct('v1.ImageConfig', [
    f('User', S, 'User', true), f('ExposedPorts', set('map[string]struct {}'), 'ExposedPorts', true),
    f('Env', strings(), 'Env', true), f('Entrypoint', strings(), 'Entrypoint', true), f('Cmd', strings(), 'Cmd', true),
    f('Volumes', set('map[string]struct {}'), 'Volumes', true), f('WorkingDir', S, 'WorkingDir', true),
    f('Labels', { k: 'map', elem: S }, 'Labels', true), f('StopSignal', S, 'StopSignal', true),
    f('ArgsEscaped', B, 'ArgsEscaped', true),
  ]), 'config', true),
  f('RootFS', struct('v1.RootFS', [f('Type', S, 'type'), f('DiffIDs', { k: 'slice', elem: DIGEST }, 'diff_ids')]), 'rootfs'),
  f('History', { k: 'slice', elem: ociHistory }, 'history', true),
]);

// ---- github.com/containers/buildah/docker (Docker's image config, as Buildah keeps it) ----

const dockerConfig = struct('docker.Config', [
  f('Hostname', S), f('Domainname', S), f('User', S), f('AttachStdin', B), f('AttachStdout', B), f('AttachStderr', B),
  f('ExposedPorts', set('docker.PortSet'), undefined, true), f('Tty', B), f('OpenStdin', B), f('StdinOnce', B),
  f('Env', strings()), f('Cmd', strings('strslice.StrSlice')),
  f('Healthcheck', ptr(struct('docker.HealthConfig', [
    f('Test', strings(), undefined, true), f('Interval', D, undefined, true), f('Timeout', D, undefined, true),
    f('StartPeriod', D, undefined, true), f('Retries', I, undefined, true),
  ])), undefined, true),
  f('ArgsEscaped', B, undefined, true), f('Image', S), f('Volumes', set('map[string]struct {}')), f('WorkingDir', S),
  f('Entrypoint', strings('strslice.StrSlice')), f('NetworkDisabled', B, undefined, true), f('MacAddress', S, undefined, true),
  f('OnBuild', strings()), f('Labels', { k: 'map', elem: S }), f('StopSignal', S, undefined, true),
  f('StopTimeout', ptr(I), undefined, true), f('Shell', strings('strslice.StrSlice'), undefined, true),
]);

const dockerV1Image = struct('docker.V1Image', [
  f('ID', S, 'id', true), f('Parent', S, 'parent', true), f('Comment', S, 'comment', true), f('Created', T, 'created'),
  f('Container', S, 'container', true), f('ContainerConfig', dockerConfig, 'container_config', true),
  f('DockerVersion', S, 'docker_version', true), f('Author', S, 'author', true), f('Config', ptr(dockerConfig), 'config', true),
  f('Architecture', S, 'architecture', true), f('Variant', S, 'variant', true), f('OS', S, 'os', true), f('Size', I64, 'Size', true),
]);

export const DOCKER_IMAGE = struct('docker.V2Image', [
  { name: 'V1Image', type: dockerV1Image, embedded: true },
  f('Parent', { k: 'string', name: 'docker.ID' }, 'parent', true),
  f('RootFS', ptr(struct('docker.V2S2RootFS', [f('Type', S, 'type'), f('DiffIDs', { k: 'slice', elem: DIGEST }, 'diff_ids', true)])), 'rootfs', true),
  f('History', { k: 'slice', elem: struct('docker.V2S2History', [
    f('Created', T, 'created'), f('Author', S, 'author', true), f('CreatedBy', S, 'created_by', true),
    f('Comment', S, 'comment', true), f('EmptyLayer', B, 'empty_layer', true),
  ]) }, 'history', true),
  f('OSVersion', S, 'os.version', true), f('OSFeatures', strings(), 'os.features', true),
]);

// ---- buildah.BuilderInfo: what `buildah inspect` prints and templates see ----

const idMap = (name: string, fields: [string, string][]): GoType => ({ k: 'slice', elem: struct(name, fields.map(([n, j]) => f(n, U32, j))) });

export const BUILDER_INFO = struct('buildah.BuilderInfo', [
  f('Type', S), f('FromImage', S), f('FromImageID', S), f('FromImageDigest', S), f('Config', S), f('Manifest', S),
  f('Container', S), f('ContainerID', S), f('MountPoint', S), f('ProcessLabel', S), f('MountLabel', S),
  f('ImageAnnotations', { k: 'map', elem: S }), f('ImageCreatedBy', S), f('OCIv1', OCI_IMAGE), f('Docker', DOCKER_IMAGE),
  f('DefaultMountsFilePath', S), f('Isolation', S),
  f('NamespaceOptions', { k: 'slice', elem: struct('define.NamespaceOption', [f('Name', S), f('Host', B), f('Path', S)]), name: 'define.NamespaceOptions' }),
  f('Capabilities', strings()), f('ConfigureNetwork', S), f('CNIPluginPath', S), f('CNIConfigDir', S),
  f('IDMappingOptions', struct('define.IDMappingOptions', [
    f('HostUIDMapping', B), f('HostGIDMapping', B),
    f('UIDMap', idMap('specs.LinuxIDMapping', [['ContainerID', 'containerID'], ['HostID', 'hostID'], ['Size', 'size']])),
    f('GIDMap', idMap('specs.LinuxIDMapping', [['ContainerID', 'containerID'], ['HostID', 'hostID'], ['Size', 'size']])),
    f('AutoUserNs', B),
    f('AutoUserNsOpts', struct('types.AutoUserNsOptions', [
      f('Size', U32), f('InitialSize', U32), f('PasswdFile', S), f('GroupFile', S),
      f('AdditionalUIDMappings', idMap('idtools.IDMap', [['ContainerID', 'container_id'], ['HostID', 'host_id'], ['Size', 'size']])),
      f('AdditionalGIDMappings', idMap('idtools.IDMap', [['ContainerID', 'container_id'], ['HostID', 'host_id'], ['Size', 'size']])),
    ])),
  ])),
  f('History', { k: 'slice', elem: ociHistory }),
  f('Devices', { k: 'slice', elem: ANY, name: 'define.ContainerDevices' }),
]);

// ---- the rows of `images` and `containers` (cmd/buildah/images.go, containers.go) ----

export const IMAGE_ROW = struct('main.imageOutputParams', [
  f('Tag', S), f('ID', S), f('Name', S), f('Digest', S), f('Created', I64), f('CreatedAt', S), f('Size', S),
  f('CreatedAtRaw', T), f('ReadOnly', B), f('History', S),
]);

export const CONTAINER_ROW = struct('main.containerOutputParams', [
  f('ContainerID', S), f('Builder', S), f('ImageID', S), f('ImageName', S), f('ContainerName', S),
]);

/** The header `table` templates print (Buildah's `Fields` maps); fields without one print `<no value>`. */
export const IMAGE_HEADERS: Record<string, string> = {
  Name: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', CreatedAt: 'CREATED', Size: 'SIZE', ReadOnly: 'R/O', History: 'HISTORY',
};
export const CONTAINER_HEADERS: Record<string, string> = {
  ContainerName: 'CONTAINER NAME', ContainerID: 'CONTAINER ID', Builder: 'BUILDER', ImageID: 'IMAGE ID', ImageName: 'IMAGE NAME',
};

// ---- `tbah version` (Buildah 1.28's version has no --format; this is tbah's own struct) ----

export const VERSION_INFO = struct('main.versionInfo', [
  f('Version', S, 'version'), f('Node', S, 'node'), f('ImageSpec', S, 'imageSpec'), f('RuntimeSpec', S, 'runtimeSpec'), f('Platform', S, 'platform'),
]);
