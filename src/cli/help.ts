/**
 * Help text: the `[rest...]` catch-all some commands declare (so that a flag
 * after the name gets Buildah's flag-order error instead of commander's "too
 * many arguments") is plumbing, not an argument: it never shows in help.
 */
import type { Argument, Command } from 'commander';

const visible = (cmd: Command): readonly Argument[] => cmd.registeredArguments.filter((a) => a.name() !== 'rest');

function argTerm(a: Argument): string {
  const n = a.name() + (a.variadic ? '...' : '');
  return a.required ? `<${n}>` : `[${n}]`;
}

export function configureHelp(program: Command): void {
  const settings = {
    // As commander: arguments get their own section only when one has a description.
    visibleArguments: (cmd: Command) => (visible(cmd).some((a) => a.description) ? [...visible(cmd)] : []),
    subcommandTerm: (cmd: Command) => [
      cmd.name() + (cmd.aliases()[0] ? `|${cmd.aliases()[0]}` : ''),
      ...(cmd.options.length ? ['[options]'] : []),
      ...visible(cmd).map(argTerm),
    ].join(' '),
  };
  program.configureHelp(settings);
  for (const c of program.commands) {
    c.configureHelp(settings);
    c.usage(['[options]', ...visible(c).map(argTerm)].join(' '));
  }
}
