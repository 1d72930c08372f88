// The compact store behind LinkMemory (memory.ts): per path an entry, or "absent", in typed arrays
// rather than a Map of path strings to Entry objects (~160 bytes of V8 heap per path, and garbage
// for the collector to walk). A path is (directory index, name): directories are a small table of
// their own, so forgetting a directory finds everything under it without a string per path, and a
// path that is no directory's prefix is forgotten without any scan. ~50 bytes per path plus its
// name, outside the V8 heap; the order of forgetting (least recently set first) is a linked list
// through the same arrays. Also its binary file format (encode/decode; memory.ts writes the file).
//
// Exactness: a lookup must never answer with another path's entry ("unchanged" where it is not),
// so the name itself is kept, as its UTF-16 code units (one byte each when all are < 256, which
// is nearly every name, else two), in one byte arena. The 32-bit hash only picks a bucket and
// rejects most candidates early; a match is decided by the directory index and every code unit.
// Keeping a 64-bit hash instead of the name would save ~10 bytes a path but leave a (tiny) chance
// of a wrong "unchanged", and anything that could detect that collision needs the name anyway.
import { crc32 } from 'node:zlib';
import type { Entry } from '../core/types.js';

// slot kinds; SIDE: the entry lives in `side` (symlinks with their target, and any entry whose
// numbers do not fit the arrays exactly)
const FREE = 0;
const ABSENT = 1;
const FILE = 2;
const DIR = 3;
const OTHER = 4;
const SIDE = 5;
const TWO_BYTE = 0x80000000; // nameLen flag: two bytes a code unit
const ROOT = 0; // the directory of paths without a '/'
const NONE = -1;

export class CorruptMemoryError extends Error {}

export class EntryTable {
  // per slot
  private kind = new Uint8Array(0);
  private mode = new Uint16Array(0);
  private size_ = new Float64Array(0);
  private mtime = new Float64Array(0);
  private hash = new Uint32Array(0);
  private dir = new Int32Array(0);
  private nameAt = new Uint32Array(0);
  private nameLen = new Uint32Array(0);
  private older = new Int32Array(0);
  private newer = new Int32Array(0);
  /** next slot in the same bucket; for a free slot, the next free one */
  private chain = new Int32Array(0);
  private slots = 0; // allocated
  private used = 0; // slots [0, used) have been handed out at least once
  private freeSlot = NONE;
  private count = 0;
  private buckets = new Int32Array(256).fill(NONE);
  private oldest = NONE;
  private newest = NONE;
  private readonly side = new Map<number, Entry>();
  // names
  private arena = new Uint8Array(1 << 14);
  private arenaUsed = 0;
  private arenaGarbage = 0;
  // directories: index 0 is ROOT; a directory is kept while it holds slots or other directories,
  // so a path with no entry under it is not in `dirs`
  private readonly dirs = new Map<string, number>();
  private readonly dirPath: string[] = [''];
  private readonly dirParent: number[] = [NONE];
  private readonly dirRefs: number[] = [1];
  private readonly dirFree: number[] = [];

  get size(): number {
    return this.count;
  }

  get(path: string): Entry | null | undefined {
    const i = path.lastIndexOf('/');
    const d = i < 0 ? ROOT : this.dirs.get(path.slice(0, i));
    if (d === undefined) return undefined;
    const name = i < 0 ? path : path.slice(i + 1);
    const s = this.find(d, name, hashName(d, name));
    return s === NONE ? undefined : this.entryAt(s);
  }

  /** remember e (null: absent) for path, as the most recently set */
  set(path: string, e: Entry | null): void {
    const i = path.lastIndexOf('/');
    const d = i < 0 ? ROOT : this.dirIndex(path.slice(0, i));
    this.put(d, i < 0 ? path : path.slice(i + 1), e);
  }

  delete(path: string): boolean {
    const i = path.lastIndexOf('/');
    const d = i < 0 ? ROOT : this.dirs.get(path.slice(0, i));
    if (d === undefined) return false;
    const name = i < 0 ? path : path.slice(i + 1);
    const s = this.find(d, name, hashName(d, name));
    if (s === NONE) return false;
    this.remove(s);
    return true;
  }

