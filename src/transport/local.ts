// LocalRemote: the Remote interface over this host's own filesystem, with the SFTP implementation's
// semantics (lstat only, whole-second mtimes, atomic temp+rename writes, nothing written outside the
// root). Unit tests of the engine run against it, and the daemon reads its own root through it, so the
// hot paths (lstat, readdir) cost one or two syscalls per entry.
import { constants as C, lstatSync, readlinkSync, realpathSync, openSync, writeSync, fchmodSync, futimesSync, closeSync, renameSync, unlinkSync, mkdirSync, type Stats } from 'node:fs';
import * as fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { isAbsolute, posix } from 'node:path';
import type { DirEntry, Entry } from '../core/types.js';
import { MODE_BITS } from '../core/entry.js';
import { UnsafePathError, ancestors, joinRel, parentOf, safeRel, underRoot } from '../core/paths.js';
import { STATE_DIR, TMP_DIR, isReserved, tempName } from '../core/names.js';
import { SourceChangedError, type FileReader, type PutOptions, type PutSource, type ReaddirOptions, type Remote } from './remote.js';
import { findWalk } from './local-walk.js';
import { localContent } from './content.js';

/** readdir lstats this many entries in a row, then lets other work run */
const LSTAT_CHUNK = 256;
/** copy buffer: a whole small file in one read, big files in bounded chunks */
const COPY_CHUNK = 1 << 20;
/** what node puts in a name for bytes that are not UTF-8 (names are read as UTF-8 strings) */
const LOSSY = '\uFFFD';

export function entryOf(st: Stats, target?: string): Entry {
  const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
  const e: Entry = { type, size: st.size, mtime: Math.floor(st.mtimeMs / 1000), mode: st.mode & MODE_BITS };
  if (target !== undefined) e.target = target;
  return e;
}

/** lstat of an absolute path (never follows) → Entry, with the link target for symlinks; null when missing */
export async function localEntry(abs: string): Promise<Entry | null> {
  let st: Stats;
  try {
    st = await fs.lstat(abs);
  } catch (err) {
    if (isCode(err, 'ENOENT', 'ENOTDIR')) return null;
    throw err;
  }
  if (!st.isSymbolicLink()) return entryOf(st);
  try {
    return entryOf(st, await fs.readlink(abs));
  } catch (err) {
    if (isCode(err, 'ENOENT', 'EINVAL')) return null; // replaced between lstat and readlink: report it gone, the next event re-reads it
    throw err;
  }
}

/**
 * localEntry of dir/name for each name, in the calling thread, a chunk at a time: with a warm cache
 * an lstat is a microsecond or two, while a round trip through libuv's thread pool costs several
 * times that on a small machine (100,000 entries: ~0.35 s this way, ~1.9 s with 64 async lstats
 * in flight on 2 vCPUs).
 */
async function lstatChunked(dir: string, names: string[], all: boolean): Promise<{ entries: (Entry | null)[]; changed: (number | undefined)[] }> {
  const entries = new Array<Entry | null>(names.length);
  // ctimes (DirEntry.changed), whole seconds, beside the entries: the directories' (few), or all
  const changed = new Array<number | undefined>(names.length);
  for (let i = 0; i < names.length; i++) {
    if (i > 0 && i % LSTAT_CHUNK === 0) await new Promise<void>((r) => setImmediate(r));
    const abs = `${dir}/${names[i]}`;
    const st = lstatQuiet(abs);
    entries[i] = st && entryOfSync(abs, st);
    if (st && (all || st.isDirectory())) changed[i] = Math.floor(st.ctimeMs / 1000);
  }
  return { entries, changed };
}

function localEntrySync(abs: string): Entry | null {
  const st = lstatQuiet(abs);
  return st && entryOfSync(abs, st);
}

/** lstat, null when the path is not there */
function lstatQuiet(abs: string): Stats | null {
  try {
    return lstatSync(abs, { throwIfNoEntry: false }) ?? null;
  } catch (err) {
    if (isCode(err, 'ENOTDIR')) return null;
    throw err;
  }
}

