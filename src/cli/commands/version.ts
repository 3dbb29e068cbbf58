import type { Command } from 'commander';
import { getStore } from '../context.js';
import { out } from '../output.js';

export function register(program: Command): void {
  program.command('version')
    .description('print version information')
    .addHelpText('after', '\nExamples:\n  tbah version\n  tbah version --json\n  tbah version --format \'{{.Version}}\'')
    .option('--json', 'print JSON')
    .option('--format <template>', 'Go template: .Version .Node .ImageSpec .RuntimeSpec .Platform')
    .action(async (o: { json?: boolean; format?: string }) => {
      const { versionInfo } = await import('../../core/info.js');
      const v = versionInfo();
      if (o.format !== undefined) {
        const { renderTemplate } = await import('../template.js');
        const { VERSION_INFO } = await import('../go-schemas.js');
        out(renderTemplate(o.format, v, VERSION_INFO));
      } else if (o.json) out(JSON.stringify(v, null, 4));
      else out([`Version:       ${v.version}`, `Node:          ${v.node}`, `Image Spec:    ${v.imageSpec}`, `Runtime Spec:  ${v.runtimeSpec}`, `Platform:      ${v.platform}`].join('\n'));
    });
  program.command('info')
    .description('print information about the host and the store as JSON')
    .addHelpText('after', '\nExamples:\n  tbah info\n  tbah info --format \'{{.store.GraphRoot}}\'')
    .option('--format <template>', 'Go template, e.g. {{.store.GraphRoot}}')
    .action(async (o: { format?: string }, cmd: Command) => {
      const { storeInfo } = await import('../../core/info.js');
      const info = await storeInfo(await getStore(cmd));
      if (o.format === undefined) { out(JSON.stringify(info, null, 4)); return; }
      // Buildah's info is a map[string]interface{}: a missing key prints <no value>.
      const { renderTemplate } = await import('../template.js');
      out(renderTemplate(o.format, info));
    });
}
