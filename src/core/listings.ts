// What every host of a repair holds, path by path, in a compact table: one row per path seen on
// any host (its string stored once), and per host parallel typed arrays of type, size, mtime and
// mode (19 bytes per path per host; symlink targets aside). A million paths on three hosts cost
// tens of MB here plus the path strings, where a Map<path, Entry> per host would cost several
// hundred. Rows are only ever appended, and a host lists a directory before what is in it, so a
// child's row always comes after its parent's: row order is a parents-first order.
import type { Entry, EntryType } from './types.js';
import { parentOf } from './paths.js';

const TYPES: readonly (EntryType | null)[] = [null, 'file', 'dir', 'symlink', 'other'];
const CODE: Record<EntryType, number> = { file: 1, dir: 2, symlink: 3, other: 4 };
export const T_NONE = 0;
export const T_FILE = 1;
export const T_DIR = 2;
export const T_LINK = 3;
export const T_OTHER = 4;

interface Columns {
  type: Uint8Array;
  size: Float64Array;
  mtime: Float64Array;
  mode: Uint16Array;
  targets: Map<number, string>;
  count: number;
}

export class Listings {
  readonly hosts: readonly string[];
  private readonly rowOf = new Map<string, number>();
  private readonly pathOf: string[] = [];
  private parents: Int32Array;
  private readonly cols: Columns[];
  private cap: number;

  constructor(hosts: readonly string[], capacity = 1024) {
    this.hosts = [...hosts];
    this.cap = Math.max(16, capacity);
    this.parents = new Int32Array(this.cap);
    this.cols = this.hosts.map(() => newColumns(this.cap));
  }

  /** A table from one Map per host (tests, small re-plans); parents are found by path. */
  static fromMaps(hosts: readonly string[], maps: readonly ReadonlyMap<string, Entry>[]): Listings {
    const l = new Listings(hosts);
    const all = [...new Set(maps.flatMap((m) => [...m.keys()]))].sort(byPath);
    for (const p of all) {
      const parent = p.includes('/') ? (l.row(parentOf(p)) ?? -1) : -1;
      const r = l.add(p, parent);
      maps.forEach((m, h) => {
        const e = m.get(p);
        if (e) l.set(h, r, e);
      });
    }
    return l;
  }

  get rows(): number {
    return this.pathOf.length;
  }

  path(row: number): string {
    return this.pathOf[row]!;
  }

  /** the row of the parent directory, or -1 (a top-level path, or a parent not in the table) */
  parent(row: number): number {
    return this.parents[row]!;
  }

  row(path: string): number | undefined {
    return this.rowOf.get(path);
  }

  /** the row of path, appended (under parentRow) when new */
  add(path: string, parentRow = -1): number {
    const known = this.rowOf.get(path);
    if (known !== undefined) return known;
    const r = this.pathOf.length;
    if (r === this.cap) this.grow();
    this.pathOf.push(path);
    this.rowOf.set(path, r);
    this.parents[r] = parentRow;
    return r;
  }

  set(host: number, row: number, e: Entry | null): void {
    const c = this.cols[host]!;
    const had = c.type[row] !== T_NONE;
    if (!e) {
      if (had) c.count--;
      c.type[row] = T_NONE;
      c.targets.delete(row);
      return;
    }
    if (!had) c.count++;
    c.type[row] = CODE[e.type];
    c.size[row] = e.size;
    c.mtime[row] = e.mtime;
    c.mode[row] = e.mode;
    if (e.type === 'symlink' && e.target !== undefined) c.targets.set(row, e.target);
    else c.targets.delete(row);
  }

  /** the entry of path row on host, as a fresh object; null when the host lacks it */
  get(host: number, row: number): Entry | null {
    const c = this.cols[host]!;
    const t = c.type[row]!;
    if (t === T_NONE) return null;
    const e: Entry = { type: TYPES[t]!, size: c.size[row]!, mtime: c.mtime[row]!, mode: c.mode[row]! };
    if (t === T_LINK) e.target = c.targets.get(row) ?? '';
    return e;
  }

  typeCode(host: number, row: number): number {
    return this.cols[host]!.type[row]!;
  }

  mtime(host: number, row: number): number {
    return this.cols[host]!.mtime[row]!;
  }

  /** entries host holds */
  count(host: number): number {
    return this.cols[host]!.count;
  }

  /** sameEntry (core/entry.ts) of two hosts' entries at row, without allocating; false if either lacks it */
  same(row: number, a: number, b: number): boolean {
    const x = this.cols[a]!;
    const y = this.cols[b]!;
    const t = x.type[row]!;
    if (t === T_NONE || t !== y.type[row]) return false;
    switch (t) {
      case T_FILE:
        return x.size[row] === y.size[row] && x.mtime[row] === y.mtime[row] && x.mode[row] === y.mode[row];
      case T_DIR:
        return x.mode[row] === y.mode[row];
      case T_LINK:
        return x.targets.get(row) === y.targets.get(row);
      default:
        return true;
    }
  }

  /** rough bytes held by the typed columns (the path strings and the index come on top) */
  get columnBytes(): number {
    return this.cap * (4 + this.hosts.length * (1 + 8 + 8 + 2));
  }

  private grow(): void {
    const cap = this.cap * 2;
    const parents = new Int32Array(cap);
    parents.set(this.parents);
    this.parents = parents;
    this.cols.forEach((c, i) => {
      const n = newColumns(cap);
      n.type.set(c.type);
      n.size.set(c.size);
      n.mtime.set(c.mtime);
      n.mode.set(c.mode);
      this.cols[i] = { ...n, targets: c.targets, count: c.count };
    });
    this.cap = cap;
  }
}

function newColumns(cap: number): Columns {
  return { type: new Uint8Array(cap), size: new Float64Array(cap), mtime: new Float64Array(cap), mode: new Uint16Array(cap), targets: new Map(), count: 0 };
}

/** plain code-unit order: a directory sorts before everything under it */
export function byPath(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