  /** delete path and every path under it (path + '/' ...); returns how many were deleted */
  deleteTree(path: string): number {
    let n = this.delete(path) ? 1 : 0;
    if (!this.dirs.has(path)) return n; // no directory at or under path holds anything
    const doomed = new Uint8Array(this.dirPath.length);
    const prefix = path + '/';
    for (const [k, d] of this.dirs) if (k === path || k.startsWith(prefix)) doomed[d] = 1;
    for (let s = 0; s < this.used; s++) {
      if (this.kind[s] !== FREE && doomed[this.dir[s]]) {
        this.remove(s);
        n++;
      }
    }
    return n;
  }

  /** forget the least recently set path */
  deleteOldest(): void {
    if (this.oldest !== NONE) this.remove(this.oldest);
  }

  // ---- slots ---------------------------------------------------------------------------------

  private put(d: number, name: string, e: Entry | null): void {
    const h = hashName(d, name);
    let s = this.find(d, name, h);
    if (s === NONE) {
      s = this.alloc();
      this.hash[s] = h;
      this.dir[s] = d;
      this.dirRefs[d]++;
      this.storeName(s, name);
      const b = h & (this.buckets.length - 1);
      this.chain[s] = this.buckets[b];
      this.buckets[b] = s;
      this.count++;
    } else {
      if (this.kind[s] === SIDE) this.side.delete(s);
      this.unlinkAge(s);
    }
    this.store(s, e);
    // newest at the tail
    this.older[s] = this.newest;
    this.newer[s] = NONE;
    if (this.newest !== NONE) this.newer[this.newest] = s;
    else this.oldest = s;
    this.newest = s;
    if (this.count > this.buckets.length) this.rehash(this.buckets.length * 2); // s is no longer FREE
  }

  private store(s: number, e: Entry | null): void {
    if (!e) {
      this.kind[s] = ABSENT;
      return;
    }
    const k = e.type === 'file' ? FILE : e.type === 'dir' ? DIR : e.type === 'other' ? OTHER : SIDE;
    if (k === SIDE || e.target !== undefined || !(e.mode >= 0 && e.mode <= 0xffff && Number.isInteger(e.mode))) {
      this.kind[s] = SIDE;
      this.side.set(s, { ...e });
      return;
    }
    this.kind[s] = k;
    this.mode[s] = e.mode;
    this.size_[s] = e.size; // Float64: any number, exactly
    this.mtime[s] = e.mtime;
  }

  private entryAt(s: number): Entry | null {
    switch (this.kind[s]) {
      case ABSENT:
        return null;
      case SIDE:
        return { ...this.side.get(s)! };
      default:
        return { type: KIND_TYPE[this.kind[s]], size: this.size_[s], mtime: this.mtime[s], mode: this.mode[s] };
    }
  }

  private find(d: number, name: string, h: number): number {
    for (let s = this.buckets[h & (this.buckets.length - 1)]; s !== NONE; s = this.chain[s]) {
      if (this.hash[s] === h && this.dir[s] === d && this.nameIs(s, name)) return s;
    }
    return NONE;
  }

  private nameIs(s: number, name: string): boolean {
    const len = this.nameLen[s];
    const n = len & ~TWO_BYTE;
    if (n !== name.length) return false;
    const a = this.arena;
    const at = this.nameAt[s];
    if (len & TWO_BYTE) {
      for (let i = 0; i < n; i++) if ((a[at + 2 * i] | (a[at + 2 * i + 1] << 8)) !== name.charCodeAt(i)) return false;
    } else {
      for (let i = 0; i < n; i++) if (a[at + i] !== name.charCodeAt(i)) return false;
    }
    return true;
  }

  private remove(s: number): void {
    const b = this.hash[s] & (this.buckets.length - 1);
    if (this.buckets[b] === s) this.buckets[b] = this.chain[s];
    else {
      let p = this.buckets[b];
      while (this.chain[p] !== s) p = this.chain[p];
      this.chain[p] = this.chain[s];
    }
    this.unlinkAge(s);
    if (this.kind[s] === SIDE) this.side.delete(s);
    this.kind[s] = FREE;
    this.arenaGarbage += nameBytes(this.nameLen[s]);
    this.unrefDir(this.dir[s]);
    this.chain[s] = this.freeSlot;
    this.freeSlot = s;
    this.count--;
    if (this.arenaGarbage > 1 << 16 && this.arenaGarbage > this.arenaUsed / 2) this.compactNames();
  }

