// What `chain check` learns of one host, step by step: reachable, host key verified, login, SFTP,
// root exists, root writable. Data only; the command renders it.
import type { Config, HostConfig } from '../config/load.js';
import type { Remote } from '../transport/remote.js';
import { connect } from '../transport/ssh.js';
import { openSftpRemote } from '../transport/sftp.js';
import { BESIDE_TEMP_PREFIX } from '../core/names.js';

export type StepState = 'ok' | 'fail' | 'skip';

export interface HostCheck {
  host: string;
  address: string;
  port: number;
  root: string;
  reachable: StepState;
  hostKey: StepState;
  login: StepState;
  sftp: StepState;
  rootExists: StepState;
  writable: StepState;
  /** whether pushes to this host can use `chain receive` there ('skip': receiver: false, or the
   *  host was not reached); informational, it fails no check: without it files go over SFTP */
  receiver: StepState;
  /** why the receiver did not start, and what to do */
  receiverNote?: string;
  /** what went wrong and what to do */
  error?: string;
  /** the host could not be reached at all (refused, timeout, DNS): exit 3 rather than 1 */
  unreachable: boolean;
}

const UNREACHABLE = new Set(['refused', 'timeout', 'dns', 'reset']);

export async function checkHost(target: Parameters<typeof connect>[0], h: HostConfig): Promise<HostCheck> {
  const r: HostCheck = {
    host: h.name, address: h.address, port: h.port, root: h.root,
    reachable: 'skip', hostKey: 'skip', login: 'skip', sftp: 'skip', rootExists: 'skip', writable: 'skip', receiver: 'skip', unreachable: false,
  };
  let session;
  try {
    session = await connect(target);
    r.reachable = r.hostKey = r.login = 'ok';
  } catch (err) {
    const kind = (err as { kind?: string }).kind ?? 'other';
    r.error = (err as Error).message;
    if (UNREACHABLE.has(kind)) {
      r.reachable = 'fail';
      r.unreachable = true;
    } else if (kind.startsWith('host-key')) {
      r.reachable = 'ok';
      r.hostKey = 'fail';
    } else if (kind === 'identity') {
      // the key file was refused before any connection was made: nothing about the host is known
      r.login = 'fail';
    } else {
      r.reachable = 'ok';
      r.hostKey = kind === 'auth' ? 'ok' : 'skip';
      r.login = 'fail';
    }
    return r;
  }
  let remote: Remote;
  // the receiver is started as a push starts it; its answer (or why there is none) comes later
  const receiver = h.receiver === false ? undefined : h.receiver;
  let told = () => {};
  const known = new Promise<void>((resolve) => (told = resolve));
  const onReceiver = (ok: boolean, why: string) => {
    r.receiver = ok ? 'ok' : 'fail';
    if (!ok) r.receiverNote = `${why}; pushes to ${h.name} send every file over SFTP (slower for small files): install chain there, or set receiver to its path`;
    told();
  };
  try {
    remote = await openSftpRemote(session, h.name, h.root, { receiver, onReceiver });
    r.sftp = 'ok';
  } catch (err) {
    r.sftp = 'fail';
    r.error = (err as Error).message;
    session.close();
    return r;
  }
  try {
    await checkRoot(remote, r, target.user);
    if (receiver) {
      let timer: NodeJS.Timeout | undefined;
      const wait = target.connectTimeoutMs ?? 10_000;
      await Promise.race([known, new Promise<void>((resolve) => (timer = setTimeout(resolve, wait)))]);
      clearTimeout(timer);
      if (r.receiver === 'skip') onReceiver(false, `"${receiver} receive" did not answer within ${wait / 1000}s`);
    }
  } finally {
    await remote.close().catch(() => {});
  }
  return r;
}

async function checkRoot(remote: Remote, r: HostCheck, user: string): Promise<void> {
  const root = await remote.lstat('').catch(() => null);
  if (!root || root.type !== 'dir') {
    r.rootExists = 'fail';
    r.error = `root ${r.root} ${root ? 'is not a directory' : 'does not exist'}; create it (mkdir -p ${r.root}, owned by ${user}) or fix "root"`;
    return;
  }
  r.rootExists = 'ok';
  // written through .chain/tmp and renamed into the root itself, as every push is: a root whose own
  // directory cannot be written (immutable, read-only mount) fails here, not at the first push.
  // The reserved temp prefix keeps watchers from replicating it meanwhile.
  const probe = `${BESIDE_TEMP_PREFIX}check-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    await remote.writeSmall(probe, 'chain check\n');
    await remote.remove(probe);
    r.writable = 'ok';
  } catch (err) {
    r.writable = 'fail';
    r.error = `root ${r.root} is not writable by ${user}: ${(err as Error).message}; fix its owner or mode (or remount it read-write)`;
  }
}

export async function checkRing(config: Config, targetOf: (h: HostConfig) => Parameters<typeof connect>[0]): Promise<HostCheck[]> {
  return Promise.all(config.hosts.map((h) => checkHost(targetOf(h), h)));
}
