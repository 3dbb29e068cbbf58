/**
 * The `/etc/hosts` a run sees, as Buildah writes it: `--add-host` entries
 * first, then the host's own file, then `host.containers.internal` and the
 * container's own line, `IP<TAB>HOSTNAME CONTAINER-NAME`, so the command can
 * resolve its own host name. Given to the command through a bind mount of a
 * copy, so nothing of it reaches a layer (unless the command edits the file).
 */
import os from 'node:os';

export interface HostsOptions {
  /** `from --add-host HOST:IP`, in order. */
  addHosts?: readonly { host: string; ip: string }[];
  /** The host name the command sees (default: the container's short ID). */
  hostname: string;
  /** The working container's name. */
  containerName?: string;
  /** `host`: the host's network (the container's line names the host's address); `none`: loopback only. */
  network: 'host' | 'none';
  /** The host's first non-loopback IPv4 address (`localIPv4()`), for the host network. */
  localIp?: string;
}

/** The file's text; `base` is the host's /etc/hosts. */
export function hostsFile(base: string, o: HostsOptions): string {
  const lines: string[] = [];
  for (const h of o.addHosts ?? []) lines.push(`${h.ip}\t${h.host}`);
  let text = lines.length > 0 ? `${lines.join('\n')}\n` : '';
  text += base.length > 0 && !base.endsWith('\n') ? `${base}\n` : base;
  const names = [o.hostname, ...(o.containerName !== undefined && o.containerName !== o.hostname ? [o.containerName] : [])].join(' ');
  if (o.network === 'host' && o.localIp !== undefined) {
    text += `${o.localIp}\thost.containers.internal\n${o.localIp}\t${names}\n`;
  } else {
    // No network of its own (or no address): the names resolve to loopback.
    text += `127.0.0.1\t${names}\n`;
  }
  return text;
}

/** The address containers/common's GetLocalIP picks: the first non-loopback IPv4 of the host's interfaces. */
export function localIPv4(): string | undefined {
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4' && !a.internal) return a.address;
    }
  }
  return undefined;
}
