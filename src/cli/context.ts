// What every command needs from the global options: the config, who this host is in the ring,
// a logger, progress, and how to open a Remote on a host.
import { hostname } from 'node:os';
import type { Config, HostConfig } from '../config/load.js';
import { loadConfig } from '../config/load.js';
import { findConfigFile } from '../config/find.js';
import { Ring, resolveSelf } from '../config/ring.js';
import type { Logger } from '../core/log.js';
import { createLogger, type LogFormat } from './logger.js';
import { createProgress, type Progress } from './progress.js';
import type { SshTarget } from '../transport/ssh.js';
import type { Remote } from '../transport/remote.js';

export interface GlobalArgs {
  config?: string;
  host?: string;
  json?: boolean;
  logFormat?: LogFormat;
  verbose?: boolean;
  quiet?: boolean;
  progress?: boolean;
}

export function makeLogger(a: GlobalArgs, host?: string): Logger {
  return createLogger({ format: a.logFormat ?? 'text', level: a.verbose ? 'debug' : a.quiet ? 'warn' : 'info', host });
}

export function makeProgress(a: GlobalArgs, log: Logger): Progress {
  return createProgress({ enabled: a.progress !== false && !a.json && !a.quiet, log });
}

export function loadFromArgs(a: GlobalArgs): Config {
  return loadConfig(findConfigFile({ flag: a.config, env: process.env, cwd: process.cwd() }));
}

/** the config and this host's place in the ring (--host, CHAIN_HOST, hostname) */
export function ringFromArgs(a: GlobalArgs): { config: Config; ring: Ring } {
  const config = loadFromArgs(a);
  const self = resolveSelf(config, { flag: a.host, env: process.env, hostname: hostname() });
  return { config, ring: new Ring(config, self) };
}

export function sshTarget(config: Config, h: HostConfig): SshTarget {
  return {
    name: h.name,
    address: h.address,
    port: h.port,
    user: h.user,
    identity: h.identity,
    knownHosts: config.ssh.knownHosts,
    connectTimeoutMs: config.ssh.connectTimeout,
    // keepalives are answered by sshd itself even while sftp-server is busy, so three missed ones
    // mean the host is gone: a stopped or cut-off host is noticed after about connectTimeout
    keepaliveMs: Math.min(15_000, Math.max(1000, Math.round(config.ssh.connectTimeout / 3))),
  };
}

/** the modules openRemote needs, loaded once (a command may ask for them early) */
export function preloadSsh(): Promise<[typeof import('../transport/ssh.js'), typeof import('../transport/sftp.js')]> {
  return (sshModules ??= Promise.all([import('../transport/ssh.js'), import('../transport/sftp.js')]));
}
let sshModules: ReturnType<typeof preloadSsh> | undefined;

/** opens an SFTP Remote on host h rooted at its root; closing it closes the SSH session. ssh2 is
 *  loaded on the first call: commands that stay on this host (status, completion) never need it. */
export async function openRemote(config: Config, h: HostConfig, opts: { walk?: boolean; receive?: Logger } = {}): Promise<Remote> {
  const [{ connect }, { openSftpRemote }] = await preloadSsh();
  const session = await connect(sshTarget(config, h));
  // pushes send small new files to `chain receive` on the host when it runs there (transport/receive-client.ts)
  const log = opts.receive;
  const receiver = log && h.receiver !== false ? h.receiver : undefined;
  const onReceiver = (ok: boolean, why: string) =>
    ok ? log?.debug(`${h.name}: small files go to "${receiver} receive"`, { host: h.name }) : log?.info(`${h.name}: sending over SFTP only: ${why}`, { host: h.name });
  try {
    return await openSftpRemote(session, h.name, h.root, { walk: opts.walk, receiver, onReceiver });
  } catch (err) {
    session.close();
    throw err;
  }
}
