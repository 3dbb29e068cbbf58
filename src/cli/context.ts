/** What every command file gets: the store (opened on first use) and Buildah's flag-order rule. */
import type { Command } from 'commander';
import { TbahError } from '../core/errors.js';
import type { Store } from '../core/store/store.js';
import { debug } from './output.js';

let store: Promise<Store> | undefined;

export function getStore(cmd: Command): Promise<Store> {
  const root = cmd.optsWithGlobals().root as string | undefined;
  // Loaded on demand (with esbuild code splitting) so `version` and `--help` skip it.
  store ??= import('../core/store/store.js').then(async ({ Store: S }) => {
    const s = await S.open(root !== undefined ? { root } : {});
    debug(`store root ${s.root}`);
    return s;
  });
  return store;
}

/**
 * Buildah refuses flags after the image or container name; commander (with
 * pass-through options) leaves them as arguments. Checked once for every
 * command in a preAction hook (commands/index.ts), with what to do instead.
 */
export function checkFlagOrder(args: readonly string[]): void {
  const i = args.findIndex((a, k) => k > 0 && /^--?[A-Za-z]/.test(a));
  if (i > 0) {
    // Name the flag only: its value may be a secret (`--password=…`).
    const flag = args[i]!.split('=')[0]!;
    throw new TbahError('usage', `no options (${flag}) can be specified after the image or container name`, {
      hint: `put ${flag} before ${args[0]}`,
    });
  }
}

/** Commands declare a `[rest...]` catch-all so that a stray argument gets a clear error. */
export function noExtraArgs(rest: readonly string[]): void {
  if (rest.length > 0) {
    throw new TbahError('usage', `unexpected argument ${JSON.stringify(rest[0])}`, { hint: 'see `tbah COMMAND --help` for the arguments it takes' });
  }
}

export function collect(value: string, prev: string[] = []): string[] {
  return [...prev, value];
}

/** Seconds a JavaScript Date can hold either side of the epoch (±100,000,000 days). */
export const MAX_TIME_SECONDS = 8_640_000_000_000;

export function parseIntArg(flag: string, range: readonly [number, number] = [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER]) {
  return (v: string): number => {
    if (!/^-?\d+$/.test(v)) throw new TbahError('invalid-argument', `${flag} ${v}: not an integer`, { hint: `give ${flag} a whole number` });
    const n = Number(v);
    if (!(n >= range[0] && n <= range[1])) {
      throw new TbahError('invalid-argument', `${flag} ${v.length > 40 ? `${v.slice(0, 40)}…` : v}: out of range`, { hint: `give ${flag} a number from ${range[0]} to ${range[1]}` });
    }
    return n;
  };
}
