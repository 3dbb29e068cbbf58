/**
 * `tbah login` and `tbah logout`, as Buildah's. Prompts (on a terminal only)
 * go to stderr so stdout keeps only results; the password is read with echo off.
 */
import type { Command } from 'commander';
import type { ReadStream } from 'node:tty';
import { TbahError } from '../../core/errors.js';
import { noExtraArgs } from '../context.js';
import { out } from '../output.js';

interface LoginFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
  authfile?: string;
  compatAuthFile?: string;
  certDir?: string;
  tlsVerify?: boolean;
  getLogin?: boolean;
  verbose?: boolean;
}

export function register(program: Command): void {
  program.command('login')
    .description('log in to a registry: check the credentials with it, then store them in the auth file')
    .argument('[registry]', 'HOST[:PORT], https://HOST[:PORT]/…, or HOST[:PORT]/NAMESPACE/REPO for one repository')
    .argument('[rest...]')
    .option('-u, --username <name>', 'username (asked for on a terminal when missing)')
    .option('-p, --password <password>', 'password (asked for on a terminal when missing; prefer --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .option('--authfile <file>', 'auth file to write (default: $REGISTRY_AUTH_FILE, else ${XDG_RUNTIME_DIR}/containers/auth.json)')
    .option('--compat-auth-file <file>', 'a Docker config.json to write instead (Docker format; not with --authfile)')
    .option('--cert-dir <dir>', 'directory with ca.crt (extra CAs) and client.cert/client.key')
    .option('--tls-verify', 'require HTTPS and verified certificates (default; --tls-verify=false allows http and unverified TLS)')
    .option('--no-tls-verify', 'same as --tls-verify=false')
    .option('--get-login', 'print the username logged in for the registry (an error if none)')
    .option('-v, --verbose', 'print the auth file used')
    .action(async (registry: string | undefined, rest: string[], o: LoginFlags) => {
      const ops = await import('../../core/ops/login.js');
      noExtraArgs(rest);
      if (registry === undefined) throw new TbahError('usage', 'please provide a registry to log in to', { hint: 'tbah login [OPTIONS] HOST[:PORT]' });
      const files = { ...(o.authfile === undefined ? {} : { authFile: o.authfile }), ...(o.compatAuthFile === undefined ? {} : { compatAuthFile: o.compatAuthFile }) };
      if (o.getLogin) {
        out(await ops.getLogin(registry, files));
        return;
      }
      let password = o.password;
      if (o.passwordStdin) {
        if (o.password !== undefined) throw new TbahError('usage', "can't specify both --password-stdin and --password", { hint: 'keep --password-stdin' });
        if (o.username === undefined) throw new TbahError('usage', 'must provide --username with --password-stdin', { hint: 'tbah login -u NAME --password-stdin HOST < file' });
        password = await readStdinPassword();
        if (password === '') throw new TbahError('usage', '--password-stdin: stdin holds no password', { hint: 'pipe the password in: tbah login -u NAME --password-stdin HOST < file' });
      }
      const prompt = terminalPrompt();
      const r = await ops.login({
        target: registry,
        ...files,
        ...(o.username === undefined ? {} : { username: o.username }),
        ...(password === undefined ? {} : { password }),
        ...(o.tlsVerify === undefined ? {} : { tlsVerify: o.tlsVerify }),
        ...(o.certDir === undefined ? {} : { certDir: o.certDir }),
        ...(prompt === undefined ? {} : { prompt }),
        onNote: (m) => process.stderr.write(`${m}\n`),
      });
      if (r.alreadyLoggedIn) {
        out(`Existing credentials are valid. Already logged in to ${r.registry}`);
        return;
      }
      if (o.verbose && r.storedIn !== undefined) out(`Used: ${r.storedIn}`);
      out('Login Succeeded!');
    });

  program.command('logout')
    .description('remove the login credentials for a registry (or all of them) from the auth file')
    .argument('[registry]', 'HOST[:PORT], https://HOST[:PORT]/…, or HOST[:PORT]/NAMESPACE/REPO')
    .argument('[rest...]')
    .option('--authfile <file>', 'auth file to edit (default: $REGISTRY_AUTH_FILE, else ${XDG_RUNTIME_DIR}/containers/auth.json)')
    .option('--compat-auth-file <file>', 'a Docker config.json to edit instead (not with --authfile)')
    .option('-a, --all', 'remove the credentials for all registries')
    .action(async (registry: string | undefined, rest: string[], o: { authfile?: string; compatAuthFile?: string; all?: boolean }) => {
      const { logout } = await import('../../core/ops/login.js');
      noExtraArgs(rest);
      if (!o.all && registry === undefined) throw new TbahError('usage', 'please provide a registry to log out from', { hint: 'tbah logout HOST[:PORT], or tbah logout --all' });
      const key = await logout({
        ...(registry === undefined ? {} : { target: registry }),
        ...(o.all ? { all: true } : {}),
        ...(o.authfile === undefined ? {} : { authFile: o.authfile }),
        ...(o.compatAuthFile === undefined ? {} : { compatAuthFile: o.compatAuthFile }),
      });
      out(key === undefined ? 'Removed login credentials for all registries' : `Removed login credentials for ${key}`);
    });
}

/** All of stdin, its lines joined without their line ends (Buildah's bufio.Scanner loop). */
async function readStdinPassword(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').split('\n').map((l) => l.replace(/\r$/, '')).join('');
}

/** Prompts on the terminal, or undefined when stdin is not one (then missing values are errors). */
function terminalPrompt(): { username(current: string | undefined): Promise<string>; password(): Promise<string> } | undefined {
  if (!process.stdin.isTTY) return undefined;
  const reader = new TerminalReader(process.stdin as ReadStream);
  return {
    username: (current) => reader.line(current === undefined ? 'Username: ' : `Username (${current}): `, false),
    password: () => reader.line('Password: ', true),
  };
}

/** Reads lines from the terminal; a hidden line is read in raw mode, so nothing typed is echoed. */
class TerminalReader {
  private pending = '';
  constructor(private readonly tty: ReadStream) {}

  line(prompt: string, hidden: boolean): Promise<string> {
    // Echo goes off before the prompt shows, so nothing typed after it can be echoed.
    if (hidden) this.tty.setRawMode(true);
    process.stderr.write(prompt);
    return new Promise((resolve, reject) => {
      let text = '';
      let done = false;
      const finish = (err?: TbahError): void => {
        done = true;
        this.tty.off('data', onData);
        this.tty.off('end', onEnd);
        this.tty.pause();
        if (hidden) {
          this.tty.setRawMode(false);
          process.stderr.write('\n'); // the Enter was not echoed either
        }
        if (err !== undefined) reject(err);
        else resolve(text);
      };
      const feed = (chars: string): void => {
        const list = [...chars];
        for (let i = 0; i < list.length; i++) {
          const ch = list[i]!;
          if (ch === '\r' || ch === '\n') {
            // Whatever was typed ahead answers the next question.
            const rest = list.slice(i + 1);
            if (ch === '\r' && rest[0] === '\n') rest.shift();
            this.pending = rest.join('');
            return finish();
          }
          if (!hidden) text += ch;
          else if (ch === '\u0003') return finish(new TbahError('usage', 'login interrupted', { exitCode: 130 }));
          else if (ch === '\u0004') {
            if (text === '') return finish();
          } else if (ch === '\u007f' || ch === '\b') text = [...text].slice(0, -1).join('');
          else if (ch === '\u0015') text = '';
          else text += ch;
        }
      };
      const onData = (b: Buffer | string): void => feed(typeof b === 'string' ? b : b.toString('utf8'));
      const onEnd = (): void => finish();
      const typedAhead = this.pending;
      this.pending = '';
      if (typedAhead !== '') feed(typedAhead);
      if (done) return;
      this.tty.on('data', onData);
      this.tty.on('end', onEnd);
      this.tty.resume();
    });
  }
}
