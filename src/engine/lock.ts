// Who may change a host right now. Two kinds of lock:
//   host lock   <root>/.chain/lock, taken by `chain repair` on every host it changes: created with
//               O_EXCL (over SFTP or locally), holding owner, command, pid and an expiry; refreshed
//               while held, removed at the end. An expired lock, or one whose process is gone (same
//               machine), is stale and taken over. `watch` and `push` do not take it: they gate()
//               before each batch, pausing while their own root or their target is locked.
//   local lock  a file (e.g. <state>/push.lock) for one-shot commands: O_EXCL, pid and time inside,
//               stale when that pid is dead.
// A stale lock is taken over by renaming it aside first and checking that what was renamed is the
// lock judged stale, so two processes taking over at once cannot both win.
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Remote } from '../transport/remote.js';
import type { Logger } from '../core/log.js';
import { STATE_DIR } from '../core/names.js';
import { sleep } from './backoff.js';

/** the host lock, root-relative */
export const LOCK_PATH = `${STATE_DIR}/lock`;
const TTL_MS = 120_000;
const REFRESH_MS = 30_000;
/** a lock file with no readable content (being written, or garbage) is stale after this long */
const UNREADABLE_STALE_MS = 10_000;

export interface LockInfo {
  /** the ring member (or machine) the holder runs on */
  host: string;
  /** os hostname of the holder's machine: its pid is only meaningful there */
  machine: string;
  command: string;
  pid: number;
  /** ms since the epoch */
  created: number;
  expires: number;
  /** tells this holder's lock from a later one with the same pid */
  token: string;
}

export function describeHolder(i: LockInfo): string {
  const until = new Date(i.expires).toISOString().replace(/\.\d+Z$/, 'Z');
  return `chain ${i.command} on ${i.host} (pid ${i.pid}, since ${new Date(i.created).toISOString().replace(/\.\d+Z$/, 'Z')}, expires ${until} unless refreshed)`;
}

