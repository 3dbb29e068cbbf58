/**
 * fs-native-extensions (OFD locks, xattrs) loaded on first use: loading the
 * addon costs ~20 ms, which commands like `version` or `config` should not pay.
 */
import { createRequire } from 'node:module';
import type nativeFsType from 'fs-native-extensions';

let mod: typeof nativeFsType | undefined;

export function nativeFs(): typeof nativeFsType {
  mod ??= createRequire(import.meta.url)('fs-native-extensions') as typeof nativeFsType;
  return mod;
}
