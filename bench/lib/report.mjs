// Summaries (min/median/max) of a tool's samples in one step.

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
