/**
 * `--isolation chroot`: run the same OCI spec without a runtime, from tools every
 * Debian system has (util-linux `unshare` and `mount`, coreutils `mknod`, and
 * perl-base, all Essential). `unshare` gives new mount, UTS, IPC (and network)
 * namespaces and makes the next child pid 1 of a new PID namespace; a small
 * perl helper then forks that child, which performs the spec's mounts, masks,
 * devices and hostname, chroots, drops the capability bounding set, switches
 * to the user and execs the command. Perl is there because no util-linux tool
 * does chroot → drop bounding set → setgroups/setgid/setuid in one process
 * (setpriv cannot chroot, and chroot after setpriv lacks CAP_SYS_CHROOT).
 * All mounts live in the private mount namespace and vanish with it.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { TbahError } from '../errors.js';
import { resolveInRoot } from '../layer/secure-path.js';
import { findExecutable } from './select.js';
import { CAPABILITY_NUMBERS } from './spec.js';
import type { RuntimeSpec } from './spec.js';

/**
 * sethostname(2) syscall numbers: /proc/sys/kernel/hostname belongs to the
 * host's root, so root of a user namespace cannot write it (the syscall only
 * asks for CAP_SYS_ADMIN over the UTS namespace).
 */
const SETHOSTNAME_SYSCALL: Partial<Record<NodeJS.Architecture, number>> = {
  x64: 170, arm64: 161, riscv64: 161, loong64: 161, arm: 74, ia32: 74, s390x: 74, ppc64: 74, ppc: 74,
};

/** prctl(2) syscall numbers: perl-base has no prctl, and h2ph's syscall.ph is not in perl-base. */
const PRCTL_SYSCALL: Partial<Record<NodeJS.Architecture, number>> = {
  x64: 157, arm64: 167, riscv64: 167, loong64: 167, arm: 172, ia32: 172, s390x: 172, ppc64: 171, ppc: 171,
};

/**
 * The helper. Its plan file is a list of NUL-separated records, each `COUNT\0FIELD…`;
 * the last record is `exec`. The parent ignores the signals tbah handles (tbah
 * signals the command itself), waits, and exits with the child's status or 128+N.
 * Both die with their parent (PR_SET_PDEATHSIG), so a killed tbah leaves no
 * command running and, with the namespace gone, no mounts.
 */