function parse(text: string | Buffer | null): LockInfo | null {
  if (!text) return null;
  try {
    const j = JSON.parse(String(text)) as Partial<LockInfo>;
    if (typeof j.pid !== 'number' || typeof j.expires !== 'number' || typeof j.token !== 'string') return null;
    return { host: String(j.host ?? '?'), machine: String(j.machine ?? ''), command: String(j.command ?? '?'), pid: j.pid, created: Number(j.created ?? 0), expires: j.expires, token: j.token };
  } catch {
    return null;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** expired, or its process is gone (when it ran on this machine) */
export function isStale(i: LockInfo, now = Date.now()): boolean {
  if (i.expires < now) return true;
  return i.machine === hostname() && !pidAlive(i.pid);
}

// ---- host lock ----------------------------------------------------------------------------------

export interface HostLock {
  readonly remote: Remote;
  readonly info: LockInfo;
  /** true once someone else took the lock over (we were too slow to refresh it) */
  readonly lost: boolean;
  release(): Promise<void>;
}

export interface HostLockOptions {
  /** the ring member this process is, for messages (default: the os hostname) */
  host?: string;
  command: string;
  ttlMs?: number;
  refreshMs?: number;
  log?: Logger;
}

export type AcquireResult = { lock: HostLock; held?: undefined } | { lock?: undefined; held: LockInfo };

/** Take remote's host lock, or learn who holds it. Throws only for transport trouble. */
export async function acquireHostLock(remote: Remote, o: HostLockOptions): Promise<AcquireResult> {
  const ttl = o.ttlMs ?? TTL_MS;
  const now = Date.now();
  const info: LockInfo = { host: o.host ?? hostname(), machine: hostname(), command: o.command, pid: process.pid, created: now, expires: now + ttl, token: randomBytes(8).toString('hex') };
  for (let attempt = 0; attempt < 3; attempt++) {
    info.expires = Date.now() + ttl;
    if (await remote.createExclusive(LOCK_PATH, JSON.stringify(info) + '\n')) return { lock: new HeldLock(remote, info, ttl, o.refreshMs ?? REFRESH_MS, o.log) };
    const raw = await remote.readSmall(LOCK_PATH);
    if (raw === null) continue; // released meanwhile: try again
    const holder = parse(raw);
    if (holder && !isStale(holder)) return { held: holder };
    if (!holder) {
      const st = await remote.lstat(LOCK_PATH);
      if (st && Date.now() - st.mtime * 1000 < UNREADABLE_STALE_MS) return { held: unknownHolder(st.mtime * 1000) };
    }
    const back = await takeOver(remote, raw);
    if (back) return { held: back };
    o.log?.warn(`${remote.name}: took over a stale lock${holder ? ` of ${describeHolder(holder)}` : ''}`, { host: remote.name });
  }
  const last = parse(await remote.readSmall(LOCK_PATH));
  return { held: last ?? unknownHolder(Date.now()) };
}

/** rename the stale lock aside; if what was renamed is not it (someone took over first), put it back and return its holder */
async function takeOver(remote: Remote, stale: Buffer): Promise<LockInfo | null> {
  const aside = `${STATE_DIR}/lock.stale-${randomBytes(4).toString('hex')}`;
  try {
    await remote.rename(LOCK_PATH, aside);
  } catch {
    return null; // gone already: the caller tries to create it again
  }
  const got = await remote.readSmall(aside);
  if (got && !got.equals(stale)) {
    await remote.createExclusive(LOCK_PATH, got).catch(() => false);
    await remote.remove(aside).catch(() => {});
    return parse(got) ?? unknownHolder(Date.now());
  }
  await remote.remove(aside).catch(() => {});
  return null;
}

function unknownHolder(since: number): LockInfo {
  return { host: 'unknown', machine: '', command: '(being written)', pid: 0, created: since, expires: since + UNREADABLE_STALE_MS, token: '' };
}

class HeldLock implements HostLock {
  lost = false;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;

  constructor(
    readonly remote: Remote,
    readonly info: LockInfo,
    private readonly ttl: number,
    refreshMs: number,
    private readonly log?: Logger,
  ) {
    this.timer = setInterval(() => {
      this.refreshing ??= this.refresh().finally(() => (this.refreshing = undefined));
    }, refreshMs);
    this.timer.unref();
  }

  private async refresh(): Promise<void> {
    try {
      const now = parse(await this.remote.readSmall(LOCK_PATH));
      if (now?.token !== this.info.token) {
        if (!this.lost) this.log?.warn(`${this.remote.name}: our lock was taken over${now ? ` by ${describeHolder(now)}` : ''}`, { host: this.remote.name });
        this.lost = true;
        return;
      }
      this.info.expires = Date.now() + this.ttl;
      await this.remote.writeSmall(LOCK_PATH, JSON.stringify(this.info) + '\n');
    } catch (err) {
      // the host is unreachable: the repair notices that on its own; the lock expires there
      this.log?.debug(`${this.remote.name}: lock refresh failed: ${(err as Error).message}`);
    }
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.refreshing;
    if (this.lost) return;
    const now = parse(await this.remote.readSmall(LOCK_PATH));
    if (now?.token === this.info.token) await this.remote.remove(LOCK_PATH);
  }
}

/** The holder of the host lock under a local root, if it is held and not stale. */
export async function localHolder(root: string): Promise<LockInfo | null> {
  const file = join(root, LOCK_PATH);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  const i = parse(text);
  if (i) return isStale(i) ? null : i;
  const st = await stat(file).catch(() => null);
  return st && Date.now() - st.mtimeMs < UNREADABLE_STALE_MS ? unknownHolder(st.mtimeMs) : null;
}

/** The holder of a Remote's host lock, if it is held and not stale; null when unreadable (a link problem shows up in the push itself). */
export async function remoteHolder(remote: Remote): Promise<LockInfo | null> {
  try {
    const raw = await remote.readSmall(LOCK_PATH);
    if (raw === null) return null;
    const i = parse(raw);
    if (i) return isStale(i) ? null : i;
    const st = await remote.lstat(LOCK_PATH);
    return st && Date.now() - st.mtime * 1000 < UNREADABLE_STALE_MS ? unknownHolder(st.mtime * 1000) : null;
  } catch {
    return null;
  }
}

export interface GateOptions {
  log?: Logger;
  /** how often to look again while locked (default 1 s) */
  everyMs?: number;
}

/**
 * For watch and push, before each batch: resolves at once when neither this host's own root nor the
 * target is locked; otherwise waits (polling, logging once) until both are free or signal aborts.
 */
export async function gate(target: Remote, ownRoot: string, signal: AbortSignal, o: GateOptions = {}): Promise<void> {
  let paused = false;
  while (!signal.aborted) {
    const own = await localHolder(ownRoot);
    const theirs = own ? null : await remoteHolder(target);
    const holder = own ?? theirs;
    if (!holder) break;
    if (!paused) {
      paused = true;
      const where = own ? `this host's root ${ownRoot}` : `${target.name}'s root`;
      o.log?.info(`paused: ${where} is locked by ${describeHolder(holder)}; waiting for it`, { host: target.name });
    }
    await sleep(o.everyMs ?? 1000, signal);
  }
  if (paused && !signal.aborted) o.log?.info(`lock released: resuming pushes to ${target.name}`, { host: target.name });
}

// ---- local lock ---------------------------------------------------------------------------------

export interface LocalLock {
  readonly file: string;
  release(): void;
}

export interface LocalLockInfo {
  pid: number;
  command: string;
  host: string;
  created: number;
}

export function readLocalLock(file: string): LocalLockInfo | null {
  try {
    const j = JSON.parse(readFileSync(file, 'utf8')) as Partial<LocalLockInfo>;
    return typeof j.pid === 'number' ? { pid: j.pid, command: String(j.command ?? '?'), host: String(j.host ?? ''), created: Number(j.created ?? 0) } : null;
  } catch {
    return null;
  }
}

/** Take the lock file, or null when a live process holds it. A lock of a dead pid is taken over. */
export function acquireLocalLock(file: string, command = 'chain'): LocalLock | null {
  mkdirSync(dirname(file), { recursive: true });
  const mine: LocalLockInfo = { pid: process.pid, command, host: hostname(), created: Date.now() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      try {
        writeSync(fd, JSON.stringify(mine) + '\n');
      } finally {
        closeSync(fd);
      }
      return {
        file,
        release: () => {
          if (readLocalLock(file)?.pid !== process.pid) return;
          try {
            unlinkSync(file);
          } catch {
            /* gone already */
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readLocalLock(file);
    if (holder && (holder.host !== hostname() || pidAlive(holder.pid))) return null;
    if (!holder) {
      let age = Infinity;
      try {
        age = Date.now() - statSync(file).mtimeMs;
      } catch {
        continue; // released meanwhile
      }
      if (age < UNREADABLE_STALE_MS) return null;
    }
    // stale: rename it aside, and make sure what was renamed is the stale one
    const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      renameSync(file, aside);
    } catch {
      continue;
    }
    const got = readLocalLock(aside);
    if (got && holder && got.pid !== holder.pid) {
      try {
        linkSync(aside, file); // someone took it over first: give it back
      } catch {
        /* a third process holds it now */
      }
      unlinkQuiet(aside);
      return null;
    }
    unlinkQuiet(aside);
  }
  return null;
}

function unlinkQuiet(f: string): void {
  try {
    unlinkSync(f);
  } catch {
    /* gone */
  }
}
