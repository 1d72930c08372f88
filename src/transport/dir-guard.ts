// The directory guard of SftpRemote: nothing is written through a symlinked directory. Before a
// write under a directory, the directory and each ancestor up to the root are lstat'ed (all at once,
// one round trip) and, when all are real directories, remembered for a short while; missing ones are
// created one level at a time, and a symlink or file in the way is refused. SFTP has no openat(),
// so a directory swapped for a symlink by someone else between check and write is a window we can
// only keep short (the TTL), not close.
import { posix } from 'node:path';
import { ancestors } from '../core/paths.js';
import { MODE_BITS } from '../core/entry.js';
import type { SftpChannel } from './sftp-channel.js';
import { SftpError, SFTP_STATUS } from './sftp-errors.js';

/** How long a directory verified as real (not a symlink) is trusted without a fresh lstat. */
const VERIFIED_TTL_MS = 30_000;

export type DirState = 'dir' | 'missing' | 'notdir';

export function isNoSuchFile(err: unknown): boolean {
  return err instanceof SftpError && err.code === SFTP_STATUS.NO_SUCH_FILE;
}

export class DirGuard {
  // rel dir → when it was last seen to be a real directory (it and all its ancestors)
  private readonly verified = new Map<string, number>();
  // bumped by invalidate(), so a check that started before a removal cannot re-cache what it saw
  private epoch = 0;
  private readonly checking = new Map<string, Promise<DirState>>();
  private readonly making = new Map<string, Promise<void>>();

  constructor(
    private readonly ch: SftpChannel,
    private readonly name: string,
    private readonly root: string,
  ) {}

  private abs(rel: string): string {
    return rel === '' ? this.root : posix.join(this.root, rel);
  }

  private err(kind: SftpError['kind'], rel: string, what: string): SftpError {
    return new SftpError(kind, this.name, this.abs(rel), `${this.name}: ${what}`);
  }

  /** Is rel (and each ancestor) a real directory? Otherwise the outermost component that is not. */
  async state(rel: string): Promise<{ state: DirState; at: string }> {
    const now = Date.now();
    const epoch = this.epoch;
    const comps = rel === '' ? [''] : ['', ...ancestors(rel), rel];
    const todo = comps.filter((c) => (this.verified.get(c) ?? -Infinity) + VERIFIED_TTL_MS < now);
    if (todo.length === 0) return { state: 'dir', at: rel };
    // all components at once: a deep new path costs one round trip, not one per level
    const states = await Promise.all(todo.map((c) => this.checkOne(c)));
    for (let i = 0; i < todo.length; i++) if (states[i] !== 'dir') return { state: states[i], at: todo[i] };
    // cached only when the whole chain is real: a lookup through a symlink proves nothing
    if (epoch === this.epoch) for (const c of todo) this.verified.set(c, now);
    return { state: 'dir', at: rel };
  }

  checkOne(rel: string): Promise<DirState> {
    let p = this.checking.get(rel);
    if (!p) {
      p = (async (): Promise<DirState> => {
        try {
          // the root itself may be a symlink the admin chose (e.g. /var/www → /data/www); below it, never
          const st = rel === '' ? await this.ch.stat(this.root) : await this.ch.lstat(this.abs(rel));
          return st.isDirectory() ? 'dir' : 'notdir';
        } catch (err) {
          if (isNoSuchFile(err)) return 'missing';
          throw err;
        }
      })().finally(() => this.checking.delete(rel));
      this.checking.set(rel, p);
    }
    return p;
  }

  /** forget verdicts for rel and everything under it (it is being removed or renamed) */
  invalidate(rel: string): void {
    this.epoch++;
    if (rel === '') return this.verified.clear();
    const prefix = rel + '/';
    for (const k of this.verified.keys()) if (k === rel || k.startsWith(prefix)) this.verified.delete(k);
  }

  /** forget verdicts for rel and its ancestors: something on the way there vanished */
  forgetChain(rel: string): void {
    this.epoch++;
    for (const c of ['', ...ancestors(rel), rel]) this.verified.delete(c);
  }

  refuseNotDir(at: string, forPath: string): SftpError {
    return this.err(
      'symlink-in-path',
      at,
      `refusing to write ${this.abs(forPath)}: ${this.abs(at)} is a symlink or a file, not a directory, and chain never writes through it; ` +
        `if it should be a directory, replace it on ${this.name}`,
    );
  }

  /** Make sure rel is a real directory, creating missing components; never through a symlink. */
  async ensure(rel: string, mode?: number): Promise<void> {
    const { state, at } = await this.state(rel);
    if (state === 'dir') return;
    if (state === 'notdir') throw this.refuseNotDir(at, rel);
    if (at === '')
      throw this.err('root-missing', '', `the root ${this.root} does not exist; create it (chain never creates a root: an empty one could spread a wipe around the ring)`);
    const comps = [...ancestors(rel), rel];
    for (const c of comps.slice(comps.indexOf(at))) await this.makeDir(c, c === rel ? mode : undefined);
  }

  private makeDir(rel: string, mode?: number): Promise<void> {
    let p = this.making.get(rel);
    // made (and verified) by a concurrent call since our check saw it missing: no second mkdir
    if (!p && (this.verified.get(rel) ?? -Infinity) + VERIFIED_TTL_MS >= Date.now()) return Promise.resolve();
    if (!p) {
      p = (async () => {
        const abs = this.abs(rel);
        try {
          await this.ch.mkdir(abs, mode ?? 0o755);
        } catch (err) {
          // made meanwhile by a concurrent call or another writer: fine if it is a real directory
          const st = await this.ch.lstatOrNull(abs);
          if (!st) throw err;
          if (!st.isDirectory()) throw this.refuseNotDir(rel, rel);
          this.verified.set(rel, Date.now());
          return;
        }
        // mkdir's mode passes through the server's umask; set it exactly when it was asked for
        if (mode !== undefined) await this.ch.setstat(abs, { mode: mode & MODE_BITS });
        this.verified.set(rel, Date.now());
      })().finally(() => this.making.delete(rel));
      this.making.set(rel, p);
    }
    return p;
  }
}
