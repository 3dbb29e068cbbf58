import type { Command } from 'commander';
import type { ConfigChanges } from '../../core/config-edit.js';
import { collect, getStore, noExtraArgs } from '../context.js';
import { warn } from '../output.js';
import { addHistoryDefault } from './shared.js';

/** Flag name → ConfigChanges key; list flags may repeat. */
const SINGLE: [string, keyof ConfigChanges, string][] = [
  ['--cmd <cmd>', 'cmd', 'default command: a JSON array, or words split shell-style; "" clears'],
  ['--entrypoint <entrypoint>', 'entrypoint', 'a JSON array, or a string run with /bin/sh -c; "" clears'],
  ['-u, --user <user[:group]>', 'user', 'user to run as'],
  ['--workingdir <dir>', 'workingdir', 'working directory'],
  ['--stop-signal <signal>', 'stopSignal', 'signal to stop the container'],
  ['--author <author>', 'author', 'image author'],
  ['--created-by <text>', 'createdBy', 'created_by of the next commit\'s history entry'],
  ['--comment <text>', 'comment', 'image comment (Docker format)'],
  ['--history-comment <text>', 'historyComment', 'comment of the next commit\'s history entry'],
  ['--arch <arch>', 'arch', 'architecture'],
  ['--os <os>', 'os', 'operating system'],
  ['--variant <variant>', 'variant', 'architecture variant'],
  ['--os-version <version>', 'osVersion', 'OS version'],
  ['--shell <shell>', 'shell', 'shell as a JSON array (Docker format)'],
  ['--healthcheck <command>', 'healthcheck', 'CMD ... / JSON array / NONE (Docker format)'],
  ['--healthcheck-interval <duration>', 'healthcheckInterval', 'e.g. 30s'],
  ['--healthcheck-retries <n>', 'healthcheckRetries', 'retries'],
  ['--healthcheck-start-period <duration>', 'healthcheckStartPeriod', 'e.g. 5s'],
  ['--healthcheck-start-interval <duration>', 'healthcheckStartInterval', 'e.g. 5s'],
  ['--healthcheck-timeout <duration>', 'healthcheckTimeout', 'e.g. 3s'],
  ['--hostname <name>', 'hostname', 'hostname (Docker format)'],
  ['--domainname <name>', 'domainname', 'domain name (Docker format)'],
];
const MULTI: [string, keyof ConfigChanges, string][] = [
  ['-e, --env <K=V>', 'env', 'set (with $VAR expansion), K- removes, - clears'],
  ['-l, --label <K=V>', 'label', 'set a label, K- removes, - clears'],
  ['-a, --annotation <K=V>', 'annotation', 'set a manifest annotation, K- removes, - clears'],
  ['-p, --port <port[/proto]>', 'port', 'expose a port, P- removes, - clears'],
  ['-v, --volume <path>', 'volume', 'declare a volume, P- removes, - clears'],
  ['--os-feature <feature>', 'osFeature', 'OS feature, F- removes, - clears'],
  ['--onbuild <instruction>', 'onbuild', 'ONBUILD trigger (Docker format)'],
  ['--unsetlabel <K>', 'unsetLabel', 'remove a label'],
  ['--unsetannotation <K>', 'unsetAnnotation', 'remove an annotation'],
];

function camel(flag: string): string {
  const long = flag.split(/[ ,]+/).find((f) => f.startsWith('--'))!.slice(2);
  return long.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

export function register(program: Command): void {
  const cmd = program.command('config')
    .description('change the image config of a working container (takes effect at the next commit)')
    .addHelpText('after', '\nExamples:\n  tbah config --cmd \'["/bin/sh"]\' --env PATH=/usr/bin:/bin --workingdir /app "$ctr"\n  tbah config --label org.opencontainers.image.version=1.2 --port 8080 "$ctr"\n  tbah config --entrypoint \'["/app"]\' --cmd \'\' --user 1000:1000 "$ctr"')
    .argument('<container>')
    .argument('[rest...]');
  for (const [flag, , help] of SINGLE) cmd.option(flag, help);
  for (const [flag, , help] of MULTI) cmd.option(flag, help, collect);
  cmd.option('--add-history', 'record a history entry for each instruction (default $BUILDAH_HISTORY)')
    .option('--no-add-history', 'record no history entries (overrides $BUILDAH_HISTORY)');
  cmd.action(async (container: string, rest: string[], o: Record<string, unknown>, c: Command) => {
      const { configureContainer } = await import('../../core/ops/config.js');
    noExtraArgs(rest);
    const changes: ConfigChanges = {};
    for (const [flag, key] of [...SINGLE, ...MULTI]) {
      const v = o[camel(flag)];
      if (v !== undefined) (changes as Record<string, unknown>)[key] = v;
    }
    const { warnings } = await configureContainer(await getStore(c), container, changes, process.env, { addHistory: addHistoryDefault(o.addHistory as boolean | undefined) });
    for (const w of warnings) warn(w);
  });
}
