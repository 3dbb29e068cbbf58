// Run one command and measure it: wall time from Node's monotonic clock, CPU time and peak RSS from
// GNU time (`/usr/bin/time -v`, which reads them from wait4's rusage, so worker threads and
// re-executed helpers are counted). Each command gets its own process group so an interrupt can
// stop it and everything it started.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';

export const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

let current = null;
let aborted = false;

/** Stop the running command (SIGTERM to its group, SIGKILL after 5 s); later calls fail at once. */
export function abortAll() {
  aborted = true;
  const c = current;
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  try { process.kill(-c.pid, 'SIGTERM'); } catch { /* already gone */ }
  setTimeout(() => { try { process.kill(-c.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000).unref();
}

function parseTimeFile(text) {
  const num = (re) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : null;
  };
  return {
    userS: num(/User time \(seconds\): ([\d.]+)/),
    sysS: num(/System time \(seconds\): ([\d.]+)/),
    rssKiB: num(/Maximum resident set size \(kbytes\): (\d+)/),
  };
}

/**
 * Run argv; resolve { secs, userS, sysS, cpuS, rssKiB, stdout } or reject with the command's
 * stderr tail. `tmpDir` holds GNU time's report.
 */
export function measure(argv, { env, tmpDir, timeoutS = 3600 }) {
  if (aborted) return Promise.reject(new Error('aborted'));
  const report = path.join(tmpDir, `time-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`);
  const full = GNU_TIME ? [GNU_TIME, '-v', '-o', report, ...argv] : argv;
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(full[0], full.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    current = child;
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { if (stdout.length < 1 << 20) stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr = (stderr + d).slice(-8192); });
    const timer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, timeoutS * 1000);
    child.on('error', (err) => { clearTimeout(timer); current = null; reject(err); });
    child.on('close', (code, signal) => {
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      clearTimeout(timer);
      current = null;
      let usage = { userS: null, sysS: null, rssKiB: null };
      if (GNU_TIME && existsSync(report)) {
        usage = parseTimeFile(readFileSync(report, 'utf8'));
        rmSync(report, { force: true });
      }
      if (aborted) return reject(new Error('aborted'));
      if (code !== 0) {
        const what = signal ? `signal ${signal}` : `exit ${code}`;
        return reject(new Error(`${argv.join(' ')}: ${what}\n${stderr.trim()}`));
      }
      const cpuS = usage.userS !== null && usage.sysS !== null ? usage.userS + usage.sysS : null;
      resolve({ secs, ...usage, cpuS, stdout });
    });
  });
}