const HELPER = String.raw`
use strict; use warnings; use POSIX (); use Fcntl; use Socket;
my $data = do { local $/; open(my $fh, '<', $ARGV[0]) or die "tbah-chroot: $ARGV[0]: $!\n"; <$fh> };
my @t = split /\0/, $data, -1; my @recs;
while (@t) { my $n = shift @t; last if !defined $n || $n eq ''; push @recs, [splice(@t, 0, $n)]; }
my @x = @{pop @recs};
my (undef, $root, $cwd, $uid, $gid, $groups, $keep, $prctl, $pidfile, $nenv) = splice(@x, 0, 10);
my @env = splice(@x, 0, $nenv); my @args = @x;
sub run_ok { system(@_) == 0 or die "@_: failed\n" }
sub mkpoint { my ($r, $rel, $file) = @_; my @parts = grep { $_ ne '' } split m{/}, $rel; my $p = $r;
  for my $i (0 .. $#parts) { $p .= "/$parts[$i]"; my $last = $i == $#parts;
    if (lstat $p) { die "refusing to mount on the symlink $p\n" if -l _; die "$p is not a directory\n" if !-d _ && !($last && $file); next }
    if ($last && $file) { sysopen(my $f, $p, O_WRONLY | O_CREAT | O_EXCL, 0755) or die "create $p: $!\n"; close $f }
    else { mkdir($p, 0755) or die "mkdir $p: $!\n" } }
  return $p }
sub setup {
  for my $r (@recs) { my ($op, @a) = @$r;
    if ($op eq 'mount') { my ($type, $src, $rr, $rel, $opts, $file) = @a; my $p = mkpoint($rr, $rel, $file);
      run_ok('mount', '-t', $type, ($opts ne '' ? ('-o', $opts) : ()), $src, $p) }
    elsif ($op eq 'bind') { my ($src, $rr, $rel, $ro, $file) = @a; my $p = mkpoint($rr, $rel, $file);
      run_ok('mount', '--rbind', $src, $p); run_ok('mount', '-o', 'remount,bind,ro', $p) if $ro }
    elsif ($op eq 'mknod') { my ($p, $maj, $min) = @a; run_ok('mknod', '-m', '666', $p, 'c', $maj, $min) }
    elsif ($op eq 'symlink') { symlink($a[0], $a[1]) or die "symlink $a[1]: $!\n" }
    elsif ($op eq 'mask') { my $p = $a[0]; next if !-e $p;
      if (-d $p) { run_ok('mount', '-t', 'tmpfs', '-o', 'ro,nosuid,nodev,noexec', 'tmpfs', $p) } else { run_ok('mount', '--bind', '/dev/null', $p) } }
    elsif ($op eq 'rdonly') { my $p = $a[0]; next if !-e $p; run_ok('mount', '--bind', $p, $p); run_ok('mount', '-o', 'remount,bind,ro', $p) }
    elsif ($op eq 'hostname') { syscall($a[1] + 0, $a[0], length($a[0])) == 0 or die "hostname: $!\n" }
    elsif ($op eq 'loup') { socket(my $s, PF_INET, SOCK_DGRAM, 0) or die "socket: $!\n"; my $ifr = pack('a16 x24', 'lo');
      ioctl($s, 0x8913, $ifr) or die "SIOCGIFFLAGS lo: $!\n"; my $fl = unpack('x16 s', $ifr);
      ioctl($s, 0x8914, pack('a16 s x22', 'lo', $fl | 1)) or die "SIOCSIFFLAGS lo: $!\n" }
    else { die "unknown step $op\n" } }
  chroot($root) or die "chroot $root: $!\n"; chdir($cwd) or die "chdir $cwd: $!\n";
  my %k = map { $_ => 1 } split /,/, $keep;
  my $last = 40; if (open(my $cf, '<', '/proc/sys/kernel/cap_last_cap')) { $last = <$cf> + 0 }
  for my $c (0 .. ($last > 63 ? 63 : $last)) { next if $k{$c}; syscall($prctl, 24, $c, 0, 0, 0) == 0 or die "drop capability $c: $!\n" }
  POSIX::setgid($gid) or die "setgid $gid: $!\n";
  my @want = ($gid, grep { $_ ne '' } split /,/, $groups);
  # A user namespace mapping only the caller denies setgroups: then there are no other groups to set.
  my $sg = 'allow'; if (open(my $sf, '<', '/proc/self/setgroups')) { $sg = <$sf> // 'allow' }
  if ($sg =~ /deny/) { die "supplementary groups (@want) need subordinate ids\n" if @want > 1 }
  else { $) = join(' ', $gid, @want);
    my ($eg, @have) = split ' ', $); my %have = map { $_ => 1 } @have;
    die "setgroups @want: $!\n" if $eg != $gid || grep { !$have{$_} } @want }
  POSIX::setuid($uid) or die "setuid $uid: $!\n"; die "setuid $uid did not take\n" if $< != $uid || $> != $uid;
}
$SIG{$_} = 'IGNORE' for qw(INT TERM HUP QUIT);
my $tbah = getppid(); syscall($prctl, 1, 9, 0, 0, 0); POSIX::_exit(137) if getppid() != $tbah;
my $pid = fork(); die "fork: $!\n" if !defined $pid;
if ($pid == 0) {
  $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP QUIT);
  syscall($prctl, 1, 9, 0, 0, 0);
  if (!eval { setup(); 1 }) { print STDERR "tbah: run (chroot isolation): $@"; POSIX::_exit(125) }
  %ENV = (); for (@env) { my ($k, $v) = split /=/, $_, 2; $ENV{$k} = $v }
  { no warnings 'exec'; exec { $args[0] } @args; }
  my $err = $!; print STDERR "tbah: run: cannot execute $args[0]: $err\n"; POSIX::_exit($!{ENOENT} ? 127 : 126);
}
{ open(my $p, '>', "$pidfile.tmp") or die "$pidfile: $!\n"; print $p $pid; close $p; rename("$pidfile.tmp", $pidfile) }
waitpid($pid, 0); my $st = $?;
POSIX::_exit(($st & 127) ? 128 + ($st & 127) : $st >> 8);
`;

type Rec = string[];

/** Device nodes runc creates in /dev: name, major, minor. */
const DEVICES: [string, number, number][] = [['null', 1, 3], ['zero', 1, 5], ['full', 1, 7], ['random', 1, 8], ['urandom', 1, 9], ['tty', 5, 0]];
const DEV_LINKS: [string, string][] = [['/proc/self/fd', 'fd'], ['/proc/self/fd/0', 'stdin'], ['/proc/self/fd/1', 'stdout'], ['/proc/self/fd/2', 'stderr'], ['pts/ptmx', 'ptmx']];

export interface ChrootCommand {
  /** argv to spawn (unshare … perl -e HELPER PLAN). */
  argv: string[];
}