  private unlinkAge(s: number): void {
    const o = this.older[s];
    const n = this.newer[s];
    if (o !== NONE) this.newer[o] = n;
    else this.oldest = n;
    if (n !== NONE) this.older[n] = o;
    else this.newest = o;
  }

  private alloc(): number {
    if (this.freeSlot !== NONE) {
      const s = this.freeSlot;
      this.freeSlot = this.chain[s];
      return s;
    }
    if (this.used === this.slots) this.grow(Math.max(256, this.slots * 2));
    return this.used++;
  }

  private grow(n: number): void {
    const more = <T extends Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array>(a: T, make: new (n: number) => T): T => {
      const b = new make(n);
      b.set(a);
      return b;
    };
    this.kind = more(this.kind, Uint8Array);
    this.mode = more(this.mode, Uint16Array);
    this.size_ = more(this.size_, Float64Array);
    this.mtime = more(this.mtime, Float64Array);
    this.hash = more(this.hash, Uint32Array);
    this.dir = more(this.dir, Int32Array);
    this.nameAt = more(this.nameAt, Uint32Array);
    this.nameLen = more(this.nameLen, Uint32Array);
    this.older = more(this.older, Int32Array);
    this.newer = more(this.newer, Int32Array);
    this.chain = more(this.chain, Int32Array);
    this.slots = n;
  }

  private rehash(n: number): void {
    const buckets = new Int32Array(n).fill(NONE);
    for (let s = 0; s < this.used; s++) {
      if (this.kind[s] === FREE) continue;
      const b = this.hash[s] & (n - 1);
      this.chain[s] = buckets[b];
      buckets[b] = s;
    }
    this.buckets = buckets;
  }

  // ---- names ---------------------------------------------------------------------------------