/** entryOf, with a symlink's target read; null when the link went meanwhile */
function entryOfSync(abs: string, st: Stats): Entry | null {
  if (!st.isSymbolicLink()) return entryOf(st);
  try {
    return entryOf(st, readlinkSync(abs));
  } catch (err) {
    if (isCode(err, 'ENOENT', 'EINVAL')) return null; // replaced meanwhile: the next event re-reads it
    throw err;
  }
}

/** what a directory check found: a real directory inside the root, or why not */
export type DirCheck = 'ok' | 'missing' | 'notdir' | 'symlink' | 'loop';

export class LocalRemote implements Remote {
  readonly root: string;
  private canonical?: Promise<string>;
  private readonly checking = new Map<string, ReturnType<LocalRemote['checkDir']>>();
  // the canonical root, for checkDirSync; .chain/tmp once made (null: write beside the target)
  private canonicalSync?: string;
  private syncTmp?: string | null;

  constructor(root: string, readonly name = 'local') {
    if (!isAbsolute(root)) throw new Error(`LocalRemote root must be absolute: ${root}`);
    this.root = root.length > 1 && root.endsWith('/') ? root.slice(0, -1) : root;
  }

  async lstat(path: string): Promise<Entry | null> {
    const rel = safeRel(path);
    // The lstat in this thread (warm cache: a microsecond or two; a batch lstat's thousands of
    // paths, and a thread-pool round trip each costs several times that), the ancestor check
    // (shared by the paths of one directory) meanwhile.
    const checked = this.dirState(parentOf(rel), path);
    let entry: Entry | null;
    try {
      entry = localEntrySync(underRoot(this.root, rel));
    } catch (err) {
      checked.catch(() => {});
      throw err;
    }
    const parent = await checked;
    const found = parent === 'ok' ? entry : null;
    // a watcher reports a name that is not UTF-8 with U+FFFD in it, which names nothing: say so
    // rather than take it for a delete
    if (found === null && rel.includes(LOSSY)) await this.refuseNonUtf8(rel, path);
    return found;
  }

  private async refuseNonUtf8(rel: string, path: string): Promise<void> {
    const parts = rel.split('/');
    for (let i = 0; i < parts.length; i++) {
      if (!parts[i]!.includes(LOSSY)) continue;
      const raw = (await nonUtf8Names(underRoot(this.root, parts.slice(0, i).join('/')))).get(parts[i]!);
      if (raw !== undefined) throw new UnsafePathError(path, nonUtf8Problem(raw));
    }
  }

  async readdir(path: string, opts: ReaddirOptions = {}): Promise<DirEntry[]> {
    const rel = safeRel(path);
    // the directory itself must not be a symlink either: readdir would list the link's target
    if ((await this.dirState(rel, path)) === 'missing') return [];
    const abs = underRoot(this.root, rel);
    let names: string[];
    try {
      names = await fs.readdir(abs);
    } catch (err) {
      if (isCode(err, 'ENOENT')) return [];
      throw err;
    }
    // Reserved names (.chain/, beside-target temps) are hidden from listings of replicated dirs so no
    // walker can replicate them; listing inside .chain/ itself (the inbox) shows everything.
    if (!isReserved(rel)) names = names.filter((n) => !isReserved(joinRel(rel, n)));
    names.sort();
    const { entries, changed } = await lstatChunked(abs, names, opts.ctimes === true);
    // names that are not UTF-8 came back with U+FFFD and lstat found nothing: listed as what they are
    const bad = names.some((n) => n.includes(LOSSY)) ? await nonUtf8Names(abs) : null;
    const out: DirEntry[] = [];
    names.forEach((name, i) => {
      const raw = bad?.get(name);
      if (raw !== undefined) return void out.push({ name, entry: { type: 'other', size: 0, mtime: 0, mode: 0 }, problem: nonUtf8Problem(raw) });
      const entry = entries[i];
      if (!entry) return; // vanished since readdir: not listed
      const c = changed[i];
      out.push(c === undefined ? { name, entry } : { name, entry, changed: c });
    });
    return out;
  }

