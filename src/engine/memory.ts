// What one link last pushed (or found identical) per path: lets a pusher skip a path whose local
// state has not changed since without asking the target, and lets a deliberate change to an
// older-dated file win (core/conflict.ts). A path the link removed, or found absent, is remembered
// as null: a second delete event for it (the echo of a removal made here) needs no look either.
// Equal paths found by the startup compare are remembered too: without them a live push with
// `conflicts: keep` makes a spurious conflict copy, and a `cp -p` restore loses.
// Bounded: the least recently set entries are forgotten first, so memory follows recent activity,
// not the size of the tree; forgetting only costs one remote lstat (and, for an older-dated change
// to a forgotten path, its win: then the newer version wins, as in any conflict). The entries
// live in a compact table (memory-table.ts: ~60 bytes a path, outside the V8 heap).
//
// Durable when given a file (<state>/memory/<target>.mem): read at start, written atomically
// (temp, fsync, rename, fsync of the directory) on save(), and by checkpoint() every few minutes
// or after many changes, so that a restart keeps what makes `cp -p` of a backup win. A crash loses
// at most what changed since the last save. The format (binary, checksummed, oldest entry first so
// that reading it back restores the order of forgetting) is described in memory-table.ts. A file
// that is torn, damaged or of an unknown format is reported and the memory starts empty: that
// only costs remote lstats. The JSON-lines file of earlier versions (<target>.jsonl, or the given
// file itself when it holds that format) is read once and replaced by the next save.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Entry } from '../core/types.js';
import { unpackEntry } from '../core/entry.js';
import { CorruptMemoryError, EntryTable } from './memory-table.js';

export interface MemoryOptions {
  /** entries kept at most (default 200 000) */
  cap?: number;
  /** persist here (atomically); none = in memory only */
  file?: string;
  /** checkpoint(): save when this long has passed since the last save (default 5 min) ... */
  saveEveryMs?: number;
  /** ... or when this many changes are unsaved (default 10 000) */
  saveAfterChanges?: number;
  /** told when the file cannot be read (default: a process warning) */
  warn?: (message: string) => void;
}

const LEGACY_HEADER = '{"v":1}';

export class LinkMemory {
  private table = new EntryTable();
  private readonly cap: number;
  readonly file?: string;
  private readonly every: number;
  private readonly after: number;
  private readonly warn: (message: string) => void;
  /** a JSON-lines file to delete once the new format is saved */
  private legacy?: string;
  private unsaved = 0;
  private savedAt = Date.now();

  constructor(opts: MemoryOptions | number = {}) {
    const o = typeof opts === 'number' ? { cap: opts } : opts;
    this.cap = o.cap ?? 200_000;
    this.file = o.file;
    this.every = o.saveEveryMs ?? 5 * 60_000;
    this.after = o.saveAfterChanges ?? 10_000;
    this.warn = o.warn ?? ((m) => process.emitWarning(m));
    if (this.file) this.load(this.file);
  }

  /** the entry last pushed; null: removed or found absent; undefined: not remembered */
  get(path: string): Entry | null | undefined {
    return this.table.get(path);
  }

  set(path: string, e: Entry | null): void {
    this.table.set(path, e);
    this.unsaved++;
    if (this.table.size > this.cap) this.table.deleteOldest();
  }

  forget(path: string): void {
    if (this.table.delete(path)) this.unsaved++;
  }

  /** forget a path and everything under it (a directory was removed or replaced) */
  forgetTree(path: string): void {
    this.unsaved += this.table.deleteTree(path);
  }

  /** the path and everything under it is gone from the target: remember the path as removed */
  removedTree(path: string): void {
    this.forgetTree(path);
    this.set(path, null);
  }

  get size(): number {
    return this.table.size;
  }

  /** save if it is time: every few minutes with changes, or after many changes (e.g. a large batch) */
  checkpoint(now = Date.now()): void {
    if (!this.file || this.unsaved === 0) return;
    // a save writes the whole table: past `after` changes, wait for a quarter of the table's size
    // too, so a stream of bursts over a large tree costs O(1) per change, not O(tree) per batch
    if (this.unsaved >= Math.max(this.after, this.table.size >> 2) || now - this.savedAt >= this.every) this.save(now);
  }

  /** write the file now (atomically: temp, fsync, rename); a no-op without a file or changes */
  save(now = Date.now()): void {
    if (!this.file || this.unsaved === 0) return;
    const tmp = `${this.file}.new`;
    const dir = dirname(this.file);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const fd = openSync(tmp, 'w', 0o600);
    try {
      this.table.encode((chunk) => {
        for (let at = 0; at < chunk.length; ) at += writeSync(fd, chunk, at);
      });
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    syncDir(dir);
    if (this.legacy) {
      rmSync(this.legacy, { force: true });
      this.legacy = undefined;
    }
    this.unsaved = 0;
    this.savedAt = now;
  }

  private load(file: string): void {
    const old = file.replace(/\.[^./]*$/, '') + '.jsonl';
    let from = file;
    let buf = this.read(file);
    if (buf === null && old !== file) buf = this.read((from = old));
    if (!buf) return;
    if (from !== file) this.legacy = from;
    let legacy = false;
    try {
      legacy = buf.subarray(0, LEGACY_HEADER.length + 1).toString('latin1') === LEGACY_HEADER + '\n';
      if (legacy) this.loadLegacy(buf);
      else this.table = EntryTable.decode(buf);
    } catch (err) {
      if (!(err instanceof CorruptMemoryError)) throw err;
      this.table = new EntryTable();
      this.warn(`${from}: ${err.message}; starting without memory of what was pushed (it costs a look at the target per path)`);
    }
    while (this.table.size > this.cap) this.table.deleteOldest();
    this.unsaved = legacy ? 1 : 0; // the old format is replaced by the next save (at the latest, a clean stop)
  }

  /** the file's bytes; null when there is none; undefined (told) when it cannot be read */
  private read(file: string): Buffer | null | undefined {
    try {
      return readFileSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      this.warn(`${file}: ${(err as Error).message}; starting without memory of what was pushed`);
      return undefined;
    }
  }

  /** the JSON-lines format: {"v":1}, then [path, packed entry] lines, oldest first; a line that
   *  cannot be read (a torn end) is skipped */
  private loadLegacy(buf: Buffer): void {
    // line by line from the bytes: the whole file as one string would be one more copy of it
    for (let at = buf.indexOf(10) + 1; at > 0 && at < buf.length; ) {
      let end = buf.indexOf(10, at);
      if (end < 0) end = buf.length;
      const line = buf.toString('utf8', at, end);
      at = end + 1;
      let rec: unknown;
      try {
        rec = JSON.parse(line);
      } catch {
        continue;
      }
      if (!Array.isArray(rec) || typeof rec[0] !== 'string') continue;
      const e = unpackEntry(rec[1]);
      if (e !== undefined) this.table.set(rec[0], e);
    }
  }
}

/** make a rename in dir durable */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // some filesystems refuse fsync on a directory: the rename is still atomic
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