  private storeName(s: number, name: string): void {
    let wide = false;
    for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) > 0xff) wide = true;
    const bytes = wide ? 2 * name.length : name.length;
    if (this.arenaUsed + bytes > this.arena.length) {
      const a = new Uint8Array(Math.max(this.arena.length * 2, this.arenaUsed + bytes));
      a.set(this.arena.subarray(0, this.arenaUsed));
      this.arena = a;
    }
    const a = this.arena;
    const at = this.arenaUsed;
    if (wide) {
      for (let i = 0; i < name.length; i++) {
        const c = name.charCodeAt(i);
        a[at + 2 * i] = c & 0xff;
        a[at + 2 * i + 1] = c >> 8;
      }
    } else {
      for (let i = 0; i < name.length; i++) a[at + i] = name.charCodeAt(i);
    }
    this.nameAt[s] = at;
    this.nameLen[s] = (name.length | (wide ? TWO_BYTE : 0)) >>> 0;
    this.arenaUsed += bytes;
  }

  /** drop the names of forgotten slots: copy the live ones into a new arena */
  private compactNames(): void {
    const live = this.arenaUsed - this.arenaGarbage;
    const a = new Uint8Array(Math.max(1 << 14, Math.ceil(live * 1.5)));
    let at = 0;
    for (let s = 0; s < this.used; s++) {
      if (this.kind[s] === FREE) continue;
      const n = nameBytes(this.nameLen[s]);
      a.set(this.arena.subarray(this.nameAt[s], this.nameAt[s] + n), at);
      this.nameAt[s] = at;
      at += n;
    }
    this.arena = a;
    this.arenaUsed = at;
    this.arenaGarbage = 0;
  }

  // ---- directories ---------------------------------------------------------------------------

  /** the index of directory path (no trailing '/'), made (with its ancestors) when new */
  private dirIndex(path: string): number {
    const known = this.dirs.get(path);
    if (known !== undefined) return known;
    const i = path.lastIndexOf('/');
    const parent = i < 0 ? ROOT : this.dirIndex(path.slice(0, i));
    const d = this.dirFree.length ? this.dirFree.pop()! : this.dirPath.length;
    this.dirPath[d] = path;
    this.dirParent[d] = parent;
    this.dirRefs[d] = 0;
    this.dirRefs[parent]++;
    this.dirs.set(path, d);
    return d;
  }

  private unrefDir(d: number): void {
    while (d !== ROOT && --this.dirRefs[d] === 0) {
      this.dirs.delete(this.dirPath[d]);
      this.dirPath[d] = '';
      this.dirFree.push(d);
      d = this.dirParent[d];
    }
  }

  // ---- file format ---------------------------------------------------------------------------
  //   "CHAINMEM" u32 version (2)
  //   varint #dirs, then each: string (its path; a record's dir field 0 = root, i = i-th)
  //   varint #entries, oldest first, each:
  //     u8 tag: kind (0 absent, 1 file, 2 dir, 3 symlink, 4 other) | 8 wide | 16 has target
  //     varint dir, string name,
  //     unless absent: wide ? f64 size, f64 mtime, f64 mode : u32 size, u32 mtime, u16 mode
  //     with target: string target
  //   u32 CRC-32 of everything before it
  // string: varint (code units << 1 | two bytes each), then the units (1 or 2 bytes, LE);
  // integers little-endian; varint: 7 bits a byte, low first.

  /** the whole table in the format above, in pieces handed to write (each reused after it returns) */
  encode(write: (chunk: Uint8Array) => void): void {
    const w = new Writer(write);
    w.bytes(MAGIC, 0, MAGIC.length);
    w.u32(VERSION);
    const fileDir = new Int32Array(this.dirPath.length);
    w.varint(this.dirs.size);
    let n = 1;
    for (const [path, d] of this.dirs) {
      fileDir[d] = n++;
      w.string(path);
    }
    w.varint(this.count);
    for (let s = this.oldest; s !== NONE; s = this.newer[s]) {
      const k = this.kind[s];
      const e = k === SIDE ? this.side.get(s)! : undefined;
      const type = k === ABSENT ? 0 : CODE[e ? e.type : KIND_TYPE[k]];
      const size = e ? e.size : this.size_[s];
      const mtime = e ? e.mtime : this.mtime[s];
      const mode = e ? e.mode : this.mode[s];
      const wide = k !== ABSENT && !(fitsU32(size) && fitsU32(mtime) && mode >= 0 && mode <= 0xffff && Number.isInteger(mode));
      const target = e?.target;
      w.u8(type | (wide ? 8 : 0) | (target !== undefined ? 16 : 0));
      w.varint(this.dir[s] === ROOT ? 0 : fileDir[this.dir[s]]);
      const len = this.nameLen[s];
      w.varint((len & ~TWO_BYTE) * 2 + (len & TWO_BYTE ? 1 : 0));
      w.bytes(this.arena, this.nameAt[s], nameBytes(len));
      if (k !== ABSENT) {
        if (wide) {
          w.f64(size);
          w.f64(mtime);
          w.f64(mode);
        } else {
          w.u32(size);
          w.u32(mtime);
          w.u16(mode);
        }
      }
      if (target !== undefined) w.string(target);
    }
    w.end();
  }

  /** a table read from a file's bytes; throws CorruptMemoryError unless they are the format above, whole */
  static decode(buf: Buffer): EntryTable {
    if (buf.length < MAGIC.length + 8 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) throw new CorruptMemoryError('not a link memory file');
    const r = new Reader(buf.subarray(0, buf.length - 4));
    r.at = MAGIC.length;
    const version = r.u32();
    if (version !== VERSION) throw new CorruptMemoryError(`format version ${version}, not ${VERSION}`);
    if (crc32(buf.subarray(0, buf.length - 4)) !== buf.readUInt32LE(buf.length - 4)) throw new CorruptMemoryError('checksum mismatch (torn or damaged)');
    const t = new EntryTable();
    const dirs: number[] = [ROOT];
    const names: string[] = [];
    for (let i = r.varint(); i > 0; i--) {
      names.push(r.string());
      dirs.push(t.dirIndex(names[names.length - 1]));
    }
    for (let i = r.varint(); i > 0; i--) {
      const tag = r.u8();
      const type = tag & 7;
      const d = dirs[r.varint()];
      if (d === undefined || type > 4) throw new CorruptMemoryError('bad entry');
      const name = r.string();
      let e: Entry | null = null;
      if (type !== 0) {
        const wide = tag & 8;
        const size = wide ? r.f64() : r.u32();
        const mtime = wide ? r.f64() : r.u32();
        const mode = wide ? r.f64() : r.u16();
        e = { type: CODE_TYPE[type], size, mtime, mode };
        if (tag & 16) e.target = r.string();
      }
      t.put(d, name, e);
    }
    if (r.at !== r.buf.length) throw new CorruptMemoryError('trailing bytes');
    // directories named in the file that hold nothing (encode writes none) must not stay
    for (const path of names) {
      const d = t.dirs.get(path);
      if (d !== undefined && t.dirRefs[d] === 0) {
        t.dirRefs[d] = 1;
        t.unrefDir(d);
      }
    }
    return t;
  }
}

