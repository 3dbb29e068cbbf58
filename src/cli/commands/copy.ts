import type { Command } from 'commander';
import { TbahError } from '../../core/errors.js';
import { getStore, parseIntArg } from '../context.js';
import { addHistoryDefault, collectList } from './shared.js';
import { note, out } from '../output.js';
import { type RegistryFlags, addRegistryFlags, registryOptions } from '../registry-flags.js';
import { tuneForStreaming } from '../memory.js';

interface CopyFlags extends RegistryFlags {
  chown?: string; chmod?: string; from?: string; contextdir?: string; ignorefile?: string; quiet?: boolean;
  addHistory?: boolean; noFollowSymlinks?: boolean; timestamp?: number; exclude?: string[]; allowWildcard?: boolean;
  allowEmptyWildcard?: boolean; link?: boolean; checksum?: string;
}

function register1(program: Command, name: 'copy' | 'add'): void {
  const cmd = program.command(name)
    .description(name === 'copy'
      ? 'copy files into a container; prints the digest of what was added'
      : 'like copy, and also extracts local tar archives and downloads URLs')
    .addHelpText('after', name === 'copy'
      ? '\nExamples:\n  tbah copy "$ctr" ./app /usr/local/bin/app\n  tbah copy --chown 1000:1000 --chmod 0755 "$ctr" \'bin/*\' /opt/bin/\n  tbah copy --from "$builder" "$ctr" /out/app /app\n  tbah copy --contextdir ./src "$ctr" . /src'
      : '\nExamples:\n  tbah add "$ctr" rootfs.tar.gz /\n  tbah add "$ctr" https://example.com/tool.tar.gz /opt/')
    .argument('<container>')
    .argument('<paths...>', 'SRC... [DEST] (default DEST: the working directory)')
    .option('--chown <user[:group]>', 'owner of the copied files (names from the container\'s /etc/passwd)')
    .option('--chmod <mode>', 'octal mode of the copied files')
    .option('--from <container|image>', 'copy from another container or image')
    .option('--contextdir <dir>', 'sources are relative to this directory; its .containerignore/.dockerignore applies')
    .option('--ignorefile <file>', 'ignore file to use instead of the context\'s own')
    .option('--exclude <pattern>', 'leave out what matches (.containerignore syntax, relative to the context; repeatable)', collectList)
    .option('--no-follow-symlinks', 'copy a source that is a symlink as the link itself')
    .option('--timestamp <seconds>', 'mtime of everything copied', parseIntArg('--timestamp'))
    .option('--allow-wildcard', 'sources may be glob patterns (default)')
    .option('--no-allow-wildcard', 'refuse sources containing *, ? or [')
    .option('--allow-empty-wildcard', 'a pattern that matches nothing is not an error')
    .option('--link', 'make the copy a layer of its own at the next commit (not part of the rootfs until then)')
    .option('--checksum <digest>', 'expected digest of a URL\'s content (sha256:…; URLs only)')
    .option('--add-history', 'record a history entry for the copy (default $BUILDAH_HISTORY)')
    .option('--no-add-history', 'record no history entry (overrides $BUILDAH_HISTORY)')
    .option('-q, --quiet', 'print nothing');
  // For --from IMAGE when the image must be pulled.
  addRegistryFlags(cmd);
  cmd.action(async (container: string, paths: string[], o: CopyFlags, c: Command) => {
    tuneForStreaming();
    const { copyIntoContainer } = await import('../../core/ops/copy.js');
    if (paths.length === 0) {
      throw new TbahError('usage', `${name} needs a source`, { hint: `tbah ${name} CONTAINER SRC... [DEST]` });
    }
    // As Buildah: with one argument the destination is the working directory.
    if (paths.length === 1) paths.push('.');
    const digest = await copyIntoContainer(await getStore(c), {
      container, sources: paths.slice(0, -1), dest: paths[paths.length - 1]!, add: name === 'add',
      ...(o.chown !== undefined ? { chown: o.chown } : {}),
      ...(o.chmod !== undefined ? { chmod: o.chmod } : {}),
      ...(o.from !== undefined ? { from: o.from, fromOptions: { ...(await registryOptions(o)), ...(o.quiet ? {} : { onNote: note }) } } : {}),
      ...(o.contextdir !== undefined ? { contextDir: o.contextdir } : {}),
      ...(o.ignorefile !== undefined ? { ignoreFile: o.ignorefile } : {}),
      ...(o.exclude ? { excludes: o.exclude } : {}),
      // commander's --no-follow-symlinks sets followSymlinks: false
      ...((o as { followSymlinks?: boolean }).followSymlinks === false ? { noFollowSymlinks: true } : {}),
      ...(o.timestamp !== undefined ? { timestamp: o.timestamp } : {}),
      ...(o.allowWildcard === false ? { allowWildcard: false } : {}),
      ...(o.allowEmptyWildcard ? { allowEmptyWildcard: true } : {}),
      ...(o.link ? { link: true } : {}),
      ...(o.checksum !== undefined ? { checksum: o.checksum } : {}),
      ...(addHistoryDefault(o.addHistory) ? { addHistory: true } : {}),
    });
    if (!o.quiet) out(digest);
  });
}

export function register(program: Command): void {
  register1(program, 'copy');
  register1(program, 'add');
}
