// Test harness: a ring of real OpenSSH sshd processes on 127.0.0.1, one per host, each with its own
// temp dir, host key, port, root and state dir, plus one client key, authorized_keys and a
// known_hosts that lists every host. Nothing here mocks SSH; tests talk to real sshd.
//
// SFTP operations are logged per host: internal-sftp cannot log into sshd's -E file (the session
// child stops redirecting logs before it runs the subsystem, so they would go to syslog), so each
// host's Subsystem is a tiny wrapper running OpenSSH's sftp-server with `-e -l INFO` and its
// stderr appended to the same log file. sftpOps() parses that log.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer, connect as tcpConnect } from 'node:net';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, existsSync, readdirSync, statSync, chmodSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const run = promisify(execFile);

const SSHD = '/usr/sbin/sshd';
const SFTP_SERVER_CANDIDATES = ['/usr/lib/openssh/sftp-server', '/usr/libexec/openssh/sftp-server', '/usr/libexec/sftp-server'];
const START_TIMEOUT_MS = 20_000;

export interface SftpOp {
  /** receive: a file written by chain receive (logged by the harness's receive.sh) */
  op: 'open' | 'close' | 'rename' | 'remove' | 'mkdir' | 'rmdir' | 'symlink' | 'set' | 'opendir' | 'receive';
  path: string;
  /** rename: the new path; symlink: the link path (path is the target) */
  to?: string;
  /** open: the flags as logged, e.g. "WRITE,CREATE,TRUNCATE" */
  flags?: string;
}

export interface SftpOps {
  /** files opened for writing */
  writes: number;
  /** files written by chain receive */
  received: number;
  /** where each file landed: a rename's new path (SFTP) or a file chain receive wrote, in order */
  landed: string[];
  renames: number;
  removes: number;
  mkdirs: number;
  rmdirs: number;
  symlinks: number;
  /** setstat/fsetstat calls */
  sets: number;
  opens: number;
  /** every parsed operation, in log order */
  ops: SftpOp[];
}

export interface TestHost {
  name: string;
  address: '127.0.0.1';
  port: number;
  /** this host's temp dir (config, keys, log) */
  dir: string;
  /** the replicated directory of this host */
  root: string;
  /** chain's state dir for this host */
  state: string;
  /** sshd -E log, with the sftp-server operation log appended */
  logFile: string;
  /** the receiver command (receiver: in configs written by writeConfig): runs this checkout's
   *  `chain --verbose receive`, its lines going to logFile */
  receiver: string;
  /** "ssh-ed25519 AAAA..." */
  hostKeyPub: string;
  /** the raw public key blob (what an SSH client sees during key exchange) */
  hostKeyBlob: Buffer;
  /** pid of the listening sshd */
  readonly pid: number;
  /** signal the listening sshd; with all: also every sshd child (open sessions, sftp-servers) */
  signal(sig: NodeJS.Signals, opts?: { all?: boolean }): void;
  /** stop the listener (and its sessions) and start it again on the same port with the same key */
  restart(): Promise<void>;
  /** kill the listener and its sessions */
  kill(): Promise<void>;
  /** SFTP operations logged since start (or since the last resetOps) */
  sftpOps(): SftpOps;
  /** forget the operations logged so far */
  resetOps(): void;
}

export interface Ring {
  dir: string;
  hosts: TestHost[];
  /** the login user (root, or the current user when not root) */
  user: string;
  /** path of the client private key (ed25519, no passphrase) */
  clientKey: string;
  clientKeyPub: string;
  /** path of a known_hosts file listing every host */
  knownHosts: string;
  /** write a chain.yaml for this ring (hosts host1..hostN); returns its path */
  writeConfig(extra?: Record<string, unknown>, file?: string): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** extra sshd_config lines for every host */
  sshdConfig?: string[];
  /** false: no SFTP subsystem at all (sshd refuses the subsystem request) */
  sftp?: boolean;
  /** host name prefix (default "host") */
  prefix?: string;
}

