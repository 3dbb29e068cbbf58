/**
 * Transfer progress on stderr, as Buildah and skopeo show it: on a terminal a
 * line per blob redrawn in place (at most 10 times a second); otherwise one
 * line per finished blob, so logs stay short. `--quiet` shows nothing.
 */
import type { TransferEvent } from '../core/transports/registry.js';
import { humanSize } from './output.js';

interface Row { label: string; size: number; bytes: number; status?: string }

export interface ProgressView {
  onProgress: ((ev: TransferEvent) => void) | undefined;
  /** Draw the final state (call once, on success or failure). */
  finish(): void;
}

export function progressView(quiet: boolean, stream: NodeJS.WriteStream = process.stderr): ProgressView {
  if (quiet) return { onProgress: undefined, finish: () => {} };
  return stream.isTTY ? new TtyView(stream) : new LineView(stream);
}

const short = (d: string): string => d.replace(/^sha256:/, '').slice(0, 12);

function doneText(how: 'copied' | 'exists' | 'mounted'): string {
  return how === 'copied' ? 'done' : how === 'exists' ? 'skipped: already exists' : 'mounted from another repository';
}

class LineView implements ProgressView {
  private readonly roles = new Map<string, string>();
  constructor(private readonly stream: NodeJS.WriteStream) {}
  onProgress = (ev: TransferEvent): void => {
    if (ev.kind === 'blob-start') this.roles.set(ev.digest, ev.role === 'config' ? 'config' : 'blob');
    else if (ev.kind === 'blob-done') this.stream.write(`Copying ${this.roles.get(ev.digest) ?? 'blob'} ${short(ev.digest)} ${doneText(ev.how)}\n`);
    else if (ev.kind === 'manifest') this.stream.write('Writing manifest to image destination\n');
  };
  finish(): void {}
}

class TtyView implements ProgressView {
  private readonly rows = new Map<string, Row>();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;
  private manifest = false;
  constructor(private readonly stream: NodeJS.WriteStream) {}

  onProgress = (ev: TransferEvent): void => {
    switch (ev.kind) {
      case 'blob-start':
        this.rows.set(ev.digest, { label: `Copying ${ev.role === 'config' ? 'config' : 'blob'} ${short(ev.digest)}`, size: ev.size, bytes: 0 });
        break;
      case 'blob-bytes': {
        const r = this.rows.get(ev.digest);
        if (r) r.bytes = ev.bytes;
        break;
      }
      case 'blob-done': {
        const r = this.rows.get(ev.digest);
        if (r) r.status = doneText(ev.how);
        break;
      }
      case 'manifest':
        this.manifest = true;
        break;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.draw();
    }, 100);
  };

  finish(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.draw();
  }

  private draw(): void {
    const width = Math.max(40, (this.stream.columns || 80) - 1);
    const lines = [...this.rows.values()].map((r) => (r.status !== undefined ? `${r.label} ${r.status}` : `${r.label} ${bar(r.bytes, r.size)} ${humanSize(r.bytes)} / ${humanSize(r.size)}`).slice(0, width));
    if (this.manifest) lines.push('Writing manifest to image destination');
    let s = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const l of lines) s += `\r\x1b[2K${l}\n`;
    this.drawn = lines.length;
    this.stream.write(s);
  }
}

function bar(bytes: number, size: number): string {
  const n = 20;
  const filled = size > 0 ? Math.min(n, Math.floor((bytes / size) * n)) : 0;
  return `[${'='.repeat(filled)}${filled < n ? '>' : ''}${' '.repeat(Math.max(0, n - filled - 1))}]`;
}