  async mkdirp(path: string, mode?: number): Promise<void> {
    const rel = safeRel(path);
    if (rel === '') return;
    // common case first: it exists already (dirState throws if a symlink is on the way)
    if ((await this.dirState(rel, path)) === 'ok' && (await localEntry(underRoot(this.root, rel)))?.type === 'dir') return;
    for (const dir of [...ancestors(rel), rel]) {
      const abs = underRoot(this.root, dir);
      let e = await localEntry(abs);
      if (!e) {
        try {
          await fs.mkdir(abs, 0o755);
          if (dir === rel && mode !== undefined) await fs.chmod(abs, mode & MODE_BITS); // exact, whatever the umask
          continue;
        } catch (err) {
          if (!isCode(err, 'EEXIST')) throw err;
          e = await localEntry(abs); // lost a race with another creator: judge what is there now
        }
      }
      if (e?.type === 'symlink') throw new UnsafePathError(path, `"${dir}" is a symlink; refusing to create directories through it`);
      if (e?.type !== 'dir') throw fsError('ENOTDIR', `${this.where(dir)} is not a directory; cannot create ${this.where(rel)}`);
    }
  }

  async put(path: string, src: PutSource, opts: PutOptions): Promise<void> {
    const rel = this.target(path);
    const srcFh = await openSource(src.localPath, rel);
    try {
      await this.replace(rel, async (tmp) => {
        const out = await fs.open(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
        try {
          const copied = await copyAll(srcFh, out, src.expect.size);
          const st = await srcFh.stat();
          // mutagen's ensureExpectedFile: send only the version that was planned, never a torn mix.
          if (copied !== src.expect.size || !st.isFile() || st.size !== src.expect.size || Math.floor(st.mtimeMs / 1000) !== src.expect.mtime) {
            throw new SourceChangedError(rel);
          }
          await out.chmod(opts.mode & MODE_BITS);
          await out.utimes(opts.mtime, opts.mtime);
        } finally {
          await out.close();
        }
      }, opts.beforeReplace);
    } finally {
      await srcFh.close();
    }
  }

  async openRead(path: string, expect: Entry): Promise<FileReader> {
    const rel = this.target(path);
    if ((await this.dirState(parentOf(rel), path)) !== 'ok') throw new SourceChangedError(rel);
    // a small file is read whole and checked right here (no thread-pool round trips); a large one
    // is checked now and again when sent
    return localContent(underRoot(this.root, rel), expect, rel);
  }

  async putFrom(path: string, src: FileReader, opts: PutOptions): Promise<void> {
    const rel = this.target(path);
    await this.replace(rel, async (tmp) => {
      if (src.whole) {
        writeWhole(tmp, src.whole, opts);
        return src.verify();
      }
      const out = await fs.open(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
      try {
        const buf = Buffer.allocUnsafe(Math.max(1, Math.min(src.size, COPY_CHUNK)));
        for (let pos = 0; pos < src.size; ) {
          const n = await src.readAt(buf.subarray(0, Math.min(buf.length, src.size - pos)), pos);
          if (n === 0) throw new SourceChangedError(rel); // shrank while read
          let off = 0;
          while (off < n) off += (await out.write(buf, off, n - off)).bytesWritten;
          pos += n;
        }
        await src.verify();
        await out.chmod(opts.mode & MODE_BITS);
        await out.utimes(opts.mtime, opts.mtime);
      } finally {
        await out.close();
      }
    }, opts.beforeReplace);
  }

  /**
   * putFrom of a small file already in memory, with no check before the rename, in this thread
   * (chain receive writes thousands a second; a thread-pool round trip per step would cost more
   * than the writes). The same rules as replace(): the parent must be a real directory inside the
   * root, the temp goes under .chain/tmp or beside the target. dirs: the directory checks of one
   * batch of calls, shared (a batch is many files in few directories, written within milliseconds).
   */
  putWholeSync(path: string, data: Buffer, opts: PutOptions, dirs: Map<string, DirCheck>): void {
    const rel = this.target(path);
    const parent = parentOf(rel);
    let state = dirs.get(parent);
    if (state === undefined) dirs.set(parent, (state = parent === '' ? 'ok' : this.checkDirSync(parent)));
    this.judge(state, parent, rel);
    const dest = underRoot(this.root, rel);
    const tmpDir = this.tmpDirSync();
    if (tmpDir !== null) {
      const tmp = posix.join(tmpDir, tempName());
      try {
        writeWhole(tmp, data, opts);
        renameSync(tmp, dest);
        return;
      } catch (err) {
        unlinkQuietSync(tmp);
        if (isCode(err, 'ENOENT') && this.tmpGone(tmpDir)) this.syncTmp = undefined;
        else if (!isCode(err, 'EXDEV')) throw err;
      }
    }
    const tmp = posix.join(posix.dirname(dest), tempName());
    try {
      writeWhole(tmp, data, opts);
      renameSync(tmp, dest);
    } catch (err) {
      unlinkQuietSync(tmp);
      throw err;
    }
  }

  /** <root>/.chain/tmp as an absolute path, created on first use and then remembered; null when it
   *  cannot be a real directory inside the root (e.g. .chain is a symlink): writes go beside the
   *  target. In this thread: two syscalls, once per process (or after .chain/tmp was removed). */
  private tmpDirSync(): string | null {
    if (this.syncTmp !== undefined) return this.syncTmp;
    this.syncTmp = null;
    for (const dir of [STATE_DIR, TMP_DIR]) {
      const abs = underRoot(this.root, dir);
      try {
        mkdirSync(abs, 0o700);
      } catch (err) {
        if (!isCode(err, 'EEXIST')) return null;
      }
      if (!lstatQuiet(abs)?.isDirectory()) return null;
    }
    return (this.syncTmp = underRoot(this.root, TMP_DIR));
  }

  private tmpGone(tmpDir: string): boolean {
    return !lstatQuiet(tmpDir)?.isDirectory();
  }

  async createExclusive(path: string, data: Buffer | string): Promise<boolean> {
    const rel = this.target(path);
    await this.mkdirp(parentOf(rel));
    try {
      await fs.writeFile(underRoot(this.root, rel), data, { flag: C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, mode: 0o644 });
      return true;
    } catch (err) {
      if (isCode(err, 'EEXIST')) return false;
      throw err;
    }
  }

  async symlink(path: string, target: string): Promise<void> {
    const rel = this.target(path);
    await this.replace(rel, (tmp) => fs.symlink(target, tmp));
  }

  async rename(from: string, to: string): Promise<void> {
    const a = this.target(from);
    const b = this.target(to);
    await this.requireDir(parentOf(a), from);
    await this.requireDir(parentOf(b), to);
    await fs.rename(underRoot(this.root, a), underRoot(this.root, b));
  }

  async link(from: string, to: string): Promise<void> {
    const a = this.target(from);
    const b = this.target(to);
    await this.requireDir(parentOf(a), from);
    await this.mkdirp(parentOf(b));
    await this.requireDir(parentOf(b), to);
    // link(2) never follows a symlink at `from` on Linux, and fails when `to` exists
    await fs.link(underRoot(this.root, a), underRoot(this.root, b));
  }

  async setattr(path: string, attrs: { mode?: number; mtime?: number }): Promise<void> {
    const rel = safeRel(path);
    await this.requireDir(parentOf(rel), path);
    const abs = underRoot(this.root, rel);
    const e = await localEntry(abs);
    if (!e) throw fsError('ENOENT', `${this.where(rel)} does not exist`);
    // chmod/utimes follow symlinks; links carry no attributes worth replicating, so never touch them.
    if (e.type === 'symlink') throw new UnsafePathError(path, 'is a symlink; refusing to set attributes through it');
    if (attrs.mode !== undefined) await fs.chmod(abs, attrs.mode & MODE_BITS);
    if (attrs.mtime !== undefined) await fs.utimes(abs, attrs.mtime, attrs.mtime);
  }

  async remove(path: string): Promise<void> {
    const rel = this.target(path);
    if ((await this.dirState(parentOf(rel), path)) !== 'ok') return; // parent gone: so is the path
    // fs.rm never follows links: a symlink is unlinked, a tree is removed bottom-up by lstat.
    await fs.rm(underRoot(this.root, rel), { recursive: true, force: true });
  }

  async writeSmall(path: string, data: Buffer | string): Promise<void> {
    const rel = this.target(path);
    await this.mkdirp(parentOf(rel));
    // beside the target: bookkeeping lives under .chain/, so there is no cross-device rename to fear
    const tmp = posix.join(underRoot(this.root, parentOf(rel)), tempName());
    try {
      await fs.writeFile(tmp, data, { flag: C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, mode: 0o644 });
      await fs.rename(tmp, underRoot(this.root, rel));
    } catch (err) {
      await unlinkQuiet(tmp);
      throw err;
    }
  }

  async readSmall(path: string): Promise<Buffer | null> {
    const rel = safeRel(path);
    if ((await this.dirState(parentOf(rel), path)) !== 'ok') return null;
    try {
      return await fs.readFile(underRoot(this.root, rel), { flag: C.O_RDONLY | C.O_NOFOLLOW });
    } catch (err) {
      if (isCode(err, 'ENOENT', 'ENOTDIR')) return null;
      throw err;
    }
  }

  /** the whole tree by GNU find (transport/local-walk.ts): a repair lists a big root fast this way */
  walk(onEntry: (rel: string, e: Entry, depth: number) => void): Promise<boolean> {
    return findWalk(this.root, onEntry);
  }

  async close(): Promise<void> {}

  /** a path that may be written: canonical, and never the root itself */
  private target(path: string): string {
    const rel = safeRel(path);
    if (rel === '') throw new UnsafePathError(path, 'is the root itself');
    return rel;
  }

  /** Creates the new version at a temp name (make), then renames it over rel. The temp goes under
   *  <root>/.chain/tmp, or beside the target when that is unusable or on another filesystem (EXDEV). */
  private async replace(rel: string, make: (tmpAbs: string) => Promise<void>, before?: () => Promise<void>): Promise<void> {
    await this.requireDir(parentOf(rel), rel);
    const dest = underRoot(this.root, rel);
    let prepared: Promise<void> | undefined;
    const prepare = () => (prepared ??= before ? before() : Promise.resolve()); // once, even if redone beside
    const tmpDir = this.tmpDirSync();
    if (tmpDir !== null) {
      const tmp = posix.join(tmpDir, tempName());
      try {
        await make(tmp);
        await this.requireDir(parentOf(rel), rel); // again: the parent may have become a symlink meanwhile
        await prepare();
        await fs.rename(tmp, dest);
        return;
      } catch (err) {
        await unlinkQuiet(tmp);
        if (isCode(err, 'ENOENT') && this.tmpGone(tmpDir)) {
          this.syncTmp = undefined; // .chain/tmp was removed under us: recreate it next time, go beside now
        } else if (!isCode(err, 'EXDEV')) {
          throw err;
        }
      }
    }
    const tmp = posix.join(posix.dirname(dest), tempName());
    try {
      await make(tmp);
      await prepare();
      await fs.rename(tmp, dest);
    } catch (err) {
      await unlinkQuiet(tmp);
      throw err;
    }
  }

  /** throws unless relDir exists inside the root with no symlink on the way */
  private async requireDir(relDir: string, path: string): Promise<void> {
    this.judge(await this.dirState(relDir, path), relDir, path);
  }

  /** requireDir's verdict on a checkDir result: nothing for 'ok', else the error */
  private judge(state: DirCheck, relDir: string, path: string): void {
    if (state === 'symlink') throw new UnsafePathError(path, `"${relDir}" goes through a symlink`);
    if (state === 'loop') throw new UnsafePathError(path, `"${relDir}" is a symlink loop`);
    if (state === 'missing') throw fsError('ENOENT', `${this.where(relDir)} does not exist (for ${path})`);
    if (state === 'notdir') throw fsError('ENOTDIR', `${this.where(relDir)} is not a directory (for ${path})`);
  }

  /** Checks relDir with one realpath (glibc walks the components in C): it must resolve to exactly
   *  itself under the canonical root, i.e. neither it nor an ancestor is a symlink, else UnsafePathError.
   *  'ok' means it exists; whether it is a directory is left to the syscall that uses it (ENOTDIR). */
  private async dirState(relDir: string, path: string): Promise<'ok' | 'missing' | 'notdir'> {
    if (relDir === '') return 'ok';
    // Requests in flight for the same directory share one check (a batch is many paths in few dirs);
    // nothing is kept after it settles, so no answer is older than the request that receives it.
    let p = this.checking.get(relDir);
    if (!p) {
      p = this.checkDir(relDir);
      this.checking.set(relDir, p);
      const forget = () => this.checking.delete(relDir);
      p.then(forget, forget);
    }
    const state = await p;
    if (state === 'symlink' || state === 'loop') this.judge(state, relDir, path);
    return state as 'ok' | 'missing' | 'notdir';
  }

  private async checkDir(relDir: string): Promise<DirCheck> {
    // remembered: the root is fixed for the life of the process; a failure is not remembered
    const root = await (this.canonical ??= fs.realpath(this.root).catch((err: unknown) => {
      this.canonical = undefined;
      throw err;
    }));
    return this.resolvesTo(relDir, root);
  }

  /** checkDir, in this thread */
  private checkDirSync(relDir: string): DirCheck {
    this.canonicalSync ??= realpathSync.native(this.root);
    return this.resolvesTo(relDir, this.canonicalSync);
  }

  private resolvesTo(relDir: string, root: string): DirCheck {
    try {
      // in this thread: a few cached lookups, where a thread-pool round trip per directory cost a
      // receiving daemon 9% of its CPU (bench, the last hop of a 10,000-file burst)
      return realpathSync.native(underRoot(this.root, relDir)) === posix.join(root, relDir) ? 'ok' : 'symlink';
    } catch (err) {
      if (isCode(err, 'ENOENT')) return 'missing';
      if (isCode(err, 'ENOTDIR')) return 'notdir';
      if (isCode(err, 'ELOOP')) return 'loop';
      throw err;
    }
  }

  private where(rel: string): string {
    return `${this.name}:${underRoot(this.root, rel)}`;
  }
}

/** a small file already in memory, written to a new temp file in this thread (no pool round trips) */
function writeWhole(tmp: string, data: Buffer, opts: PutOptions): void {
  const fd = openSync(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
  try {
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
    fchmodSync(fd, opts.mode & MODE_BITS);
    futimesSync(fd, opts.mtime, opts.mtime);
  } finally {
    closeSync(fd);
  }
}

/** the source, opened without following a symlink; gone or replaced by a link = changed since planned */
async function openSource(localPath: string, rel: string): Promise<FileHandle> {
  try {
    return await fs.open(localPath, C.O_RDONLY | C.O_NOFOLLOW);
  } catch (err) {
    if (isCode(err, 'ENOENT', 'ELOOP', 'ENOTDIR')) throw new SourceChangedError(rel);
    throw err;
  }
}

/** copies up to `size` bytes from the start of src; returns how many there were */
async function copyAll(src: FileHandle, out: FileHandle, size: number): Promise<number> {
  const buf = Buffer.allocUnsafe(Math.max(1, Math.min(size, COPY_CHUNK)));
  let pos = 0;
  while (pos < size) {
    const { bytesRead } = await src.read(buf, 0, Math.min(buf.length, size - pos), pos);
    if (bytesRead === 0) break; // shrank: the caller's size check reports it
    let off = 0;
    while (off < bytesRead) off += (await out.write(buf, off, bytesRead - off)).bytesWritten;
    pos += bytesRead;
  }
  return pos;
}

/** the names in absDir whose bytes are not valid UTF-8: the string node reports for each → its bytes, escaped */
async function nonUtf8Names(absDir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const raw = await fs.readdir(absDir, { encoding: 'buffer' }).catch(() => [] as Buffer[]);
  for (const b of raw) {
    const s = b.toString('utf8');
    if (Buffer.from(s, 'utf8').equals(b)) continue;
    const shown = [...b].map((c) => (c >= 0x20 && c < 0x7f && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`));
    out.set(s, shown.join(''));
  }
  return out;
}

// SFTP names and chain's paths are UTF-8 strings: such a name cannot be carried byte for byte
function nonUtf8Problem(raw: string): string {
  return `the name "${raw}" is not valid UTF-8, and chain replicates UTF-8 names only; rename it (e.g. convmv -f latin1 -t utf-8 --notest)`;
}

function unlinkQuietSync(abs: string): void {
  try {
    unlinkSync(abs);
  } catch {
    /* not there */
  }
}

async function unlinkQuiet(abs: string): Promise<void> {
  await fs.unlink(abs).catch(() => {});
}

function isCode(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

/** an error shaped like node's own fs errors, so one classifier handles both */
function fsError(code: string, message: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: ${message}`);
  err.code = code;
  return err;
}