/** this checkout's chain, which each host's receive.sh runs (see TestHost.receiver) */
const CHAIN_BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'chain');

/** A TCP port free right now on 127.0.0.1 (the kernel picks it; a race is still possible, callers retry). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Generate an ed25519 key pair at path (no passphrase unless given). */
export async function generateKey(path: string, passphrase = ''): Promise<{ path: string; pub: string }> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'chain-test', '-f', path]);
  return { path, pub: readFileSync(path + '.pub', 'utf8').trim() };
}

// Everything started by this process, so an exiting test never leaves sshd or temp dirs behind.
const live = new Set<{ procs: () => ChildProcess[]; dir: string }>();
let exitHooked = false;
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const r of live) {
      for (const p of r.procs()) killTree(p.pid, 'SIGKILL');
      try {
        rmSync(r.dir, { recursive: true, force: true });
      } catch {
        /* best effort at exit */
      }
    }
  });
}

/** Start n sshd hosts on loopback. */
export async function startHosts(n: number, opts: StartOptions = {}): Promise<Ring> {
  hookExit();
  const dir = mkdtempSync(join(tmpdir(), 'chain-ring-'));
  const isRoot = process.getuid?.() === 0;
  const user = isRoot ? 'root' : userInfo().username;
  if (isRoot) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const sftpServer = SFTP_SERVER_CANDIDATES.find((p) => existsSync(p));
  if (!sftpServer) throw new Error(`no OpenSSH sftp-server found (looked in ${SFTP_SERVER_CANDIDATES.join(', ')})`);

  const client = await generateKey(join(dir, 'client_ed25519'));
  const authorizedKeys = join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, client.pub + '\n', { mode: 0o600 });

  const hosts: HostImpl[] = [];
  const handle = { procs: () => hosts.flatMap((h) => (h.proc ? [h.proc] : [])), dir };
  live.add(handle);
  try {
    const prefix = opts.prefix ?? 'host';
    await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const h = await HostImpl.create(`${prefix}${i + 1}`, join(dir, `${prefix}${i + 1}`), {
          authorizedKeys,
          sftpServer,
          extra: opts.sshdConfig ?? [],
          sftp: opts.sftp !== false,
        });
        hosts[i] = h;
      }),
    );
    await Promise.all(hosts.map((h) => h.start()));
  } catch (err) {
    await Promise.all(hosts.filter(Boolean).map((h) => h.kill()));
    live.delete(handle);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, hosts.map((h) => `[127.0.0.1]:${h.port} ${h.hostKeyPub}\n`).join(''));

  const ring: Ring = {
    dir,
    hosts,
    user,
    clientKey: client.path,
    clientKeyPub: client.pub,
    knownHosts,
    writeConfig(extra = {}, file = join(dir, 'chain.yaml')) {
      const ssh = { user, identity: client.path, knownHosts, connectTimeout: '5s' };
      const doc: Record<string, unknown> = {
        root: hosts[0].root,
        state: hosts[0].state,
        hosts: hosts.map((h) => ({ name: h.name, address: h.address, port: h.port, root: h.root, state: h.state, receiver: h.receiver })),
        ...extra,
        ssh: { ...ssh, ...((extra.ssh as Record<string, unknown> | undefined) ?? {}) },
      };
      writeFileSync(file, stringify(doc));
      return file;
    },
    async stop() {
      await Promise.all(hosts.map((h) => h.kill()));
      live.delete(handle);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return ring;
}

class HostImpl implements TestHost {
  readonly address = '127.0.0.1' as const;
  port = 0;
  proc: ChildProcess | undefined;
  private opsFrom = 0;
  readonly root: string;
  readonly state: string;
  readonly logFile: string;
  readonly receiver: string;
  private readonly cfgFile: string;

  private constructor(
    readonly name: string,
    readonly dir: string,
    readonly hostKeyPub: string,
    readonly hostKeyBlob: Buffer,
    private readonly hostKey: string,
    private readonly setup: { authorizedKeys: string; sftpServer: string; extra: string[]; sftp: boolean },
  ) {
    this.root = join(dir, 'root');
    this.state = join(dir, 'state');
    this.logFile = join(dir, 'sshd.log');
    this.receiver = join(dir, 'receive.sh');
    this.cfgFile = join(dir, 'sshd_config');
  }

  static async create(
    name: string,
    dir: string,
    setup: { authorizedKeys: string; sftpServer: string; extra: string[]; sftp: boolean },
  ): Promise<HostImpl> {
    mkdirSync(join(dir, 'root'), { recursive: true });
    mkdirSync(join(dir, 'state'), { recursive: true });
    const key = await generateKey(join(dir, 'ssh_host_ed25519_key'));
    const blob = Buffer.from(key.pub.split(/\s+/)[1], 'base64');
    const pub = key.pub.split(/\s+/).slice(0, 2).join(' ');
    return new HostImpl(name, dir, pub, blob, key.path, setup);
  }

  get pid(): number {
    return this.proc?.pid ?? 0;
  }

  private writeConfig(): void {
    const wrapper = join(this.dir, 'sftp-server.sh');
    // The subsystem runs through the login shell; its stderr (the -e log) goes to our log file.
    writeFileSync(wrapper, `#!/bin/sh\nexec ${this.setup.sftpServer} -e -l INFO 2>>'${this.logFile}'\n`);
    chmodSync(wrapper, 0o755);
    // chain receive likewise: this checkout, run by this node (sshd's PATH may have neither),
    // a line per file written (--verbose) into the same log, which sftpOps() reads as 'receive'
    writeFileSync(this.receiver, `#!/bin/sh\nexec '${process.execPath}' '${CHAIN_BIN}' --verbose "$@" 2>>'${this.logFile}'\n`);
    chmodSync(this.receiver, 0o755);
    const lines = [
      `Port ${this.port}`,
      `ListenAddress 127.0.0.1`,
      `HostKey ${this.hostKey}`,
      `PidFile ${join(this.dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${this.setup.authorizedKeys}`,
      `PasswordAuthentication no`,
      `KbdInteractiveAuthentication no`,
      `UsePAM no`,
      `StrictModes no`,
      `PermitRootLogin prohibit-password`,
      `MaxStartups 200`,
      `MaxSessions 50`,
      `LogLevel VERBOSE`,
      ...(this.setup.sftp ? [`Subsystem sftp ${wrapper}`] : []),
      ...this.setup.extra,
    ];
    writeFileSync(this.cfgFile, lines.join('\n') + '\n');
  }

  /** Start sshd; when the port was taken meanwhile (freePort races), pick another, unless restarting. */
  async start(keepPort = false): Promise<void> {
    let lastErr: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      if (!keepPort || this.port === 0) this.port = await freePort();
      this.writeConfig();
      try {
        await this.spawnAndWait();
        return;
      } catch (err) {
        lastErr = err;
        if (!String(err).includes('Address already in use')) break;
        if (keepPort) await delay(200);
      }
    }
    throw lastErr;
  }

  private async spawnAndWait(): Promise<void> {
    // setpriv --pdeathsig: sshd dies with the test process even if that is SIGKILLed.
    const usePdeath = existsSync('/usr/bin/setpriv');
    const cmd = usePdeath ? '/usr/bin/setpriv' : SSHD;
    const args = [...(usePdeath ? ['--pdeathsig', 'KILL', SSHD] : []), '-D', '-e', '-f', this.cfgFile, '-E', this.logFile];
    const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    let exited: string | null = null;
    proc.once('exit', (code, sig) => (exited = `sshd exited (${sig ?? code})`));
    proc.once('error', (e) => (exited = `cannot run sshd: ${e.message}`));
    this.proc = proc;
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await canConnect(this.port))) {
      if (exited !== null || Date.now() > deadline) {
        const log = existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8').split('\n').slice(-10).join('\n') : '';
        proc.kill('SIGKILL');
        this.proc = undefined;
        throw new Error(`${this.name}: sshd on port ${this.port} did not start: ${exited ?? 'timeout'}\n${stderr}${log}`);
      }
      await delay(25);
    }
  }

  signal(sig: NodeJS.Signals, opts: { all?: boolean } = {}): void {
    if (!this.proc?.pid) return;
    if (opts.all) killTree(this.proc.pid, sig);
    else process.kill(this.proc.pid, sig);
  }

  async kill(): Promise<void> {
    const p = this.proc;
    if (!p?.pid) return;
    this.proc = undefined;
    const done = p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', r));
    killTree(p.pid, 'SIGKILL');
    await done;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start(true);
  }

  resetOps(): void {
    this.opsFrom = existsSync(this.logFile) ? statSync(this.logFile).size : 0;
  }

  sftpOps(): SftpOps {
    const text = existsSync(this.logFile) ? readFileSync(this.logFile).subarray(this.opsFrom).toString('utf8') : '';
    return parseSftpLog(text);
  }
}

