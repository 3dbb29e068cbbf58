// The machine the numbers came from: CPUs, memory, kernel, the disk under the loop image, and the
// load while the bench ran (sampled, since other people's work on a shared machine moves the numbers).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';

const sh = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
};

/** The block device under `dir` (through a partition to its disk): name, rotational flag, model, virtualisation. */
function diskOf(dir) {
  const source = sh('findmnt', ['-no', 'SOURCE', '--target', dir]);
  const fsType = sh('findmnt', ['-no', 'FSTYPE', '--target', dir]);
  const options = sh('findmnt', ['-no', 'OPTIONS', '--target', dir]);
  let disk = null;
  if (source && source.startsWith('/dev/')) {
    const pk = sh('lsblk', ['-no', 'PKNAME', source]);
    const name = pk || source.slice(5);
    const sys = (f) => { try { return readFileSync(`/sys/block/${name}/${f}`, 'utf8').trim(); } catch { return null; } };
    const sectors = Number(sys('size'));
    disk = { name, rotational: sys('queue/rotational') === '1', sizeGiB: sectors ? Math.round(sectors * 512 / 2 ** 30) : null,
      model: sys('device/model'), driver: sys('device/modalias')?.split(':')[0] ?? null, scheduler: sys('queue/scheduler') };
  }
  return { source, fsType, options, disk };
}

export function machineInfo(dir) {
  const cpus = os.cpus();
  const journal = (() => {
    const f = diskOf(dir);
    if (!f.source?.startsWith('/dev/') || f.fsType !== 'ext4') return null;
    const d = sh('dumpe2fs', ['-h', f.source]);
    return d ? /has_journal/.test(d) : null;
  })();
  return {
    nproc: Number(sh('nproc', [])) || cpus.length,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? null,
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    node: process.version,
    virtualization: sh('systemd-detect-virt', []) ?? 'unknown',
    backingStore: { dir, ...diskOf(dir), journal },
  };
}

/** Samples the 1-minute load average every `ms` until stopped; summary { min, median, max, samples }. */
export function loadSampler(ms = 5000) {
  const xs = [os.loadavg()[0]];
  const timer = setInterval(() => xs.push(os.loadavg()[0]), ms);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      xs.push(os.loadavg()[0]);
      const s = [...xs].sort((a, b) => a - b);
      const r = (x) => Math.round(x * 100) / 100;
      return { min: r(s[0]), median: r(s[s.length >> 1]), max: r(s.at(-1)), samples: xs.length, everyS: ms / 1000 };
    },
  };
}