/**
 * Write the plan for `spec` into `bundle` and return the command that runs it.
 * Mount targets are resolved inside the rootfs now; a target below an earlier
 * mount is placed in that mount (it does not exist in the rootfs), and the
 * helper refuses to mount on a symlink, so nothing is ever mounted outside.
 */
export async function prepareChroot(spec: RuntimeSpec, bundle: string, pidFile: string, opts: { userNamespace?: boolean } = {}): Promise<ChrootCommand> {
  const prctl = PRCTL_SYSCALL[process.arch];
  if (prctl === undefined || SETHOSTNAME_SYSCALL[process.arch] === undefined) throw new TbahError('unsupported', `--isolation chroot is not supported on ${process.arch}`, { hint: 'use --isolation oci' });
  const tools: Record<string, string> = {};
  for (const t of ['unshare', 'perl', 'mount', 'mknod']) {
    const found = await findExecutable(t);
    if (found === undefined) throw new TbahError('not-found', `--isolation chroot needs ${t}, which is not installed`, { hint: 'install util-linux, mount, coreutils and perl-base' });
    tools[t] = found;
  }
  const root = spec.root.path;
  const recs: Rec[] = [];
  // Host location of each mount made so far, deepest wins, to place nested targets.
  const placed: { dest: string; host: string }[] = [];
  const place = async (dest: string): Promise<{ root: string; rel: string }> => {
    const d = path.posix.normalize(dest);
    const parent = placed.filter((p) => d === p.dest || d.startsWith(p.dest === '/' ? '/' : `${p.dest}/`))
      .sort((a, b) => b.dest.length - a.dest.length)[0];
    if (parent) return { root: parent.host, rel: path.posix.relative(parent.dest, d) };
    return { root, rel: path.relative(root, await resolveInRoot(root, d)) };
  };
  let devHost: string | undefined;
  for (const m of spec.mounts) {
    const { root: r, rel } = await place(m.destination);
    const isBind = m.type === 'bind' || m.options.includes('bind') || m.options.includes('rbind');
    const file = isBind ? !(await fsp.stat(m.source)).isDirectory() : false;
    if (isBind) recs.push(['bind', m.source, r, rel, m.options.includes('ro') ? '1' : '', file ? '1' : '']);
    else recs.push(['mount', m.type, m.source, r, rel, m.options.join(','), '']);
    const host = path.join(r, rel);
    placed.push({ dest: path.posix.normalize(m.destination), host });
    if (m.destination === '/dev') devHost = host;
  }
  if (devHost !== undefined) {
    // In a user namespace mknod of real devices is refused: the host's nodes are bound instead (as runc does).
    for (const [name, maj, min] of DEVICES) {
      recs.push(opts.userNamespace ? ['bind', `/dev/${name}`, devHost, name, '', '1'] : ['mknod', path.join(devHost, name), String(maj), String(min)]);
    }
    for (const [target, name] of DEV_LINKS) recs.push(['symlink', target, path.join(devHost, name)]);
  }
  for (const p of spec.linux.maskedPaths) { const { root: r, rel } = await place(p); recs.push(['mask', path.join(r, rel)]); }
  for (const p of spec.linux.readonlyPaths) { const { root: r, rel } = await place(p); recs.push(['rdonly', path.join(r, rel)]); }
  recs.push(['hostname', spec.hostname, String(SETHOSTNAME_SYSCALL[process.arch] ?? 0)]);
  if (spec.linux.namespaces.some((n) => n.type === 'network')) recs.push(['loup']);

  const keep = spec.process.capabilities.bounding.map((c) => CAPABILITY_NUMBERS[c]).filter((n): n is number => n !== undefined);
  const u = spec.process.user;
  recs.push([
    'exec', root, spec.process.cwd, String(u.uid), String(u.gid), (u.additionalGids ?? []).join(','), keep.join(','),
    String(prctl), pidFile, String(spec.process.env.length), ...spec.process.env, ...spec.process.args,
  ]);
  const plan = recs.map((r) => `${r.length}\0${r.map((f) => `${f}\0`).join('')}`).join('');
  const planFile = path.join(bundle, 'chroot-plan');
  await fsp.writeFile(planFile, plan, { mode: 0o600 });

  const ns = ['--mount', '--uts', '--ipc', '--pid'];
  if (spec.linux.namespaces.some((n) => n.type === 'network')) ns.push('--net');
  return { argv: [tools['unshare']!, ...ns, '--propagation', 'private', '--', tools['perl']!, '-e', HELPER, planFile] };
}