/** Parse the operation lines OpenSSH's sftp-server logs at INFO. */
export function parseSftpLog(text: string): SftpOps {
  const ops: SftpOp[] = [];
  for (const line of text.split(/\r?\n/)) {
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^open "(.*)" flags (\S+) mode/))) ops.push({ op: 'open', path: m[1], flags: m[2] });
    else if ((m = line.match(/^close "(.*)" bytes read/))) ops.push({ op: 'close', path: m[1] });
    else if ((m = line.match(/^(?:posix-)?rename old "(.*)" new "(.*)"$/))) ops.push({ op: 'rename', path: m[1], to: m[2] });
    else if ((m = line.match(/^remove name "(.*)"$/))) ops.push({ op: 'remove', path: m[1] });
    else if ((m = line.match(/^mkdir name "(.*)" mode/))) ops.push({ op: 'mkdir', path: m[1] });
    else if ((m = line.match(/^rmdir name "(.*)"$/))) ops.push({ op: 'rmdir', path: m[1] });
    else if ((m = line.match(/^symlink old "(.*)" new "(.*)"$/))) ops.push({ op: 'symlink', path: m[1], to: m[2] });
    else if ((m = line.match(/^set "(.*)" (?:mode|owner|modtime|size)/))) ops.push({ op: 'set', path: m[1] });
    else if ((m = line.match(/^opendir "(.*)"$/))) ops.push({ op: 'opendir', path: m[1] });
    else if ((m = line.match(/^receive (".*")$/))) ops.push({ op: 'receive', path: JSON.parse(m[1]) as string });
  }
  const count = (op: SftpOp['op']) => ops.filter((o) => o.op === op).length;
  return {
    received: count('receive'),
    landed: ops.flatMap((o) => (o.op === 'rename' ? [o.to!] : o.op === 'receive' ? [o.path] : [])),
    writes: ops.filter((o) => o.op === 'open' && o.flags?.includes('WRITE')).length,
    renames: count('rename'),
    removes: count('remove'),
    mkdirs: count('mkdir'),
    rmdirs: count('rmdir'),
    symlinks: count('symlink'),
    sets: count('set'),
    opens: count('open'),
    ops,
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** pid and all its descendants (from /proc), children first so a stopped parent cannot respawn them. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const ent of readdirSync('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    try {
      const stat = readFileSync(`/proc/${ent}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(ent));
      children.set(ppid, list);
    } catch {
      /* the process ended while we looked */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) walk(c);
    out.push(p);
  };
  walk(pid);
  return out;
}

function killTree(pid: number | undefined, sig: NodeJS.Signals): void {
  if (!pid) return;
  for (const p of descendants(pid)) {
    try {
      process.kill(p, sig);
      // a stopped process only acts on SIGKILL/SIGTERM once continued
      if (sig === 'SIGKILL' || sig === 'SIGTERM') process.kill(p, 'SIGCONT');
    } catch {
      /* already gone */
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
