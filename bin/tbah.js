#!/bin/sh
":" //; case "$1" in --root) c=$3;; --root=*) c=$2;; *) c=$1;; esac
":" //; case "$c" in config|mount|umount|unmount|containers|ps|ls|list|images|rm|delete|rmi|tag|version|info) unset NODE_EXTRA_CA_CERTS;; esac
":" //; case "$c" in inspect) case "$*" in *docker://*) ;; *) unset NODE_EXTRA_CA_CERTS;; esac;; esac
":" //; exec node "$0" "$@"
'use strict';
// The lines above are sh (run through the #! line), and JavaScript that does
// nothing. Node 20 reads NODE_EXTRA_CA_CERTS and builds its whole root
// certificate store before any JavaScript runs (~40 ms with the system bundle);
// the commands named there never open a TLS connection (inspect only for a
// docker:// name), so sh drops the variable for them and execs node (same
// process, same signals). Every other command, and `node bin/tbah.js ...`,
// keep it.
//
// The `tbah` command: runs dist/tbah.cjs, the bundled CLI (scripts/bundle.mjs).
// A plain CommonJS script (bin/package.json), so Node's ESM loader never
// starts. It compiles the bundle with the V8 code cache the build made, which
// saves most of compiling 0.5 MB of JavaScript on every call, and hands the
// bundle a `require` that defers loading the heavier Node built-ins until one
// is used. Measurements: docs/performance-startup.md.
const { isAscii } = require('node:buffer');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const BUNDLE = path.join(__dirname, '..', 'dist', 'tbah.cjs');
const CACHE = `${BUNDLE}.cache`;
/** Cache file = CACHE_MAGIC + the bundle's 16-hex build id + V8's data. */
const CACHE_MAGIC = 'tbah-code-cache:';
const HEADER_BYTES = CACHE_MAGIC.length + 16;
/** dist/tbah.cjs starts with this and the build id. */
const BUILD_ID_PREFIX = '/*tbah-build:';

/**
 * Built-ins whose export is a plain object and that Node has not loaded before
 * user code runs. The bundle gets a stand-in that loads the real module on
 * first use: commander requires child_process at start-up (for executable
 * subcommands, which tbah has none of), the store requires crypto for random
 * names, and so on, each a few milliseconds that most calls never use.
 */
const DEFERRED = new Set(['child_process', 'crypto', 'dns', 'http', 'https', 'net', 'os', 'readline', 'stream/promises',
  'tls', 'worker_threads', 'zlib']);

/** A stand-in for a built-in module: every operation loads the real one and goes to it. */
function deferredBuiltin(load) {
  return new Proxy({}, {
    get: (_t, key) => Reflect.get(load(), key),
    set: (_t, key, value) => Reflect.set(load(), key, value),
    has: (_t, key) => Reflect.has(load(), key),
    ownKeys: () => Reflect.ownKeys(load()),
    getOwnPropertyDescriptor: (_t, key) => {
      const d = Reflect.getOwnPropertyDescriptor(load(), key);
      // A proxy may not report a property non-configurable that its (empty) target lacks.
      if (d !== undefined) d.configurable = true;
      return d;
    },
    defineProperty: (_t, key, d) => Reflect.defineProperty(load(), key, d),
    deleteProperty: (_t, key) => Reflect.deleteProperty(load(), key),
    getPrototypeOf: () => Reflect.getPrototypeOf(load()),
  });
}

function bundleRequire(file) {
  const real = Module.createRequire(file);
  const deferred = new Map();
  const req = (id) => {
    const name = typeof id === 'string' && id.startsWith('node:') ? id.slice(5) : id;
    if (!DEFERRED.has(name)) return real(id);
    let m = deferred.get(name);
    if (m === undefined) {
      let mod;
      m = deferredBuiltin(() => (mod ??= real(id)));
      deferred.set(name, m);
    }
    return m;
  };
  return Object.assign(req, { resolve: real.resolve, cache: real.cache, main: real.main, extensions: real.extensions });
}

/** V8's data from the cache file, if the file was made for this very bundle (V8 itself checks only its version, its flags and the source's length). */
function readCache(source) {
  if (!source.startsWith(BUILD_ID_PREFIX)) return undefined;
  let buf;
  try {
    buf = fs.readFileSync(CACHE);
  } catch {
    return undefined;
  }
  const id = source.slice(BUILD_ID_PREFIX.length, BUILD_ID_PREFIX.length + 16);
  if (buf.length <= HEADER_BYTES || buf.toString('latin1', 0, HEADER_BYTES) !== CACHE_MAGIC + id) return undefined;
  return buf.subarray(HEADER_BYTES);
}

/**
 * Compile dist/tbah.cjs, with its code cache when that belongs to it. A cache
 * V8 rejects (another Node, other V8 flags) is ignored and the source compiled
 * as usual: `cached` says whether the cache was used.
 */
function compile() {
  const bytes = fs.readFileSync(BUNDLE);
  // The build makes the bundle ASCII, which latin1 decodes twice as fast as UTF-8.
  const source = bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
  const cachedData = readCache(source);
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: BUNDLE,
    cachedData,
  });
  return { script, source, cached: cachedData !== undefined && !script.cachedDataRejected };
}

/**
 * Run the CLI bundle with process.argv. `saveCache` (the build's training
 * runs only): at exit, write the cache with every function compiled so far.
 */
function run({ saveCache = false } = {}) {
  // Node maps stack traces (--enable-source-maps) only for files its own loader compiled.
  if (process.sourceMapsEnabled && !saveCache) {
    require(BUNDLE);
    return;
  }
  const { script, source } = compile();
  if (saveCache) {
    process.on('exit', () => {
      const id = source.slice(BUILD_ID_PREFIX.length, BUILD_ID_PREFIX.length + 16);
      fs.writeFileSync(CACHE, Buffer.concat([Buffer.from(CACHE_MAGIC + id, 'latin1'), script.createCachedData()]));
    });
  }
  const m = new Module(BUNDLE, module);
  m.filename = BUNDLE;
  script.runInThisContext().call(m.exports, m.exports, bundleRequire(BUNDLE), m, BUNDLE, path.dirname(BUNDLE));
}

module.exports = { run, compile, bundleRequire };
if (require.main === module) run();
