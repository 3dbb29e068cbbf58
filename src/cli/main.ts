/** Entry point of the `tbah` command: wires commander to the command files and renders errors in one place. */
import { Command, CommanderError } from 'commander';
import { TbahError, systemError } from '../core/errors.js';
import { VERSION } from '../core/info.js';
import { normaliseArgv } from './argv.js';
import { registerCommands } from './commands/index.js';
import { debug, paint, setLogLevel } from './output.js';

// `tbah images | head -1`: a closed pipe ends the output, not in a stack trace.
onFirstUse('stdout', (stdout) => stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
}));

/**
 * Run `hook` when process.stdout is first used, before anyone writes: Node
 * makes the stream on first use, loading its stream modules (~1-2 ms), which
 * a command that prints nothing (`config`) need not pay for.
 */
function onFirstUse(name: 'stdout', hook: (stream: NodeJS.WriteStream) => void): void {
  const d = Object.getOwnPropertyDescriptor(process, name);
  if (d?.get === undefined || !d.configurable) {
    hook(process[name]);
    return;
  }
  Object.defineProperty(process, name, {
    ...d,
    get() {
      Object.defineProperty(process, name, d);
      const stream = process[name];
      hook(stream);
      return stream;
    },
  });
}

// Buildah forces umask 022 so a caller's umask never leaks into created directories.
process.umask(0o022);

function render(err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
    const msg = err.message.replace(/^error: /, '');
    process.stderr.write(`${paint(process.stderr, 'red', 'tbah:')} ${msg}\n${paint(process.stderr, 'dim', 'hint:')} see \`tbah --help\` or \`tbah COMMAND --help\`\n`);
    return 125;
  }
  if (err instanceof TbahError) {
    process.stderr.write(`${paint(process.stderr, 'red', 'tbah:')} ${err.message}\n`);
    if (err.hint) process.stderr.write(`${paint(process.stderr, 'dim', 'hint:')} ${err.hint}\n`);
    return err.exitCode;
  }
  const sys = systemError(err);
  if (sys) return render(sys); // one line naming the store or the user's path, never a temp name
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && e.syscall) {
    process.stderr.write(`${paint(process.stderr, 'red', 'tbah:')} ${e.syscall} ${e.path ?? ''}: ${e.code} (${e.message.split(',')[0]})\n`);
    return 125;
  }
  process.stderr.write(`${paint(process.stderr, 'red', 'tbah: internal error:')} ${(e && e.stack) || String(err)}\n`);
  return 125;
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('tbah')
    .description('Build container images from scripts: persisted working containers, explicit layers, no daemon.')
    .option('--root <dir>', 'store root (default: $TBAH_ROOT, /var/lib/tbah, or ~/.local/share/tbah)')
    .option('--log-level <level>', 'messages on stderr: error, warn (default), info or debug', setLogLevel)
    .option('--storage-driver <driver>', 'rootfs driver of new containers: overlay (default as root) or dir (default otherwise; $TBAH_STORAGE_DRIVER)')
    .version(VERSION, '-v, --version', 'print the version')
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, outputError: () => undefined })
    .addHelpText('after', '\nExamples:\n  ctr=$(tbah from docker.io/library/busybox:1.36)\n  tbah run "$ctr" -- sh -c \'echo hello > /greeting\'\n  tbah config --cmd \'["cat", "/greeting"]\' "$ctr"\n  tbah commit --rm "$ctr" hello:1\n  tbah push hello:1 oci:/tmp/hello:1\n\nSee `tbah COMMAND --help` and docs/COMMAND.md for each command.');
  await registerCommands(program, argv);
  if (argv.length <= 2) {
    program.outputHelp();
    return 0;
  }
  try {
    await program.parseAsync(normaliseArgv(argv, program));
    debug(() => `${program.args[0] ?? ''} finished in ${Math.round(performance.now())} ms since start`);
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    return render(err);
  }
}

let finished = false;
// If the event loop runs dry before the command settles, something waited on a
// stream that will never end: never let that pass as success.
process.on('beforeExit', () => {
  if (!finished) {
    finished = true;
    process.stderr.write('tbah: internal error: the command stopped before it finished (a stream ended without data or error)\n');
    process.exitCode = 125;
  }
});
main(process.argv).then((code) => {
  finished = true;
  process.exitCode = code;
}, (err: unknown) => {
  finished = true;
  process.exitCode = render(err);
});
