// What one link last pushed (or found identical) per path: lets a pusher skip a path whose local
// state has not changed since without asking the target, and lets a deliberate change to an
// older-dated file win (core/conflict.ts). A path the link removed, or found absent, is remembered
// as null: a second delete event for it (the echo of a removal made here) needs no look either.
// Bounded: the oldest entries are forgotten first, so memory follows recent activity, not the size
// of the tree; forgetting only costs one remote lstat (and, for an older-dated change to a
// forgotten path, its win: then the newer version wins, as in any conflict).
//
// Durable when given a file (<state>/memory/<target>.jsonl): read at start, written atomically
// (temp + rename) on save(), and by checkpoint() every few minutes or after many changes, so that
// a restart keeps what makes `cp -p` of a backup win. A crash loses at most what changed since the
// last save. Format, oldest first so that reading it back restores the order of forgetting:
//   {"v":1}                                              header
//   [path, ["f"|"d"|"l"|"o", size, mtime, mode, target?]]   an entry (core/entry.ts packEntry)
//   [path, 0]                                            removed / absent
import { mkdirSync, readFileSync, renameSync, writeSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Entry } from '../core/types.js';
import { packEntry, unpackEntry } from '../core/entry.js';

export interface MemoryOptions {
  /** entries kept at most (default 200 000) */
  cap?: number;
  /** persist here (atomically); none = in memory only */
  file?: string;
  /** checkpoint(): save when this long has passed since the last save (default 5 min) ... */
  saveEveryMs?: number;
  /** ... or when this many changes are unsaved (default 10 000) */
  saveAfterChanges?: number;
}

export class LinkMemory {
  private readonly map = new Map<string, Entry | null>();
  private readonly cap: number;
  readonly file?: string;
  private readonly every: number;
  private readonly after: number;
  private unsaved = 0;
  private savedAt = Date.now();

  constructor(opts: MemoryOptions | number = {}) {
    const o = typeof opts === 'number' ? { cap: opts } : opts;
    this.cap = o.cap ?? 200_000;
    this.file = o.file;
    this.every = o.saveEveryMs ?? 5 * 60_000;
    this.after = o.saveAfterChanges ?? 10_000;
    if (this.file) this.load(this.file);
  }

  /** the entry last pushed; null: removed or found absent; undefined: not remembered */
  get(path: string): Entry | null | undefined {
    return this.map.get(path);
  }

  set(path: string, e: Entry | null): void {
    this.map.delete(path);
    this.map.set(path, e);
    this.unsaved++;
    if (this.map.size > this.cap) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
  }

  forget(path: string): void {
    if (this.map.delete(path)) this.unsaved++;
  }

  /** forget a path and everything under it (a directory was removed or replaced) */
  forgetTree(path: string): void {
    this.forget(path);
    const prefix = path + '/';
    for (const k of this.map.keys()) if (k.startsWith(prefix)) this.forget(k);
  }

  /** the path and everything under it is gone from the target: remember the path as removed */
  removedTree(path: string): void {
    this.forgetTree(path);
    this.set(path, null);
  }

  get size(): number {
    return this.map.size;
  }

  /** save if it is time: every few minutes with changes, or after many changes (e.g. a large batch) */
  checkpoint(now = Date.now()): void {
    if (!this.file || this.unsaved === 0) return;
    if (this.unsaved >= this.after || now - this.savedAt >= this.every) this.save(now);
  }

  /** write the file now (atomically: temp, fsync, rename); a no-op without a file or changes */
  save(now = Date.now()): void {
    if (!this.file || this.unsaved === 0) return;
    const tmp = `${this.file}.new`;
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const fd = openSync(tmp, 'w', 0o600);
    try {
      // in slices: the whole file as one string would be garbage the size of the file, twice
      let chunk = '{"v":1}\n';
      for (const [path, e] of this.map) {
        chunk += JSON.stringify([path, packEntry(e)]) + '\n';
        if (chunk.length >= 1 << 16) {
          writeSync(fd, chunk);
          chunk = '';
        }
      }
      writeSync(fd, chunk);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    this.unsaved = 0;
    this.savedAt = now;
  }

  private load(file: string): void {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const lines = text.split('\n');
    if (lines[0] !== '{"v":1}') return; // unknown format: start empty rather than misread it
    for (const line of lines.slice(1)) {
      if (!line) continue;
      let rec: unknown;
      try {
        rec = JSON.parse(line);
      } catch {
        continue;
      }
      if (!Array.isArray(rec) || typeof rec[0] !== 'string') continue;
      const e = unpackEntry(rec[1]);
      if (e !== undefined) this.set(rec[0], e);
    }
    this.unsaved = 0;
  }
}
