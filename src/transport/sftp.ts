// The Remote interface over SFTP: one host's root, reached through a verified SSH session.
// It owns the root rules: every path is checked (core/paths.ts), nothing is written through a
// symlinked directory (dir-guard.ts), and every write is atomic (temp file + posix-rename).
// Many calls may run at once: requests are pipelined on the channel, bounded by the limits in
// sftp-channel.ts.
import { posix } from 'node:path';
import type { Stats, FileEntryWithStats, SFTPWrapper } from 'ssh2';
import type { Entry, DirEntry, EntryType } from '../core/types.js';
import { MODE_BITS } from '../core/entry.js';
import { safeRel, parentOf, joinRel, underRoot } from '../core/paths.js';
import { TMP_DIR, tempName } from '../core/names.js';
import { SourceChangedError, type Remote, type PutSource, type PutOptions, type FileReader } from './remote.js';
import type { SshSession } from './ssh.js';
import { SftpChannel, type ChannelOptions } from './sftp-channel.js';
import { SftpError, SFTP_STATUS } from './sftp-errors.js';
import { DirGuard, isNoSuchFile } from './dir-guard.js';
import { sendContent, localContent, bufferContent, type Content } from './sftp-put.js';
import { SshWalk } from './ssh-walk.js';
import { ReceiveClient } from './receive-client.js';
import { MAX_DATA } from './receive-wire.js';

export { SftpError, type SftpErrorKind } from './sftp-errors.js';

/** lstatMany lists a directory rather than lstat this many paths in it one by one */
const LIST_INSTEAD_OF_LSTAT = 8;

/** READDIRs in flight on one big directory's handle */
const READDIR_DEPTH = 8;

/** temp files older than this in .chain/tmp are leftovers of a crash; removed on first use */
const STALE_TEMP_S = 24 * 3600;

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
  return { type: typeOf(a.mode), size: a.size, mtime: a.mtime, mode: a.mode & MODE_BITS };
}

/** a regular file of the planned size and whole-second mtime */
function sameFile(st: Stats, expect: Entry): boolean {
  return typeOf(st.mode) === 'file' && st.size === expect.size && st.mtime === expect.mtime;
}

export interface SftpRemoteOptions extends ChannelOptions {
  /** close the SSH session when the Remote is closed (default true) */
  closeSession?: boolean;
  /** walk() lists the whole tree by find run on the host (ssh-walk.ts), when it runs commands for
   *  us; its command is started now (a repair lists every host once) */
  walk?: boolean;
  /** the command that runs chain on the host: small new files then go to `<command> receive ROOT`
   *  over an exec channel (receive-client.ts) instead of five SFTP requests each; unset: SFTP only */
  receiver?: string;
  /** told once whether the receiver answered (why: the reason it did not) */
  onReceiver?: (ok: boolean, why: string) => void;
}

/** Open a Remote on session's SFTP channel, rooted at root (absolute). */
export async function openSftpRemote(session: SshSession, name: string, root: string, opts: SftpRemoteOptions = {}): Promise<SftpRemote> {
  // (started first: the host starts its command while it starts sftp-server)
  const walk = opts.walk ? new SshWalk(session.client, name, trimRoot(root)) : undefined;
  const receiver = opts.receiver ? new ReceiveClient(session.client, name, trimRoot(root), opts.receiver) : undefined;
  let sftp: SFTPWrapper;
  try {
    sftp = await session.sftp();
  } catch (err) {
    walk?.cancel();
    receiver?.close();
    throw err;
  }
  const ch = new SftpChannel(sftp, name, opts);
  session.once('end', (err) => ch.kill(err));
  // (not when this Remote was closed first: nothing to tell)
  if (receiver && opts.onReceiver) void receiver.started.then((ok) => receiver.why !== 'closed' && opts.onReceiver!(ok, receiver.why));
  return new SftpRemote(ch, name, root, opts.closeSession === false ? undefined : () => session.close(), walk, receiver);
}

/** the root as SftpRemote keeps it: no trailing slash */
function trimRoot(root: string): string {
  return root.length > 1 ? root.replace(/\/+$/, '') : root;
}

