// The status file: a running `watch` rewrites <state>/status.json every second (temp + rename, so a
// reader never sees half of it), optionally mirrored to <root>/.chain/status.json where the other
// hosts can read it over SFTP. Readers decide from the file alone whether the daemon still runs.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChainError } from '../core/errors.js';
import type { DaemonStatus } from './status.js';

export const STATUS_FILE = 'status.json';
/** root-relative path of the mirror other hosts read (under .chain/, so never replicated) */
export const STATUS_MIRROR = '.chain/status.json';
/** a status not rewritten for this long belongs to a daemon that is hung or gone */
export const STALE_AFTER_MS = 30_000;

export function statusPath(stateDir: string): string {
  return join(stateDir, STATUS_FILE);
}

export interface StatusWriterOptions {
  stateDir: string;
  /** the daemon's live status; read at every write */
  status: () => DaemonStatus;
  /** default 1000 */
  everyMs?: number;
  /** also publish each write elsewhere, e.g. (json) => ownRoot.writeSmall(STATUS_MIRROR, json) */
  mirror?: (json: string) => Promise<void>;
  /** a failed write or mirror; told once per distinct failure, not every second */
  onError?: (err: Error) => void;
}

export class StatusWriter {
  private readonly everyMs: number;
  private timer: NodeJS.Timeout | undefined;
  /** writes run one after another; the final one of stop() is always last */
  private last: Promise<void> = Promise.resolve();
  /** writes queued or running */
  private pending = 0;
  private stopped = false;
  private lastFailure: string | null = null;

  constructor(private readonly opts: StatusWriterOptions) {
    this.everyMs = opts.everyMs ?? 1000;
  }

  /** write now, then every everyMs (a tick is skipped while a write is still in flight) */
  start(): void {
    if (this.timer || this.stopped) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), this.everyMs);
    this.timer.unref();
  }

  /** write now; rejects when the local file cannot be written (a failing mirror only goes to onError) */
  flush(): Promise<void> {
    return this.enqueue(false);
  }

  /** stop the timer and write a last status marked stoppedAt */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.stopped) return this.last;
    this.stopped = true;
    return this.enqueue(true);
  }

  private tick(): void {
    if (this.pending > 0) return;
    this.enqueue(false).catch(() => {}); // already told to onError
  }

  private enqueue(final: boolean): Promise<void> {
    this.pending++;
    const run = this.last
      .catch(() => {})
      .then(() => this.write(final))
      .finally(() => this.pending--);
    this.last = run;
    return run;
  }

  private async write(final: boolean): Promise<void> {
    const now = Date.now();
    let json: string;
    try {
      // updatedAt is the heartbeat: "the daemon was alive and this is current", even while idle
      const s: DaemonStatus = { ...this.opts.status(), updatedAt: now };
      if (final) s.stoppedAt = now;
      json = JSON.stringify(s, null, 2) + '\n';
      await writeAtomic(this.opts.stateDir, json);
    } catch (err) {
      const e = new ChainError(`cannot write the status file ${statusPath(this.opts.stateDir)}: ${(err as Error).message}`, {
        hint: 'check that the state dir (config key "state") is writable by this user',
        cause: err,
      });
      this.fail(e);
      throw e;
    }
    if (this.opts.mirror) {
      try {
        await this.opts.mirror(json);
      } catch (err) {
        this.fail(new ChainError(`cannot mirror the status to ${STATUS_MIRROR} under the root: ${(err as Error).message}`, { cause: err }));
        return;
      }
    }
    this.lastFailure = null;
  }

  private fail(err: Error): void {
    if (this.lastFailure === err.message) return;
    this.lastFailure = err.message;
    this.opts.onError?.(err);
  }
}

async function writeAtomic(stateDir: string, json: string): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const file = statusPath(stateDir);
  // one temp name per process: a crash between write and rename leaves one file, not one per second
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, json, { mode: 0o644 });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
}

/** This host's last status, or null when there is none (the daemon never ran with this state dir). */
export function readStatus(stateDir: string): DaemonStatus | null {
  const file = statusPath(stateDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ChainError(`cannot read the status file ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseStatus(text, file);
}

/** A status file's text → DaemonStatus; ChainError naming where it came from when it is not one. */
export function parseStatus(text: string, where: string): DaemonStatus {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw unreadable(where, 'it is not JSON', err);
  }
  const s = v as Partial<DaemonStatus> | null;
  if (
    !s || typeof s !== 'object' ||
    typeof s.host !== 'string' || typeof s.pid !== 'number' || typeof s.updatedAt !== 'number' || typeof s.startedAt !== 'number' ||
    !Array.isArray(s.links) || !Array.isArray(s.ring)
  ) {
    throw unreadable(where, 'it lacks host, pid, ring, links, startedAt or updatedAt');
  }
  return s as DaemonStatus;
}

function unreadable(where: string, why: string, cause?: unknown): ChainError {
  return new ChainError(`the status file ${where} is unreadable: ${why}`, {
    hint: 'a running `chain watch` rewrites it every second; if none runs, remove the file',
    cause,
  });
}

/**
 * running: the daemon is alive and its status current. stopped: it stopped cleanly.
 * gone: its process no longer exists (killed, crashed, rebooted). stale: not rewritten for
 * STALE_AFTER_MS (hung, or its pid was reused).
 */
export type DaemonState = 'running' | 'stopped' | 'gone' | 'stale';

export interface StateOptions {
  now?: number;
  /** check the pid; only meaningful for a status written on this machine (default true) */
  checkPid?: boolean;
}

export function daemonState(s: DaemonStatus, opts: StateOptions = {}): DaemonState {
  const now = opts.now ?? Date.now();
  if (s.stoppedAt !== undefined && s.stoppedAt !== null) return 'stopped';
  if ((opts.checkPid ?? true) && !pidAlive(s.pid)) return 'gone';
  // a clock a little ahead on another host makes updatedAt lie in the future; that is not stale
  if (now - s.updatedAt > STALE_AFTER_MS) return 'stale';
  return 'running';
}

/** process.kill(pid, 0): ESRCH = no such process; EPERM = it exists but belongs to someone else */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
