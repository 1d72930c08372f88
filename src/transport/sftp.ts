// The Remote interface over SFTP: one host's root, reached through a verified SSH session.
// It owns the root rules: every path is checked (core/paths.ts), nothing is written through a
// symlinked or missing-then-replaced directory (each ancestor is lstat'ed and the verdict cached
// briefly), and every write is atomic (temp file + posix-rename). Many calls may run at once:
// requests are pipelined on the channel, bounded by the limits in sftp-channel.ts.
import { posix } from 'node:path';
import type { Stats } from 'ssh2';
import type { Entry, DirEntry, EntryType } from '../core/types.js';
import { safeRel, ancestors, parentOf, joinRel } from '../core/paths.js';
import { TMP_DIR, tempName } from '../core/names.js';
import type { Remote, PutSource, PutOptions } from './remote.js';
import type { SshSession } from './ssh.js';
import { SftpChannel, type ChannelOptions } from './sftp-channel.js';
import { SftpError, SFTP_STATUS } from './sftp-errors.js';
import { sendContent, localContent, bufferContent, type Content } from './sftp-put.js';

export { SftpError, type SftpErrorKind } from './sftp-errors.js';

/** How long a directory verified as real (not a symlink) is trusted without a fresh lstat. */
const VERIFIED_TTL_MS = 30_000;
/** temp files older than this in .chain/tmp are leftovers of a crash; removed on first use */
const STALE_TEMP_S = 24 * 3600;

type DirState = 'dir' | 'missing' | 'notdir';

const S_IFMT = 0o170000;
function typeOf(mode: number): EntryType {
  switch (mode & S_IFMT) {
    case 0o100000:
      return 'file';
    case 0o040000:
      return 'dir';
    case 0o120000:
      return 'symlink';
    default:
      return 'other';
  }
}

function toEntry(a: Stats): Entry {
  return { type: typeOf(a.mode), size: a.size, mtime: a.mtime, mode: a.mode & 0o7777 };
}

export interface SftpRemoteOptions extends ChannelOptions {
  /** close the SSH session when the Remote is closed (default true) */
  closeSession?: boolean;
}

/** Open a Remote on session's SFTP channel, rooted at root (absolute). */
export async function openSftpRemote(session: SshSession, name: string, root: string, opts: SftpRemoteOptions = {}): Promise<SftpRemote> {
  const sftp = await session.sftp();
  const ch = new SftpChannel(sftp, name, opts);
  session.once('end', (err) => ch.kill(err));
  return new SftpRemote(ch, name, root, opts.closeSession === false ? undefined : () => session.close());
}

export class SftpRemote implements Remote {
  readonly root: string;
  // rel dir → when it was last seen to be a real directory (it and all its ancestors)
  private readonly verified = new Map<string, number>();
  // bumped by invalidate(), so a check that started before a removal cannot re-cache what it saw
  private epoch = 0;
  private readonly checking = new Map<string, Promise<DirState>>();
  private readonly making = new Map<string, Promise<void>>();
  // parent dirs where renaming out of .chain/tmp failed (another filesystem): write beside instead
  private readonly besideDirs = new Set<string>();
  private tmpReady: Promise<void> | undefined;

  constructor(
    private readonly ch: SftpChannel,
    readonly name: string,
    root: string,
    private readonly onClose?: () => Promise<void>,
  ) {
    if (!root.startsWith('/')) throw new Error(`root must be absolute: ${root}`);
    this.root = root.length > 1 ? root.replace(/\/+$/, '') : root;
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : posix.join(this.root, rel);
  }

  private err(kind: SftpError['kind'], rel: string, what: string): SftpError {
    return new SftpError(kind, this.name, this.abs(rel), `${this.name}: ${what}`);
  }

  /** a path that may be written: checked, and never the root itself */
  private target(path: string, op: string): string {
    const rel = safeRel(path);
    if (rel === '') throw this.err('refused', rel, `refusing to ${op} the root ${this.root} itself`);
    return rel;
  }

  // ---- directory guard -------------------------------------------------------------------

