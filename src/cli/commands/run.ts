import { type Command, Option } from 'commander';
import { TbahError } from '../../core/errors.js';
import { collect, getStore } from '../context.js';
import { warn } from '../output.js';
import { addHistoryDefault, collectList } from './shared.js';

interface RunFlags {
  user?: string; workingdir?: string; env?: string[]; volume?: string[]; mount?: string[]; secret?: string[];
  network?: string; hostname?: string; capAdd?: string[]; capDrop?: string[]; runtime?: string; isolation?: string; terminal?: boolean; tty?: boolean;
  validExitCodes?: string[]; addHistory?: boolean;
}

export function register(program: Command): void {
  program.command('run')
    .description('run a command in a working container (its changes land in the next commit); exits with the command\'s status')
    .addHelpText('after', '\nExamples:\n  tbah run "$ctr" -- sh -c \'apk add --no-cache curl\'\n  tbah run --mount type=cache,target=/var/cache/apt "$ctr" -- apt-get install -y make\n  tbah run -v "$PWD":/src --workingdir /src "$ctr" -- make\n  tbah run --secret id=token,src=token.txt "$ctr" -- sh -c \'cat /run/secrets/token\'')
    .argument('<container>')
    .argument('[command...]', 'the command and its arguments (after --, or after the container name)')
    .option('--user <user[:group]>', 'user to run as (names from the container\'s /etc/passwd); default: the image\'s User')
    .option('--workingdir <dir>', 'working directory (created if missing); default: the image\'s WorkingDir')
    .option('-e, --env <K=V>', 'environment variable for this run only; K alone takes the caller\'s value, K* all that start with K', collect)
    .option('-v, --volume <src:dst[:ro]>', 'bind-mount a host path (writes go to the host)', collect)
    .option('--mount <spec>', 'type=bind|tmpfs|cache|secret,… (see docs/run.md); never part of a layer', collect)
    .option('--secret <id=ID,src=FILE|env=VAR>', 'a secret at /run/secrets/ID (mode 0400) for this run only', collect)
    .option('--network <mode>', 'host (default) or none')
    .option('--hostname <name>', 'host name inside the container (default: the container\'s short ID)')
    .option('--cap-add <cap>', 'add a capability (ALL: every one tbah holds)', collectList)
    .option('--cap-drop <cap>', 'drop a capability (ALL: every one)', collectList)
    .option('--valid-exit-codes <codes>', 'exit codes that count as success (comma-separated; the run then exits 0)', collectList)
    .option('--add-history', 'record a history entry for the command when it succeeds (default $BUILDAH_HISTORY)')
    .option('--no-add-history', 'record no history entry (overrides $BUILDAH_HISTORY)')
    .option('--isolation <type>', 'oci (an OCI runtime, default) or chroot (namespaces + chroot, no runtime); default $TBAH_ISOLATION, $BUILDAH_ISOLATION')
    .option('--runtime <path>', 'OCI runtime (default: $TBAH_RUNTIME, else crun if it works on this host, else runc)')
    .option('-t, --terminal', 'allocate a terminal')
    .addOption(new Option('--tty', 'same as --terminal').hideHelp())
    .action(async (container: string, command: string[], o: RunFlags, cmd: Command) => {
      const { needsUserNamespace, selfArgv, unshareCommand } = await import('../../core/ops/unshare.js');
      if (needsUserNamespace()) {
        // Without root the command runs in tbah's user namespace: this very command, again, inside it.
        process.exitCode = await unshareCommand({ argv: selfArgv(), onWarning: warn, detached: true });
        return;
      }
      const { parseExitCodes, parseMount, parseSecret, parseVolume, runContainer } = await import('../../core/ops/run.js');
      const { resolveIsolation } = await import('../../core/runtime/select.js');
      if (o.network !== undefined && o.network !== 'host' && o.network !== 'none') {
        throw new TbahError('invalid-argument', `--network ${o.network}: must be host or none`);
      }
      const args = command[0] === '--' ? command.slice(1) : command;
      const code = await runContainer(await getStore(cmd), {
        container, args,
        ...(o.user !== undefined ? { user: o.user } : {}),
        ...(o.workingdir !== undefined ? { workingDir: o.workingdir } : {}),
        env: o.env ?? [],
        mounts: [...(o.volume ?? []).map((v) => parseVolume(v)), ...(o.mount ?? []).map((m) => parseMount(m))],
        secrets: (o.secret ?? []).map((s) => parseSecret(s)),
        ...(o.network === 'none' ? { network: 'none' as const } : {}),
        ...(o.hostname !== undefined ? { hostname: o.hostname } : {}),
        ...(o.capAdd ? { capAdd: o.capAdd } : {}),
        ...(o.capDrop ? { capDrop: o.capDrop } : {}),
        isolation: resolveIsolation(o.isolation),
        ...(o.runtime !== undefined ? { runtime: o.runtime } : {}),
        ...(o.terminal || o.tty ? { terminal: true } : {}),
        ...(o.validExitCodes ? { validExitCodes: parseExitCodes(o.validExitCodes) } : {}),
        ...(addHistoryDefault(o.addHistory) ? { addHistory: true } : {}),
        onWarning: warn,
        onNotice: (msg: string) => { process.stderr.write(`tbah: ${msg}\n`); },
      });
      process.exitCode = code;
    });
}
