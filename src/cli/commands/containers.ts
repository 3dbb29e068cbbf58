import type { Command } from 'commander';
import { TbahError } from '../../core/errors.js';
import { getStore } from '../context.js';
import { out } from '../output.js';

interface ContainersFlags { quiet?: boolean; notruncate?: boolean; noheading?: boolean; json?: boolean; format?: string; filter?: string }

/** Go's `%-W.Ps`: at most P runes, padded to W. */
const col = (s: string, w: number, p = Infinity): string => [...s].slice(0, p).join('').padEnd(w);
/** Buildah's util.TruncateString: longer names end in "...". */
const truncate = (s: string, to: number): string => (s.length > to ? `${s.slice(0, to - 3)}...` : s);

export function register(program: Command): void {
  program.command('containers').aliases(['ps', 'ls', 'list'])
    .description('list working containers')
    .addHelpText('after', '\nExamples:\n  tbah containers\n  tbah containers --format \'{{.ContainerID}} {{.ContainerName}}\'\n  tbah containers -q --noheading --notruncate\n  tbah containers --filter ancestor=busybox')
    .argument('[rest...]')
    .option('-a, --all', 'also containers of other tools (tbah has only its own)')
    .option('-q, --quiet', 'print only container IDs')
    .option('--notruncate', 'do not truncate IDs')
    .option('-n, --noheading', 'no header row')
    .option('--json', 'print JSON')
    .option('--format <template>', 'Go template per container: .ContainerID .Builder .ImageID .ImageName .ContainerName ("table …" adds a header)')
    .option('-f, --filter <filter>', 'id=PREFIX, name=TEXT, ancestor=IMAGE (comma-separated, all must match)')
    .action(async (rest: string[], o: ContainersFlags, cmd: Command) => {
      if (rest.length > 0) throw new TbahError('usage', '\'tbah containers\' does not accept arguments', { hint: 'to pick containers, use --filter id=…, name=… or ancestor=…' });
      if (o.quiet && o.format !== undefined) throw new TbahError('usage', 'quiet and format are mutually exclusive');
      const filters = o.filter !== undefined ? await import('../../core/ops/filters.js') : undefined;
      const filter = o.filter !== undefined ? filters!.parseContainerFilter(o.filter) : undefined;
      const store = await getStore(cmd);
      const containers = await store.containers.list();
      const images = containers.some((c) => c.fromImageId !== null) ? await store.images.list() : [];
      // As Buildah: the image's current first name ('' when it has none), `scratch` for none at all.
      const imageName = (id: string | null): string => (id === null ? 'scratch' : images.find((i) => i.id === id)?.names[0] ?? '');
      const rows = containers.map((c) => ({
        ContainerID: c.id, Builder: '   *', ImageID: c.fromImageId ? c.fromImageId.slice(7) : '', ImageName: imageName(c.fromImageId), ContainerName: c.name,
      })).filter((r) => filter === undefined || filters!.matchContainer({ id: r.ContainerID, name: r.ContainerName, imageId: r.ImageID, imageName: r.ImageName }, filter));
      if (o.json) {
        out(JSON.stringify(rows.map((r) => ({ id: r.ContainerID, builder: true, imageid: r.ImageID, imagename: r.ImageName, containername: r.ContainerName })), null, 4));
        return;
      }
      if (o.format !== undefined) {
        const { renderRows } = await import('../list-format.js');
        const { CONTAINER_HEADERS, CONTAINER_ROW } = await import('../go-schemas.js');
        process.stdout.write(renderRows(o.format, rows, { name: 'image', type: CONTAINER_ROW, headers: CONTAINER_HEADERS }));
        return;
      }
      // Buildah prints this table with fixed Printf widths, not a tabwriter.
      const lines: string[] = [];
      const short = !o.notruncate;
      if (!o.noheading && !o.quiet) {
        lines.push(short ? `${col('CONTAINER ID', 12)}  ${col('BUILDER', 8)} ${col('IMAGE ID', 12)} ${col('IMAGE NAME', 32)} CONTAINER NAME`
          : `${col('CONTAINER ID', 64)} ${col('BUILDER', 8)} ${col('IMAGE ID', 64)} ${col('IMAGE NAME', 32)} CONTAINER NAME`);
      }
      for (const r of rows) {
        if (o.quiet) lines.push(col(r.ContainerID, 64));
        else if (short) lines.push(`${col(r.ContainerID, 12, 12)}  ${col(r.Builder, 8)} ${col(r.ImageID, 12, 12)} ${col(truncate(r.ImageName, 32), 32)} ${r.ContainerName}`);
        else lines.push(`${col(r.ContainerID, 64)} ${col(r.Builder, 8)} ${col(r.ImageID, 64)} ${col(r.ImageName, 32)} ${r.ContainerName}`);
      }
      if (lines.length > 0) out(lines.join('\n'));
    });
}
