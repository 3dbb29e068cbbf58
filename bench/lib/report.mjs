// Summaries (min/median/max) and the table printed to stdout.

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? null : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Summary of one tool in one case from its per-run samples. */
export function summarise(samples) {
  const secs = samples.map((s) => s.secs);
  const cpu = samples.map((s) => s.cpuS).filter((x) => x !== null);
  const rss = samples.map((s) => s.rssKiB).filter((x) => x !== null);
  const round = (x) => (x === null ? null : Math.round(x * 10000) / 10000);
  if (samples.length === 0) return { n: 0, min: null, median: null, max: null, cpuMedian: null, rssMaxKiB: null, samples };
  return {
    n: samples.length,
    min: round(Math.min(...secs)),
    median: round(median(secs)),
    max: round(Math.max(...secs)),
    cpuMedian: cpu.length ? round(median(cpu)) : null,
    rssMaxKiB: rss.length ? Math.max(...rss) : null,
    samples,
  };
}

const fmtS = (x) => (x === null || x === undefined ? '-' : x < 10 ? x.toFixed(3) : x.toFixed(2));
const fmtMiB = (kib) => (kib === null || kib === undefined ? '-' : `${Math.round(kib / 1024)} MiB`);

/**
 * Rows: case, tool, n, min, median, max, CPU median, peak RSS, and for every tool but tbah the
 * ratio tbah median / that tool's median (below 0.5 meets the "under half" target).
 */
export function formatTable(cases) {
  const header = ['case', 'tool', 'n', 'min s', 'median s', 'max s', 'cpu s', 'peak RSS', 'tbah/this'];
  const rows = [];
  for (const [name, c] of Object.entries(cases)) {
    let first = true;
    for (const [tool, s] of Object.entries(c.tools)) {
      const ratio = c.ratio?.[tool];
      const failed = s.failedRuns?.length ? ` (${s.failedRuns.length} failed)` : '';
      rows.push([first ? name : '', tool + failed, String(s.n), fmtS(s.min), fmtS(s.median), fmtS(s.max), fmtS(s.cpuMedian),
        fmtMiB(s.rssMaxKiB), ratio === undefined || ratio === null ? '' : ratio.toFixed(2)]);
      first = false;
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const right = new Set([2, 3, 4, 5, 6, 7, 8]);
  const line = (r) => r.map((v, i) => (right.has(i) ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
