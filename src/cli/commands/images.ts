import type { Command } from 'commander';
import { TbahError } from '../../core/errors.js';
import { getStore } from '../context.js';
import { humanAgo, humanSize, out, table } from '../output.js';
import { renderTemplate } from '../template.js';

function splitName(name: string): [string, string] {
  const at = name.indexOf('@');
  const base = at >= 0 ? name.slice(0, at) : name;
  const colon = base.lastIndexOf(':');
  if (colon > base.lastIndexOf('/')) return [base.slice(0, colon), base.slice(colon + 1)];
  return [base, '<none>'];
}

export function register(program: Command): void {
  program.command('images')
    .description('list images in the store')
    .addHelpText('after', '\nExamples:\n  tbah images\n  tbah images --format \'{{.ID}} {{.Name}}:{{.Tag}} {{.Size}}\'\n  tbah images --filter dangling=true -q\n  tbah images --filter reference=\'localhost/app*\' --filter label=stage=prod')
    .argument('[image]', 'only this image')
    .option('-a, --all', 'all images (tbah keeps no intermediate images)')
    .option('-q, --quiet', 'print only image IDs')
    .option('--no-trunc', 'do not truncate IDs')
    .option('-n, --noheading', 'no header row')
    .option('--digests', 'show manifest digests')
    .option('--json', 'print JSON')
    .option('--format <template>', 'Go template per row: .ID .Name .Tag .Digest .Size .Created .CreatedAt')
    .action(async (image: string | undefined, o: { quiet?: boolean; trunc?: boolean; noheading?: boolean; digests?: boolean; json?: boolean; format?: string }, cmd: Command) => {
      const { listImages, nameCandidates } = await import('../../core/ops/manage.js');
      const store = await getStore(cmd);
      let imgs = await listImages(store);
      if (image !== undefined) {
        const want = nameCandidates(image);
        imgs = imgs.filter((i) => i.names.some((n) => want.includes(n)) || i.id.slice(7).startsWith(image.replace(/^sha256:/, '')));
        if (imgs.length === 0) {
          throw new TbahError('not-found', `${image}: image not known`, { hint: 'see `tbah images`' });
        }
      }
      const trunc = o.trunc !== false;
      if (o.json) {
        // Buildah's shape: short id, human size and age, raw time.
        out(JSON.stringify(imgs.map((i) => ({
          id: trunc ? i.id.slice(7, 19) : i.id.slice(7), names: i.names.length ? i.names : null, digest: i.manifestDigest,
          createdat: humanAgo(i.created), size: humanSize(i.size), created: i.created ? Math.floor(Date.parse(i.created) / 1000) : 0,
          createdatraw: i.created ?? '', readonly: false, history: null,
        })), null, 4));
        return;
      }
      if (o.quiet) {
        for (const i of imgs) out(trunc ? i.id.slice(7, 19) : i.id);
        return;
      }
      const rows = imgs.flatMap((i) => (i.names.length ? i.names : ['<none>']).map((n) => {
        const [repo, tag] = n === '<none>' ? ['<none>', '<none>'] : splitName(n);
        return { ID: trunc ? i.id.slice(7, 19) : i.id, Name: repo, Tag: tag, Digest: i.manifestDigest, Size: humanSize(i.size), Created: humanAgo(i.created), CreatedAt: i.created ?? '' };
      }));
      if (o.format) { for (const r of rows) out(renderTemplate(o.format, r)); return; }
      const header = ['REPOSITORY', 'TAG', ...(o.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE'];
      const body = rows.map((r) => [r.Name, r.Tag, ...(o.digests ? [r.Digest] : []), r.ID, r.Created, r.Size]);
      const all = o.noheading ? body : [header, ...body];
      if (all.length > 0) out(table(all));
    });
}
