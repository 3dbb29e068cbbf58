/**
 * fs-native-extensions (OFD locks, xattrs), loaded on first use: commands
 * like `version` never pay for it.
 *
 * Its own loader (require-addon → bare-addon-resolve → bare-module-resolve →
 * bare-semver) spends ~8 ms of every locking command's start-up finding
 * `prebuilds/<platform>-<arch>/fs-native-extensions.node`. When the package
 * looks exactly as that loader would see it — binding.js is the two lines we
 * know, no versioned prebuild shadows the plain one, not on musl — the binary
 * is loaded by that path and put in the module cache as binding.js's export,
 * so the package's index.js (its API) runs unchanged on the same binary.
 * Anything else takes the package's own loader.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Module, createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type nativeFsType from 'fs-native-extensions';

type NativeFs = typeof nativeFsType;

/** fs-native-extensions' binding.js (1.x): the addon that require-addon finds for this directory, nothing more. */
const KNOWN_BINDING_JS = "require.addon = require('require-addon')\n\nmodule.exports = require.addon('.', __filename)\n";

let mod: NativeFs | undefined;

export function nativeFs(): NativeFs {
  if (mod === undefined) {
    const req = createRequire(import.meta.url);
    preloadBinding(req);
    mod = req('fs-native-extensions') as NativeFs;
  }
  return mod;
}

/** Seed the module cache with binding.js's export, when that is certain to be the same binary. */
function preloadBinding(req: NodeJS.Require): void {
  try {
    const dir = dirname(req.resolve('fs-native-extensions/package.json'));
    const bindingJs = join(dir, 'binding.js');
    if (req.cache[bindingJs] !== undefined) return;
    // require-addon looks for a `-musl` build on Alpine.
    if (process.platform === 'linux' && existsSync('/etc/alpine-release')) return;
    const { name, version } = req(join(dir, 'package.json')) as { name?: string; version?: string };
    if (name !== 'fs-native-extensions') return;
    // bare-addon-resolve tries the versioned file name first, then the plain one.
    const host = join(dir, 'prebuilds', `${process.platform}-${process.arch}`);
    if (existsSync(join(host, `${name}@${version}.node`))) return;
    const addon = join(host, `${name}.node`);
    if (!existsSync(addon) || readFileSync(bindingJs, 'utf8') !== KNOWN_BINDING_JS) return;
    const m = new Module(bindingJs);
    m.filename = bindingJs;
    m.exports = req(addon);
    m.loaded = true;
    req.cache[bindingJs] = m as unknown as NodeJS.Module;
  } catch {
    // Whatever went wrong, the package's own loader decides (and reports).
  }
}
