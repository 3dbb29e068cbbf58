import type { Command } from 'commander';
import { getStore } from '../context.js';
import { out } from '../output.js';
import { renderTemplate } from '../template.js';

export function register(program: Command): void {
  program.command('version')
    .description('print version information')
    .addHelpText('after', '\nExamples:\n  tbah version\n  tbah version --json\n  tbah version --format \'{{.Version}}\'')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const { versionInfo } = await import('../../core/info.js');
      const v = versionInfo();
      if (o.json) out(JSON.stringify(v, null, 4));
      else out([`Version:       ${v.version}`, `Node:          ${v.node}`, `Image Spec:    ${v.imageSpec}`, `Runtime Spec:  ${v.runtimeSpec}`, `Platform:      ${v.platform}`].join('\n'));
    });
  program.command('info')
    .description('print information about the host and the store as JSON')
    .addHelpText('after', '\nExamples:\n  tbah info\n  tbah info --format \'{{.store.GraphRoot}}\'')
    .option('--format <template>', 'Go template, e.g. {{.store.GraphRoot}}')
    .action(async (o: { format?: string }, cmd: Command) => {
      const { storeInfo } = await import('../../core/info.js');
      const info = await storeInfo(await getStore(cmd));
      out(o.format ? renderTemplate(o.format, info) : JSON.stringify(info, null, 4));
    });
}
