import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { COMMAND_FILES, commandWord, registerCommands } from '../../src/cli/commands/index.js';

/** Every name and alias of the commands registered on a fresh program. */
async function registered(argv: string[]): Promise<Map<string, string>> {
  const program = new Command('tbah').enablePositionalOptions();
  await registerCommands(program, argv);
  const names = new Map<string, string>();
  for (const c of program.commands) for (const n of [c.name(), ...c.aliases()]) names.set(n, c.name());
  return names;
}

describe('command table (a call registers only its own command)', () => {
  it('names exactly the commands and aliases the command files register', async () => {
    const all = await registered(['node', 'tbah']);
    assert.deepEqual([...all.keys()].sort(), Object.keys(COMMAND_FILES).sort());
  });

  it('registers, for each name, a file that defines that command', async () => {
    const all = await registered(['node', 'tbah']);
    for (const name of Object.keys(COMMAND_FILES)) {
      const own = await registered(['node', 'tbah', name, 'x']);
      assert.equal(own.get(name), all.get(name), name);
      // `completion` describes every command, so it registers them all (as help does).
      if (name !== 'completion') assert.ok(own.size < all.size, `${name} registers only its own file`);
    }
  });

  it('finds the command word after the global --root, and only there', () => {
    assert.equal(commandWord(['node', 'tbah', 'config', '--env', 'A=1', 'c']), 'config');
    assert.equal(commandWord(['node', 'tbah', '--root', '/r', 'images']), 'images');
    assert.equal(commandWord(['node', 'tbah', '--root=/r', 'images']), 'images');
    assert.equal(commandWord(['node', 'tbah', '--root', 'images', 'containers']), 'containers');
    assert.equal(commandWord(['node', 'tbah']), undefined);
    assert.equal(commandWord(['node', 'tbah', '--help']), undefined);
    assert.equal(commandWord(['node', 'tbah', '-v']), undefined);
    assert.equal(commandWord(['node', 'tbah', '--bogus', 'images']), undefined);
  });

  it('registers every command for help, an unknown word, or no command', async () => {
    const all = await registered(['node', 'tbah']);
    for (const argv of [['--help'], ['help', 'config'], ['nosuch'], ['toString'], ['--root', '/r']]) {
      assert.equal((await registered(['node', 'tbah', ...argv])).size, all.size, argv.join(' '));
    }
  });
});