/** the type of a slot kind (FILE, DIR, OTHER) */
const KIND_TYPE: Entry['type'][] = [];
KIND_TYPE[FILE] = 'file';
KIND_TYPE[DIR] = 'dir';
KIND_TYPE[OTHER] = 'other';
/** type codes in the file */
const CODE: Record<Entry['type'], number> = { file: 1, dir: 2, symlink: 3, other: 4 };
const CODE_TYPE: Entry['type'][] = ['file', 'file', 'dir', 'symlink', 'other'];
const MAGIC = Buffer.from('CHAINMEM', 'latin1');
const VERSION = 2;

function nameBytes(len: number): number {
  return len & TWO_BYTE ? 2 * (len & ~TWO_BYTE) : len;
}

function fitsU32(x: number): boolean {
  return Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
}

/** FNV-1a over the code units, seeded with the directory, then murmur3's finaliser for the low bits
 *  (exported for the tests, which need two names that collide) */
export function hashName(d: number, name: string): number {
  let h = 0x811c9dc5 ^ Math.imul(d, 0x9e3779b1);
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

class Writer {
  private readonly buf = Buffer.allocUnsafe(1 << 16);
  private at = 0;
  private crc = 0;
  constructor(private readonly write: (chunk: Uint8Array) => void) {}

  private room(n: number): void {
    if (this.at + n > this.buf.length) this.flush();
  }
  private flush(): void {
    if (!this.at) return;
    const chunk = this.buf.subarray(0, this.at);
    this.crc = crc32(chunk, this.crc);
    this.write(chunk);
    this.at = 0;
  }
  u8(x: number): void {
    this.room(1);
    this.buf[this.at++] = x;
  }
  u16(x: number): void {
    this.room(2);
    this.at = this.buf.writeUInt16LE(x, this.at);
  }
  u32(x: number): void {
    this.room(4);
    this.at = this.buf.writeUInt32LE(x, this.at);
  }
  f64(x: number): void {
    this.room(8);
    this.at = this.buf.writeDoubleLE(x, this.at);
  }
  varint(x: number): void {
    this.room(8);
    while (x >= 0x80) {
      this.buf[this.at++] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    this.buf[this.at++] = x;
  }
  bytes(src: Uint8Array, from: number, n: number): void {
    if (n > this.buf.length) {
      this.flush();
      const chunk = src.subarray(from, from + n);
      this.crc = crc32(chunk, this.crc);
      this.write(chunk);
      return;
    }
    this.room(n);
    this.buf.set(src.subarray(from, from + n), this.at);
    this.at += n;
  }
  string(s: string): void {
    let wide = false;
    for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) wide = true;
    this.varint(s.length * 2 + (wide ? 1 : 0));
    const b = Buffer.from(s, wide ? 'utf16le' : 'latin1');
    this.bytes(b, 0, b.length);
  }
  end(): void {
    this.flush();
    const t = Buffer.alloc(4);
    t.writeUInt32LE(this.crc);
    this.write(t);
  }
}

class Reader {
  at = 0;
  constructor(readonly buf: Buffer) {}

  private need(n: number): number {
    const at = this.at;
    if (at + n > this.buf.length) throw new CorruptMemoryError('cut short');
    this.at += n;
    return at;
  }
  u8(): number {
    return this.buf[this.need(1)];
  }
  u16(): number {
    return this.buf.readUInt16LE(this.need(2));
  }
  u32(): number {
    return this.buf.readUInt32LE(this.need(4));
  }
  f64(): number {
    return this.buf.readDoubleLE(this.need(8));
  }
  varint(): number {
    let x = 0;
    for (let mul = 1; ; mul *= 0x80) {
      const b = this.u8();
      x += (b & 0x7f) * mul;
      if (b < 0x80) return x;
      if (mul > 2 ** 42) throw new CorruptMemoryError('bad number');
    }
  }
  string(): string {
    const v = this.varint();
    const wide = v % 2 === 1;
    const n = Math.floor(v / 2) * (wide ? 2 : 1);
    const at = this.need(n);
    return this.buf.toString(wide ? 'utf16le' : 'latin1', at, at + n);
  }
}
