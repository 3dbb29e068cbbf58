/** What every command file gets: the store (opened on first use) and Buildah's flag-order rule. */
import type { Command } from 'commander';
import { TbahError } from '../core/errors.js';
import { Store } from '../core/store/store.js';

let store: Promise<Store> | undefined;

export function getStore(cmd: Command): Promise<Store> {
  const root = cmd.optsWithGlobals().root as string | undefined;
  store ??= Store.open(root !== undefined ? { root } : {});
  return store;
}

/**
 * Buildah refuses flags after the image or container name; commander would
 * take them as arguments. Say what to do instead of failing oddly.
 */
export function noFlagsAfter(name: string, rest: string[]): void {
  const flag = rest.find((a) => /^--?[A-Za-z]/.test(a));
  if (flag !== undefined) {
    throw new TbahError('usage', `no options (${flag}) can be specified after the image or container name`, {
      hint: `put ${flag} before ${name}`,
    });
  }
}

export function collect(value: string, prev: string[] = []): string[] {
  return [...prev, value];
}

export function parseIntArg(flag: string) {
  return (v: string): number => {
    if (!/^-?\d+$/.test(v)) throw new TbahError('invalid-argument', `${flag} ${v}: not an integer`, { hint: `give ${flag} a whole number` });
    return Number(v);
  };
}
