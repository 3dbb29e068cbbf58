import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { normaliseArgv, parseGoBool } from '../../src/cli/argv.js';
import { registerCommands } from '../../src/cli/commands/index.js';
import { TbahError } from '../../src/core/errors.js';

/** The real command table, as main.ts builds it (every command: no command word given). */
const table = new Command('tbah').option('--root <dir>').option('--log-level <level>').enablePositionalOptions().exitOverride();
await registerCommands(table);
const program = (): Command => table;

const norm = (...args: string[]): string[] => normaliseArgv(['node', 'tbah', ...args], program()).slice(2);

describe('parseGoBool', () => {
  it('accepts exactly strconv.ParseBool spellings', () => {
    for (const v of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(parseGoBool(v, '--x'), true);
    for (const v of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(parseGoBool(v, '--x'), false);
  });
  it('refuses others with pflag\'s text', () => {
    for (const v of ['yes', 'tRuE', '', 'maybe']) {
      assert.throws(() => parseGoBool(v, '-n, --noheading'), (e: unknown) => e instanceof TbahError
        && e.message === `invalid argument ${JSON.stringify(v)} for "-n, --noheading" flag: strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`);
    }
  });
});

describe('normaliseArgv', () => {
  it('turns --flag=true into --flag and --flag=false into its negation, for every boolean flag', () => {
    assert.deepEqual(norm('commit', '--squash=true', 'ctr'), ['commit', '--squash', 'ctr']);
    assert.deepEqual(norm('commit', '--squash=false', 'ctr'), ['commit', '--no-squash', 'ctr']);
    assert.deepEqual(norm('images', '--quiet=false', '-n=1'), ['images', '--no-quiet', '--noheading']);
    assert.deepEqual(norm('from', '--tls-verify=false', 'x'), ['from', '--no-tls-verify', 'x']);
    assert.deepEqual(norm('from', '--tls-verify=true', 'x'), ['from', '--tls-verify', 'x']);
  });

  it('a flag spelt --no-x takes =true as itself and =false as its opposite', () => {
    assert.deepEqual(norm('images', '--no-trunc=true'), ['images', '--no-trunc']);
    assert.deepEqual(norm('images', '--no-trunc=false'), ['images', '--trunc']);
  });

  it('every boolean flag of every command has the hidden opposite it needs', () => {
    const p = program();
    for (const c of p.commands) {
      for (const o of c.options) {
        if (o.required || o.optional || o.long === undefined) continue;
        const pos = o.negate ? o.long.replace(/^--no-/, '--') : o.long;
        const neg = `--no-${pos.slice(2)}`;
        assert.ok(c.options.some((x) => x.long === pos) && c.options.some((x) => x.long === neg), `${c.name()} ${o.long}`);
      }
    }
  });

  it('leaves values of value flags alone and stops at the first argument', () => {
    assert.deepEqual(norm('commit', '--format', 'docker', 'ctr', '--squash=true'), ['commit', '--format', 'docker', 'ctr', '--squash=true']);
    assert.deepEqual(norm('commit', '-qf', 'docker', '--rm=true', 'c'), ['commit', '-qf', 'docker', '--rm', 'c']);
    assert.deepEqual(norm('commit', '-f=docker', 'c'), ['commit', '-f', 'docker', 'c']);
    assert.deepEqual(norm('run', 'ctr', '--', 'ls', '--all=true'), ['run', 'ctr', '--', 'ls', '--all=true']);
    assert.deepEqual(norm('config', '--env', '--x=true', 'c'), ['config', '--env', '--x=true', 'c']);
  });

  it('--pull alone means always, on the commands that have it', () => {
    assert.deepEqual(norm('from', '--pull', 'busybox'), ['from', '--pull=always', 'busybox']);
    assert.deepEqual(norm('from', '--pull-never', 'busybox'), ['from', '--pull=never', 'busybox']);
    assert.deepEqual(norm('from', '--pull=newer', 'busybox'), ['from', '--pull=newer', 'busybox']);
  });

  it('global flags before the command are kept', () => {
    assert.deepEqual(norm('--root', '/s', '--log-level=debug', 'images', '-q=true'), ['--root', '/s', '--log-level=debug', 'images', '--quiet']);
  });

  it('an unknown command is an error even before --help', () => {
    assert.throws(() => norm('nosuch', '--help'), (e: unknown) => e instanceof TbahError && e.message === 'unknown command "nosuch" for "tbah"');
    assert.throws(() => norm('imagse'), (e: unknown) => e instanceof TbahError && /did you mean images/.test(e.hint ?? ''));
    assert.deepEqual(norm('ps', '-q'), ['ps', '-q']);
    assert.deepEqual(norm('help', 'from'), ['help', 'from']);
    assert.throws(() => norm('help', 'nosuch'), (e: unknown) => e instanceof TbahError && e.message === 'unknown command "nosuch" for "tbah"');
  });
});
