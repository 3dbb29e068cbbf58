#!/usr/bin/env node
// Self and inclusive time per function in a V8 .cpuprofile (from `run.mjs --cpu-prof DIR`).
// Usage: node bench/cpuprofile-top.mjs FILE.cpuprofile [N=25]
import { readFileSync } from 'node:fs';

const [file, nArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/cpuprofile-top.mjs FILE.cpuprofile [N]');
  process.exit(2);
}
const n = Number(nArg ?? 25);
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((x) => [x.id, x]));
const parent = new Map();
for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
const micros = new Map(); // node id → sampled µs
for (let i = 0; i < p.samples.length; i++) micros.set(p.samples[i], (micros.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
const name = (x) => {
  const f = x.callFrame;
  const where = f.url ? `${f.url.replace(/^file:\/\/.*\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'} ${where}`.trim();
};
const self = new Map();
const incl = new Map();
for (const [id, us] of micros) {
  const k = name(byId.get(id));
  self.set(k, (self.get(k) ?? 0) + us);
  const seen = new Set(); // recursion counts once
  for (let c = id; c !== undefined; c = parent.get(c)) {
    const kk = name(byId.get(c));
    if (!seen.has(kk)) {
      seen.add(kk);
      incl.set(kk, (incl.get(kk) ?? 0) + us);
    }
  }
}
const show = (m, title) => {
  console.log(`-- ${title}`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${(v / 1000).toFixed(1).padStart(9)} ms  ${k}`);
};
console.log(`${file}: ${((p.endTime - p.startTime) / 1000).toFixed(0)} ms profiled`);
show(self, 'self');
show(incl, 'inclusive');
