import type { Command } from 'commander';
import { TbahError } from '../../core/errors.js';
import type { FilterImage } from '../../core/ops/filters.js';
import type { ImageSummary } from '../../core/ops/manage.js';
import { collect, getStore } from '../context.js';
import { goTabwrite, humanAgo, imageSize, out } from '../output.js';

function splitName(name: string): [string, string] {
  const at = name.indexOf('@');
  const base = at >= 0 ? name.slice(0, at) : name;
  const colon = base.lastIndexOf(':');
  if (colon > base.lastIndexOf('/')) return [base.slice(0, colon), base.slice(colon + 1)];
  return [base, '<none>'];
}

interface ImagesFlags {
  all?: boolean; quiet?: boolean; trunc?: boolean; noheading?: boolean; digests?: boolean; json?: boolean; format?: string; filter?: string[];
}

const usage = (msg: string): TbahError => new TbahError('usage', msg, { hint: 'see `tbah images --help`' });

export function register(program: Command): void {
  program.command('images')
    .description('list images in the store')
    .addHelpText('after', '\nExamples:\n  tbah images\n  tbah images --format \'{{.ID}} {{.Name}}:{{.Tag}} {{.Size}}\'\n  tbah images --filter dangling=true -q\n  tbah images --filter reference=\'localhost/app*\' --filter label=stage=prod')
    .argument('[image]', 'only this image')
    .argument('[rest...]')
    .option('-a, --all', 'all images (tbah keeps no intermediate images)')
    .option('-q, --quiet', 'print only image IDs')
    .option('--no-trunc', 'do not truncate IDs')
    .option('-n, --noheading', 'no header row')
    .option('--digests', 'show manifest digests')
    .option('--json', 'print JSON')
    .option('--format <template>', 'Go template per row: .ID .Name .Tag .Digest .Created .CreatedAt .Size .CreatedAtRaw .ReadOnly .History ("table …" adds a header)')
    .option('-f, --filter <filter>', 'dangling=BOOL, reference=PATTERN, before=IMAGE, since=IMAGE, label=KEY[=VALUE], id=ID, until=TIME, … (repeatable; different keys must all match)', collect)
    .action(async (image: string | undefined, rest: string[], o: ImagesFlags, cmd: Command) => {
      const { listImages, nameCandidates } = await import('../../core/ops/manage.js');
      if (image !== undefined && o.all) throw usage('when using the --all switch, you may not pass any images names or IDs');
      if (rest.length > 0) throw usage('\'tbah images\' requires at most 1 argument');
      const store = await getStore(cmd);
      const [summaries, containers] = await Promise.all([listImages(store), store.containers.list()]);
      const used = new Set(containers.map((c) => c.fromImageId));
      const imgs: (FilterImage & { s: ImageSummary })[] = summaries.map((s) => ({
        s, id: s.id, names: s.names, created: s.created, labels: s.record.config.config?.Labels ?? {},
        diffIds: s.record.config.rootfs?.diff_ids ?? [], history: s.record.config.history ?? [], inUse: used.has(s.id),
      }));
      const lookup = (spec: string): FilterImage | undefined => {
        const want = nameCandidates(spec);
        const hex = spec.replace(/^sha256:/, '');
        return imgs.find((i) => i.names.some((n) => want.includes(n))) ?? (/^[a-f0-9]{3,64}$/.test(hex) ? imgs.find((i) => i.id.slice(7).startsWith(hex)) : undefined);
      };
      let shown = imgs;
      if (o.filter !== undefined) {
        const { applyImageFilters, parseImageFilters } = await import('../../core/ops/filters.js');
        // As pflag's StringSlice: each value may hold several, comma-separated.
        shown = applyImageFilters(imgs, parseImageFilters(o.filter.flatMap((f) => f.split(',')), lookup));
      }
      if (image !== undefined) {
        const want = nameCandidates(image);
        shown = shown.filter((i) => i.names.some((n) => want.includes(n)) || i.id.slice(7).startsWith(image.replace(/^sha256:/, '')));
        if (shown.length === 0) throw new TbahError('not-found', `${image}: image not known`, { hint: 'see `tbah images`' });
      }
      if (o.quiet && o.format !== undefined) throw usage('quiet and format are mutually exclusive');
      const trunc = o.trunc !== false;
      const id = (i: ImageSummary): string => (trunc ? i.id.slice(7, 19) : i.id);
      // As containers/storage sizes an image: its layers, its config, and its manifest (which it keeps twice).
      const size = (i: ImageSummary): string => imageSize(i.size + i.record.manifest.config.size + 2 * i.record.manifestDescriptor.size);
      if (o.json) {
        // Buildah's shape: short id, human size and age, raw time; in store order.
        out(JSON.stringify(shown.map(({ s: i }) => ({
          id: id(i), names: i.names.length ? i.names : null, digest: i.manifestDigest,
          createdat: humanAgo(i.created), size: size(i), created: i.created ? Math.floor(Date.parse(i.created) / 1000) : 0,
          createdatraw: i.created ?? '0001-01-01T00:00:00Z', readonly: false, history: null,
        })), null, 4));
        return;
      }
      // One row per name (newest image first), as Buildah's imageOutputParams.
      const rows = shown.map(({ s }) => s).sort((a, b) => (b.created ?? '').localeCompare(a.created ?? '')).flatMap((i) => {
        const names = i.names.length ? i.names : ['<none>'];
        return (o.quiet ? names.slice(0, 1) : names).map((n) => {
          const [repo, tag] = n === '<none>' ? ['<none>', '<none>'] : splitName(n);
          return {
            Tag: tag, ID: id(i), Name: repo, Digest: i.manifestDigest, Created: i.created ? Math.floor(Date.parse(i.created) / 1000) : 0,
            CreatedAt: humanAgo(i.created), Size: size(i), CreatedAtRaw: i.created ?? '', ReadOnly: false, History: '<none>',
          };
        });
      });
      if (o.format === undefined) {
        // What Buildah's default template ("table {{.Name}}\t{{.Tag}}\t…" or "{{.ID}}") prints, without the template engine.
        const cols = (r: typeof rows[number]): string[] => (o.quiet ? [r.ID] : [r.Name, r.Tag, ...(o.digests ? [r.Digest] : []), r.ID, r.CreatedAt, r.Size]);
        const header = o.quiet || o.noheading ? [] : [['REPOSITORY', 'TAG', ...(o.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE'].join('\t')];
        process.stdout.write(goTabwrite([...header, ...rows.map((r) => cols(r).join('\t'))].map((l) => `${l}\n`).join('')));
        return;
      }
      const { renderRows } = await import('../list-format.js');
      const { IMAGE_HEADERS, IMAGE_ROW } = await import('../go-schemas.js');
      process.stdout.write(renderRows(o.format, rows, { name: 'image', type: IMAGE_ROW, headers: { ...IMAGE_HEADERS, Digest: 'DIGEST' }, expandTabs: true }));
    });
}
