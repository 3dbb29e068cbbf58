// The rows of the results table and the targets of issue #17 ("Targets"): ratios tbah/Buildah
// overlay in the same run, peak RSS, and per-call start-up over `node -e 0`.

/** Table rows in order. `target.ratio`: met when tbah's median ÷ Buildah overlay's is at most this. */
export const ROWS = [
  { step: 'pull-cold', label: '`pull` cold (fat base, empty store)', target: { ratio: 0.5 } },
  { step: 'from-cold', label: '`from` cold (fat base, empty store: pull + container)', target: { ratio: 0.5 } },
  { step: 'from-warm', label: '`from` warm (fat base, second container)', target: { ratio: 1.0 } },
  { step: 'run', label: '`run` (runc, `/bin/true`)', target: { ratio: 1.0 } },
  { step: 'config', label: '`config` (per call)', target: { ratio: 1.5 } },
  { step: 'mount', label: '`mount`', target: { ratio: 1.0 } },
  { step: 'umount', label: '`umount`', target: { ratio: 1.0 } },
  { step: 'copy-1file', label: '`copy` of one file (before the one-file commit)', target: null },
  { step: 'commit-1file', label: 'one-file `commit` on the fat base', target: { ratio: 1.0 } },
  { step: 'commit-1file-1g', label: 'one-file `commit` on the 1 GiB base', target: { ratio: 1.0, sameAs: 'commit-1file', factor: 1.25 } },
  { step: 'copy', label: '`copy` the tree (into the fat-base container)', target: null },
  { step: 'commit', label: '`commit` the tree', target: null },
  { step: 'copy+commit', label: '`copy` + `commit` of the tree', target: { ratio: 0.5 } },
  { step: 'push', label: '`push` to a new repository', target: { ratio: 0.5 } },
  { step: 'push-again', label: '`push` again (everything there)', target: { ratio: 1.0 } },
  { step: 'rm', label: '`rm` (the fat-base container with the tree)', target: { ratio: 1.0 } },
];

/** Per-run sums of steps (peak RSS: the larger). */
export const DERIVED = { 'copy+commit': ['copy', 'commit'] };

/** "Memory: peak RSS ≤ 100 MiB for every command." */
export const RSS_TARGET_KIB = 100 * 1024;

/** "config, mount, umount, containers, images, inspect each within 10 ms of node -e 0 measured in the same run." */
export const STARTUP_TARGET_S = 0.010;

export function describeTarget(t) {
  if (!t) return '—';
  let s = `≤ ${t.ratio.toFixed(1)}×`;
  if (t.sameAs) s += `, and ≤ ${t.factor}× tbah's own fat-base figure (cost independent of the base)`;
  return s;
}

/**
 * Is `tool`'s figure within the row's target? Returns { met: true|false|null, why } where null
 * means there is nothing to judge (no target, or no figure).
 */
export function judge(row, results, tool) {
  const t = row.target;
  const c = results.steps[row.step];
  const ratio = c?.ratio?.[tool];
  if (!t) return { met: null, why: '' };
  if (typeof ratio !== 'number') return { met: null, why: 'no figure' };
  const misses = [];
  if (ratio > t.ratio) misses.push(`${fmtRatio(ratio)} > ${t.ratio.toFixed(1)}×`);
  if (t.sameAs) {
    const base = results.steps[t.sameAs]?.tools?.[tool]?.median;
    const mine = c.tools[tool]?.median;
    if (typeof base === 'number' && typeof mine === 'number' && base > 0) {
      const f = mine / base;
      if (f > t.factor) misses.push(`${f.toFixed(2)}× its fat-base time`);
    }
  }
  return { met: misses.length === 0, why: misses.join('; ') };
}

export const fmtRatio = (r) => (r >= 10 ? `${r.toFixed(1)}×` : `${r.toFixed(2)}×`);
