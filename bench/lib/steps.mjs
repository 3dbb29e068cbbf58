// The steps of one run, in the order they run for every tool (the tools take turns at each step).
// A step's `run(t, st, c)` does untimed set-up with `c.x(args)` and timed commands with
// `c.time(record, args, { registry })`, which records a sample under `record`. `st` is the tool's
// state in this run (container names, repositories). A step whose `deps` failed for a tool in
// this run is skipped for it.

/** `from` prints the container name; exit 0 without one is a failure, not a name. */
export function containerName(r) {
  const name = r.stdout.trim();
  if (!/^[\w.-]+$/.test(name)) throw new Error(`from exited 0 but printed ${JSON.stringify(r.stdout.slice(0, 200))}, not a container name`);
  return name;
}

const TLS = '--tls-verify=false';

export const STEPS = [
  { name: 'pull-cold', deps: [], records: ['pull-cold'],
    async run(t, st, c) {
      c.reset(t);
      await c.time('pull-cold', ['pull', '-q', TLS, c.fatRef], { registry: true });
    } },
  { name: 'from-cold', deps: [], records: ['from-cold'],
    async run(t, st, c) {
      c.reset(t);
      st.a = containerName(await c.time('from-cold', ['from', '-q', TLS, c.fatRef], { registry: true }));
    } },
  { name: 'from-warm', deps: ['from-cold'], records: ['from-warm'],
    async run(t, st, c) {
      // The registry's log is kept to show that a warm `from` asks it nothing.
      st.b = containerName(await c.time('from-warm', ['from', '-q', TLS, c.fatRef], { registry: true }));
    } },
  { name: 'run', deps: ['from-warm'], repeat: 'short', records: ['run'],
    async run(t, st, c) { await c.time('run', ['run', st.b, '--', '/bin/true']); } },
  { name: 'config', deps: ['from-warm'], repeat: 'calls', records: ['config'],
    async run(t, st, c) { await c.time('config', ['config', '--env', `BENCH_CALL=${c.rep}`, st.b]); } },
  { name: 'mount', deps: ['from-warm'], repeat: 'short', records: ['mount', 'umount'],
    async run(t, st, c) {
      await c.time('mount', ['mount', st.b]);
      await c.time('umount', ['umount', st.b]);
    } },
  { name: 'commit-1file', deps: ['from-cold'], records: ['copy-1file', 'commit-1file'],
    async run(t, st, c) {
      await c.time('copy-1file', ['copy', '-q', st.a, c.w.oneFile, '/added.txt']);
      await c.time('commit-1file', ['commit', '-q', st.a, 'bench-small']);
    } },
  { name: 'copy', deps: ['from-warm'], records: ['copy'],
    async run(t, st, c) { await c.time('copy', ['copy', '-q', st.b, c.w.src, '/data']); } },
  { name: 'commit', deps: ['copy'], records: ['commit'],
    async run(t, st, c) { await c.time('commit', ['commit', '-q', st.b, 'bench-app']); } },
  // A new repository per tool and run, so every new blob is really uploaded; then the same push
  // again, where everything is already there.
  { name: 'push', deps: ['commit'], records: ['push'],
    async run(t, st, c) {
      st.repo = `${c.registry.host}/bench/app-${t.name}-run${c.run}:latest`;
      await c.time('push', ['push', '-q', TLS, 'bench-app', `docker://${st.repo}`], { registry: true });
    } },
  { name: 'push-again', deps: ['push'], records: ['push-again'],
    async run(t, st, c) { await c.time('push-again', ['push', '-q', TLS, 'bench-app', `docker://${st.repo}`], { registry: true }); } },
  { name: 'rm', deps: ['from-warm'], records: ['rm'],
    async run(t, st, c) { await c.time('rm', ['rm', st.b]); } },
  // The same one-file commit on the 1 GiB base: does the cost grow with the base?
  { name: 'commit-1file-1g', deps: [], records: ['copy-1file-1g', 'commit-1file-1g'],
    async run(t, st, c) {
      await c.x(['pull', '-q', TLS, c.bigRef]);
      st.d = containerName(await c.x(['from', '-q', TLS, c.bigRef]));
      await c.time('copy-1file-1g', ['copy', '-q', st.d, c.w.oneFile, '/added.txt']);
      await c.time('commit-1file-1g', ['commit', '-q', st.d, 'bench-small-big']);
    } },
];

/** Steps to run for the selected ones: they and what they depend on, in STEPS order. */
export function neededSteps(selected) {
  const need = new Set();
  const add = (s) => {
    if (need.has(s)) return;
    need.add(s);
    for (const d of STEPS.find((x) => x.name === s).deps) add(d);
  };
  for (const s of selected) add(s);
  return STEPS.filter((s) => need.has(s.name));
}