  /** Is rel (and each ancestor) a real directory? Otherwise the outermost component that is not. */
  private async dirState(rel: string): Promise<{ state: DirState; at: string }> {
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

  private checkOne(rel: string): Promise<DirState> {
    let p = this.checking.get(rel);
    if (!p) {
      p = (async (): Promise<DirState> => {
        try {
          // the root itself may be a symlink the admin chose (e.g. /var/www → /data/www); below it, never
          const st = rel === '' ? await this.ch.stat(this.root) : await this.ch.lstat(this.abs(rel));
          return st.isDirectory() ? 'dir' : 'notdir';
        } catch (err) {
          if (err instanceof SftpError && err.code === SFTP_STATUS.NO_SUCH_FILE) return 'missing';
          throw err;
        }
      })().finally(() => this.checking.delete(rel));
      this.checking.set(rel, p);
    }
    return p;
  }

  /** forget verdicts for rel and everything under it (it is being removed or renamed) */
  private invalidate(rel: string): void {
    this.epoch++;
    if (rel === '') return this.verified.clear();
    const prefix = rel + '/';
    for (const k of this.verified.keys()) if (k === rel || k.startsWith(prefix)) this.verified.delete(k);
  }

  private refuseNotDir(at: string, forPath: string): SftpError {
    return this.err(
      'symlink-in-path',
      at,
      `refusing to write ${this.abs(forPath)}: ${this.abs(at)} is a symlink or a file, not a directory, and chain never writes through it; ` +
        `if it should be a directory, replace it on ${this.name}`,
    );
  }

  /** Make sure rel is a real directory, creating missing components; never through a symlink. */
  private async ensureDir(rel: string, mode?: number): Promise<void> {
    const { state, at } = await this.dirState(rel);
    if (state === 'dir') return;
    if (state === 'notdir') throw this.refuseNotDir(at, rel);
    if (at === '')
      throw this.err('root-missing', '', `the root ${this.root} does not exist; create it (chain never creates a root: an empty one could spread a wipe around the ring)`);
    const comps = [...ancestors(rel), rel];
    for (const c of comps.slice(comps.indexOf(at))) await this.makeDir(c, c === rel ? mode : undefined);
  }

  private makeDir(rel: string, mode?: number): Promise<void> {
    let p = this.making.get(rel);
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
        if (mode !== undefined) await this.ch.setstat(abs, { mode: mode & 0o7777 });
        this.verified.set(rel, Date.now());
      })().finally(() => this.making.delete(rel));
      this.making.set(rel, p);
    }
    return p;
  }

  // ---- reading ---------------------------------------------------------------------------

  async lstat(path: string): Promise<Entry | null> {
    const rel = safeRel(path);
    if (rel === '') {
      const st = await this.checkOne('');
      return st === 'missing' ? null : toEntry(await this.ch.stat(this.root));
    }
    // below a symlink or a file the path is not part of this tree
    if ((await this.dirState(parentOf(rel))).state !== 'dir') return null;
    const abs = this.abs(rel);
    const st = await this.ch.lstatOrNull(abs);
    if (!st) return null;
    const entry = toEntry(st);
    if (entry.type === 'symlink') entry.target = await this.ch.readlink(abs);
    return entry;
  }

  async readdir(path: string): Promise<DirEntry[]> {
    const rel = safeRel(path);
    const { state, at } = await this.dirState(rel);
    if (state === 'missing' || (state === 'notdir' && at !== rel)) return [];
    if (state === 'notdir') throw this.err('not-a-directory', rel, `cannot list ${this.abs(rel)}: it is not a directory`);
    const raw = await this.list(rel);
    return Promise.all(
      raw.map(async ({ name, attrs }) => {
        const entry = toEntry(attrs);
        if (entry.type === 'symlink') entry.target = await this.ch.readlink(this.abs(joinRel(rel, name)));
        return { name, entry };
      }),
    );
  }

  /** names and lstat attributes of a directory (OpenSSH reports lstat attrs in READDIR) */
  private async list(rel: string): Promise<Array<{ name: string; attrs: Stats }>> {
    const abs = this.abs(rel);
    const out: Array<{ name: string; attrs: Stats }> = [];
    const release = await this.ch.handles.acquire();
    try {
      const handle = await this.ch.opendir(abs);
      try {
        for (;;) {
          const batch = await this.ch.readdirChunk(abs, handle);
          if (!batch) break;
          for (const e of batch) {
            if (e.filename === '.' || e.filename === '..' || e.filename.includes('/')) continue;
            out.push({ name: e.filename, attrs: e.attrs });
          }
        }
      } finally {
        await this.ch.close(abs, handle).catch(() => {});
      }
    } finally {
      release();
    }
    return out;
  }

  async readSmall(path: string): Promise<Buffer | null> {
    const rel = this.target(path, 'read');
    const entry = await this.lstat(rel);
    if (!entry) return null;
    if (entry.type !== 'file') throw this.err('refused', rel, `refusing to read ${this.abs(rel)}: it is a ${entry.type}, not a file`);
    const abs = this.abs(rel);
    const release = await this.ch.handles.acquire();
    try {
      let handle: Buffer;
      try {
        handle = await this.ch.open(abs, 'r');
      } catch (err) {
        if (err instanceof SftpError && err.code === SFTP_STATUS.NO_SUCH_FILE) return null;
        throw err;
      }
      try {
        const chunks: Buffer[] = [];
        let pos = 0;
        for (;;) {
          const buf = Buffer.allocUnsafe(64 * 1024);
          const n = await this.ch.read(abs, handle, buf, pos);
          if (n <= 0) break;
          chunks.push(buf.subarray(0, n));
          pos += n;
        }
        return Buffer.concat(chunks);
      } finally {
        await this.ch.close(abs, handle).catch(() => {});
      }
    } finally {
      release();
    }
  }

  // ---- writing ---------------------------------------------------------------------------

  async mkdirp(path: string, mode?: number): Promise<void> {
    await this.ensureDir(safeRel(path), mode);
  }

  async put(path: string, src: PutSource, opts: PutOptions): Promise<void> {
    const rel = this.target(path, 'replace');
    await this.ensureDir(parentOf(rel));
    // the slot covers the local fd too: a burst of 100k puts must not open 100k local files
    await this.ch.files.run(async () => {
      const content = await localContent(src.localPath, src.expect, rel);
      try {
        await this.atomically(rel, (tmp) => sendContent(this.ch, tmp, content, opts, rel));
      } finally {
        await content.close();
      }
    });
  }

  async writeSmall(path: string, data: Buffer | string): Promise<void> {
    const rel = this.target(path, 'replace');
    await this.ensureDir(parentOf(rel));
    const content: Content = bufferContent(typeof data === 'string' ? Buffer.from(data) : data);
    const opts = { mode: 0o644, mtime: Math.floor(Date.now() / 1000) };
    await this.ch.files.run(() => this.atomically(rel, (tmp) => sendContent(this.ch, tmp, content, opts, rel)));
  }

  async symlink(path: string, target: string): Promise<void> {
    const rel = this.target(path, 'replace');
    if (target === '' || target.includes('\0')) throw this.err('refused', rel, `refusing to create ${this.abs(rel)}: bad symlink target ${JSON.stringify(target)}`);
    await this.ensureDir(parentOf(rel));
    await this.atomically(rel, (tmp) => this.ch.symlink(target, tmp));
  }

  /**
   * Create the new version under a temp name with write(tmp), then rename it over rel. The temp
   * lives in <root>/.chain/tmp; when renaming from there fails (another filesystem mounted below
   * the root), the write is redone beside the target, and that directory remembered.
   */
  private async atomically(rel: string, write: (tmpAbs: string) => Promise<void>): Promise<void> {
    const parent = parentOf(rel);
    const dest = this.abs(rel);
    if (!this.besideDirs.has(parent)) {
      await this.ensureTmpDir();
      const tmp = this.abs(joinRel(TMP_DIR, tempName()));
      await this.writeTemp(tmp, write);
      try {
        await this.ch.rename(tmp, dest);
        return;
      } catch (err) {
        await this.removeQuietly(tmp);
        if (!(err instanceof SftpError) || err.code !== SFTP_STATUS.FAILURE) throw err;
        const st = await this.ch.lstatOrNull(dest);
        if (st?.isDirectory()) throw this.err('refused', rel, `cannot replace ${dest}: a directory is in the way`);
      }
    }
    const tmp = this.abs(joinRel(parent, tempName()));
    await this.writeTemp(tmp, write);
    try {
      await this.ch.rename(tmp, dest);
    } catch (err) {
      await this.removeQuietly(tmp);
      throw err;
    }
    this.besideDirs.add(parent);
  }

  private async writeTemp(tmp: string, write: (tmpAbs: string) => Promise<void>): Promise<void> {
    try {
      await write(tmp);
    } catch (err) {
      await this.removeQuietly(tmp);
      throw err;
    }
  }

  private async removeQuietly(abs: string): Promise<void> {
    if (this.ch.closed) return;
    await this.ch.unlink(abs).catch(() => {});
  }

  private ensureTmpDir(): Promise<void> {
    this.tmpReady ??= (async () => {
      await this.ensureDir(TMP_DIR, 0o700);
      await this.removeStaleTemps();
    })().catch((err) => {
      this.tmpReady = undefined;
      throw err;
    });
    return this.tmpReady;
  }

  private async removeStaleTemps(): Promise<void> {
    const cutoff = Math.floor(Date.now() / 1000) - STALE_TEMP_S;
    const entries = await this.list(TMP_DIR).catch(() => []);
    await Promise.all(
      entries.filter((e) => typeOf(e.attrs.mode) !== 'dir' && e.attrs.mtime < cutoff).map((e) => this.removeQuietly(this.abs(joinRel(TMP_DIR, e.name)))),
    );
  }

  async rename(from: string, to: string): Promise<void> {
    const src = this.target(from, 'rename');
    const dst = this.target(to, 'replace');
    const { state, at } = await this.dirState(parentOf(src));
    if (state === 'notdir') throw this.refuseNotDir(at, src);
    if (state === 'missing') throw this.err('no-such-file', src, `cannot rename ${this.abs(src)}: it does not exist`);
    await this.ensureDir(parentOf(dst));
    this.invalidate(src);
    this.invalidate(dst);
    await this.ch.rename(this.abs(src), this.abs(dst));
  }

  async setattr(path: string, attrs: { mode?: number; mtime?: number }): Promise<void> {
    const rel = safeRel(path);
    const { state, at } = await this.dirState(parentOf(rel));
    if (rel !== '' && state !== 'dir') {
      if (state === 'notdir') throw this.refuseNotDir(at, rel);
      throw this.err('no-such-file', rel, `cannot set attributes of ${this.abs(rel)}: it does not exist`);
    }
    const abs = this.abs(rel);
    const st = rel === '' ? await this.ch.stat(abs) : await this.ch.lstatOrNull(abs);
    if (!st) throw this.err('no-such-file', rel, `cannot set attributes of ${abs}: it does not exist`);
    // SFTP sets atime and mtime together; keep the atime the file has
    const times = attrs.mtime === undefined ? {} : { atime: st.atime, mtime: attrs.mtime };
    if (typeOf(st.mode) === 'symlink') {
      // setstat would follow the link out of the tree; only the link's own times can be set (Linux
      // links have no mode), and only where the server offers lsetstat
      if (attrs.mtime !== undefined && this.ch.hasExtension('lsetstat@openssh.com')) await this.ch.lsetstat(abs, times);
      return;
    }
    const mode = attrs.mode === undefined ? {} : { mode: attrs.mode & 0o7777 };
    if (attrs.mode === undefined && attrs.mtime === undefined) return;
    await this.ch.setstat(abs, { ...mode, ...times });
  }

  async remove(path: string): Promise<void> {
    const rel = this.target(path, 'remove');
    // under a symlink or a file the path is not in this tree: nothing to remove
    if ((await this.dirState(parentOf(rel))).state !== 'dir') return;
    const abs = this.abs(rel);
    const st = await this.ch.lstatOrNull(abs);
    if (!st) return;
    if (st.isDirectory()) {
      this.invalidate(rel);
      await this.removeTree(rel);
    } else {
      await this.unlinkIfThere(abs);
    }
  }

  /** remove a directory and everything below; children in parallel, links never followed */
  private async removeTree(rel: string): Promise<void> {
    const entries = await this.list(rel).catch((err) => {
      if (err instanceof SftpError && err.code === SFTP_STATUS.NO_SUCH_FILE) return [];
      throw err;
    });
    await Promise.all(
      entries.map((e) => {
        const child = joinRel(rel, e.name);
        return typeOf(e.attrs.mode) === 'dir' ? this.removeTree(child) : this.unlinkIfThere(this.abs(child));
      }),
    );
    try {
      await this.ch.rmdir(this.abs(rel));
    } catch (err) {
      if (!(err instanceof SftpError && err.code === SFTP_STATUS.NO_SUCH_FILE)) throw err;
    }
  }

  private async unlinkIfThere(abs: string): Promise<void> {
    try {
      await this.ch.unlink(abs);
    } catch (err) {
      if (!(err instanceof SftpError && err.code === SFTP_STATUS.NO_SUCH_FILE)) throw err;
    }
  }

  async close(): Promise<void> {
    this.ch.end();
    await this.onClose?.();
  }
}
