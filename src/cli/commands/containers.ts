import type { Command } from 'commander';
import { getStore } from '../context.js';
import { out, table } from '../output.js';
import { renderTemplate } from '../template.js';

export function register(program: Command): void {
  program.command('containers').aliases(['ps', 'ls', 'list'])
    .description('list working containers')
    .addHelpText('after', '\nExamples:\n  tbah containers\n  tbah containers --format \'{{.ContainerID}} {{.ContainerName}}\'\n  tbah containers -q --noheading --notruncate\n  tbah containers --filter ancestor=busybox')
    .option('-a, --all', 'also containers of other tools (tbah has only its own)')
    .option('-q, --quiet', 'print only container IDs')
    .option('--notruncate', 'do not truncate IDs')
    .option('-n, --noheading', 'no header row')
    .option('--json', 'print JSON')
    .option('--format <template>', 'Go template per container: .ContainerID .Builder .ImageID .ImageName .ContainerName')
    .action(async (o: { quiet?: boolean; notruncate?: boolean; noheading?: boolean; json?: boolean; format?: string }, cmd: Command) => {
      const { listContainers } = await import('../../core/ops/manage.js');
      const store = await getStore(cmd);
      const rows = (await listContainers(store)).map((c) => ({
        ContainerID: c.id, Builder: true, ImageID: c.fromImageId ? c.fromImageId.slice(7) : '', ImageName: c.fromImage ?? (c.fromImageId ? c.fromImageId.slice(7, 19) : 'scratch'), ContainerName: c.name,
      }));
      if (o.json) {
        out(JSON.stringify(rows.map((r) => ({ id: r.ContainerID, builder: r.Builder, imageid: r.ImageID, imagename: r.ImageName, containername: r.ContainerName })), null, 4));
        return;
      }
      if (o.quiet) { for (const r of rows) out(r.ContainerID); return; }
      if (o.format) { for (const r of rows) out(renderTemplate(o.format, r)); return; }
      const cut = (s: string): string => (o.notruncate ? s : s.slice(0, 12));
      const body = rows.map((r) => [cut(r.ContainerID), '*', cut(r.ImageID), r.ImageName, r.ContainerName]);
      const all = o.noheading ? body : [['CONTAINER ID', 'BUILDER', 'IMAGE ID', 'IMAGE NAME', 'CONTAINER NAME'], ...body];
      if (all.length > 0) out(table(all));
    });
}