export class SftpRemote implements Remote {
  readonly root: string;
  private readonly dirs: DirGuard;
  // parent dirs where renaming out of .chain/tmp failed (another filesystem): write beside instead
  private readonly besideDirs = new Set<string>();
  private tmpReady: Promise<void> | undefined;

  constructor(
    private readonly ch: SftpChannel,
    readonly name: string,
    root: string,
    private readonly onClose?: () => Promise<void>,
    /** lists the whole tree in one pass on the host (ssh-walk.ts), once */
    private walker?: SshWalk,
    /** chain receive on the host, for small new files (receive-client.ts) */
    private readonly receiver?: ReceiveClient,
  ) {
    if (!root.startsWith('/')) throw new Error(`root must be absolute: ${root}`);
    this.root = trimRoot(root);
    this.dirs = new DirGuard(ch, name, this.root);
  }

  /** without path.join's normalizing (~1 µs a call, several calls per file sent): core/paths */
  private abs(rel: string): string {
    return underRoot(this.root, rel);
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

  // ---- reading ---------------------------------------------------------------------------

  async lstat(path: string): Promise<Entry | null> {
    const rel = safeRel(path);
    if (rel === '') {
      const st = await this.dirs.checkOne('');
      return st === 'missing' ? null : toEntry(await this.ch.stat(this.root));
    }
    // below a symlink or a file the path is not part of this tree
    if ((await this.dirs.state(parentOf(rel))).state !== 'dir') return null;
    const abs = this.abs(rel);
    const st = await this.ch.lstatOrNull(abs);
    if (!st) return null;
    const entry = toEntry(st);
    if (entry.type === 'symlink') entry.target = await this.ch.readlink(abs);
    return entry;
  }

  async lstatMany(paths: string[]): Promise<(Entry | null)[]> {
    const out = new Array<Entry | null>(paths.length).fill(null);
    const byDir = new Map<string, number[]>();
    const rels = paths.map((p) => safeRel(p));
    rels.forEach((rel, i) => {
      const dir = rel === '' ? '\0root' : parentOf(rel);
      (byDir.get(dir) ?? byDir.set(dir, []).get(dir)!).push(i);
    });
    await Promise.all(
      [...byDir].map(async ([dir, idx]) => {
        if (dir !== '\0root' && idx.length >= LIST_INSTEAD_OF_LSTAT) {
          try {
            const listed = new Map((await this.readdir(dir)).map((d) => [d.name, d.entry]));
            for (const i of idx) out[i] = listed.get(posix.basename(rels[i])) ?? null;
            return;
          } catch {
            // not listable as a directory (a file, a symlink…): each path answers for itself
          }
        }
        await Promise.all(idx.map(async (i) => (out[i] = await this.lstat(rels[i]))));
      }),
    );
    return out;
  }

  /** the whole tree by GNU find on the host, when it runs commands for us (ssh-walk.ts, and only
   *  once: opened with `walk`); else false */
  async walk(onEntry: (rel: string, e: Entry, depth: number) => void): Promise<boolean> {
    const w = this.walker;
    this.walker = undefined;
    return w ? w.run(onEntry) : false;
  }

  async readdir(path: string): Promise<DirEntry[]> {
    const rel = safeRel(path);
    const { state, at } = await this.dirs.state(rel);
    if (state === 'missing' || (state === 'notdir' && at !== rel)) return [];
    if (state === 'notdir') throw this.err('not-a-directory', rel, `cannot list ${this.abs(rel)}: it is not a directory`);
    const raw = await this.list(rel);
    // one promise per symlink (its target), none per plain entry: a repair lists millions
    const out = raw.map(({ name, attrs }): DirEntry => ({ name, entry: toEntry(attrs) }));
    await Promise.all(out.filter((d) => d.entry.type === 'symlink').map(async (d) => (d.entry.target = await this.ch.readlink(this.abs(joinRel(rel, d.name))))));
    return out;
  }

  /** names and lstat attributes of a directory (OpenSSH reports lstat attrs in READDIR) */
  private async list(rel: string): Promise<Array<{ name: string; attrs: Stats }>> {
    const abs = this.abs(rel);
    const out: Array<{ name: string; attrs: Stats }> = [];
    const release = await this.ch.handles.acquire();
    try {
      const handle = await this.ch.opendir(abs);
      try {
        // a big directory takes many READDIRs: after a full first batch, keep several in flight on
        // the handle, a new one sent as each answer comes (the server answers them in order, each
        // with the next batch, then EOF to every one after the last batch)
        for (const batch of await this.readAll(abs, handle)) {
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

  /** every READDIR batch of an open directory handle, in order; up to READDIR_DEPTH in flight */
  private readAll(abs: string, handle: Buffer): Promise<FileEntryWithStats[][]> {
    const batches: (FileEntryWithStats[] | null)[] = [];
    return new Promise((resolve, reject) => {
      let depth = 1;
      let inflight = 0;
      let eof = false;
      let failed: unknown;
      const settle = () => {
        if (inflight > 0) return;
        if (failed !== undefined) reject(failed);
        else resolve(batches.filter((b): b is FileEntryWithStats[] => b !== null));
      };
      const issue = () => {
        while (!eof && failed === undefined && inflight < depth) {
          const slot = batches.length;
          batches.push(null);
          inflight++;
          this.ch.readdirChunk(abs, handle).then(
            (batch) => {
              inflight--;
              if (!batch) eof = true;
              else {
                batches[slot] = batch;
                if (batch.length >= 64) depth = READDIR_DEPTH;
              }
              if (eof || failed !== undefined) settle();
              else issue();
            },
            (err: unknown) => {
              inflight--;
              failed ??= err;
              settle();
            },
          );
        }
      };
      issue();
    });
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
        if (isNoSuchFile(err)) return null;
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

  async openRead(path: string, expect: Entry): Promise<FileReader> {
    const rel = this.target(path, 'read');
    if ((await this.dirs.state(parentOf(rel))).state !== 'dir') throw new SourceChangedError(rel);
    const abs = this.abs(rel);
    const release = await this.ch.handles.acquire();
    // lstat and open in one round trip: the lstat proves the path is a file, not a link open() follows
    const [st, opened] = await Promise.allSettled([this.ch.lstatOrNull(abs), this.ch.open(abs, 'r')]);
    if (opened.status === 'rejected') {
      release();
      if (isNoSuchFile(opened.reason)) throw new SourceChangedError(rel);
      throw opened.reason;
    }
    const handle = opened.value;
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      try {
        await this.ch.close(abs, handle);
      } finally {
        release();
      }
    };
    if (st.status === 'rejected' || !st.value || !sameFile(st.value, expect)) {
      await close().catch(() => {});
      if (st.status === 'rejected' && !isNoSuchFile(st.reason)) throw st.reason;
      throw new SourceChangedError(rel);
    }
    // an fstat sent right behind the last READ answers verify() without another round trip
    let lastStat: Promise<Stats> | undefined;
    return {
      size: expect.size,
      readAt: async (buf, pos) => {
        const reads = this.ch.read(abs, handle, buf, pos);
        // (only when one READ covers the buffer: ssh2 sends the rest of a longer one after the first answer)
        if (pos + buf.length >= expect.size && buf.length <= this.ch.maxRead) {
          lastStat = this.ch.fstat(abs, handle);
          lastStat.catch(() => {});
        }
        let got = await reads;
        while (got > 0 && got < buf.length) {
          const n = await this.ch.read(abs, handle, buf.subarray(got), pos + got);
          if (n <= 0) break;
          got += n;
        }
        return got;
      },
      verify: async () => {
        const now = await (lastStat ?? this.ch.fstat(abs, handle));
        lastStat = undefined;
        if (!sameFile(now, expect)) throw new SourceChangedError(rel);
      },
      close,
    };
  }

  // ---- writing ---------------------------------------------------------------------------

  async mkdirp(path: string, mode?: number): Promise<void> {
    await this.dirs.ensure(safeRel(path), mode);
  }

  async put(path: string, src: PutSource, opts: PutOptions): Promise<void> {
    const rel = this.target(path, 'replace');
    await this.dirs.ensure(parentOf(rel));
    // the slot covers the local fd too: a burst of 100k puts must not open 100k local files
    await this.ch.files.run(async () => {
      const content = await localContent(src.localPath, src.expect, rel);
      try {
        // a small file with nothing planned to check before replacing: one frame to the receiver
        if (this.receiver?.usable && content.whole && content.size <= MAX_DATA && !opts.beforeReplace) {
          await content.verify();
          return await this.receiver.put(rel, this.abs(rel), content.whole, opts.mode & MODE_BITS, opts.mtime);
        }
        await this.atomically(rel, (tmp) => sendContent(this.ch, tmp, content, opts, rel), opts.beforeReplace);
      } finally {
        await content.close();
      }
    });
  }

  async putFrom(path: string, src: FileReader, opts: PutOptions): Promise<void> {
    const rel = this.target(path, 'replace');
    await this.dirs.ensure(parentOf(rel));
    await this.ch.files.run(() => this.atomically(rel, (tmp) => sendContent(this.ch, tmp, src, opts, rel), opts.beforeReplace));
  }

  async createExclusive(path: string, data: Buffer | string): Promise<boolean> {
    const rel = this.target(path, 'create');
    await this.dirs.ensure(parentOf(rel));
    const abs = this.abs(rel);
    let handle: Buffer;
    try {
      handle = await this.ch.open(abs, 'wx', 0o644);
    } catch (err) {
      // SFTP v3 reports EEXIST as a bare FAILURE: look
      if (await this.ch.lstatOrNull(abs)) return false;
      throw err;
    }
    try {
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      if (buf.length) await this.ch.write(abs, handle, buf, 0);
      await this.ch.close(abs, handle);
    } catch (err) {
      await this.ch.close(abs, handle).catch(() => {});
      await this.removeQuietly(abs);
      throw err;
    }
    return true;
  }

  async writeSmall(path: string, data: Buffer | string): Promise<void> {
    const rel = this.target(path, 'replace');
    await this.dirs.ensure(parentOf(rel));
    const content: Content = bufferContent(typeof data === 'string' ? Buffer.from(data) : data);
    const opts = { mode: 0o644, mtime: Math.floor(Date.now() / 1000) };
    // (ahead of queued file copies: inbox manifests, lock refreshes and the status are what the
    // other side waits for while a large batch or repair is under way)
    await this.ch.files.run(() => this.atomically(rel, (tmp) => sendContent(this.ch, tmp, content, opts, rel)), true);
  }

  async symlink(path: string, target: string): Promise<void> {
    const rel = this.target(path, 'replace');
    if (target === '' || target.includes('\0')) throw this.err('refused', rel, `refusing to create ${this.abs(rel)}: bad symlink target ${JSON.stringify(target)}`);
    await this.dirs.ensure(parentOf(rel));
    await this.atomically(rel, (tmp) => this.ch.symlink(target, tmp));
  }

  /**
   * Create the new version under a temp name with write(tmp), then rename it over rel. The temp
   * lives in <root>/.chain/tmp; when renaming from there fails (another filesystem mounted below
   * the root), the write is redone beside the target, and that directory remembered. before()
   * (PutOptions.beforeReplace) runs once, between the write and the rename.
   */
  private async atomically(rel: string, write: (tmpAbs: string) => Promise<void>, before?: () => Promise<void>): Promise<void> {
    const parent = parentOf(rel);
    let prepared: Promise<void> | undefined;
    const prepare = async (tmp: string) => {
      try {
        await (prepared ??= before ? before() : Promise.resolve());
      } catch (err) {
        await this.removeQuietly(tmp);
        throw err;
      }
    };
    if (!this.besideDirs.has(parent)) {
      await this.ensureTmpDir();
      const tmp = this.abs(joinRel(TMP_DIR, tempName()));
      try {
        await this.writeTemp(tmp, write);
      } catch (err) {
        if (!isNoSuchFile(err)) throw err;
        // .chain/tmp vanished behind our back (cached as verified): make it again, once
        this.dirs.forgetChain(TMP_DIR);
        this.tmpReady = undefined;
        await this.ensureTmpDir();
        await this.writeTemp(tmp, write);
      }
      await prepare(tmp);
      try {
        await this.renameInto(tmp, rel);
        return;
      } catch (err) {
        await this.removeQuietly(tmp);
        if (!(err instanceof SftpError) || err.code !== SFTP_STATUS.FAILURE) throw err;
        const st = await this.ch.lstatOrNull(this.abs(rel));
        if (st?.isDirectory()) throw this.err('refused', rel, `cannot replace ${this.abs(rel)}: a directory is in the way; remove it first`);
      }
    }
    const tmp = this.abs(joinRel(parent, tempName()));
    await this.writeTemp(tmp, write);
    await prepare(tmp);
    try {
      await this.renameInto(tmp, rel);
    } catch (err) {
      await this.removeQuietly(tmp);
      throw err;
    }
    this.besideDirs.add(parent);
  }

  /** rename tmp over rel; if rel's directory vanished since it was verified, make it again, once */
  private async renameInto(tmp: string, rel: string): Promise<void> {
    try {
      await this.ch.rename(tmp, this.abs(rel));
    } catch (err) {
      if (!isNoSuchFile(err)) throw err;
      this.dirs.forgetChain(parentOf(rel));
      await this.dirs.ensure(parentOf(rel));
      await this.ch.rename(tmp, this.abs(rel));
    }
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
      await this.dirs.ensure(TMP_DIR, 0o700);
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
    const { state, at } = await this.dirs.state(parentOf(src));
    if (state === 'notdir') throw this.dirs.refuseNotDir(at, src);
    if (state === 'missing') throw this.err('no-such-file', src, `cannot rename ${this.abs(src)}: it does not exist`);
    await this.dirs.ensure(parentOf(dst));
    this.dirs.invalidate(src);
    this.dirs.invalidate(dst);
    await this.ch.rename(this.abs(src), this.abs(dst));
  }

  async link(from: string, to: string): Promise<void> {
    const src = this.target(from, 'link');
    const dst = this.target(to, 'create');
    if (!this.ch.hasExtension('hardlink@openssh.com')) {
      throw this.err('unsupported', dst, `cannot hard-link ${this.abs(dst)}: the SFTP server does not offer hardlink@openssh.com`);
    }
    const { state, at } = await this.dirs.state(parentOf(src));
    if (state === 'notdir') throw this.dirs.refuseNotDir(at, src);
    if (state === 'missing') throw this.err('no-such-file', src, `cannot link to ${this.abs(src)}: it does not exist`);
    await this.dirs.ensure(parentOf(dst));
    await this.ch.hardlink(this.abs(src), this.abs(dst));
  }

  async setattr(path: string, attrs: { mode?: number; mtime?: number }): Promise<void> {
    const rel = safeRel(path);
    const { state, at } = await this.dirs.state(parentOf(rel));
    if (rel !== '' && state !== 'dir') {
      if (state === 'notdir') throw this.dirs.refuseNotDir(at, rel);
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
    const mode = attrs.mode === undefined ? {} : { mode: attrs.mode & MODE_BITS };
    if (attrs.mode === undefined && attrs.mtime === undefined) return;
    await this.ch.setstat(abs, { ...mode, ...times });
  }

  async remove(path: string): Promise<void> {
    const rel = this.target(path, 'remove');
    // under a symlink or a file the path is not in this tree: nothing to remove
    if ((await this.dirs.state(parentOf(rel))).state !== 'dir') return;
    const abs = this.abs(rel);
    const st = await this.ch.lstatOrNull(abs);
    if (!st) return;
    if (st.isDirectory()) {
      this.dirs.invalidate(rel);
      await this.removeTree(rel);
    } else {
      await this.unlinkIfThere(abs);
    }
  }

  /** remove a directory and everything below; children in parallel, links never followed */
  private async removeTree(rel: string): Promise<void> {
    const entries = await this.list(rel).catch((err) => {
      if (isNoSuchFile(err)) return [];
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
      if (!isNoSuchFile(err)) throw err;
    }
  }

  private async unlinkIfThere(abs: string): Promise<void> {
    try {
      await this.ch.unlink(abs);
    } catch (err) {
      if (!isNoSuchFile(err)) throw err;
    }
  }

  async close(): Promise<void> {
    this.walker?.cancel();
    this.receiver?.close();
    this.ch.end();
    await this.onClose?.();
  }
}
