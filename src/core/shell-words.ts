/**
 * Split a command line into words the way Buildah does for `config --cmd`,
 * `--shell` and `--healthcheck`: a port of github.com/mattn/go-shellwords
 * v1.0.13 `Parse` with environment and backtick expansion off (Buildah's
 * settings). Nothing is expanded or executed; quotes only group and are removed.
 *
 * - whitespace (space, tab, CR, LF) outside quotes separates words;
 * - '…' keeps everything literally, backslash included;
 * - "…" groups; a backslash inside escapes the next character;
 * - outside quotes a backslash escapes the next character; `\t` and `\n` give
 *   a tab and a newline (go-shellwords' rule, inside double quotes too);
 * - `` `…` `` and `$(…)` are kept literally, backticks/parentheses included, as
 *   part of one word (go-shellwords groups them but runs nothing when
 *   backtick parsing is off);
 * - `""` and `''` give an empty word.
 *
 * One deliberate departure: go-shellwords silently stops at an unquoted
 * `;`, `&`, `|`, `<` or `>` and drops the rest of the line, so Buildah turns
 * `--cmd 'a && b'` into `["a"]`. tbah refuses such a line instead, since
 * quietly dropping half a command is never what a script meant. A bare `(` or
 * `)` is refused as go-shellwords does.
 */
import { TbahError } from './errors.js';

const SPACE = new Set([' ', '\t', '\r', '\n']);
const OPERATORS = new Set([';', '&', '|', '<', '>']);

/**
 * @param what names the input in error messages, e.g. `--cmd`.
 * @throws TbahError('invalid-argument') on an unterminated quote, a trailing
 *   backslash, an unquoted shell operator or parenthesis.
 */
export function splitShellWords(s: string, what = 'command line'): string[] {
  const fail = (why: string, hint: string): never => {
    throw new TbahError('invalid-argument', `${what} ${JSON.stringify(s)}: ${why}`, { hint });
  };
  const quoteHint = 'close the quote, or give the command as a JSON array such as ["sh","-c","..."]';

  const words: string[] = [];
  let buf = '';
  let inWord = false; // go-shellwords' `got != argNo`: a word (maybe empty, from "") is pending
  let escaped = false;
  let single = false;
  let double = false;
  let backQuote = false;
  let dollarQuote = false;

  for (const ch of s) {
    if (escaped) {
      buf += ch === 't' ? '\t' : ch === 'n' ? '\n' : ch;
      escaped = false;
      inWord = true;
      continue;
    }
    if (ch === '\\') {
      if (single) buf += ch;
      else escaped = true;
      continue;
    }
    if (SPACE.has(ch)) {
      if (single || double || backQuote || dollarQuote) {
        buf += ch;
      } else if (inWord) {
        words.push(buf);
        buf = '';
        inWord = false;
      }
      continue;
    }
    switch (ch) {
      case '`':
        if (!single && !double && !dollarQuote) backQuote = !backQuote;
        break; // the backtick itself is kept (go-shellwords with ParseBacktick off)
      case ')':
        if (!single && !double && !backQuote) {
          if (!dollarQuote) fail('unmatched ")"', 'quote the parenthesis: \'(\' or "("');
          buf += ch;
          dollarQuote = false;
          inWord = true;
          continue;
        }
        break;
      case '(':
        if (!single && !double && !backQuote) {
          if (!dollarQuote && buf.endsWith('$')) {
            dollarQuote = true;
            buf += ch;
            continue;
          }
          fail('unquoted "("', 'quote the parenthesis: \'(\' or "("');
        }
        break;
      case '"':
        if (!single && !dollarQuote) {
          if (double) inWord = true;
          double = !double;
          continue;
        }
        break;
      case "'":
        if (!double && !dollarQuote) {
          if (single) inWord = true;
          single = !single;
          continue;
        }
        break;
      default:
        if (OPERATORS.has(ch) && !single && !double && !backQuote && !dollarQuote) {
          fail(`shell operator "${ch}" is not supported (the command is not run by a shell)`,
            `quote it to pass it literally, or use a shell: '["sh","-c","..."]'`);
        }
    }
    inWord = true;
    buf += ch;
  }

  if (escaped) fail('ends with a backslash', 'remove the trailing backslash or quote it');
  if (single) fail('unterminated single quote', quoteHint);
  if (double) fail('unterminated double quote', quoteHint);
  if (backQuote) fail('unterminated backtick', quoteHint);
  if (dollarQuote) fail('unterminated "$("', quoteHint);
  if (inWord) words.push(buf);
  return words;
}
